// Drives the group-call core (core::GroupCall, one per room) on the loop thread: room state
// (call and member events, memberships) and decrypted to-device signalling in, the core's
// outputs carried out — to-device messages into the turn's outbox (one delivery per turn),
// state events through a port, media operations on the engine, updates to the app.
// Like CallDriver it has no transport of its own.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "client/peer_table.hpp"
#include "client/to_device_outbox.hpp"
#include "core/group_call.hpp"
#include "core/group_choice.hpp"
#include "mxcall/group_call.hpp"
#include "mxcall/matrix/sync.hpp"
#include "mxcall/store.hpp"

namespace mxcall::client {

// An inbound to-device m.call.* message after decryption (or accepted in plaintext).
struct InboundSignal {
  std::string sender;
  std::string sender_device;  // olm-verified device; empty in plaintext
  bool encrypted = false;
  std::string type;
  nlohmann::json content;
};

class GroupDriver {
 public:
  struct Ports {
    std::function<void(const std::string& room_id, const std::string& type, const std::string& state_key,
                       const nlohmann::json& content, std::function<void(const Status&)> done)>
        put_state;
    std::function<void(OutgoingToDevice)> send_to_device;  // joins the turn's delivery
    std::function<void()> flush_to_device;                 // the turn is over: deliver
    std::function<std::set<std::string>(const std::string& room_id)> joined_members;
    std::function<std::int64_t()> unix_ms;  // wall clock (member expiry)
    media::MediaEngine* engine = nullptr;
    store::Store* store = nullptr;  // ongoing calls are kept here when set
    std::function<void(const GroupUpdate&)> notify;
    // Fetch ahead the olm keys of these devices, and claim one-time keys for `claim` (the
    // devices we call): runs before the turn's to-device delivery. Unset: nothing prefetched.
    std::function<void(std::vector<core::DeviceKey> devices, std::vector<core::DeviceKey> claim)> prefetch_keys;
  };
  struct Settings {
    std::string own_user_id;
    std::string own_device_id;
    core::CallConfig call;  // template of the peer calls
    bool require_encryption = true;
    core::Duration flush_window{100};
    // Member entry timing (GroupCallConfig's defaults; the simulation shortens them).
    core::Duration member_lifetime{3'600'000};
    core::Duration member_refresh_margin{15 * 60'000};
    // Randomness for conf ids, session ids and the core's seed; unset: std::random_device.
    // The simulation passes a seeded generator so a run repeats.
    std::function<std::uint64_t()> random;
  };

  GroupDriver(Settings settings, Ports ports);

  // Any room event (state section or timeline); group call state, member events and
  // memberships are picked out.
  void on_room_event(const matrix::RoomEvent& ev, core::TimePoint now);
  // Memberships of the room changed (RoomTracker applied a batch).
  void on_members_changed(const std::string& room_id, core::TimePoint now);
  void on_to_device(const InboundSignal& signal, core::TimePoint now);
  // True when the event belonged to one of our peer calls.
  bool on_media_event(const media::MediaEvent& ev, core::TimePoint now);

  // Joins the room's call (the one core::choose_call picks) or starts one; returns its conf id.
  Result<std::string> join(const std::string& room_id, const GroupCallOptions& options, core::TimePoint now);
  // After a restart: ends the peer calls the stored session had (core/group_restore.hpp), then
  // rejoins the stored call with a new session if it is still live (else removes our stale
  // member entry). Reads only the store and the restored room state: no history is fetched.
  Result<std::string> rejoin(const store::OngoingGroupCall& call, const std::vector<store::GroupPeerCall>& peer_calls,
                             core::TimePoint now);
  Status leave(const std::string& room_id, core::TimePoint now);
  Status set_muted(const std::string& room_id, media::MediaKind kind, bool muted, core::TimePoint now);
  Status set_video(const std::string& room_id, bool enabled, core::TimePoint now);
  void set_ice_servers(std::vector<media::IceServer> servers) { settings_.call.peer.ice_servers = std::move(servers); }

  // Ends the turn: fires due timers, carries out every output, flushes the to-device
  // messages as one delivery; returns the next deadline.
  std::optional<core::TimePoint> turn(core::TimePoint now);

  std::optional<GroupCallSummary> summary(const std::string& room_id) const;
  std::vector<std::string> rooms_in_call() const;
  // The core machine of our call in the room (for inspection: tests, the simulator).
  const core::GroupCall* group_call(const std::string& room_id) const {
    auto it = active_.find(room_id);
    return it == active_.end() ? nullptr : it->second.call.get();
  }
  // The room's call: the newest call event that is not terminated (core::choose_call).
  std::optional<std::string> live_conf_id(const std::string& room_id) const;

 private:
  struct RoomCalls {
    std::map<std::string, std::pair<std::int64_t, events::GroupCallState>> calls;  // conf id -> (ts, state)
    std::map<std::string, events::GroupCallMemberContent> members;                  // user -> content
  };
  struct Active {
    std::unique_ptr<core::GroupCall> call;
    GroupCallOptions options;
    std::map<core::DeviceKey, GroupPeerSummary> peers;  // by remote device; call_id is the latest
    bool created = false;                 // we wrote the call event when joining
    std::optional<std::string> move_to;   // our call lost to this one (group_driver_converge.cpp)
    // Peer calls as they went out on the wire (store group_peer_calls), by call id.
    std::map<std::string, store::GroupPeerCall> wire_calls;
    std::set<std::string> ended_calls;
    bool wire_dirty = false;
    std::set<core::DeviceKey> prefetched;  // devices whose keys were fetched ahead
  };

  void feed(const std::string& room_id, const core::GroupInput& input, core::TimePoint now);
  void perform(const std::string& room_id, Active& a, const core::GroupOutput& out, core::TimePoint now);
  void on_peer_note(const std::string& room_id, Active& a, const core::gnote::Peer& p);
  void update(GroupUpdate u) { if (ports_.notify) ports_.notify(u); }
  void remember(const std::string& room_id, const Active& a);
  Result<std::string> join_conf(const std::string& room_id, const GroupCallOptions& options,
                                const std::optional<std::string>& conf, core::TimePoint now);

  // group_driver_converge.cpp
  core::CallChoice choice(const std::string& room_id) const;
  void check_convergence(const std::string& room_id);
  void move_calls(core::TimePoint now);

  // group_driver_restart.cpp
  void track_send(Active& a, const core::SendToDevice& s);
  void track_end(Active& a, const std::string& call_id);
  void save_wire_calls(const std::string& room_id, Active& a);
  void prefetch_new(Active& a);
  bool descriptions_pending() const;
  std::uint64_t random();
  std::string random_id(std::size_t n);

  Settings settings_;
  Ports ports_;
  PeerTable peers_;
  std::map<std::string, RoomCalls> rooms_;
  std::map<std::string, Active> active_;           // room -> our group call there
  std::map<std::string, std::string> call_rooms_;  // peer call id -> room
  // Calls we left, while our entry could still come back: another device of our user that
  // wrote its member event at the same time built it on a base that still listed us. Each
  // member event of ours that lists the session we left is answered by removing it again,
  // 2-3 s later from the newest content then (several of our devices leaving at once would
  // otherwise keep writing each other back).
  struct LeftCall {
    std::string conf_id, session_id;
    std::int64_t until_unix_ms = 0;  // our entry would have expired by then anyway
    std::optional<core::TimePoint> recheck_at;
  };
  std::map<std::string, LeftCall> left_;  // room -> the call we left there
  bool lists_left_session(const LeftCall& left, const events::GroupCallMemberContent& ours) const;
  void recheck_left_entries(core::TimePoint now);
  // To-device messages wait (at most flush_window) while other peer calls of the round are
  // still making their descriptions, so a join's invites to every peer go in one request.
  std::optional<core::TimePoint> flush_by_;
  bool unflushed_ = false;
};

}  // namespace mxcall::client
