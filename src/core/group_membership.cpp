#include "core/group_membership.hpp"

#include "util/logging.hpp"

namespace mxcall::core {

void GroupMembership::set_member(const std::string& user_id, events::GroupCallMemberContent content) {
  if (content.calls.empty() && content.extra.empty()) {
    members_.erase(user_id);
    return;
  }
  members_[user_id] = std::move(content);
}

template <typename F>
void GroupMembership::for_each_listed(std::int64_t now_unix_ms, F&& f) const {
  for (const auto& [user, content] : members_) {
    if (!is_joined(user)) continue;
    const auto* call = events::find_call(content, conf_id_);
    if (!call) continue;
    for (const auto& d : call->devices) {
      if (d.expired(now_unix_ms) || (user == own_user_ && d.device_id == own_device_)) continue;
      if (d.sfu) {
        MXLOG_DEBUG("group {}: {} {} publishes to an SFU; not meshed with", conf_id_, user, d.device_id);
        continue;
      }
      f(user, d);
    }
  }
}

std::map<DeviceKey, Participant> GroupMembership::participants(std::int64_t now_unix_ms) const {
  std::map<DeviceKey, Participant> out;
  for_each_listed(now_unix_ms, [&](const std::string& user, const events::MemberDevice& d) {
    bool screenshare = false;
    for (const auto& f : d.feeds) screenshare = screenshare || f.purpose == "m.screenshare";
    out[{user, d.device_id}] = Participant{d.session_id, d.expires_ts, screenshare};
  });
  return out;
}

std::optional<std::string> GroupMembership::listed_session(const DeviceKey& device, std::int64_t now_unix_ms) const {
  if (!is_joined(device.first)) return std::nullopt;
  const auto* d = entry(device.first, device.second);
  if (!d || d->expired(now_unix_ms) || d->sfu) return std::nullopt;
  return d->session_id;
}

std::optional<std::int64_t> GroupMembership::next_expiry(std::int64_t now_unix_ms) const {
  std::optional<std::int64_t> best;
  for_each_listed(now_unix_ms, [&](const std::string&, const events::MemberDevice& d) {
    if (!best || d.expires_ts < *best) best = d.expires_ts;
  });
  return best;
}

events::GroupCallMemberContent GroupMembership::own_content() const {
  auto it = members_.find(own_user_);
  return it == members_.end() ? events::GroupCallMemberContent{} : it->second;
}

std::optional<std::int64_t> GroupMembership::own_expiry(const std::string& session_id) const {
  const auto* d = entry(own_user_, own_device_);
  if (!d || d->session_id != session_id) return std::nullopt;
  return d->expires_ts;
}

const events::MemberDevice* GroupMembership::entry(const std::string& user, const std::string& device) const {
  auto it = members_.find(user);
  if (it == members_.end()) return nullptr;
  const auto* call = events::find_call(it->second, conf_id_);
  return call ? events::find_device(*call, device) : nullptr;
}

}  // namespace mxcall::core
