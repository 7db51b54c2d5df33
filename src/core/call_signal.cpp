// Remote m.call.* signalling for one call: who may say what, in which state.
#include "core/call.hpp"
#include "util/logging.hpp"
#include "util/overloaded.hpp"

namespace mxcall::core {

namespace {

constexpr std::size_t kMaxEarlyParties = 8;
constexpr std::size_t kMaxEarlyCandidates = 256;
constexpr Duration kStaleAnswerMargin{10'000};

using util::overloaded;

}  // namespace

void Call::on_signal(const RemoteSignal& s, TimePoint now) {
  const events::CallCommon& c = events::common_of(s.event);
  if (s.sender == config_.own_user_id && c.party_id == config_.own_party_id) {
    // Our own echo. Except while we ring: an answer or reject from our own party then was sent
    // by an earlier run of this device (history replayed after a restart), and the call must
    // not ring again (tests/sim, seed one_to_one 0x2bf).
    const bool history = state_ == CallState::Ringing && (std::holds_alternative<events::CallAnswer>(s.event) ||
                                                          std::holds_alternative<events::CallReject>(s.event));
    if (!history) return;
  }
  std::visit(overloaded{
                 [&](const events::CallInvite&) { MXLOG_DEBUG("call {}: repeated invite ignored", call_id_); },
                 [&](const events::CallCandidates& e) { on_candidates(s.sender, e); },
                 [&](const events::CallAnswer& e) { on_answer(s.sender, e, now); },
                 [&](const events::CallSelectAnswer& e) { on_select_answer(s.sender, e); },
                 [&](const events::CallReject& e) { on_reject(s.sender, e); },
                 [&](const events::CallNegotiate& e) {
                   // Spec: past its lifetime the sender gave up on it, and so do we (a late
                   // offer or answer applied then leaves the two ends out of step; tests/sim).
                   if (s.age_ms && *s.age_ms > e.lifetime_ms) {
                     MXLOG_INFO("call {}: negotiate {} ms old (lifetime {} ms) ignored", call_id_, *s.age_ms, e.lifetime_ms);
                     return;
                   }
                   on_negotiate(s.sender, e, s.age_ms, now);
                 },
                 [&](const events::CallHangup& e) { on_hangup(s.sender, e); },
                 [&](const events::CallMetadataChanged& e) { on_metadata(s.sender, e); },
             },
             s.event);
}

bool Call::own_side(const std::string& sender) const {
  // In a room every device of our user sees our events; to-device, only the opponent's reach
  // us (our own party's echo is dropped before this).
  return !config_.to_device && sender == config_.own_user_id;
}

bool Call::from_opponent(const std::string& sender, const events::CallCommon& c) const {
  if (!opponent_ || opponent_->user_id != sender) return false;
  // Version 0 peers have no party id; then the user alone identifies them.
  return !opponent_->party_id || c.party_id == opponent_->party_id;
}

void Call::on_candidates(const std::string& sender, const events::CallCandidates& e) {
  if (own_side(sender)) return;  // our other devices' candidates are not for us
  if (opponent_) {
    if (!from_opponent(sender, e.common)) {
      MXLOG_DEBUG("call {}: candidates from {} (not the chosen party) dropped", call_id_, sender);
      return;
    }
    emit(op::AddRemoteCandidates{e.candidates});
    return;
  }
  // The caller has not chosen an answer yet: keep each party's candidates until it does.
  const std::string party = e.common.party_id.value_or("");
  auto it = early_candidates_.find(sender + "|" + party);
  if (it == early_candidates_.end()) {
    if (early_candidates_.size() >= kMaxEarlyParties) {
      MXLOG_WARN("call {}: too many answering parties; candidates from {} dropped", call_id_, sender);
      return;
    }
    it = early_candidates_.emplace(sender + "|" + party, std::vector<media::IceCandidate>{}).first;
  }
  for (const auto& cand : e.candidates)
    if (it->second.size() < kMaxEarlyCandidates) it->second.push_back(cand);
}

void Call::on_answer(const std::string& sender, const events::CallAnswer& a, TimePoint now) {
  if (direction_ == CallDirection::Inbound) {
    // Another device of ours picked up while we ring.
    if (own_side(sender) && state_ == CallState::Ringing) end(std::string(events::reason::kAnsweredElsewhere), true);
    return;
  }
  if (state_ != CallState::InviteSent || own_side(sender)) {
    MXLOG_DEBUG("call {}: answer from {} in state {} ignored", call_id_, sender, to_string(state_));
    return;
  }
  opponent_ = Opponent{sender, a.common.party_id};
  peer_version_ = a.common.version;
  timings_.answered = now;
  timers_.stop(CallTimer::InviteLifetime);
  emit(op::SetRemoteDescription{a.answer});
  remote_ufrag_ = sdp_ice_ufrag(a.answer.sdp).value_or("");
  set_remote_metadata(a.metadata);
  auto early = early_candidates_.find(sender + "|" + a.common.party_id.value_or(""));
  if (early != early_candidates_.end() && !early->second.empty()) emit(op::AddRemoteCandidates{std::move(early->second)});
  early_candidates_.clear();
  if (peer_version_ == events::CallVersion::V1 && a.common.party_id)
    send(events::CallSelectAnswer{common(), *a.common.party_id});
  timers_.arm(CallTimer::ConnectTimeout, now + config_.connect_timeout);
  set_state(CallState::Connecting);
  MXLOG_INFO("call {}: answered by {} ({})", call_id_, sender, a.common.party_id.value_or("no party id"));
}

void Call::on_select_answer(const std::string& sender, const events::CallSelectAnswer& s) {
  if (direction_ == CallDirection::Outbound || !from_opponent(sender, s.common)) return;
  if (s.selected_party_id == config_.own_party_id) return;
  // The caller chose another device (ours or someone else's): stop quietly, send nothing.
  end(std::string(events::reason::kAnsweredElsewhere), true);
}

void Call::on_reject(const std::string& sender, const events::CallReject& r) {
  if (direction_ == CallDirection::Inbound) {
    if (own_side(sender) && state_ == CallState::Ringing) end("rejected_elsewhere", true);
    return;
  }
  if (state_ != CallState::InviteSent || own_side(sender)) return;  // an answer was chosen already
  if (r.common.party_id) send(events::CallSelectAnswer{common(), *r.common.party_id});
  end("rejected", true);
}

void Call::on_negotiate(const std::string& sender, const events::CallNegotiate& n, std::optional<std::int64_t> age_ms,
                        TimePoint now) {
  if (!from_opponent(sender, n.common) || (state_ != CallState::Connecting && state_ != CallState::Connected)) {
    MXLOG_DEBUG("call {}: negotiate from {} ignored in state {}", call_id_, sender, to_string(state_));
    return;
  }
  if (n.description.type == media::SdpType::Answer) {
    set_remote_metadata(n.metadata);
    if (signaling_ != Signaling::HaveLocalOffer) {
      MXLOG_DEBUG("call {}: unexpected negotiate answer in {}", call_id_, to_string(signaling_));
      return;
    }
    // An answer the server had well before our offer went out answers an older offer of ours
    // (one we gave up on): applied to this one, the two ends would describe different sessions
    // (tests/sim). The margin covers the age's own delay on its way to us.
    if (age_ms && offer_sent_at_ && now - Duration(*age_ms) + kStaleAnswerMargin < *offer_sent_at_) {
      MXLOG_INFO("call {}: negotiate answer older than our offer ignored", call_id_);
      return;
    }
    timers_.stop(CallTimer::NegotiateTimeout);
    unanswered_offers_ = 0;
    emit(op::SetRemoteDescription{n.description});
    remote_ufrag_ = sdp_ice_ufrag(n.description.sdp).value_or("");
    signaling_ = Signaling::Stable;
    maybe_start_offer(now);
    return;
  }
  const bool collision = signaling_ == Signaling::CreatingOffer || signaling_ == Signaling::HaveLocalOffer;
  if (collision && !polite()) {
    // Its metadata too: it describes an offer that never happens; the peer re-offers.
    MXLOG_INFO("call {}: colliding renegotiation offer ignored (we are impolite)", call_id_);
    return;
  }
  unanswered_offers_ = 0;  // the peer is alive and negotiating
  set_remote_metadata(n.metadata);
  const auto ufrag = sdp_ice_ufrag(n.description.sdp);
  const bool remote_restart = remote_ufrag_ && ufrag.value_or("") != *remote_ufrag_;
  if (collision) {
    MXLOG_INFO("call {}: colliding renegotiation offer accepted; ours is redone afterwards", call_id_);
    timers_.stop(CallTimer::NegotiateTimeout);
    offer_wanted_ = true;
    // The offer we drop may have been an ICE restart (our link is Restarting): unless theirs
    // restarts ICE too, the redo must restart again, or the fresh agent the engine already
    // made for ours never gets the peer's candidates (tests/sim, seed one_to_one 0x23e).
    if (link_ == LinkState::Restarting && !remote_restart) ice_restart_wanted_ = true;
  }
  if (remote_restart) on_remote_ice_restart(now);
  remote_ufrag_ = ufrag.value_or("");
  const bool held = sdp_holds_peer(n.description.sdp);
  if (held != remote_on_hold_) {
    remote_on_hold_ = held;
    emit(note::RemoteHold{held});
  }
  // A newer offer while we still answer the last one: the peer gave up on that one (it only
  // offers again once stable), so only the answer to the newest goes out (tests/sim).
  if (signaling_ == Signaling::CreatingAnswer) ++superseded_answers_;
  emit(op::SetRemoteDescription{n.description});
  emit(op::CreateAnswer{});
  signaling_ = Signaling::CreatingAnswer;
}

void Call::on_hangup(const std::string& sender, const events::CallHangup& h) {
  const bool accept =
      from_opponent(sender, h.common) ||
      // A version 0 callee declines with a hangup before any answer was chosen.
      (direction_ == CallDirection::Outbound && state_ == CallState::InviteSent && !own_side(sender));
  if (!accept) {
    MXLOG_DEBUG("call {}: hangup from {} ignored", call_id_, sender);
    return;
  }
  end(h.reason, true);
}

void Call::on_metadata(const std::string& sender, const events::CallMetadataChanged& m) {
  if (!from_opponent(sender, m.common)) return;
  set_remote_metadata(m.metadata);
}

void Call::set_remote_metadata(const std::optional<events::SdpStreamMetadata>& m) {
  if (!m || m == remote_metadata_) return;
  remote_metadata_ = m;
  emit(note::RemoteMetadata{*m});
  // A stream the peer no longer lists is gone (js-sdk drops a stopped screen share this way).
  std::vector<std::pair<std::string, media::MediaKind>> gone;
  for (const auto& [key, purpose] : remote_tracks_)
    if (m->count(key.first) == 0) gone.push_back(key);
  for (const auto& [stream, kind] : gone) on_remote_track_removed(kind, stream);
}

}  // namespace mxcall::core
