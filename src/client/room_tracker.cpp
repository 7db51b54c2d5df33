#include "client/room_tracker.hpp"

namespace mxcall::client {

void RoomTracker::apply_member(const matrix::RoomEvent& ev) {
  if (ev.type != "m.room.member" || !ev.state_key) return;
  auto it = ev.content.find("membership");
  if (it == ev.content.end() || !it->is_string()) return;
  membership_[ev.room_id][*ev.state_key] = it->get<std::string>();
}

std::vector<matrix::InvitedRoom> RoomTracker::apply(const matrix::SyncBatch& batch) {
  for (const auto& room : batch.joined) {
    membership_[room.room_id][own_] = "join";
    for (const auto& ev : room.state) apply_member(ev);
    for (const auto& ev : room.timeline) apply_member(ev);
  }
  std::vector<matrix::InvitedRoom> fresh;
  for (const auto& inv : batch.invited) {
    auto& members = membership_[inv.room_id];
    if (members[own_] != "invite" && members[own_] != "join") fresh.push_back(inv);
    if (members[own_] != "join") members[own_] = "invite";
    if (inv.inviter) members[*inv.inviter] = "join";
  }
  for (const auto& room_id : batch.left) membership_.erase(room_id);
  return fresh;
}

bool RoomTracker::is_joined_member(const std::string& room_id, const std::string& user_id) const {
  auto r = membership_.find(room_id);
  if (r == membership_.end()) return false;
  auto u = r->second.find(user_id);
  return u != r->second.end() && u->second == "join";
}

std::optional<std::string> RoomTracker::direct_room_with(const std::string& user_id) const {
  for (const auto& [room_id, members] : membership_) {
    auto me = members.find(own_);
    if (me == members.end() || me->second != "join") continue;
    std::set<std::string> present;
    for (const auto& [user, m] : members)
      if (m == "join" || m == "invite") present.insert(user);
    if (present == std::set<std::string>{own_, user_id}) return room_id;
  }
  return std::nullopt;
}

std::set<std::string> RoomTracker::joined_members(const std::string& room_id) const {
  std::set<std::string> out;
  if (auto r = membership_.find(room_id); r != membership_.end())
    for (const auto& [user, m] : r->second)
      if (m == "join") out.insert(user);
  return out;
}

}  // namespace mxcall::client
