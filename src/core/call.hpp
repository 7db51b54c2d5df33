// One 1:1 call (or one peer call of a mesh) as a sans-IO state machine: handle(input, now),
// then poll() until empty, then sleep until next_deadline(). No I/O, no clock, no threads.
//
// Transition table (state x input -> actions, next state); everything else is logged and ignored:
//   CreatingOffer  LocalDescription(offer)   -> send invite, arm InviteLifetime   -> InviteSent
//   CreatingOffer  cmd Hangup                -> close (nothing was sent)           -> Ended
//   InviteSent     answer (first party)      -> set remote, select_answer          -> Connecting
//   InviteSent     reject / hangup (callee)  -> close                              -> Ended
//   InviteSent     InviteLifetime            -> hangup invite_timeout              -> Ended
//   Ringing        cmd Answer                -> add tracks, create answer          -> CreatingAnswer
//   Ringing        cmd Reject                -> reject (v1) / hangup (v0)          -> Ended
//   Ringing        own device answered/rejected, select_answer for another party,
//                  caller hangup, RingDeadline -> close quietly                   -> Ended
//   CreatingAnswer LocalDescription(answer)  -> send answer, arm ConnectTimeout    -> Connecting
//   Connecting     ICE connected             -> note Connected                     -> Connected
//   Connecting     ConnectTimeout            -> hangup ice_failed                  -> Ended
//   Connected      ICE disconnected          -> arm IceGrace (link Disconnected)
//   Connected      IceGrace / ICE failed     -> ICE-restart offer, arm IceRecovery (link Restarting)
//                                               (polite side: ICE failed arms IceGrace instead)
//   Connected      IceRecovery               -> hangup ice_failed                  -> Ended
//   Connected      peer's ICE-restart offer  -> answer it, stop IceGrace, arm IceRecovery
//                                               (link Restarting)
//   any live       opponent hangup           -> close                              -> Ended
//   any live       cmd Hangup                -> hangup (if we ever sent)           -> Ended
// IceGrace is twice as long on the polite side, so normally only the impolite side restarts.
// Renegotiation (Signaling, perfect negotiation: the callee is polite) runs beside Connecting
// and Connected: Stable -> CreatingOffer -> HaveLocalOffer -> Stable on the answer; a remote
// offer goes Stable -> CreatingAnswer -> Stable. Colliding offers (a remote offer in
// CreatingOffer or HaveLocalOffer): the impolite side ignores the remote one; the polite side
// drops its own (the engine never applied it, see media::LocalDescriptionReady; a local offer
// that still arrives is dropped), answers, and then re-offers its change.
#pragma once

#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/call_io.hpp"

namespace mxcall::core {

struct Opponent {
  std::string user_id;
  std::optional<std::string> party_id;
  bool operator==(const Opponent&) const = default;
};

class Call {
 public:
  // Outbound: creates the peer with our tracks and asks for the offer.
  static Call place(CallConfig config, std::string call_id, std::optional<std::string> invitee,
                    bool video, TimePoint now);
  // Inbound: a validated invite that should ring. An error (InvalidArgument) says why it must
  // not: our own invite, one for another invitee, or one too old to ring.
  static Result<Call> receive(CallConfig config, const std::string& sender,
                              const events::CallInvite& invite, std::optional<std::int64_t> age_ms,
                              TimePoint now);

  void handle(const CallInput& input, TimePoint now);
  std::optional<CallOutput> poll();
  std::optional<Deadline<CallTimer>> next_deadline() const { return timers_.next(); }

  const std::string& call_id() const { return call_id_; }
  const std::string& room_id() const { return config_.room_id; }
  CallDirection direction() const { return direction_; }
  CallState state() const { return state_; }
  Signaling signaling() const { return signaling_; }
  std::optional<LinkState> link() const { return link_; }
  bool polite() const { return direction_ == CallDirection::Inbound; }
  bool ended() const { return state_ == CallState::Ended; }
  const std::optional<Opponent>& opponent() const { return opponent_; }
  const std::optional<std::string>& invitee() const { return invitee_; }
  events::CallVersion peer_version() const { return peer_version_; }
  const CallTimings& timings() const { return timings_; }
  const std::string& end_reason() const { return end_reason_; }
  events::SdpStreamMetadata local_metadata() const;
  const std::optional<events::SdpStreamMetadata>& remote_metadata() const { return remote_metadata_; }
  bool on_hold() const { return on_hold_; }
  bool remote_on_hold() const { return remote_on_hold_; }
  bool video_enabled() const { return video_enabled_; }
  bool remote_offers_video() const { return remote_offers_video_; }
  // True while poll() would still return something.
  bool has_output() const { return !outputs_.empty() || (!local_candidates_.empty() && may_send_candidates()); }
  // True once our invite or answer went out (so a hangup must be sent).
  bool announced() const;

 private:
  Call(CallConfig config, std::string call_id, CallDirection direction);

  // call_signal.cpp
  void on_signal(const RemoteSignal& s, TimePoint now);
  void on_candidates(const std::string& sender, const events::CallCandidates& c);
  void on_answer(const std::string& sender, const events::CallAnswer& a, TimePoint now);
  void on_select_answer(const std::string& sender, const events::CallSelectAnswer& s);
  void on_reject(const std::string& sender, const events::CallReject& r);
  void on_negotiate(const std::string& sender, const events::CallNegotiate& n, std::optional<std::int64_t> age_ms,
                    TimePoint now);
  void on_hangup(const std::string& sender, const events::CallHangup& h);
  void on_metadata(const std::string& sender, const events::CallMetadataChanged& m);
  bool from_opponent(const std::string& sender, const events::CallCommon& c) const;
  bool own_side(const std::string& sender) const;  // sent by another device of our own user
  void set_remote_metadata(const std::optional<events::SdpStreamMetadata>& m);

  // call_media.cpp
  void on_media(const media::MediaEvent& e, TimePoint now);
  void on_local_description(const media::SessionDescription& d, TimePoint now);
  void send_local_description(media::SessionDescription d, TimePoint now);
  void flush_pending_description(TimePoint now);
  void on_ice(media::IceState s, TimePoint now);
  void on_operation_failed(const media::OperationFailed& f);
  void on_remote_track(const media::RemoteTrackAdded& t);
  void on_remote_track_removed(media::MediaKind kind, const std::string& stream_id);

  // call.cpp
  void on_command(const CallInput& c, TimePoint now);
  void on_tick(TimePoint now);
  void request_renegotiation(bool ice_restart, TimePoint now);
  void maybe_start_offer(TimePoint now);
  void start_ice_restart(TimePoint now);
  void on_remote_ice_restart(TimePoint now);
  void set_state(CallState s);
  void send(events::CallEvent e);
  void send_hangup(std::string_view reason);
  void end(std::string reason, bool by_remote);
  void emit(CallOutput o) { outputs_.push_back(std::move(o)); }
  events::CallCommon common() const;
  bool may_send_candidates() const;
  media::TrackSpec track(media::MediaKind kind, media::StreamPurpose purpose) const;
  std::string stream_id(media::StreamPurpose purpose) const;

  CallConfig config_;
  std::string call_id_;
  CallDirection direction_;
  CallState state_;
  Signaling signaling_ = Signaling::Stable;
  std::optional<LinkState> link_;
  std::optional<std::string> invitee_;
  std::optional<Opponent> opponent_;
  events::CallVersion peer_version_ = events::CallVersion::V1;
  TimerTable<CallTimer, static_cast<std::size_t>(CallTimer::Count_)> timers_;
  std::deque<CallOutput> outputs_;
  std::vector<media::IceCandidate> local_candidates_;                      // not yet sent
  std::map<std::string, std::vector<media::IceCandidate>> early_candidates_;  // by party, before an answer is chosen
  std::optional<media::SessionDescription> pending_description_;  // waiting for candidates
  bool gathering_complete_ = false;
  std::optional<events::SdpStreamMetadata> remote_metadata_;
  // Remote tracks announced to the app (note::RemoteTrack) and not removed since.
  std::map<std::pair<std::string, media::MediaKind>, media::StreamPurpose> remote_tracks_;
  CallTimings timings_;
  std::string end_reason_;
  bool audio_muted_ = false;
  bool video_muted_ = false;
  bool video_enabled_ = false;
  bool screenshare_enabled_ = false;
  bool on_hold_ = false;
  bool remote_on_hold_ = false;
  std::optional<std::string> remote_ufrag_;  // of the last remote description ("" if it had none)
  bool offer_wanted_ = false;         // a renegotiation is due once signaling is stable
  bool ice_restart_wanted_ = false;   // ...and it must restart ICE
  int unanswered_offers_ = 0;          // renegotiation offers in a row that timed out
  static constexpr int kMaxUnansweredOffers = 2;
  int superseded_answers_ = 0;        // answers being created for offers a newer one replaced
  std::optional<TimePoint> offer_sent_at_;  // our last m.call.negotiate offer
  bool remote_offers_video_ = false;
};

// True when every media section of an offer says sendonly or inactive: the sender holds us.
bool sdp_holds_peer(std::string_view sdp);
// The first a=ice-ufrag value; a new one in a renegotiation offer means the peer restarts ICE.
std::optional<std::string> sdp_ice_ufrag(std::string_view sdp);

// The SDP with the candidates added to their media sections (by mid, else m-line index) as
// a=candidate lines, and a=end-of-candidates when `complete`. Candidates that match no
// section are returned in `left_over`.
std::string sdp_with_candidates(std::string_view sdp, const std::vector<media::IceCandidate>& candidates,
                                std::vector<media::IceCandidate>& left_over);

}  // namespace mxcall::core
