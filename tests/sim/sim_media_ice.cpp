// ICE as the simulated media sees it: when two agents pair up, when a dead path is noticed,
// and what flows once connected (see sim_media.hpp).
#include <algorithm>

#include "sim_media.hpp"

namespace mxcall::sim {

namespace {

using media::IceState;
using media::MediaKind;
using media::PeerId;
namespace sdp = media::sdp;

bool sends(sdp::Direction d) { return d == sdp::Direction::SendRecv || d == sdp::Direction::SendOnly; }

}  // namespace

// ---- ICE ---------------------------------------------------------------------------------

// An agent checks once it has its own and the peer's description of this generation.
bool MediaNet::ready(const Peer& p) const { return p.described && p.remote_set; }

// Checks succeed when both agents are of matching generations, the path is up, and at least one
// side knows a candidate of the other (the other learns a peer-reflexive one from its checks).
bool MediaNet::linked(PeerId, const Peer& p) const {
  if (!ready(p) || p.fails || world_.now() < p.blip_until) return false;
  for (const auto& [qid, q] : peers_) {
    if (q.ufrag != p.remote_ufrag) continue;
    return q.remote_ufrag == p.ufrag && ready(q) && !q.fails && (p.remote_candidate || q.remote_candidate) &&
           path_up(p.owner, q.owner);
  }
  return false;
}

void MediaNet::set_ice(PeerId id, Peer& p, IceState s) {
  if (p.ice == s) return;
  p.ice = s;
  if (world_.trace().enabled())
    world_.log("media", "peer " + std::to_string(id) + " (client " + std::to_string(p.owner) + ", " + p.ufrag + " -> " +
                            p.remote_ufrag + "): ICE " + media::to_string(s));
  emit(p, media::IceStateChanged{id, s}, rng_.between(0, 5));
}

void MediaNet::evaluate_at(SimTime t) {
  world_.at(t, [this] { evaluate_all(); });
}

void MediaNet::evaluate_all() {
  for (auto& [id, p] : peers_) evaluate(id);
}

void MediaNet::evaluate(PeerId id) {
  Peer* pp = find(id);
  if (!pp) return;
  Peer& p = *pp;
  const bool up = linked(id, p);
  const SimTime now = world_.now();
  switch (p.ice) {
    case IceState::New:
      if (!ready(p)) return;
      set_ice(id, p, IceState::Checking);
      p.ice_since = now;
      evaluate_at(now + config_.media.check_timeout);
      [[fallthrough]];
    case IceState::Checking:
      if (up && !p.connect_pending) {
        p.connect_pending = true;
        const int generation = p.generation;
        world_.after(rng_.between(1, config_.media.connect_max), [this, id, generation] {
          Peer* q = find(id);
          if (!q || q->generation != generation) return;
          q->connect_pending = false;
          if (q->ice == IceState::Checking && linked(id, *q)) set_ice(id, *q, IceState::Connected);
          evaluate(id);
        });
      } else if (!up && now - p.ice_since >= config_.media.check_timeout) {
        set_ice(id, p, IceState::Failed);
      }
      return;
    case IceState::Connected:
    case IceState::Completed:
      if (up) {
        p.down_since.reset();
        media_flows(id, p);
      } else if (now < p.blip_until) {
        set_ice(id, p, IceState::Disconnected);
        evaluate_at(p.blip_until);
      } else if (p.local_hold || p.remote_hold) {
        p.down_since.reset();  // the watchdog sleeps while either side holds (as the real one)
      } else if (!p.down_since) {
        p.down_since = now;
        evaluate_at(now + config_.media.media_timeout);
      } else if (now - *p.down_since >= config_.media.media_timeout) {
        set_ice(id, p, IceState::Disconnected);
      }
      return;
    case IceState::Disconnected:
      // As media::MediaWatchdog: expected silence (a hold) withdraws a Dead verdict too.
      if (up || (now >= p.blip_until && (p.local_hold || p.remote_hold))) {
        set_ice(id, p, IceState::Connected);
        media_flows(id, p);
      }
      return;
    default: return;
  }
}

void MediaNet::media_flows(PeerId id, Peer& p) {
  const bool held = p.local_hold || p.remote_hold;
  for (const auto& s : p.remote_sections) {
    if (!sends(s.direction) || s.stream_id.empty()) continue;
    const MediaKind kind = s.kind == "video" ? MediaKind::Video : MediaKind::Audio;
    if (p.announced_mids.insert(s.mid).second) emit(p, media::RemoteTrackAdded{id, kind, s.stream_id, s.mid}, 5);
    if (!held && p.decoded.insert(kind).second) emit(p, media::FirstMediaDecoded{id, kind}, 40);
  }
}

}  // namespace mxcall::sim
