#include "client/peer_table.hpp"

#include "util/logging.hpp"
#include "util/overloaded.hpp"

namespace mxcall::client {

using util::overloaded;

bool PeerTable::is_media_op(const core::CallOutput& out) {
  return std::visit(overloaded{
                        [](const core::op::CreatePeer&) { return true; },
                        [](const core::op::AddTrack&) { return true; },
                        [](const core::op::RemoveTrack&) { return true; },
                        [](const core::op::CreateOffer&) { return true; },
                        [](const core::op::CreateAnswer&) { return true; },
                        [](const core::op::SetRemoteDescription&) { return true; },
                        [](const core::op::AddRemoteCandidates&) { return true; },
                        [](const core::op::SetTrackMuted&) { return true; },
                        [](const core::op::SetLocalHold&) { return true; },
                        [](const core::op::SendDtmf&) { return true; },
                        [](const core::op::ClosePeer&) { return true; },
                        [](const auto&) { return false; },
                    },
                    out);
}

std::optional<media::OperationFailed> PeerTable::apply(const std::string& call_id, const core::CallOutput& out) {
  if (const auto* c = std::get_if<core::op::CreatePeer>(&out)) {
    auto p = engine_->create_peer(c->config);
    if (!p.ok()) return media::OperationFailed{0, "create_peer", p.error().message};
    peers_[call_id] = *p;
    calls_[*p] = call_id;
    return std::nullopt;
  }
  auto it = peers_.find(call_id);
  if (it == peers_.end()) {
    MXLOG_DEBUG("calls: media operation {} for call {} without a peer dropped", out.index(), call_id);
    return std::nullopt;
  }
  const media::PeerId p = it->second;
  media::MediaEngine& e = *engine_;
  std::visit(overloaded{
                 [&](const core::op::AddTrack& t) { (void)e.add_track(p, t.track); },
                 [&](const core::op::RemoveTrack& t) { (void)e.remove_track(p, t.track_id); },
                 [&](const core::op::CreateOffer& o) { e.create_offer(p, o.options); },
                 [&](const core::op::CreateAnswer&) { e.create_answer(p); },
                 [&](const core::op::SetRemoteDescription& d) { e.set_remote_description(p, d.description); },
                 [&](const core::op::AddRemoteCandidates& c) {
                   for (const auto& cand : c.candidates) e.add_remote_candidate(p, cand);
                 },
                 [&](const core::op::SetTrackMuted& m) { e.set_track_muted(p, m.track_id, m.muted); },
                 [&](const core::op::SetLocalHold& h) { e.set_local_hold(p, h.on_hold); },
                 [&](const core::op::SendDtmf& d) { (void)e.send_dtmf(p, d.digits); },
                 [&](const core::op::ClosePeer&) {
                   closed_stats_[call_id] = e.stats(p);
                   e.close_peer(p);
                   calls_.erase(p);
                   peers_.erase(call_id);
                 },
                 [](const auto&) {},
             },
             out);
  return std::nullopt;
}

std::optional<std::string> PeerTable::call_of(media::PeerId peer) const {
  auto it = calls_.find(peer);
  if (it == calls_.end()) return std::nullopt;
  return it->second;
}

std::optional<media::PeerId> PeerTable::peer_of(const std::string& call_id) const {
  auto it = peers_.find(call_id);
  if (it == peers_.end()) return std::nullopt;
  return it->second;
}

std::optional<media::PeerStats> PeerTable::stats(const std::string& call_id) const {
  if (auto p = peer_of(call_id)) return engine_->stats(*p);
  auto it = closed_stats_.find(call_id);
  if (it == closed_stats_.end()) return std::nullopt;
  return it->second;
}

std::vector<std::string> PeerTable::call_ids() const {
  std::vector<std::string> out;
  for (const auto& [id, peer] : peers_) out.push_back(id);
  return out;
}

void PeerTable::close_all() {
  for (const auto& id : call_ids()) (void)apply(id, core::op::ClosePeer{});
}

}  // namespace mxcall::client
