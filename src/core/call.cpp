// Construction, commands, timers, and the helpers every part of the call machine shares.
#include "core/call.hpp"

#include <algorithm>

#include "util/logging.hpp"
#include "util/overloaded.hpp"

namespace mxcall::core {

namespace {

using util::overloaded;

}  // namespace

const char* to_string(CallState s) {
  switch (s) {
    case CallState::CreatingOffer: return "creating_offer";
    case CallState::InviteSent: return "invite_sent";
    case CallState::Ringing: return "ringing";
    case CallState::CreatingAnswer: return "creating_answer";
    case CallState::Connecting: return "connecting";
    case CallState::Connected: return "connected";
    case CallState::Ended: return "ended";
  }
  return "?";
}

const char* to_string(Signaling s) {
  switch (s) {
    case Signaling::Stable: return "stable";
    case Signaling::CreatingOffer: return "creating_offer";
    case Signaling::HaveLocalOffer: return "have_local_offer";
    case Signaling::ApplyingRemoteOffer: return "applying_remote_offer";
    case Signaling::CreatingAnswer: return "creating_answer";
  }
  return "?";
}

const char* to_string(CallTimer t) {
  switch (t) {
    case CallTimer::InviteLifetime: return "invite_lifetime";
    case CallTimer::RingDeadline: return "ring_deadline";
    case CallTimer::ConnectTimeout: return "connect_timeout";
    case CallTimer::IceGrace: return "ice_grace";
    case CallTimer::IceRecovery: return "ice_recovery";
    case CallTimer::NegotiateTimeout: return "negotiate_timeout";
    case CallTimer::GatherWait: return "gather_wait";
    case CallTimer::Count_: break;
  }
  return "?";
}

Call::Call(CallConfig config, std::string call_id, CallDirection direction)
    : config_(std::move(config)),
      call_id_(std::move(call_id)),
      direction_(direction),
      state_(direction == CallDirection::Outbound ? CallState::CreatingOffer : CallState::Ringing) {}

Call Call::place(CallConfig config, std::string call_id, std::optional<std::string> invitee, bool video,
                 TimePoint now) {
  Call c(std::move(config), std::move(call_id), CallDirection::Outbound);
  c.invitee_ = std::move(invitee);
  c.video_enabled_ = video;
  c.timings_.started = now;
  c.emit(op::CreatePeer{c.config_.peer});
  c.emit(op::AddTrack{c.track(media::MediaKind::Audio, media::StreamPurpose::UserMedia)});
  if (video) c.emit(op::AddTrack{c.track(media::MediaKind::Video, media::StreamPurpose::UserMedia)});
  c.emit(op::CreateOffer{});
  c.emit(note::StateChanged{c.state_});
  MXLOG_INFO("call {}: placing a {} call in {}", c.call_id_, video ? "video" : "voice", c.config_.room_id);
  return c;
}

Result<Call> Call::receive(CallConfig config, const std::string& sender, const events::CallInvite& invite,
                           std::optional<std::int64_t> age_ms, TimePoint now) {
  auto refuse = [&](std::string why) {
    return Error::make(ErrorKind::InvalidArgument, "invite " + invite.common.call_id + " from " + sender + ": " + why);
  };
  if (sender == config.own_user_id && (!config.to_device || invite.common.party_id == config.own_party_id))
    return refuse(config.to_device ? "sent by our own device" : "sent by our own user");
  if (invite.invitee && *invite.invitee != config.own_user_id) return refuse("meant for " + *invite.invitee);
  const std::int64_t age = std::max<std::int64_t>(age_ms.value_or(0), 0);
  const std::int64_t remaining = invite.lifetime_ms - age;
  if (remaining < config.ring_grace.count())
    return refuse("expired (lifetime " + std::to_string(invite.lifetime_ms) + " ms, age " + std::to_string(age) + " ms)");

  Call c(std::move(config), invite.common.call_id, CallDirection::Inbound);
  c.opponent_ = Opponent{sender, invite.common.party_id};
  c.peer_version_ = invite.common.version;
  c.remote_offers_video_ = invite.offer.sdp.find("m=video") != std::string::npos;
  c.timings_.started = now;
  c.timers_.arm(CallTimer::RingDeadline, now + Duration(remaining));
  c.emit(op::CreatePeer{c.config_.peer});
  c.emit(op::SetRemoteDescription{invite.offer});
  // The microphone track is set up while ringing, so answering does not wait for the first
  // encoded audio (the engine negotiates only once caps reached webrtcbin).
  c.emit(op::AddTrack{c.track(media::MediaKind::Audio, media::StreamPurpose::UserMedia)});
  c.remote_ufrag_ = sdp_ice_ufrag(invite.offer.sdp).value_or("");
  c.set_remote_metadata(invite.metadata);
  c.emit(note::StateChanged{c.state_});
  MXLOG_INFO("call {}: ringing, from {} ({} ms left to answer)", c.call_id_, sender, remaining);
  return c;
}

void Call::handle(const CallInput& input, TimePoint now) {
  if (state_ == CallState::Ended) {
    if (!std::holds_alternative<Tick>(input)) MXLOG_DEBUG("call {}: ended; input ignored", call_id_);
    return;
  }
  std::visit(overloaded{
                 [&](const RemoteSignal& s) { on_signal(s, now); },
                 [&](const media::MediaEvent& e) { on_media(e, now); },
                 [&](const SendFailed& f) {
                   MXLOG_WARN("call {}: sending {} failed: {}", call_id_, f.event_type, f.error.describe());
                   if (f.event_type == events::type::kInvite) end("send_invite", false);
                   else if (f.event_type == events::type::kAnswer) end("send_answer", false);
                 },
                 [&](const Tick&) { on_tick(now); },
                 [&](const auto&) { on_command(input, now); },
             },
             input);
}

std::optional<CallOutput> Call::poll() {
  if (!outputs_.empty()) {
    CallOutput o = std::move(outputs_.front());
    outputs_.pop_front();
    return o;
  }
  // Candidates gathered during this turn leave together, right after what precedes them.
  if (!local_candidates_.empty() && may_send_candidates()) {
    events::CallCandidates c{common(), std::move(local_candidates_)};
    local_candidates_.clear();
    return SendSignal{config_.room_id, std::move(c)};
  }
  return std::nullopt;
}

void Call::on_command(const CallInput& input, TimePoint now) {
  std::visit(overloaded{
                 [&](const cmd::Answer& a) {
                   if (state_ != CallState::Ringing) { MXLOG_WARN("call {}: answer in state {} ignored", call_id_, to_string(state_)); return; }
                   video_enabled_ = a.video;
                   if (a.video) emit(op::AddTrack{track(media::MediaKind::Video, media::StreamPurpose::UserMedia)});
                   if (audio_muted_) emit(op::SetTrackMuted{"audio", true});
                   if (a.video && video_muted_) emit(op::SetTrackMuted{"video", true});
                   emit(op::CreateAnswer{});
                   timers_.stop(CallTimer::RingDeadline);
                   set_state(CallState::CreatingAnswer);
                 },
                 [&](const cmd::Reject&) {
                   if (state_ != CallState::Ringing) { MXLOG_WARN("call {}: reject in state {} ignored", call_id_, to_string(state_)); return; }
                   if (peer_version_ == events::CallVersion::V1) send(events::CallReject{common()});
                   else send_hangup(events::reason::kUserHangup);
                   end("rejected", false);
                 },
                 [&](const cmd::Hangup& h) {
                   if (state_ == CallState::Ringing) {
                     handle(cmd::Reject{}, now);
                     return;
                   }
                   if (announced()) send_hangup(h.reason);
                   end(h.reason, false);
                 },
                 [&](const cmd::SetMuted& m) {
                   bool& flag = m.kind == media::MediaKind::Audio ? audio_muted_ : video_muted_;
                   if (flag == m.muted) return;
                   flag = m.muted;
                   // A video track added later (answer, SetVideo) starts with this flag applied.
                   if (m.kind == media::MediaKind::Audio || video_enabled_)
                     emit(op::SetTrackMuted{m.kind == media::MediaKind::Audio ? "audio" : "video", m.muted});
                   if (opponent_ && (state_ == CallState::Connecting || state_ == CallState::Connected))
                     send(events::CallMetadataChanged{common(), local_metadata()});
                 },
                 [&](const cmd::SetHold& h) {
                   if (on_hold_ == h.on_hold) return;
                   on_hold_ = h.on_hold;
                   emit(op::SetLocalHold{h.on_hold});
                   request_renegotiation(false, now);
                 },
                 [&](const cmd::SetVideo& v) {
                   if (video_enabled_ == v.enabled) return;
                   video_enabled_ = v.enabled;
                   if (v.enabled) {
                     emit(op::AddTrack{track(media::MediaKind::Video, media::StreamPurpose::UserMedia)});
                     if (video_muted_) emit(op::SetTrackMuted{"video", true});
                   } else {
                     emit(op::RemoveTrack{"video"});
                   }
                   request_renegotiation(false, now);
                 },
                 [&](const cmd::SetScreenShare& s) {
                   if (screenshare_enabled_ == s.enabled) return;
                   screenshare_enabled_ = s.enabled;
                   if (s.enabled) emit(op::AddTrack{track(media::MediaKind::Video, media::StreamPurpose::ScreenShare)});
                   else emit(op::RemoveTrack{"screenshare"});
                   request_renegotiation(false, now);
                 },
                 [&](const cmd::SendDtmf& d) {
                   if (state_ == CallState::Connected) emit(op::SendDtmf{d.digits});
                   else MXLOG_WARN("call {}: DTMF before the call is connected ignored", call_id_);
                 },
                 [&](const cmd::RestartIce&) { start_ice_restart(now); },
                 [&](const auto&) {},
             },
             input);
}

void Call::on_tick(TimePoint now) {
  while (auto t = timers_.expire(now)) {
    MXLOG_DEBUG("call {}: timer {} fired", call_id_, to_string(*t));
    switch (*t) {
      case CallTimer::InviteLifetime:
        if (state_ == CallState::InviteSent) {
          send_hangup(events::reason::kInviteTimeout);
          end(std::string(events::reason::kInviteTimeout), false);
        }
        break;
      case CallTimer::RingDeadline:
        if (state_ == CallState::Ringing) end(std::string(events::reason::kInviteTimeout), true);
        break;
      case CallTimer::ConnectTimeout:
        if (state_ == CallState::Connecting) {
          send_hangup(events::reason::kIceFailed);
          end(std::string(events::reason::kIceFailed), false);
        }
        break;
      case CallTimer::IceGrace:
        if (link_ && *link_ != LinkState::Up) start_ice_restart(now);
        break;
      case CallTimer::IceRecovery:
        if (link_ && *link_ != LinkState::Up) {
          send_hangup(events::reason::kIceFailed);
          end(std::string(events::reason::kIceFailed), false);
        }
        break;
      case CallTimer::NegotiateTimeout:
        if (signaling_ == Signaling::HaveLocalOffer) {
          // What the offer carried (a hold, a track, a restart) never reached the peer: offer
          // again with what we want now, or the two ends disagree for good. A peer that leaves
          // two offers in a row unanswered is gone (its process died with the call): end the
          // call rather than keep it "connected" to nobody (tests/sim, 100k soak).
          if (++unanswered_offers_ >= kMaxUnansweredOffers) {
            MXLOG_WARN("call {}: {} renegotiation offers in a row were never answered: ending the call", call_id_,
                       unanswered_offers_);
            send_hangup(events::reason::kUnknownError);
            end(std::string(events::reason::kUnknownError), false);
            break;
          }
          MXLOG_WARN("call {}: our renegotiation offer was never answered; offering again", call_id_);
          signaling_ = Signaling::Stable;
          offer_wanted_ = true;
          maybe_start_offer(now);
        }
        break;
      case CallTimer::GatherWait:
        flush_pending_description(now);
        break;
      case CallTimer::Count_: break;
    }
    if (state_ == CallState::Ended) return;
  }
}

void Call::request_renegotiation(bool ice_restart, TimePoint now) {
  if (state_ != CallState::Connecting && state_ != CallState::Connected) {
    MXLOG_DEBUG("call {}: change applies to the initial offer/answer", call_id_);
    return;
  }
  if (peer_version_ == events::CallVersion::V0) {
    MXLOG_WARN("call {}: the peer speaks version 0 and cannot renegotiate", call_id_);
    return;
  }
  offer_wanted_ = true;
  ice_restart_wanted_ = ice_restart_wanted_ || ice_restart;
  maybe_start_offer(now);
}

void Call::maybe_start_offer(TimePoint) {
  if (!offer_wanted_ || signaling_ != Signaling::Stable) return;
  if (state_ != CallState::Connecting && state_ != CallState::Connected) return;
  emit(op::CreateOffer{media::OfferOptions{ice_restart_wanted_}});
  if (ice_restart_wanted_) gathering_complete_ = false;  // a fresh ICE agent gathers again
  offer_wanted_ = false;
  ice_restart_wanted_ = false;
  signaling_ = Signaling::CreatingOffer;
}

void Call::start_ice_restart(TimePoint now) {
  if (peer_version_ == events::CallVersion::V0) {
    send_hangup(events::reason::kIceFailed);
    end(std::string(events::reason::kIceFailed), false);
    return;
  }
  if (link_ != LinkState::Restarting) {
    MXLOG_INFO("call {}: restarting ICE", call_id_);
    link_ = LinkState::Restarting;
    emit(note::LinkChanged{LinkState::Restarting});
    timers_.arm(CallTimer::IceRecovery, now + config_.ice_recovery);
  }
  timers_.stop(CallTimer::IceGrace);
  request_renegotiation(true, now);
}

void Call::on_remote_ice_restart(TimePoint now) {
  // The peer found the path dead and restarts ICE; our engine answers with a fresh agent.
  // No restart of our own is needed, but the same bound applies: IceRecovery. Our answer
  // comes from a fresh agent, so it waits for that agent's candidates like a first answer.
  gathering_complete_ = false;
  timers_.stop(CallTimer::IceGrace);
  if (state_ != CallState::Connected || link_ == LinkState::Restarting) return;
  MXLOG_INFO("call {}: the peer restarts ICE", call_id_);
  link_ = LinkState::Restarting;
  emit(note::LinkChanged{LinkState::Restarting});
  timers_.arm(CallTimer::IceRecovery, now + config_.ice_recovery);
}

void Call::set_state(CallState s) {
  if (s == state_) return;
  MXLOG_DEBUG("call {}: {} -> {}", call_id_, to_string(state_), to_string(s));
  state_ = s;
  emit(note::StateChanged{s});
}

void Call::send(events::CallEvent e) { emit(SendSignal{config_.room_id, std::move(e)}); }

void Call::send_hangup(std::string_view reason) {
  send(events::CallHangup{common(), std::string(reason)});
}

void Call::end(std::string reason, bool by_remote) {
  if (state_ == CallState::Ended) return;
  MXLOG_INFO("call {}: ended ({}, {})", call_id_, reason, by_remote ? "by the peer" : "here");
  timers_.stop_all();
  local_candidates_.clear();
  early_candidates_.clear();
  pending_description_.reset();
  end_reason_ = reason;
  emit(op::ClosePeer{});
  set_state(CallState::Ended);
  emit(note::Ended{std::move(reason), by_remote});
}

bool Call::announced() const {
  if (direction_ == CallDirection::Outbound) return state_ != CallState::CreatingOffer;
  return state_ == CallState::Connecting || state_ == CallState::Connected ||
         (state_ == CallState::Ended && timings_.answered.has_value());
}

bool Call::may_send_candidates() const {
  // The callee sends none before its answer; the caller none before its invite. Nor while a
  // description waits for them (an ICE restart mid-call): they ride in it, and sent ahead of
  // it they would reach the peer before the ufrag they belong to and be lost (tests/sim).
  if (pending_description_) return false;
  return state_ == CallState::InviteSent || state_ == CallState::Connecting || state_ == CallState::Connected;
}

events::CallCommon Call::common() const {
  return events::CallCommon{call_id_, config_.own_party_id, events::CallVersion::V1};
}

std::string Call::stream_id(media::StreamPurpose purpose) const {
  // msid tokens are at most 64 chars; keep them unique per call and party, and readable.
  std::string base;
  for (char ch : config_.own_party_id + call_id_)
    if (std::isalnum(static_cast<unsigned char>(ch))) base.push_back(ch);
  if (base.size() > 48) base.resize(48);
  return "mx" + base + (purpose == media::StreamPurpose::ScreenShare ? "ss" : "um");
}

media::TrackSpec Call::track(media::MediaKind kind, media::StreamPurpose purpose) const {
  media::TrackSpec t;
  t.kind = kind;
  t.purpose = purpose;
  t.stream_id = stream_id(purpose);
  t.track_id = purpose == media::StreamPurpose::ScreenShare ? "screenshare"
               : kind == media::MediaKind::Audio             ? "audio"
                                                             : "video";
  if (!config_.shared_source.empty())
    t.shared_source = config_.shared_source + (purpose == media::StreamPurpose::ScreenShare ? "/ss" : "/um");
  t.audio_frame_ms = config_.audio_frame_ms;
  return t;
}

events::SdpStreamMetadata Call::local_metadata() const {
  events::SdpStreamMetadata m;
  m[stream_id(media::StreamPurpose::UserMedia)] =
      events::StreamMetadata{media::StreamPurpose::UserMedia, audio_muted_, !video_enabled_ || video_muted_};
  if (screenshare_enabled_)
    m[stream_id(media::StreamPurpose::ScreenShare)] = events::StreamMetadata{media::StreamPurpose::ScreenShare, false, false};
  return m;
}

}  // namespace mxcall::core
