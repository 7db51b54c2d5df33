// Who is in which room, from the state and timeline of each /sync batch: enough to drop
// signalling from non-members and to find the DM with a user.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "mxcall/matrix/sync.hpp"

namespace mxcall::client {

class RoomTracker {
 public:
  explicit RoomTracker(std::string own_user_id) : own_(std::move(own_user_id)) {}

  // Applies the membership changes of a batch; returns the rooms we were newly invited to.
  std::vector<matrix::InvitedRoom> apply(const matrix::SyncBatch& batch);

  bool is_joined_member(const std::string& room_id, const std::string& user_id) const;
  // A room whose members (joined or invited) are exactly us and user_id.
  std::optional<std::string> direct_room_with(const std::string& user_id) const;
  std::set<std::string> joined_members(const std::string& room_id) const;

 private:
  void apply_member(const matrix::RoomEvent& ev);

  std::string own_;
  std::map<std::string, std::map<std::string, std::string>> membership_;  // room -> user -> membership
};

}  // namespace mxcall::client
