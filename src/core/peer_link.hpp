// The link from our device to one remote device of a group call: its inbound seq ordering, the
// peer call (a core::Call in to-device mode) that is live on it, and the retry bookkeeping for
// calls we place. Owned and driven by GroupCall (group_call.hpp has the full table).
//
// Link states (per remote device):
//   Idle      no call yet          -> we initiate, are joined and the device is listed: place -> InCall
//                                     (otherwise the other side places it)
//   any       invite, no live call -> answer it (muted while the device is not listed)  -> InCall
//   InCall    invite for another call id: the smaller call id wins (JavaScript order);
//               theirs wins -> hang ours up (replaced), answer theirs; if ours was an
//               outbound call and theirs ends unconnected, we re-place at once
//               ours wins   -> theirs is ignored
//   InCall    call ended, we do not initiate                                          -> Idle
//   InCall    call ended, we initiate: a reason that brings its own successor (replaced,
//               new_session, answered_elsewhere, transferred)                         -> Done
//             any other reason (also the peer's user_hangup, see final_reason()), fewer
//             than retry_attempts retries since it last connected
//               -> note PeerRetry, retry_at = now + retry_interval                    -> RetryWait
//             otherwise -> note PeerGaveUp                                             -> Done
//   RetryWait retry_at reached (joined, listed)   -> place                            -> InCall
//   Done      any member event in the room (revive) -> retries from zero              -> Idle
//               (js-sdk likewise places calls to every participant without one whenever
//               member state changes: a pair that gave up during an outage, or whose peer
//               hung up with new_session on a stale view of us, meets again)
//   InCall    the call connects                    -> retries counted from zero again
// A new session or a vanished member entry replaces or removes the whole link (GroupCall).
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <set>
#include <string>

#include "core/call.hpp"
#include "core/group_io.hpp"
#include "core/group_membership.hpp"
#include "core/seq_queue.hpp"

namespace mxcall::core {

enum class PeerLinkState { Idle, InCall, RetryWait, Done };
const char* to_string(PeerLinkState s);

// What our device sends on every peer call.
struct MediaWish {
  bool video = false;
  bool audio_muted = false;
  bool video_muted = false;
};

// One peer call with the addressing of its to-device messages.
struct PeerCall {
  Call call;
  std::string user_id;
  std::string device_id;
  std::string dest_session;  // the remote session it was set up with
  std::int64_t next_seq = 0; // per call id, from 0 (what js-sdk expects)

  // The call's next output as a group output (signalling becomes a to-device message).
  std::optional<GroupOutput> poll(const GroupCallConfig& config);
};

// The parts of the group a link acts through.
class PeerLinkHost {
 public:
  virtual ~PeerLinkHost() = default;
  virtual const GroupCallConfig& group_config() const = 0;
  virtual bool in_call() const = 0;  // we are joined
  virtual MediaWish media_wish() const = 0;
  virtual std::string new_call_id(std::int64_t unix_ms) = 0;
  virtual void retire(PeerCall call) = 0;  // an ended call whose outputs are still to be polled
  virtual void emit(GroupOutput out) = 0;
};

// The CallConfig of every peer call of a group.
CallConfig peer_call_config(const GroupCallConfig& group);

class PeerLink {
 public:
  // listed: the device is in member state with this session; otherwise the link is
  // provisional (an invite came first) and `now` starts its grace period.
  PeerLink(const GroupCallConfig& group, DeviceKey device, std::string session_id, bool listed, TimePoint now);

  const std::string& user_id() const { return device_.first; }
  const std::string& device_id() const { return device_.second; }
  const std::string& session_id() const { return session_; }
  bool listed() const { return listed_; }
  TimePoint created() const { return created_; }
  bool initiator() const { return initiator_; }
  PeerLinkState state() const { return state_; }
  int retries() const { return retries_; }
  const Call* call() const { return call_ ? &call_->call : nullptr; }
  bool has_live_call() const { return call_ && !call_->call.ended(); }
  PeerCall* find_call(const std::string& call_id);

  // The member event now lists this (provisional) device with our session: its tracks follow
  // the group's wishes from now on.
  void set_listed(PeerLinkHost& host, TimePoint now);
  // An inbound message from this device's session, in any order.
  void receive(const events::ToDeviceCallEnvelope& envelope, PeerLinkHost& host, TimePoint now);
  // Ends the live call (sending a hangup when one is due) and retires it.
  void end_call(std::string_view reason, PeerLinkHost& host, TimePoint now);
  // After leaving: no call, nothing scheduled.
  void reset();
  // Member state changed: a link that gave up (Done, no live call) may call again.
  void revive();
  void apply_media(const MediaWish& wish, TimePoint now);
  void handle_call_input(const CallInput& input, TimePoint now);
  // Seq gaps and the call's timers.
  void tick(PeerLinkHost& host, TimePoint now);
  // Bookkeeping after every input: retire an ended call, schedule or place calls.
  void settle(PeerLinkHost& host, TimePoint now, std::int64_t unix_ms);

  std::optional<GroupOutput> poll(const GroupCallConfig& config) { return call_ ? call_->poll(config) : std::nullopt; }
  bool has_output() const { return call_ && call_->call.has_output(); }
  std::optional<TimePoint> next_deadline() const;

 private:
  void drain(PeerLinkHost& host, TimePoint now);
  void route(const std::string& call_id, const events::CallEvent& event, PeerLinkHost& host, TimePoint now);
  void on_invite(const events::CallInvite& invite, PeerLinkHost& host, TimePoint now);
  void accept(const events::CallInvite& invite, PeerLinkHost& host, TimePoint now);
  void place(PeerLinkHost& host, TimePoint now, std::int64_t unix_ms);
  void retire(PeerLinkHost& host);
  // What this peer gets: the group's wishes, but muted while the device is not listed.
  MediaWish effective(MediaWish wish) const;
  void remember_finished(const std::string& call_id);

  DeviceKey device_;
  std::string session_;
  bool listed_;
  bool initiator_;
  TimePoint created_;
  PeerLinkState state_ = PeerLinkState::Idle;
  std::optional<PeerCall> call_;
  SeqQueue<events::CallEvent> inbox_;
  std::set<std::string> placed_;                // call ids we placed on this link (they may open a stream)
  std::deque<std::string> finished_;            // call ids that ended here (late invites are ignored)
  int retries_ = 0;
  std::optional<TimePoint> retry_at_;
  bool lost_glare_ = false;  // our outbound call gave way to an invite that may be stale
};

}  // namespace mxcall::core
