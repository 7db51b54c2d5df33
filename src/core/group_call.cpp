// The group call's lifecycle (join, leave, call event), commands, timers and output queue.
#include "core/group_call.hpp"

#include <algorithm>

#include "util/logging.hpp"
#include "util/overloaded.hpp"

namespace mxcall::core {
namespace {

using util::overloaded;

std::uint64_t fnv1a(std::string_view s, std::uint64_t h = 1469598103934665603ULL) {
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ULL;
  }
  return h;
}

std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

}  // namespace

const char* to_string(GroupState s) { return s == GroupState::Joined ? "joined" : "idle"; }

GroupCall::GroupCall(GroupCallConfig config)
    : config_(std::move(config)),
      members_(config_.conf_id, config_.own_user_id, config_.own_device_id),
      wish_{config_.video, config_.start_audio_muted, config_.start_video_muted},
      rng_(config_.random_seed ^
           fnv1a(config_.own_session_id, fnv1a(config_.own_device_id, fnv1a(config_.own_user_id)))) {}

void GroupCall::handle(const GroupInput& input, TimePoint now, std::int64_t unix_ms) {
  last_now_ = now;
  last_unix_ms_ = unix_ms;
  std::visit(overloaded{
                 [&](const CallStateEvent& e) { on_call_state(e, now, unix_ms); },
                 [&](const MemberStateEvent& e) {
                   members_.set_member(e.user_id, e.content);
                   for (auto& [key, link] : links_) link.revive();
                 },
                 [&](const RoomMembers& m) { members_.set_joined(m.joined); },
                 [&](const ToDeviceSignal& s) { on_signal(s, now); },
                 [&](const PeerMediaEvent& e) {
                   if (auto* pc = find_call(e.call_id)) pc->call.handle(e.event, now);
                   else MXLOG_DEBUG("group {}: media event for unknown call {} ignored", config_.conf_id, e.call_id);
                 },
                 [&](const PeerSendFailed& f) {
                   if (auto* pc = find_call(f.call_id)) pc->call.handle(SendFailed{f.event_type, f.error}, now);
                 },
                 [&](const gcmd::Join& j) { join(j, now, unix_ms); },
                 [&](const gcmd::Leave& l) { leave(l.reason.empty() ? "left" : l.reason, l.terminate, now, unix_ms); },
                 [&](const gcmd::SetMuted& m) {
                   MediaWish w = wish_;
                   (m.kind == media::MediaKind::Audio ? w.audio_muted : w.video_muted) = m.muted;
                   set_media(w, now);
                 },
                 [&](const gcmd::SetVideo& v) {
                   MediaWish w = wish_;
                   w.video = v.enabled;
                   set_media(w, now);
                 },
                 [&](const Tick&) { on_tick(now, unix_ms); },
             },
             input);
  reconcile(now, unix_ms);
}

void GroupCall::reconcile(TimePoint now, std::int64_t unix_ms) {
  sync_participants(now, unix_ms);
  expire_unlisted(now);
  release_held(now);
  for (auto& [key, link] : links_) link.settle(*this, now, unix_ms);
  check_own_entry(now, unix_ms);
}

void GroupCall::join(const gcmd::Join& j, TimePoint now, std::int64_t unix_ms) {
  if (joined()) {
    MXLOG_WARN("group {}: join while joined ignored", config_.conf_id);
    return;
  }
  if (j.session_id) {
    if (!events::is_valid_group_id(*j.session_id)) {
      MXLOG_WARN("group {}: join with an unusable session id ignored", config_.conf_id);
      return;
    }
    config_.own_session_id = *j.session_id;
  }
  state_ = GroupState::Joined;
  MXLOG_INFO("group {}: joining in {} as {} {} (session {})", config_.conf_id, config_.room_id, config_.own_user_id,
             config_.own_device_id, config_.own_session_id);
  if (!call_state_ || call_state_->terminated) {
    events::GroupCallState s;
    s.intent = config_.intent;
    s.call_type = wish_.video ? events::GroupCallType::Video : events::GroupCallType::Voice;
    s.name = config_.name;
    call_state_ = s;
    emit(PutCallState{config_.room_id, config_.conf_id, std::move(s)});
  }
  reasserts_ = 0;
  put_own_member(now, unix_ms);
  emit(gnote::Joined{});
}

void GroupCall::leave(const std::string& reason, bool terminate, TimePoint now, std::int64_t unix_ms) {
  if (!joined()) {
    MXLOG_DEBUG("group {}: leave while not joined ignored", config_.conf_id);
    return;
  }
  MXLOG_INFO("group {}: leaving ({})", config_.conf_id, reason);
  for (auto it = links_.begin(); it != links_.end();) {
    it->second.end_call(events::reason::kUserHangup, *this, now);
    it->second.reset();
    it = it->second.listed() ? std::next(it) : links_.erase(it);
  }
  held_.clear();
  state_ = GroupState::Idle;
  timers_.stop_all();
  remove_own_member(unix_ms);
  if (terminate) {
    events::GroupCallState s = call_state_.value_or(events::GroupCallState{});
    s.terminated = true;
    call_state_ = s;
    emit(PutCallState{config_.room_id, config_.conf_id, std::move(s)});
  }
  emit(gnote::Left{reason});
}

void GroupCall::on_call_state(const CallStateEvent& e, TimePoint now, std::int64_t unix_ms) {
  if (e.conf_id != config_.conf_id) return;
  call_state_ = e.content;
  if (joined() && (!e.content || e.content->terminated)) leave("terminated", false, now, unix_ms);
}

void GroupCall::on_tick(TimePoint now, std::int64_t unix_ms) {
  while (auto t = timers_.expire(now)) {
    switch (*t) {
      case GroupTimer::MemberRefresh:
        if (joined()) {
          reasserts_ = 0;
          put_own_member(now, unix_ms);
        }
        break;
      case GroupTimer::MemberReassert: break;  // check_own_entry() looks again after this tick
      case GroupTimer::Count_: break;
    }
  }
  for (auto& [key, link] : links_) link.tick(*this, now);
}

void GroupCall::set_media(const MediaWish& wish, TimePoint now) {
  wish_ = wish;
  for (auto& [key, link] : links_) link.apply_media(wish_, now);
}

std::string GroupCall::new_call_id(std::int64_t unix_ms) {
  // js-sdk's shape: milliseconds since the epoch and 16 random alphanumerics.
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  std::string id = std::to_string(unix_ms);
  for (int i = 0; i < 16; ++i) id.push_back(kAlphabet[splitmix64(rng_) % (sizeof(kAlphabet) - 1)]);
  return id;
}

Duration GroupCall::reassert_wait() {
  // Several devices of one user each writing the member event from a base that lacks the
  // others' newest entries can keep removing each other: back off (x2 per reassert, up to
  // x8) with jitter after the first, so that one write eventually starts from a complete view.
  const Duration base = config_.member_reassert_interval * (1 << std::min(reasserts_, 3));
  if (reasserts_ == 0) return base;  // the first one at the plain interval
  const auto jitter = static_cast<std::int64_t>(splitmix64(rng_) % static_cast<std::uint64_t>(base.count() + 1));
  return base + Duration(jitter);
}

PeerCall* GroupCall::find_call(const std::string& call_id) {
  for (auto& [key, link] : links_)
    if (auto* pc = link.find_call(call_id)) return pc;
  for (auto& pc : retired_)
    if (pc.call.call_id() == call_id) return &pc;
  return nullptr;
}

void GroupCall::emit(GroupOutput out) {
  flush_calls();  // what the peer calls said before this stays before it
  outputs_.push_back(std::move(out));
}

void GroupCall::flush_calls() {
  for (auto& pc : retired_)
    while (auto o = pc.poll(config_)) outputs_.push_back(std::move(*o));
  for (auto& [key, link] : links_)
    while (auto o = link.poll(config_)) outputs_.push_back(std::move(*o));
}

std::optional<GroupOutput> GroupCall::poll() {
  if (!outputs_.empty()) {
    GroupOutput o = std::move(outputs_.front());
    outputs_.pop_front();
    return o;
  }
  // Ended calls first: a hangup leaves before the invite of the call that replaces it.
  while (!retired_.empty()) {
    if (auto o = retired_.front().poll(config_)) return o;
    retired_.pop_front();
  }
  for (auto& [key, link] : links_)
    if (auto o = link.poll(config_)) return o;
  return std::nullopt;
}

bool GroupCall::has_output() const {
  if (!outputs_.empty()) return true;
  for (const auto& pc : retired_)
    if (pc.call.has_output()) return true;
  for (const auto& [key, link] : links_)
    if (link.has_output()) return true;
  return false;
}

std::optional<TimePoint> GroupCall::next_deadline() const {
  std::optional<TimePoint> best;
  auto consider = [&](std::optional<TimePoint> t) {
    if (t && (!best || *t < *best)) best = t;
  };
  if (auto t = timers_.next()) consider(t->at);
  for (const auto& [key, link] : links_) {
    consider(link.next_deadline());
    if (!link.listed()) consider(link.created() + config_.unlisted_grace);
  }
  for (const auto& [key, q] : held_)
    if (!q.empty()) consider(std::max(q.front().received + config_.unlisted_grace, held_deadline(q)));
  if (auto expiry = members_.next_expiry(last_unix_ms_))
    consider(last_now_ + Duration(*expiry - last_unix_ms_));
  return best;
}

std::vector<DeviceKey> GroupCall::participants() const {
  std::vector<DeviceKey> out;
  for (const auto& [key, link] : links_)
    if (link.listed()) out.push_back(key);
  return out;
}

const PeerLink* GroupCall::link(const DeviceKey& device) const {
  auto it = links_.find(device);
  return it == links_.end() ? nullptr : &it->second;
}

const Call* GroupCall::peer_call(const DeviceKey& device) const {
  const PeerLink* l = link(device);
  return l ? l->call() : nullptr;
}

std::size_t GroupCall::live_calls() const {
  std::size_t n = 0;
  for (const auto& [key, link] : links_) n += link.has_live_call();
  return n;
}

}  // namespace mxcall::core
