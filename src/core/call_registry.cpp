#include "core/call_registry.hpp"

#include "util/logging.hpp"

namespace mxcall::core {

namespace {

bool preparing_or_inviting(const Call& c) {
  return c.direction() == CallDirection::Outbound &&
         (c.state() == CallState::CreatingOffer || c.state() == CallState::InviteSent);
}

}  // namespace

bool CallRegistry::remember(const std::string& event_id) {
  if (event_id.empty()) return true;
  if (!seen_events_.insert(event_id).second) return false;
  seen_order_.push_back(event_id);
  if (seen_order_.size() > config_.max_remembered_events) {
    seen_events_.erase(seen_order_.front());
    seen_order_.pop_front();
  }
  return true;
}

CallRegistry::Verdict CallRegistry::outvoted_verdict(const std::string& sender, const events::CallEvent& event) const {
  if (sender == config_.call.own_user_id) return Verdict::Wait;  // our devices' answers decide nothing
  if (std::holds_alternative<events::CallHangup>(event) || std::holds_alternative<events::CallReject>(event))
    return Verdict::Keep;
  if (const auto* sel = std::get_if<events::CallSelectAnswer>(&event); sel && sel->selected_party_id != config_.call.own_party_id)
    return Verdict::Yield;
  return Verdict::Wait;
}

void CallRegistry::handle_room_event(const std::string& room_id, const std::string& sender,
                                     const std::string& event_id, const events::CallEvent& event,
                                     std::optional<std::int64_t> age_ms, TimePoint now) {
  const std::string& call_id = events::common_of(event).call_id;
  if (!remember(event_id)) {
    MXLOG_DEBUG("calls: duplicate event {} dropped", event_id);
    return;
  }
  if (config_.is_member && !config_.is_member(room_id, sender)) {
    MXLOG_WARN("calls: {} for call {} from {}, who is not in {}: dropped", events::event_type(event), call_id, sender, room_id);
    return;
  }
  if (auto won = outvoted_.find(call_id); won != outvoted_.end()) {
    // Glare across our devices: ours won here, so the peer (a v1 client: it named us) will answer
    // ours and hang theirs up, unless another device of ours answered theirs before the peer saw
    // our invite: then the peer selects that answer and ours must go (else two calls go on).
    // Decided by what the peer does, not by our other device's answer: the peer may already
    // have taken ours (tests/sim glare seeds 0x1006ee, 0x102b4a, 0x103075).
    switch (outvoted_verdict(sender, event)) {
      case Verdict::Wait:
        break;
      case Verdict::Keep:
        outvoted_.erase(won);
        break;
      case Verdict::Yield:
        MXLOG_INFO("calls: the peer took {}, answered by another device of ours; our call {} yields", call_id,
                   won->second);
        if (auto ours = calls_.find(won->second); ours != calls_.end())
          ours->second.handle(cmd::Hangup{std::string(events::reason::kReplaced)}, now);
        outvoted_.erase(won);
        break;
    }
  }
  if (auto it = calls_.find(call_id); it != calls_.end()) {
    if (it->second.room_id() != room_id) {
      MXLOG_WARN("calls: {} for call {} arrived in {} but the call lives in {}: dropped", events::event_type(event),
                 call_id, room_id, it->second.room_id());
      return;
    }
    it->second.handle(RemoteSignal{sender, event, age_ms}, now);
    return;
  }
  if (finished_.count(call_id)) {
    MXLOG_DEBUG("calls: {} for finished call {} ignored", events::event_type(event), call_id);
    return;
  }
  if (const auto* invite = std::get_if<events::CallInvite>(&event)) {
    on_invite(room_id, sender, *invite, age_ms, now);
    return;
  }
  // Something for a call we have not seen the invite of: hold it for a while.
  auto& q = orphans_[call_id];
  if (q.size() >= config_.max_orphans_per_call) {
    MXLOG_WARN("calls: too many events for unknown call {}; dropping {}", call_id, events::event_type(event));
    return;
  }
  q.push_back(Orphan{sender, event, age_ms, now});
}

void CallRegistry::on_invite(const std::string& room_id, const std::string& sender,
                             const events::CallInvite& invite, std::optional<std::int64_t> age_ms, TimePoint now) {
  const auto glare = resolve_glare(room_id, sender, invite, now);
  if (glare == Glare::OursWins) return;
  CallConfig cfg = config_.call;
  cfg.room_id = room_id;
  auto call = Call::receive(std::move(cfg), sender, invite, age_ms, now);
  if (!call.ok()) {
    MXLOG_INFO("calls: not ringing: {}", call.error().message);
    return;
  }
  const std::string call_id = invite.common.call_id;
  Call& c = calls_.emplace(call_id, std::move(call).value()).first->second;
  if (auto o = orphans_.find(call_id); o != orphans_.end()) {
    for (const auto& ev : o->second) c.handle(RemoteSignal{ev.sender, ev.event, ev.age_ms}, now);
    orphans_.erase(o);
  }
  if (glare == Glare::TheirsWinsVoice || glare == Glare::TheirsWinsVideo) {
    // Our own call was replaced by theirs: answer it with the media we were offering.
    c.handle(cmd::Answer{glare == Glare::TheirsWinsVideo}, now);
    return;
  }
  announce_.insert(call_id);
}

CallRegistry::Glare CallRegistry::resolve_glare(const std::string& room_id, const std::string& sender,
                                                const events::CallInvite& invite, TimePoint now) {
  for (auto& [id, ours] : calls_) {
    if (ours.room_id() != room_id || !preparing_or_inviting(ours) || sender == config_.call.own_user_id) continue;
    if (ours.invitee() && *ours.invitee() != sender) continue;
    // Element Web never names an invitee and never yields: then we yield. A peer that names us
    // follows the spec: the smaller call id wins, and a call still being prepared yields.
    const bool yield = !invite.invitee || ours.state() == CallState::CreatingOffer || invite.common.call_id < id;
    if (!yield) {
      MXLOG_INFO("calls: glare in {}: our call {} wins over {}; theirs is ignored", room_id, id, invite.common.call_id);
      if (outvoted_.size() >= 64) outvoted_.erase(outvoted_.begin());
      outvoted_[invite.common.call_id] = id;
      // What the peer did with their call may have arrived before its invite.
      if (auto o = orphans_.find(invite.common.call_id); o != orphans_.end())
        for (const auto& ev : o->second) {
          const Verdict v = outvoted_verdict(ev.sender, ev.event);
          if (v == Verdict::Wait) continue;
          if (v == Verdict::Yield) {
            MXLOG_INFO("calls: the peer took {}, answered by another device of ours; our call {} yields",
                       invite.common.call_id, id);
            ours.handle(cmd::Hangup{std::string(events::reason::kReplaced)}, now);
          }
          outvoted_.erase(invite.common.call_id);
          break;
        }
      return Glare::OursWins;
    }
    MXLOG_INFO("calls: glare in {}: answering {} instead of our call {}", room_id, invite.common.call_id, id);
    const bool video = ours.video_enabled();
    ours.handle(cmd::Hangup{std::string(events::reason::kReplaced)}, now);
    return video ? Glare::TheirsWinsVideo : Glare::TheirsWinsVoice;
  }
  return Glare::None;
}

void CallRegistry::place(const std::string& room_id, const std::string& call_id, std::optional<std::string> invitee,
                         bool video, TimePoint now) {
  CallConfig cfg = config_.call;
  cfg.room_id = room_id;
  calls_.emplace(call_id, Call::place(std::move(cfg), call_id, std::move(invitee), video, now));
}

void CallRegistry::handle(const std::string& call_id, const CallInput& input, TimePoint now) {
  auto it = calls_.find(call_id);
  if (it == calls_.end()) {
    MXLOG_DEBUG("calls: input for unknown call {} ignored", call_id);
    return;
  }
  it->second.handle(input, now);
}

void CallRegistry::tick(TimePoint now) {
  for (auto& [id, call] : calls_) call.handle(Tick{}, now);
  for (auto it = orphans_.begin(); it != orphans_.end();) {
    auto& q = it->second;
    // >=: next_deadline() asks to be woken at received + ttl, so that is when it expires
    // (with > the driver was woken at the deadline, found nothing due, and spun).
    while (!q.empty() && now - q.front().received >= config_.orphan_ttl) q.pop_front();
    it = q.empty() ? orphans_.erase(it) : std::next(it);
  }
}

std::optional<RegistryOutput> CallRegistry::poll() {
  for (auto& [id, call] : calls_) {
    if (auto o = call.poll()) return RegistryOutput{id, std::move(*o)};
  }
  // Everything of this turn is out: now announce the calls that still ring.
  while (!announce_.empty()) {
    const std::string id = *announce_.begin();
    announce_.erase(announce_.begin());
    auto it = calls_.find(id);
    if (it == calls_.end() || it->second.state() != CallState::Ringing) continue;
    const auto& opp = it->second.opponent();
    return RegistryOutput{id, note::Incoming{it->second.room_id(), opp ? opp->user_id : "", it->second.remote_offers_video()}};
  }
  return std::nullopt;
}

std::optional<TimePoint> CallRegistry::next_deadline() const {
  std::optional<TimePoint> best;
  for (const auto& [id, call] : calls_)
    if (auto d = call.next_deadline(); d && (!best || d->at < *best)) best = d->at;
  for (const auto& [id, q] : orphans_)
    if (!q.empty() && (!best || q.front().received + config_.orphan_ttl < *best)) best = q.front().received + config_.orphan_ttl;
  return best;
}

const Call* CallRegistry::find(const std::string& call_id) const {
  auto it = calls_.find(call_id);
  return it == calls_.end() ? nullptr : &it->second;
}

std::size_t CallRegistry::live_calls() const {
  std::size_t n = 0;
  for (const auto& [id, call] : calls_) n += !call.ended();
  return n;
}

void CallRegistry::collect() {
  for (auto it = calls_.begin(); it != calls_.end();) {
    if (it->second.ended() && !it->second.has_output()) {
      finished_.insert(it->first);
      it = calls_.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace mxcall::core
