// What the media engine reports about this call's peer.
#include "core/call.hpp"
#include "util/logging.hpp"
#include "util/overloaded.hpp"

namespace mxcall::core {

namespace {

using util::overloaded;

Duration since(const std::optional<TimePoint>& start, TimePoint now) {
  return start ? std::chrono::duration_cast<Duration>(now - *start) : Duration(0);
}

}  // namespace

void Call::on_media(const media::MediaEvent& e, TimePoint now) {
  std::visit(overloaded{
                 [&](const media::LocalDescriptionReady& d) { on_local_description(d.description, now); },
                 [&](const media::LocalCandidate& c) { local_candidates_.push_back(c.candidate); },
                 [&](const media::GatheringStateChanged& g) {
                   if (g.state != media::GatheringState::Complete) return;
                   gathering_complete_ = true;
                   flush_pending_description(now);
                 },
                 [&](const media::IceStateChanged& s) { on_ice(s.state, now); },
                 [&](const media::FirstMediaDecoded& f) {
                   auto& slot = f.kind == media::MediaKind::Audio ? timings_.first_audio : timings_.first_video;
                   if (slot) return;
                   slot = now;
                   emit(note::FirstMedia{f.kind, since(timings_.started, now)});
                 },
                 [&](const media::RemoteTrackAdded& t) { on_remote_track(t); },
                 [&](const media::RemoteTrackRemoved& t) { on_remote_track_removed(t.kind, t.stream_id); },
                 [&](const media::DtmfReceived& d) { emit(note::Dtmf{d.digit}); },
                 [&](const media::OperationFailed& f) { on_operation_failed(f); },
                 [&](const media::NegotiationNeeded&) {
                   // Renegotiation is driven by our own commands; webrtcbin also fires this on
                   // the answering side when a pad links (STACK.md trap 4), which must not offer.
                   MXLOG_DEBUG("call {}: negotiation-needed from the engine ignored", call_id_);
                 },
                 [&](const auto&) {},
             },
             e);
}

void Call::on_local_description(const media::SessionDescription& d, TimePoint now) {
  const bool wanted = d.type == media::SdpType::Offer
                          ? state_ == CallState::CreatingOffer || signaling_ == Signaling::CreatingOffer
                          : state_ == CallState::CreatingAnswer || signaling_ == Signaling::CreatingAnswer;
  if (!wanted) {  // e.g. the polite side's offer, replaced by the peer's colliding one
    MXLOG_INFO("call {}: local {} no longer wanted in {} / {}; dropped", call_id_, media::to_string(d.type),
               to_string(state_), to_string(signaling_));
    return;
  }
  // Hold it until the candidates are gathered (usually a few ms on a LAN) so they ride in
  // the SDP: the peer can start ICE on the invite/answer alone, one homeserver hop sooner.
  pending_description_ = d;
  if (gathering_complete_) {
    flush_pending_description(now);
    return;
  }
  timers_.arm(CallTimer::GatherWait, now + config_.gather_wait);
}

void Call::flush_pending_description(TimePoint now) {
  if (!pending_description_) return;
  timers_.stop(CallTimer::GatherWait);
  media::SessionDescription d = std::move(*pending_description_);
  pending_description_.reset();
  if (!local_candidates_.empty()) {
    std::vector<media::IceCandidate> left_over;
    d.sdp = sdp_with_candidates(d.sdp, local_candidates_, left_over);
    local_candidates_ = std::move(left_over);
  }
  send_local_description(std::move(d), now);
}

void Call::send_local_description(media::SessionDescription d, TimePoint now) {
  if (state_ == CallState::CreatingOffer && d.type == media::SdpType::Offer) {
    events::CallInvite invite;
    invite.common = common();
    invite.offer = d;
    invite.lifetime_ms = config_.invite_lifetime.count();
    invite.invitee = invitee_;
    invite.metadata = local_metadata();
    invite.capabilities.dtmf = true;
    send(std::move(invite));
    timings_.started = now;
    timers_.arm(CallTimer::InviteLifetime, now + config_.invite_lifetime);
    set_state(CallState::InviteSent);
    return;
  }
  if (state_ == CallState::CreatingAnswer && d.type == media::SdpType::Answer) {
    events::CallAnswer answer;
    answer.common = common();
    answer.answer = d;
    answer.metadata = local_metadata();
    answer.capabilities.dtmf = true;
    send(std::move(answer));
    timings_.answered = now;
    timers_.arm(CallTimer::ConnectTimeout, now + config_.connect_timeout);
    set_state(CallState::Connecting);
    return;
  }
  if (signaling_ == Signaling::CreatingOffer && d.type == media::SdpType::Offer) {
    send(events::CallNegotiate{common(), d, config_.negotiate_lifetime.count(), local_metadata()});
    signaling_ = Signaling::HaveLocalOffer;
    offer_sent_at_ = now;
    timers_.arm(CallTimer::NegotiateTimeout, now + config_.negotiate_lifetime);
    return;
  }
  if (signaling_ == Signaling::CreatingAnswer && d.type == media::SdpType::Answer && superseded_answers_ > 0) {
    --superseded_answers_;
    MXLOG_INFO("call {}: answer to a superseded renegotiation offer dropped", call_id_);
    return;
  }
  if (signaling_ == Signaling::CreatingAnswer && d.type == media::SdpType::Answer) {
    send(events::CallNegotiate{common(), d, config_.negotiate_lifetime.count(), local_metadata()});
    signaling_ = Signaling::Stable;
    maybe_start_offer(now);
    return;
  }
  MXLOG_WARN("call {}: unexpected local {} in state {} / {}", call_id_, media::to_string(d.type), to_string(state_),
             to_string(signaling_));
}

void Call::on_ice(media::IceState s, TimePoint now) {
  using media::IceState;
  switch (s) {
    case IceState::Connected:
    case IceState::Completed:  // the controlling side may skip Connected (STACK.md trap 3)
      if (state_ == CallState::Connecting) {
        timers_.stop(CallTimer::ConnectTimeout);
        timings_.connected = now;
        link_ = LinkState::Up;
        set_state(CallState::Connected);
        emit(note::Connected{since(timings_.started, now)});
      } else if (link_ && *link_ != LinkState::Up) {
        MXLOG_INFO("call {}: media path is back", call_id_);
        timers_.stop(CallTimer::IceGrace);
        timers_.stop(CallTimer::IceRecovery);
        link_ = LinkState::Up;
        emit(note::LinkChanged{LinkState::Up});
      }
      break;
    case IceState::Disconnected:
      if (link_ == LinkState::Up) {
        link_ = LinkState::Disconnected;
        emit(note::LinkChanged{LinkState::Disconnected});
        // A dead path is usually seen by both sides at once. The polite side waits twice as
        // long, so the impolite side's ICE-restart offer normally arrives first and only one
        // side restarts (on_negotiate then stops this timer); colliding restarts still resolve
        // through perfect negotiation.
        timers_.arm(CallTimer::IceGrace, now + (polite() ? 2 * config_.ice_grace : config_.ice_grace));
      }
      break;
    case IceState::Failed:
      if (state_ == CallState::Connected && polite()) {
        // As for Disconnected: the impolite side restarts at once, we only if its offer does
        // not come (a failed fresh agent after a restart is usually seen by both sides too).
        if (link_ == LinkState::Up) {
          link_ = LinkState::Disconnected;
          emit(note::LinkChanged{LinkState::Disconnected});
        }
        if (!timers_.armed(CallTimer::IceGrace)) timers_.arm(CallTimer::IceGrace, now + 2 * config_.ice_grace);
      } else if (state_ == CallState::Connecting || state_ == CallState::Connected) {
        start_ice_restart(now);
      }
      break;
    default: break;
  }
}

void Call::on_remote_track(const media::RemoteTrackAdded& t) {
  media::StreamPurpose purpose = media::StreamPurpose::UserMedia;
  if (remote_metadata_) {
    auto it = remote_metadata_->find(t.stream_id);
    if (it == remote_metadata_->end()) {
      // MSC3077: a peer that sends metadata lists every stream it sends.
      MXLOG_WARN("call {}: remote stream {} is not in the peer's metadata; ignored", call_id_, t.stream_id);
      return;
    }
    purpose = it->second.purpose;
  }
  if (!remote_tracks_.emplace(std::make_pair(t.stream_id, t.kind), purpose).second) return;
  emit(note::RemoteTrack{t.kind, t.stream_id, purpose});
}

void Call::on_remote_track_removed(media::MediaKind kind, const std::string& stream_id) {
  auto it = remote_tracks_.find(std::make_pair(stream_id, kind));
  if (it == remote_tracks_.end()) return;  // never announced, or gone already
  MXLOG_INFO("call {}: the peer's {} track of stream {} is gone", call_id_, media::to_string(kind), stream_id);
  emit(note::RemoteTrackRemoved{kind, stream_id, it->second});
  remote_tracks_.erase(it);
}

void Call::on_operation_failed(const media::OperationFailed& f) {
  MXLOG_WARN("call {}: media {} failed: {}", call_id_, f.operation, f.message);
  if (f.operation.find("candidate") != std::string::npos) return;  // one bad candidate is no reason to stop
  if (signaling_ != Signaling::Stable) {
    signaling_ = Signaling::Stable;  // a failed renegotiation leaves the call as it was
    superseded_answers_ = 0;
    return;
  }
  if (state_ == CallState::Connected) return;
  // The initial offer/answer cannot go on without this step.
  if (announced()) send_hangup(events::reason::kUnknownError);
  end(f.operation.empty() ? std::string(events::reason::kUnknownError) : f.operation, false);
}

}  // namespace mxcall::core
