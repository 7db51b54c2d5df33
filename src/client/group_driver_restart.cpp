// What a restarted client needs of a group call, and what makes its join cheap: the peer calls
// as they went out on the wire (kept in the store, ended properly after a crash, see
// core/group_restore.hpp), the rejoin from the store, and the olm keys fetched ahead.
#include "client/group_driver.hpp"

#include "core/group_restore.hpp"
#include "core/mesh_rule.hpp"
#include "util/logging.hpp"

namespace mxcall::client {

namespace {

std::string call_id_of(const events::CallEvent& e) {
  return std::visit([](const auto& ev) { return ev.common.call_id; }, e);
}

}  // namespace

void GroupDriver::track_send(Active& a, const core::SendToDevice& s) {
  const std::string id = call_id_of(s.envelope.event);
  if (id.empty() || a.ended_calls.count(id) || std::holds_alternative<events::CallHangup>(s.envelope.event)) return;
  auto& c = a.wire_calls[id];
  c.call_id = id;
  c.user_id = s.user_id;
  c.device_id = s.device_id;
  c.peer_session_id = s.envelope.dest_session_id;
  c.next_seq = s.envelope.seq.value_or(c.next_seq - 1) + 1;
  a.wire_dirty = true;
}

void GroupDriver::track_end(Active& a, const std::string& call_id) {
  a.ended_calls.insert(call_id);
  if (a.wire_calls.erase(call_id) > 0) a.wire_dirty = true;
}

void GroupDriver::save_wire_calls(const std::string& room_id, Active& a) {
  if (!a.wire_dirty || !ports_.store) return;
  a.wire_dirty = false;
  std::vector<store::GroupPeerCall> calls;
  for (const auto& [id, c] : a.wire_calls) calls.push_back(c);
  if (auto st = ports_.store->save_group_peer_calls(room_id, calls); !st.ok())
    MXLOG_WARN("group: keeping the peer calls in {} in the store failed: {}", room_id, st.error().describe());
}

void GroupDriver::prefetch_new(Active& a) {
  if (!ports_.prefetch_keys || !a.call->joined()) return;
  std::vector<core::DeviceKey> devices;
  std::vector<core::DeviceKey> claim;
  for (const auto& d : a.call->participants()) {
    if (!a.prefetched.insert(d).second) continue;
    devices.push_back(d);
    // Devices that call us bring the session in their pre-key message: no claim for them.
    if (core::we_initiate(settings_.own_user_id, settings_.own_device_id, d.first, d.second)) claim.push_back(d);
  }
  if (!devices.empty()) ports_.prefetch_keys(std::move(devices), std::move(claim));
}

Result<std::string> GroupDriver::rejoin(const store::OngoingGroupCall& stored,
                                        const std::vector<store::GroupPeerCall>& peer_calls, core::TimePoint now) {
  const RoomCalls& known = rooms_[stored.room_id];
  auto call = known.calls.find(stored.conf_id);
  const bool live = call != known.calls.end() && !call->second.second.terminated;

  core::StaleSession stale{stored.conf_id, settings_.own_device_id, stored.session_id, {}};
  for (const auto& c : peer_calls)
    stale.calls.push_back({c.call_id, c.user_id, c.device_id, c.peer_session_id, c.next_seq});
  const auto hangups = core::stale_call_hangups(stale, live);
  for (const auto& h : hangups)
    ports_.send_to_device(
        {h.user_id, h.device_id, std::string(events::event_type(h.envelope.event)), events::to_content(h.envelope)});
  if (!hangups.empty()) {
    MXLOG_INFO("group: ending {} peer calls of our previous session {} in {}", hangups.size(), stored.session_id,
               stored.conf_id);
    if (ports_.flush_to_device) ports_.flush_to_device();  // before our new member entry goes out
  }
  if (ports_.store)
    if (auto st = ports_.store->remove_group_call(stored.room_id); !st.ok())
      MXLOG_WARN("group: forgetting the call in {} in the store failed: {}", stored.room_id, st.error().describe());

  if (!live) {
    // The call ended while we were away: take our stale entry out of member state.
    if (auto m = known.members.find(settings_.own_user_id); m != known.members.end()) {
      const auto* entry = events::find_call(m->second, stored.conf_id);
      if (entry && events::find_device(*entry, settings_.own_device_id)) {
        auto content = events::updated_member_content(m->second, stored.conf_id, settings_.own_device_id, std::nullopt,
                                                      ports_.unix_ms());
        rooms_[stored.room_id].members[settings_.own_user_id] = content;
        ports_.put_state(stored.room_id, std::string(events::type::kGroupCallMember), settings_.own_user_id,
                         events::to_content(content), [room = stored.room_id](const Status& st) {
                           if (!st.ok())
                             MXLOG_WARN("group: removing our stale member entry in {} failed: {}", room,
                                        st.error().describe());
                         });
      }
    }
    return Error::make(ErrorKind::InvalidArgument, "the group call " + stored.conf_id + " no longer runs");
  }
  GroupCallOptions o;
  o.video = stored.video;
  o.audio_muted = stored.audio_muted;
  o.create_if_missing = false;
  return join_conf(stored.room_id, o, stored.conf_id, now);
}

}  // namespace mxcall::client
