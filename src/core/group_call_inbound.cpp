// Inbound to-device signalling: the checks every message must pass, and where it goes.
#include <algorithm>

#include "core/group_call.hpp"
#include "util/logging.hpp"

namespace mxcall::core {
namespace {

// Held messages may carry SDP (up to 64 KiB each): keep the worst case to a few MiB.
constexpr std::size_t kMaxHeldPerDevice = 16;
constexpr std::size_t kMaxHeldDevices = 16;
// Each provisional link owns a peer connection; a room member must not make us open many.
constexpr std::size_t kMaxProvisionalLinks = 8;
// A held invite waits for its sender's entry at most its lifetime, and never longer than this.
constexpr std::int64_t kMaxHeldInviteMs = 120'000;

}  // namespace

void GroupCall::on_signal(const ToDeviceSignal& s, TimePoint now) {
  const auto& env = s.envelope;
  const auto drop = [&](const std::string& why) {
    MXLOG_WARN("group {}: {} for call {} from {} {} dropped: {}", config_.conf_id, events::event_type(env.event),
               events::common_of(env.event).call_id, s.sender, env.device_id, why);
  };
  if (env.conf_id != config_.conf_id) return drop("unknown conf_id " + env.conf_id);
  if (env.dest_session_id != config_.own_session_id) return drop("meant for session " + env.dest_session_id);
  if (!joined()) return drop("we are not in the call");
  if (!s.encrypted && config_.require_encryption) return drop("not encrypted");
  if (s.sender_device && *s.sender_device != env.device_id)
    return drop("sent by device " + *s.sender_device + ", which is not the device_id it names");
  if (!s.sender_device && s.encrypted) return drop("the sending device is not known");
  if (s.sender == config_.own_user_id && env.device_id == config_.own_device_id) return drop("sent by this device");
  if (!members_.is_joined(s.sender)) return drop("the sender is not joined to the room");

  const DeviceKey key{s.sender, env.device_id};
  auto it = links_.find(key);
  if (it != links_.end() && it->second.session_id() == env.sender_session_id) {
    it->second.receive(env, *this, now);
    return;
  }
  // An invite from a device member state does not list (its member event may still be on its
  // way): js-sdk answers it at once with its tracks disabled; so do we, for a while.
  const bool invite = std::holds_alternative<events::CallInvite>(env.event);
  const auto provisional = static_cast<std::size_t>(
      std::count_if(links_.begin(), links_.end(), [](const auto& l) { return !l.second.listed(); }));
  if (invite && !members_.has_entry(key) && (it == links_.end() || !it->second.listed()) &&
      (it != links_.end() || provisional < kMaxProvisionalLinks)) {
    if (it != links_.end()) {
      it->second.end_call("new_session", *this, now);
      links_.erase(it);
    }
    MXLOG_INFO("group {}: invite from {} {}, which member state does not list yet; answering muted", config_.conf_id,
               key.first, key.second);
    auto& link = links_.emplace(key, PeerLink(config_, key, env.sender_session_id, false, now)).first->second;
    link.receive(env, *this, now);
    return;
  }
  hold(key, s, now);
}

void GroupCall::hold(const DeviceKey& device, const ToDeviceSignal& s, TimePoint now) {
  auto it = held_.find(device);
  if (it == held_.end() && held_.size() >= kMaxHeldDevices) {
    MXLOG_WARN("group {}: holding messages of too many unlisted devices; one from {} {} dropped", config_.conf_id,
               device.first, device.second);
    return;
  }
  auto& q = held_[device];
  if (q.size() >= kMaxHeldPerDevice) {
    MXLOG_WARN("group {}: too many messages held for {} {}; dropped", config_.conf_id, device.first, device.second);
    return;
  }
  MXLOG_DEBUG("group {}: {} from {} {} (session {}) held until member state lists that session", config_.conf_id,
              events::event_type(s.envelope.event), device.first, device.second, s.envelope.sender_session_id);
  q.push_back(Held{s, now});
}

void GroupCall::release_held(TimePoint now) {
  for (auto it = held_.begin(); it != held_.end();) {
    auto& q = it->second;
    // Past the grace: the member event that would make them valid did not come. An invite
    // (and what follows it) is kept while it can still be answered: its sender waits that long
    // anyway, and its entry may only be late (another device of its user overwrote it).
    const TimePoint keep_until = held_deadline(q);
    while (!q.empty() && std::max(q.front().received + config_.unlisted_grace, keep_until) <= now) {
      MXLOG_WARN("group {}: {} from {} {} (session {}) dropped: that device and session never appeared in member state",
                 config_.conf_id, events::event_type(q.front().signal.envelope.event), it->first.first,
                 it->first.second, q.front().signal.envelope.sender_session_id);
      q.pop_front();
    }
    auto link = links_.find(it->first);
    if (joined() && link != links_.end()) {
      std::deque<Held> keep;
      for (auto& h : q) {
        if (h.signal.envelope.sender_session_id == link->second.session_id()) link->second.receive(h.signal.envelope, *this, now);
        else keep.push_back(std::move(h));
      }
      q = std::move(keep);
    }
    it = q.empty() ? held_.erase(it) : std::next(it);
  }
}

TimePoint GroupCall::held_deadline(const std::deque<Held>& q) const {
  TimePoint until{};
  for (const auto& h : q)
    if (const auto* invite = std::get_if<events::CallInvite>(&h.signal.envelope.event)) {
      const auto lifetime = std::clamp<std::int64_t>(invite->lifetime_ms, 0, kMaxHeldInviteMs);
      until = std::max(until, h.received + Duration(lifetime));
    }
  return until;
}

void GroupCall::expire_unlisted(TimePoint now) {
  for (auto it = links_.begin(); it != links_.end();) {
    PeerLink& link = it->second;
    if (link.listed() || now < link.created() + config_.unlisted_grace) {
      ++it;
      continue;
    }
    MXLOG_WARN("group {}: {} {} never appeared in member state; hanging up its call", config_.conf_id, it->first.first,
               it->first.second);
    link.end_call(events::reason::kUserHangup, *this, now);
    it = links_.erase(it);
  }
}

}  // namespace mxcall::core
