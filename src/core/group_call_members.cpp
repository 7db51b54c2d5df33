// Member state: who takes part (one PeerLink per listed remote device) and our own entry.
#include <algorithm>

#include "core/group_call.hpp"
#include "util/logging.hpp"

namespace mxcall::core {

void GroupCall::sync_participants(TimePoint now, std::int64_t unix_ms) {
  const auto listed = members_.participants(unix_ms);
  for (auto it = links_.begin(); it != links_.end();) {
    PeerLink& link = it->second;
    const DeviceKey& key = it->first;
    const auto p = listed.find(key);
    if (!link.listed()) {
      if (p == listed.end()) {
        ++it;  // still provisional (expire_unlisted ends it)
      } else if (p->second.session_id == link.session_id()) {
        MXLOG_INFO("group {}: {} {} is now listed; unmuting towards it", config_.conf_id, key.first, key.second);
        link.set_listed(*this, now);
        emit(gnote::ParticipantJoined{key.first, key.second, link.session_id()});
        ++it;
      } else {
        link.end_call("new_session", *this, now);
        it = links_.erase(it);  // the listed session gets its own link below
      }
      continue;
    }
    std::string reason;
    if (p == listed.end()) {
      if (!members_.is_joined(key.first)) reason = "left_room";
      else reason = members_.has_entry(key) ? "expired" : "left";
    } else if (p->second.session_id != link.session_id()) {
      reason = "new_session";
    }
    if (reason.empty()) {
      ++it;
      continue;
    }
    MXLOG_INFO("group {}: {} {} ({}) is gone: {}", config_.conf_id, key.first, key.second, link.session_id(), reason);
    link.end_call(reason == "new_session" ? "new_session" : events::reason::kUserHangup, *this, now);
    emit(gnote::ParticipantLeft{key.first, key.second, reason});
    it = links_.erase(it);
  }
  for (const auto& [key, p] : listed) {
    if (links_.count(key)) continue;
    MXLOG_INFO("group {}: {} {} takes part (session {})", config_.conf_id, key.first, key.second, p.session_id);
    links_.emplace(key, PeerLink(config_, key, p.session_id, true, now));
    emit(gnote::ParticipantJoined{key.first, key.second, p.session_id});
  }
}

void GroupCall::put_own_member(TimePoint now, std::int64_t unix_ms) {
  events::MemberDevice own;
  own.device_id = config_.own_device_id;
  own.session_id = config_.own_session_id;
  own.expires_ts = unix_ms + config_.member_lifetime.count();
  own.feeds.push_back(events::MemberFeed{"m.usermedia", events::Json::object()});
  auto content = events::updated_member_content(members_.own_content(), config_.conf_id, config_.own_device_id, own,
                                                unix_ms);
  // Until the homeserver echoes it, what we wrote is the newest we know (the next
  // read-modify-write builds on it).
  members_.set_member(config_.own_user_id, content);
  emit(PutMemberState{config_.room_id, config_.own_user_id, std::move(content)});
  last_member_put_ = now;
  own_expires_ts_ = own.expires_ts;
  timers_.arm(GroupTimer::MemberRefresh, now + config_.member_lifetime - refresh_margin());
  timers_.stop(GroupTimer::MemberReassert);
}

Duration GroupCall::refresh_margin() const {
  // A lifetime shorter than the margin (tests, short-lived devices) refreshes at 3/4 of it.
  return std::min(config_.member_refresh_margin, config_.member_lifetime / 4);
}

void GroupCall::remove_own_member(std::int64_t unix_ms) {
  auto content =
      events::updated_member_content(members_.own_content(), config_.conf_id, config_.own_device_id, std::nullopt, unix_ms);
  members_.set_member(config_.own_user_id, content);
  emit(PutMemberState{config_.room_id, config_.own_user_id, std::move(content)});
}

void GroupCall::check_own_entry(TimePoint now, std::int64_t unix_ms) {
  if (!joined()) {
    timers_.stop(GroupTimer::MemberReassert);
    return;
  }
  const auto visible = members_.own_expiry(config_.own_session_id);
  if (visible && *visible > unix_ms) {
    timers_.stop(GroupTimer::MemberReassert);
    // Listed. Another device of our user that wrote its member event from an older base may
    // have put our previous expires_ts back: refresh before that one runs out (peers would
    // drop us first). Not at once: devices that answer each other's writes at once keep
    // overwriting each other.
    if (*visible < own_expires_ts_) {
      const std::int64_t left = *visible - unix_ms;
      TimePoint due = now + Duration(std::max<std::int64_t>(0, left - refresh_margin().count()));
      if (last_member_put_)
        due = std::max(due, std::min(*last_member_put_ + config_.member_reassert_interval, now + Duration(left / 2)));
      if (auto at = timers_.when(GroupTimer::MemberRefresh); !at || due < *at) timers_.arm(GroupTimer::MemberRefresh, due);
    }
    // Listed for a while: the next reassert starts without backoff again.
    if (!listed_since_) listed_since_ = now;
    if (now - *listed_since_ >= config_.member_reassert_interval * 5) reasserts_ = 0;
    return;
  }
  // Missing (or expired): peers have dropped us; write it again, backing off when devices of
  // our user keep removing each other.
  listed_since_.reset();
  if (!reassert_after_) reassert_after_ = reassert_wait();
  const TimePoint allowed = last_member_put_ ? *last_member_put_ + *reassert_after_ : now;
  if (now >= allowed) {
    MXLOG_INFO("group {}: our member entry is missing from {}'s member event or has expired; writing it again",
               config_.conf_id, config_.own_user_id);
    ++reasserts_;
    reassert_after_.reset();
    put_own_member(now, unix_ms);
  } else {
    timers_.arm(GroupTimer::MemberReassert, allowed);
  }
}

}  // namespace mxcall::core
