// Simulated media: one MediaNet for the run, one SimEngine (a media::MediaEngine) per client
// process. Unlike media/fake_engine (one engine, events delivered by the test), peers of
// different clients really pair up: ICE connects only when both sides applied each other's
// current descriptions (matching ufrags), got a candidate, and the path between the two
// clients is up. A dead far side or a cut path is noticed after media_timeout (the real
// engine's watchdog) as Disconnected; checks that never succeed end in Failed.
//
// Signalling follows the WebRTC contract the core relies on (stable / have-local-offer /
// have-remote-offer, implicit rollback of a local offer by a remote one, a fresh ICE agent on
// an ICE restart). Operations the contract forbids (an answer without a remote offer, ...) fail
// as a real engine would, and are reported through `on_misuse` so the run can flag the core.
// Every event reaches the core after a configurable delay, in order per peer.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "media/sdp_rewrite.hpp"
#include "mxcall/media.hpp"
#include "sim_config.hpp"
#include "sim_world.hpp"

namespace mxcall::sim {

class SimEngine;

class MediaNet {
 public:
  MediaNet(World& world, const SimConfig& config, Rng rng) : world_(world), config_(config), rng_(rng) {}

  // Paths between clients (by index). A cut heals by itself after `duration`.
  void cut(int a, int b, SimTime duration);
  void set_offline(int client, bool offline);
  bool path_up(int a, int b) const;
  void heal_all();
  // A connected peer reports Disconnected, then Connected again (a blip the core must ride out).
  void blip(int client);

  std::function<void(int client, const std::string& what)> on_misuse;
  std::function<void(const std::string& what)> on_count;

  // ---- used by SimEngine ----
  std::uint64_t register_engine(SimEngine* engine);
  void drop_engine(std::uint64_t engine);  // the process died: its peers vanish without a word
  media::PeerId create(int owner, std::uint64_t engine);
  void close(media::PeerId id);
  Status add_track(media::PeerId id, const media::TrackSpec& track);
  Status remove_track(media::PeerId id, const std::string& track_id);
  void create_offer(media::PeerId id, const media::OfferOptions& options);
  void create_answer(media::PeerId id);
  void set_remote_description(media::PeerId id, const media::SessionDescription& d);
  void add_remote_candidate(media::PeerId id, const media::IceCandidate& c);
  void set_track_muted(media::PeerId id, const std::string& track_id, bool muted);
  void set_local_hold(media::PeerId id, bool on_hold);
  Status send_dtmf(media::PeerId id, const std::string& digits);
  media::PeerStats stats(media::PeerId id) const;
  bool busy(std::uint64_t engine) const;  // events for this engine still on their way

 private:
  enum class Sig { Stable, HaveLocalOffer, HaveRemoteOffer };
  struct Track { media::TrackSpec spec; std::string mid; bool muted = false; bool removed = false; };
  struct RemoteSection { std::string mid, kind, stream_id; media::sdp::Direction direction; };
  struct Peer {
    int owner = 0;
    std::uint64_t engine = 0;
    std::vector<std::pair<std::string, std::string>> mlines;  // mid, kind: as negotiated so far
    std::vector<Track> tracks;
    int generation = 0;
    std::string ufrag;
    Sig sig = Sig::Stable;
    bool described = false;        // a local description exists for this ICE generation
    bool gathered = false;         // this generation gathered its candidates
    std::string remote_sdp, remote_ufrag;
    std::vector<RemoteSection> remote_sections;
    bool remote_candidate = false; // for remote_ufrag
    bool remote_set = false;
    std::vector<media::IceCandidate> queued;  // before the remote description
    media::IceState ice = media::IceState::New;
    SimTime ice_since = 0;
    std::optional<SimTime> down_since;
    bool connect_pending = false;
    bool fails = false;            // this generation's checks fail
    SimTime blip_until = 0;
    bool local_hold = false, remote_hold = false;
    std::set<std::string> announced_mids;
    std::set<media::MediaKind> decoded;
    SimTime last_event = 0;        // keeps this peer's events in order
    std::uint64_t misuse = 0;
  };

  Peer* find(media::PeerId id);
  const Peer* find(media::PeerId id) const;
  void emit(Peer& p, media::MediaEvent ev, SimTime delay);
  void misuse(media::PeerId id, Peer& p, const std::string& operation, const std::string& what);
  void fresh_agent(Peer& p, media::PeerId id);
  void gather(media::PeerId id, Peer& p);
  std::string make_sdp(media::PeerId id, Peer& p, media::SdpType type);
  bool ready(const Peer& p) const;
  bool linked(media::PeerId id, const Peer& p) const;
  void set_ice(media::PeerId id, Peer& p, media::IceState s);
  void evaluate(media::PeerId id);
  void evaluate_all();
  void media_flows(media::PeerId id, Peer& p);
  void evaluate_at(SimTime t);

  World& world_;
  const SimConfig& config_;
  Rng rng_;
  std::map<media::PeerId, Peer> peers_;
  std::map<std::pair<int, int>, SimTime> cut_until_;
  std::set<int> offline_;
  media::PeerId next_id_ = 1;
  std::map<std::uint64_t, SimEngine*> engines_;
  std::map<std::uint64_t, std::uint64_t> in_flight_;  // per engine: events scheduled, not delivered
  std::uint64_t next_engine_ = 1;
};

// The MediaEngine of one client process; forwards to the MediaNet.
class SimEngine final : public media::MediaEngine {
 public:
  SimEngine(MediaNet& net, int owner) : net_(net), owner_(owner), id_(net.register_engine(this)) {}
  ~SimEngine() override { net_.drop_engine(id_); }
  SimEngine(const SimEngine&) = delete;
  SimEngine& operator=(const SimEngine&) = delete;

  void set_event_sink(EventSink sink) override { sink_ = std::move(sink); }
  void warm_up() override {}
  Result<media::PeerId> create_peer(const media::PeerConfig&) override { return net_.create(owner_, id_); }
  void close_peer(media::PeerId peer) override { net_.close(peer); }
  Status add_track(media::PeerId peer, const media::TrackSpec& track) override { return net_.add_track(peer, track); }
  Status remove_track(media::PeerId peer, const std::string& track_id) override { return net_.remove_track(peer, track_id); }
  void create_offer(media::PeerId peer, const media::OfferOptions& options) override { net_.create_offer(peer, options); }
  void create_answer(media::PeerId peer) override { net_.create_answer(peer); }
  void set_remote_description(media::PeerId peer, const media::SessionDescription& d) override { net_.set_remote_description(peer, d); }
  void add_remote_candidate(media::PeerId peer, const media::IceCandidate& c) override { net_.add_remote_candidate(peer, c); }
  void set_track_muted(media::PeerId peer, const std::string& track_id, bool muted) override { net_.set_track_muted(peer, track_id, muted); }
  void set_local_hold(media::PeerId peer, bool on_hold) override { net_.set_local_hold(peer, on_hold); }
  Status send_dtmf(media::PeerId peer, const std::string& digits) override { return net_.send_dtmf(peer, digits); }
  media::PeerStats stats(media::PeerId peer) const override { return net_.stats(peer); }

  void deliver(const media::MediaEvent& ev) { if (sink_) sink_(ev); }
  bool busy() const { return net_.busy(id_); }

 private:
  MediaNet& net_;
  int owner_;
  std::uint64_t id_;
  EventSink sink_;
};

}  // namespace mxcall::sim
