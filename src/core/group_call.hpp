// One device in one MSC3401 full-mesh group call, as a sans-IO machine like Call:
// handle(input, now, unix_ms), then poll() until empty, then sleep until next_deadline().
// Inputs and outputs are in group_io.hpp; each remote device is a PeerLink (peer_link.hpp has
// the per-device table) whose peer call is a core::Call in to-device mode.
//
// Transition table (everything else is logged and ignored):
//   Idle    cmd Join          -> put the call event if none is live; put our member entry
//                                (expires now + lifetime, refresh armed); note Joined   -> Joined
//                                (the links then place the calls the mesh rule gives us)
//   Joined  MemberRefresh     -> put our entry again with a new expires_ts
//   Joined  our entry missing from our user's member event, or listed with an expires_ts
//           before our next refresh (another of our devices wrote over it from an older
//           base)             -> put it again (read-modify-write), after the reassert interval
//                                doubled per reassert (x8 at most; reset by a join, a refresh
//                                or 10 s of being listed), plus jitter
//   Joined  cmd Leave         -> hang up every peer call (user_hangup), then put our member
//                                content without our entry (+ m.terminated if asked); note Left -> Idle
//   Joined  call event terminated or redacted -> as Leave, note Left "terminated"       -> Idle
//   any     cmd SetMuted / SetVideo -> remembered and fanned out to every peer call
// Participants (after every member, room-membership or time input; not our own device):
//   a device appears listed (unexpired, joined user, our conf id, not SFU)
//                             -> link(listed, session); note ParticipantJoined
//   a provisional link's device appears with its session -> listed, tracks unmuted
//   a device's session changes -> hang up (new_session); note ParticipantLeft; new link
//   any member event          -> links that gave up (Done) may call again (PeerLink::revive)
//   a device disappears, expires or its user leaves the room
//                             -> hang up (user_hangup); note ParticipantLeft; link removed
// Inbound to-device signal, in this order of checks, each failure logged and dropped:
//   conf_id not ours, dest_session_id not ours, we are not joined, plaintext while
//   encryption is required, the Olm sender device differs from device_id (or is unknown
//   for an encrypted message), our own device, the sender is not joined to the room. Then:
//   from a link's session       -> that link (its SeqQueue orders, then PeerLink routes)
//   an invite from a device that member state does not list at all (at most 8 such links)
//                             -> provisional link, answered muted (as js-sdk); hung up after
//                                unlisted_grace unless the device gets listed
//   anything else (unlisted device, another session) -> held for unlisted_grace; delivered
//                                once a link for that device and session exists, else dropped
#pragma once

#include <deque>
#include <map>
#include <optional>
#include <vector>

#include "core/group_io.hpp"
#include "core/group_membership.hpp"
#include "core/peer_link.hpp"

namespace mxcall::core {

enum class GroupState { Idle, Joined };
const char* to_string(GroupState s);

enum class GroupTimer : std::size_t {
  MemberRefresh,   // our member entry is re-put before it expires
  MemberReassert,  // our entry vanished; put again once the reassert interval has passed
  Count_,
};

class GroupCall : private PeerLinkHost {
 public:
  explicit GroupCall(GroupCallConfig config);

  void handle(const GroupInput& input, TimePoint now, std::int64_t unix_ms);
  std::optional<GroupOutput> poll();
  // Earliest of the peer calls', the seq queues', the retries', the member expiries' and our
  // own timers. Member expiry is wall-clock time, mapped onto `now` as of the last input.
  std::optional<TimePoint> next_deadline() const;

  GroupState state() const { return state_; }
  bool joined() const { return state_ == GroupState::Joined; }
  const GroupCallConfig& config() const { return config_; }
  // Listed remote devices (the participants), in (user, device) order.
  std::vector<DeviceKey> participants() const;
  const PeerLink* link(const DeviceKey& device) const;
  const Call* peer_call(const DeviceKey& device) const;
  std::size_t live_calls() const;
  bool has_output() const;

 private:
  struct Held {
    ToDeviceSignal signal;
    TimePoint received;
  };

  // PeerLinkHost
  const GroupCallConfig& group_config() const override { return config_; }
  bool in_call() const override { return joined(); }
  MediaWish media_wish() const override { return wish_; }
  std::string new_call_id(std::int64_t unix_ms) override;
  void retire(PeerCall call) override { retired_.push_back(std::move(call)); }
  void emit(GroupOutput out) override;

  // group_call.cpp
  void join(const gcmd::Join& j, TimePoint now, std::int64_t unix_ms);
  void leave(const std::string& reason, bool terminate, TimePoint now, std::int64_t unix_ms);
  void on_call_state(const CallStateEvent& e, TimePoint now, std::int64_t unix_ms);
  void on_tick(TimePoint now, std::int64_t unix_ms);
  void set_media(const MediaWish& wish, TimePoint now);
  PeerCall* find_call(const std::string& call_id);
  void flush_calls();
  void reconcile(TimePoint now, std::int64_t unix_ms);

  // group_call_members.cpp
  void sync_participants(TimePoint now, std::int64_t unix_ms);
  void put_own_member(TimePoint now, std::int64_t unix_ms);
  void remove_own_member(std::int64_t unix_ms);
  void check_own_entry(TimePoint now, std::int64_t unix_ms);
  Duration reassert_wait();
  Duration refresh_margin() const;

  // group_call_inbound.cpp
  void on_signal(const ToDeviceSignal& s, TimePoint now);
  void hold(const DeviceKey& device, const ToDeviceSignal& s, TimePoint now);
  void release_held(TimePoint now);
  TimePoint held_deadline(const std::deque<Held>& q) const;  // a held invite keeps its queue until then
  void expire_unlisted(TimePoint now);

  GroupCallConfig config_;
  GroupState state_ = GroupState::Idle;
  GroupMembership members_;
  std::optional<events::GroupCallState> call_state_;  // ours (conf id), as last seen or written
  std::map<DeviceKey, PeerLink> links_;
  std::deque<PeerCall> retired_;  // ended calls whose outputs are still to be polled
  std::map<DeviceKey, std::deque<Held>> held_;
  std::deque<GroupOutput> outputs_;
  TimerTable<GroupTimer, static_cast<std::size_t>(GroupTimer::Count_)> timers_;
  MediaWish wish_;
  std::optional<TimePoint> last_member_put_;
  std::int64_t own_expires_ts_ = 0;  // of the entry we wrote last
  int reasserts_ = 0;                // since the last join, refresh or stable spell (backoff)
  std::optional<TimePoint> listed_since_;  // our entry has been listed (as it should) since
  std::optional<Duration> reassert_after_;  // drawn once per wait
  TimePoint last_now_{};
  std::int64_t last_unix_ms_ = 0;
  std::uint64_t rng_;
};

}  // namespace mxcall::core
