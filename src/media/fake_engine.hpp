// FakeMediaEngine: a deterministic MediaEngine for unit tests and the simulator. No threads,
// no clock, no GStreamer. Events are queued and delivered only when the test calls deliver()
// (so a test controls interleavings); time advances only through advance().
//
// What it models:
//  - create_offer/create_answer produce plausible SDP: BUNDLE group, one m-line per track (and
//    per m-line the remote offered), a=mid, a=msid:<stream_id> <track_id>, ICE credentials
//    naming the peer, a fingerprint, a direction from the hold state, telephone-event. Then a
//    host candidate and the end-of-candidates marker, as the real engine does.
//  - A peer "connects" once it has applied a local and a remote description and got one remote
//    candidate (queued before the remote description, like the real engine; a=candidate lines
//    inside the remote description count too, as webrtcbin takes them): IceStateChanged
//    Checking at once, Connected 20 ms of advance() later (or Failed when ICE failure is
//    switched on), then RemoteTrackAdded for each track in the remote SDP and, 40 ms later,
//    FirstMediaDecoded per kind.
//  - While connected, advance() grows the packet counters: 50 packets/s audio, 15/s video; none
//    sent while holding/held or for a muted video track; none received for a section the far
//    side holds.
//  - A removed track's section says recvonly; the far peer reports RemoteTrackRemoved when it
//    applies that, and RemoteTrackAdded again once the track is added back.
//  - DTMF digits reach the far peer when it lives in the same engine (identified by the ICE
//    ufrag of the remote SDP).
#pragma once

#include <chrono>
#include <deque>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "media/sdp_rewrite.hpp"
#include "mxcall/media.hpp"

namespace mxcall::media {

class FakeMediaEngine final : public MediaEngine {
 public:
  void set_event_sink(EventSink sink) override { sink_ = std::move(sink); }
  void warm_up() override { ++warm_ups_; }
  Result<PeerId> create_peer(const PeerConfig& config) override;
  void close_peer(PeerId peer) override;
  Status add_track(PeerId peer, const TrackSpec& track) override;
  Status remove_track(PeerId peer, const std::string& track_id) override;
  void create_offer(PeerId peer, const OfferOptions& options = {}) override;
  void create_answer(PeerId peer) override;
  void set_remote_description(PeerId peer, const SessionDescription& description) override;
  void add_remote_candidate(PeerId peer, const IceCandidate& candidate) override;
  void set_track_muted(PeerId peer, const std::string& track_id, bool muted) override;
  void set_local_hold(PeerId peer, bool on_hold) override;
  Status send_dtmf(PeerId peer, const std::string& digits) override;
  PeerStats stats(PeerId peer) const override;

  // ---- test controls ----
  // Delivers queued events (and those the sink's reactions queue) in order; returns how many.
  std::size_t deliver();
  std::size_t pending_events() const { return queue_.size(); }
  // Moves virtual time on: ICE progress, first media, packet counters.
  void advance(std::chrono::milliseconds ms);
  // Every operation named here (create_offer, create_answer, set_remote_description,
  // add_remote_candidate, add_track, create_peer, ...) fails until cleared.
  void fail_operation(const std::string& operation, bool fail = true);
  // ICE of peers that start checking from now on fails (for `peer`, or all when 0).
  void fail_ice(bool fail = true, PeerId peer = 0);
  bool is_open(PeerId peer) const { return peers_.count(peer) > 0; }
  bool local_hold(PeerId peer) const;
  int warm_ups() const { return warm_ups_; }
  std::vector<PeerId> peers() const;

 private:
  struct Track {
    TrackSpec spec;
    std::string mid;
    bool muted = false;
    bool removed = false;
  };
  struct RemoteSection {
    std::string mid, kind, stream_id;
    sdp::Direction direction = sdp::Direction::SendRecv;  // as the far side said it
  };
  struct Peer {
    PeerConfig config;
    std::vector<Track> tracks;
    std::string ufrag;
    int generation = 0;
    bool local_set = false, remote_set = false;
    bool local_hold = false, remote_hold = false;
    bool have_remote_candidate = false;
    std::vector<IceCandidate> queued_candidates;
    std::string remote_sdp;
    std::vector<RemoteSection> remote_sections;
    std::optional<SdpType> pending_remote_offer;  // an offer applied, not answered yet
    IceState ice = IceState::New;
    std::chrono::milliseconds ice_clock{0};  // time in Checking / since Connected
    bool ice_fails = false;
    std::set<std::string> announced_mids;
    std::vector<RemoteTrackAdded> announced;  // what they were announced as
    std::set<MediaKind> decoded;
    PeerStats stats;
    std::chrono::milliseconds audio_carry{0}, video_carry{0};  // time not yet a whole packet
    std::chrono::milliseconds audio_in_carry{0}, video_in_carry{0};
  };

  void emit(MediaEvent ev) { queue_.push_back(std::move(ev)); }
  bool failing(const std::string& operation, PeerId peer);
  Peer* find(PeerId peer);
  const Peer* find(PeerId peer) const;
  std::string make_sdp(PeerId id, Peer& p, SdpType type);
  void emit_candidates(PeerId id, Peer& p);
  void maybe_start_ice(PeerId id, Peer& p);
  PeerId peer_by_ufrag(const std::string& ufrag) const;

  EventSink sink_;
  std::deque<MediaEvent> queue_;
  std::map<PeerId, Peer> peers_;
  std::set<std::string> failing_ops_;
  bool ice_fails_all_ = false;
  std::set<PeerId> ice_fails_for_;
  PeerId next_id_ = 1;
  int warm_ups_ = 0;
};

}  // namespace mxcall::media
