// Who takes part in one group call, from the room's member state events and its joined users:
// the unexpired devices listed under our conf id by users who are joined to the room. Our own
// device is never a participant; devices that publish to an SFU cannot be meshed with and are
// left out. Wall-clock time (expires_ts) is passed in, never read.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include "events/group_events.hpp"

namespace mxcall::core {

using DeviceKey = std::pair<std::string, std::string>;  // (user id, device id)

struct Participant {
  std::string session_id;
  std::int64_t expires_ts = 0;
  bool screenshare = false;  // an m.screenshare feed is listed
};

class GroupMembership {
 public:
  GroupMembership(std::string conf_id, std::string own_user_id, std::string own_device_id)
      : conf_id_(std::move(conf_id)), own_user_(std::move(own_user_id)), own_device_(std::move(own_device_id)) {}

  // The member state event of `user_id` (its state key); replaces what that user had.
  void set_member(const std::string& user_id, events::GroupCallMemberContent content);
  // The room's joined users, all of them.
  void set_joined(std::set<std::string> users) { joined_ = std::move(users); }
  void set_own_device(std::string device_id) { own_device_ = std::move(device_id); }

  bool is_joined(const std::string& user_id) const { return joined_.count(user_id) > 0; }
  std::map<DeviceKey, Participant> participants(std::int64_t now_unix_ms) const;
  // The session a device is listed with, unexpired, by a joined user (nullopt otherwise).
  std::optional<std::string> listed_session(const DeviceKey& device, std::int64_t now_unix_ms) const;
  // The device has an entry under our conf id, expired or not.
  bool has_entry(const DeviceKey& device) const { return entry(device.first, device.second) != nullptr; }
  // The earliest expires_ts after now among the devices participants() would return.
  std::optional<std::int64_t> next_expiry(std::int64_t now_unix_ms) const;

  // Our own user's member content as last seen (the base of a read-modify-write).
  events::GroupCallMemberContent own_content() const;
  // The expires_ts our entry with this session carries in that content (nullopt: no such entry).
  std::optional<std::int64_t> own_expiry(const std::string& session_id) const;

 private:
  const events::MemberDevice* entry(const std::string& user, const std::string& device) const;
  template <typename F>
  void for_each_listed(std::int64_t now_unix_ms, F&& f) const;

  std::string conf_id_;
  std::string own_user_;
  std::string own_device_;
  std::map<std::string, events::GroupCallMemberContent> members_;  // by user id
  std::set<std::string> joined_;
};

}  // namespace mxcall::core
