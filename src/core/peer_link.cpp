// One remote device of a group call: ordering, glare, answering, placing and retrying.
#include "core/peer_link.hpp"

#include <algorithm>
#include <type_traits>
#include <utility>

#include "core/mesh_rule.hpp"
#include "util/logging.hpp"

namespace mxcall::core {
namespace {

constexpr std::size_t kMaxRemembered = 32;  // call ids kept per link (placed, finished)

template <typename T, typename Variant>
struct is_alternative;
template <typename T, typename... Ts>
struct is_alternative<T, std::variant<Ts...>> : std::bool_constant<(std::is_same_v<T, Ts> || ...)> {};

// Reasons after which a call we placed is not placed again: another call takes its place.
// Hydrogen also stops on user_hangup and user_busy. Here those can only come from the peer (we
// end our own calls that way only when we leave or the peer left member state, and such calls
// never get here), and a peer that is still listed may have hung up because our entry had
// vanished from its member state (two devices of one user overwrite each other's entries).
// Without a retry that pair would stay apart for good; a peer that really left drops out of
// member state before the retry fires.
bool final_reason(std::string_view r) {
  return r == events::reason::kReplaced || r == events::reason::kAnsweredElsewhere || r == "transferred" ||
         r == "new_session";
}

}  // namespace

const char* to_string(PeerLinkState s) {
  switch (s) {
    case PeerLinkState::Idle: return "idle";
    case PeerLinkState::InCall: return "in_call";
    case PeerLinkState::RetryWait: return "retry_wait";
    case PeerLinkState::Done: return "done";
  }
  return "?";
}

CallConfig peer_call_config(const GroupCallConfig& group) {
  CallConfig c = group.call;
  c.room_id = group.room_id;
  c.own_user_id = group.own_user_id;
  c.own_party_id = group.own_device_id;
  c.to_device = true;
  // One encoder per local stream for the whole mesh, whatever the number of peers.
  if (c.shared_source.empty())
    c.shared_source = "mesh/" + group.conf_id + "/" + group.own_device_id + "/" + group.own_session_id;
  return c;
}

std::optional<GroupOutput> PeerCall::poll(const GroupCallConfig& config) {
  while (auto out = call.poll()) {
    std::optional<GroupOutput> mapped = std::visit(
        [&](auto& o) -> std::optional<GroupOutput> {
          using T = std::decay_t<decltype(o)>;
          if constexpr (std::is_same_v<T, SendSignal>) {
            events::ToDeviceCallEnvelope env{std::move(o.event), config.conf_id, config.own_device_id,
                                             config.own_session_id, dest_session, next_seq++};
            return SendToDevice{user_id, device_id, std::move(env)};
          } else if constexpr (is_alternative<T, PeerOp>::value) {
            return PeerOperation{call.call_id(), user_id, device_id, PeerOp{std::move(o)}};
          } else if constexpr (is_alternative<T, gnote::PeerCallNote>::value) {
            return gnote::Peer{call.call_id(), user_id, device_id, gnote::PeerCallNote{std::move(o)}};
          } else {
            return std::nullopt;  // note::Incoming belongs to the 1:1 registry
          }
        },
        *out);
    if (mapped) return mapped;
  }
  return std::nullopt;
}

PeerLink::PeerLink(const GroupCallConfig& group, DeviceKey device, std::string session_id, bool listed,
                   TimePoint now)
    : device_(std::move(device)),
      session_(std::move(session_id)),
      listed_(listed),
      initiator_(we_initiate(group.own_user_id, group.own_device_id, device_.first, device_.second)),
      created_(now),
      inbox_(group.seq_gap_timeout) {}

PeerCall* PeerLink::find_call(const std::string& call_id) {
  return call_ && call_->call.call_id() == call_id ? &*call_ : nullptr;
}

void PeerLink::set_listed(PeerLinkHost& host, TimePoint now) {
  listed_ = true;
  apply_media(host.media_wish(), now);
}

void PeerLink::receive(const events::ToDeviceCallEnvelope& envelope, PeerLinkHost& host, TimePoint now) {
  const std::string& id = events::common_of(envelope.event).call_id;
  const bool opens = std::holds_alternative<events::CallInvite>(envelope.event) || placed_.count(id) > 0;
  inbox_.push(id, envelope.seq, opens, envelope.event, now);
  drain(host, now);
}

void PeerLink::drain(PeerLinkHost& host, TimePoint now) {
  while (auto r = inbox_.pop()) route(r->call_id, r->item, host, now);
}

void PeerLink::route(const std::string& call_id, const events::CallEvent& event, PeerLinkHost& host, TimePoint now) {
  if (const auto* invite = std::get_if<events::CallInvite>(&event)) {
    on_invite(*invite, host, now);
    return;
  }
  if (call_ && call_->call.call_id() == call_id) {
    call_->call.handle(RemoteSignal{user_id(), event, std::nullopt}, now);
    return;
  }
  MXLOG_DEBUG("group: {} from {} {} for call {}, which is not live here; ignored", events::event_type(event),
              user_id(), device_id(), call_id);
}

void PeerLink::on_invite(const events::CallInvite& invite, PeerLinkHost& host, TimePoint now) {
  const std::string& id = invite.common.call_id;
  if (call_ && call_->call.call_id() == id) {
    call_->call.handle(RemoteSignal{user_id(), invite, std::nullopt}, now);
    return;
  }
  if (std::find(finished_.begin(), finished_.end(), id) != finished_.end()) {
    MXLOG_DEBUG("group: invite {} from {} {} ended already; ignored", id, user_id(), device_id());
    return;
  }
  if (has_live_call()) {
    const std::string ours = call_->call.call_id();
    if (compare_utf16(id, ours) >= 0) {
      MXLOG_INFO("group: glare with {} {}: our call {} wins over {}; theirs is ignored", user_id(), device_id(), ours, id);
      return;
    }
    MXLOG_INFO("group: glare with {} {}: their call {} wins over our {}", user_id(), device_id(), id, ours);
    lost_glare_ = call_->call.direction() == CallDirection::Outbound;
    end_call(events::reason::kReplaced, host, now);
  } else if (call_) {
    retire(host);
  }
  accept(invite, host, now);
}

void PeerLink::accept(const events::CallInvite& invite, PeerLinkHost& host, TimePoint now) {
  auto received = Call::receive(peer_call_config(host.group_config()), user_id(), invite, std::nullopt, now);
  if (!received.ok()) {
    MXLOG_INFO("group: not answering {} {}: {}", user_id(), device_id(), received.error().message);
    return;
  }
  call_.emplace(PeerCall{std::move(received).value(), user_id(), device_id(), session_, 0});
  // js-sdk answers a device that member state does not list yet with its tracks disabled.
  const MediaWish wish = effective(host.media_wish());
  Call& c = call_->call;
  if (wish.audio_muted) c.handle(cmd::SetMuted{media::MediaKind::Audio, true}, now);
  if (wish.video_muted) c.handle(cmd::SetMuted{media::MediaKind::Video, true}, now);
  c.handle(cmd::Answer{wish.video}, now);
  state_ = PeerLinkState::InCall;
  retry_at_.reset();
  MXLOG_INFO("group: answering {} from {} {}{}", c.call_id(), user_id(), device_id(), listed_ ? "" : " (muted: not listed yet)");
}

void PeerLink::place(PeerLinkHost& host, TimePoint now, std::int64_t unix_ms) {
  const std::string id = host.new_call_id(unix_ms);
  const MediaWish wish = host.media_wish();
  Call c = Call::place(peer_call_config(host.group_config()), id, user_id(), wish.video, now);
  if (wish.audio_muted) c.handle(cmd::SetMuted{media::MediaKind::Audio, true}, now);
  if (wish.video && wish.video_muted) c.handle(cmd::SetMuted{media::MediaKind::Video, true}, now);
  call_.emplace(PeerCall{std::move(c), user_id(), device_id(), session_, 0});
  if (placed_.size() >= kMaxRemembered) placed_.erase(placed_.begin());  // ids start with a timestamp: the oldest
  placed_.insert(id);
  state_ = PeerLinkState::InCall;
  retry_at_.reset();
  MXLOG_INFO("group: calling {} {} ({})", user_id(), device_id(), id);
}

void PeerLink::end_call(std::string_view reason, PeerLinkHost& host, TimePoint now) {
  if (!call_) return;
  if (!call_->call.ended()) call_->call.handle(cmd::Hangup{std::string(reason)}, now);
  retire(host);
  state_ = PeerLinkState::Idle;
}

void PeerLink::retire(PeerLinkHost& host) {
  remember_finished(call_->call.call_id());
  host.retire(std::move(*call_));
  call_.reset();
}

void PeerLink::remember_finished(const std::string& call_id) {
  finished_.push_back(call_id);
  if (finished_.size() > kMaxRemembered) finished_.pop_front();
}

void PeerLink::reset() {
  state_ = PeerLinkState::Idle;
  retries_ = 0;
  retry_at_.reset();
  lost_glare_ = false;
}

void PeerLink::revive() {
  if (state_ != PeerLinkState::Done || has_live_call()) return;
  state_ = PeerLinkState::Idle;
  retries_ = 0;
  retry_at_.reset();
}

MediaWish PeerLink::effective(MediaWish wish) const {
  if (listed_) return wish;
  wish.audio_muted = true;
  if (wish.video) wish.video_muted = true;
  return wish;
}

void PeerLink::apply_media(const MediaWish& wish, TimePoint now) {
  if (!has_live_call()) return;
  const MediaWish w = effective(wish);
  Call& c = call_->call;
  if (c.video_enabled() != w.video) c.handle(cmd::SetVideo{w.video}, now);
  c.handle(cmd::SetMuted{media::MediaKind::Audio, w.audio_muted}, now);
  c.handle(cmd::SetMuted{media::MediaKind::Video, w.video_muted}, now);
}

void PeerLink::handle_call_input(const CallInput& input, TimePoint now) {
  if (call_) call_->call.handle(input, now);
}

void PeerLink::tick(PeerLinkHost& host, TimePoint now) {
  inbox_.tick(now);
  drain(host, now);
  if (call_) call_->call.handle(Tick{}, now);
}

void PeerLink::settle(PeerLinkHost& host, TimePoint now, std::int64_t unix_ms) {
  const GroupCallConfig& cfg = host.group_config();
  if (call_ && call_->call.ended()) {
    const std::string reason = call_->call.end_reason();
    const bool connected = call_->call.timings().connected.has_value();
    retire(host);
    const bool lost_glare = std::exchange(lost_glare_, false);
    if (!initiator_ || !listed_ || !host.in_call()) {
      state_ = PeerLinkState::Idle;
    } else if (lost_glare && !connected) {
      // The invite that beat ours was stale (its call never came up): the call is ours to place.
      MXLOG_INFO("group: the call that replaced ours to {} {} ended ({}); calling again", user_id(), device_id(), reason);
      place(host, now, unix_ms);
      return;
    } else if (final_reason(reason)) {
      state_ = PeerLinkState::Done;
    } else if (retries_ < cfg.retry_attempts) {
      ++retries_;
      retry_at_ = now + cfg.retry_interval;
      state_ = PeerLinkState::RetryWait;
      MXLOG_INFO("group: call to {} {} failed ({}); retry {} in {} ms", user_id(), device_id(), reason, retries_,
                 cfg.retry_interval.count());
      host.emit(gnote::PeerRetry{user_id(), device_id(), retries_, cfg.retry_interval});
    } else {
      state_ = PeerLinkState::Done;
      MXLOG_WARN("group: call to {} {} failed ({}) after {} retries; giving up", user_id(), device_id(), reason, retries_);
      host.emit(gnote::PeerGaveUp{user_id(), device_id(), reason});
    }
  }
  if (has_live_call() && call_->call.state() == CallState::Connected) retries_ = 0;
  if (state_ == PeerLinkState::RetryWait && (!host.in_call() || !listed_)) {
    state_ = PeerLinkState::Idle;  // nothing to retry for any more
    retry_at_.reset();
  }
  if (!host.in_call() || !listed_ || !initiator_ || has_live_call()) return;
  if (state_ == PeerLinkState::Idle || (state_ == PeerLinkState::RetryWait && retry_at_ && now >= *retry_at_))
    place(host, now, unix_ms);
}

std::optional<TimePoint> PeerLink::next_deadline() const {
  std::optional<TimePoint> best = inbox_.next_deadline();
  auto consider = [&](std::optional<TimePoint> t) {
    if (t && (!best || *t < *best)) best = t;
  };
  if (call_)
    if (auto d = call_->call.next_deadline()) consider(d->at);
  if (state_ == PeerLinkState::RetryWait) consider(retry_at_);
  return best;
}

}  // namespace mxcall::core
