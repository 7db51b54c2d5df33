#include "sim_media.hpp"

#include <algorithm>

namespace mxcall::sim {

namespace {

using media::IceState;
using media::MediaKind;
using media::PeerId;
using media::SdpType;
namespace sdp = media::sdp;

bool valid_dtmf(char d) {
  return (d >= '0' && d <= '9') || d == '*' || d == '#' || (d >= 'A' && d <= 'D') || (d >= 'a' && d <= 'd');
}

const char* kind_name(MediaKind k) { return k == MediaKind::Audio ? "audio" : "video"; }

}  // namespace

// ---- paths -------------------------------------------------------------------------------

void MediaNet::cut(int a, int b, SimTime duration) {
  auto key = std::minmax(a, b);
  SimTime& until = cut_until_[{key.first, key.second}];
  until = std::max(until, world_.now() + duration);
  evaluate_all();
  evaluate_at(until);
}

void MediaNet::set_offline(int client, bool offline) {
  if (offline) offline_.insert(client); else offline_.erase(client);
  evaluate_all();
}

bool MediaNet::path_up(int a, int b) const {
  if (offline_.count(a) || offline_.count(b)) return false;
  auto key = std::minmax(a, b);
  auto it = cut_until_.find({key.first, key.second});
  return it == cut_until_.end() || it->second <= world_.now();
}

void MediaNet::heal_all() {
  cut_until_.clear();
  offline_.clear();
  for (auto& [id, p] : peers_) p.blip_until = 0;
  evaluate_all();
}

void MediaNet::blip(int client) {
  for (auto& [id, p] : peers_) {
    if (p.owner != client || p.ice != IceState::Connected) continue;
    p.blip_until = world_.now() + rng_.between(100, 5'000);
    evaluate(id);
    return;
  }
}

// ---- peers -------------------------------------------------------------------------------

std::uint64_t MediaNet::register_engine(SimEngine* engine) {
  engines_[next_engine_] = engine;
  return next_engine_++;
}

void MediaNet::drop_engine(std::uint64_t engine) {
  engines_.erase(engine);
  in_flight_.erase(engine);
  for (auto it = peers_.begin(); it != peers_.end();) it = it->second.engine == engine ? peers_.erase(it) : std::next(it);
  evaluate_all();
}

bool MediaNet::busy(std::uint64_t engine) const {
  auto it = in_flight_.find(engine);
  return it != in_flight_.end() && it->second > 0;
}

MediaNet::Peer* MediaNet::find(PeerId id) {
  auto it = peers_.find(id);
  return it == peers_.end() ? nullptr : &it->second;
}

const MediaNet::Peer* MediaNet::find(PeerId id) const {
  auto it = peers_.find(id);
  return it == peers_.end() ? nullptr : &it->second;
}

void MediaNet::emit(Peer& p, media::MediaEvent ev, SimTime delay) {
  const SimTime at = std::max(world_.now() + delay, p.last_event);
  p.last_event = at;
  const std::uint64_t engine = p.engine;
  ++in_flight_[engine];
  world_.at(at, [this, engine, ev = std::move(ev)] {
    auto e = engines_.find(engine);
    if (e == engines_.end()) return;  // the process is gone
    --in_flight_[engine];
    if (!find(media::peer_of(ev))) return;  // closed meanwhile: nothing more is reported
    e->second->deliver(ev);
  });
}

void MediaNet::misuse(PeerId id, Peer& p, const std::string& operation, const std::string& what) {
  ++p.misuse;
  if (on_misuse) on_misuse(p.owner, operation + " on peer " + std::to_string(id) + ": " + what);
  emit(p, media::OperationFailed{id, operation, what}, 1);
}

PeerId MediaNet::create(int owner, std::uint64_t engine) {
  const PeerId id = next_id_++;
  Peer& p = peers_[id];
  p.owner = owner;
  p.engine = engine;
  fresh_agent(p, id);
  return id;
}

void MediaNet::close(PeerId id) {
  peers_.erase(id);
  evaluate_all();
}

Status MediaNet::add_track(PeerId id, const media::TrackSpec& track) {
  Peer* p = find(id);
  if (!p) return Error::make(ErrorKind::InvalidArgument, "no peer " + std::to_string(id));
  for (auto& t : p->tracks) {
    if (t.spec.track_id != track.track_id) continue;
    if (!t.removed) return Error::make(ErrorKind::InvalidArgument, "track " + track.track_id + " exists");
    t.removed = false;  // the camera comes back on its old m-line
    t.spec = track;
    return ok_status();
  }
  p->tracks.push_back(Track{track, {}, false, false});
  return ok_status();
}

Status MediaNet::remove_track(PeerId id, const std::string& track_id) {
  Peer* p = find(id);
  if (!p) return Error::make(ErrorKind::InvalidArgument, "no peer " + std::to_string(id));
  for (auto& t : p->tracks)
    if (t.spec.track_id == track_id && !t.removed) {
      t.removed = true;  // the m-line stays (as with webrtcbin 1.22)
      return ok_status();
    }
  return Error::make(ErrorKind::InvalidArgument, "no track " + track_id);
}

void MediaNet::fresh_agent(Peer& p, PeerId id) {
  ++p.generation;
  p.ufrag = "u" + std::to_string(id) + "g" + std::to_string(p.generation);
  p.described = false;
  p.gathered = false;
  p.remote_set = false;  // a fresh agent has no remote description yet (it stays New, not Checking)
  p.remote_candidate = false;
  p.connect_pending = false;
  p.down_since.reset();
  p.fails = config_.fire(config_.media.ice_fail, rng_);
  if (p.fails && on_count) on_count("fault: failing ICE agent");
  if (p.ice != IceState::New) set_ice(id, p, IceState::New);
}

void MediaNet::gather(PeerId id, Peer& p) {
  if (p.gathered) return;
  p.gathered = true;
  const auto port = std::to_string(40000 + id * 10 + static_cast<PeerId>(p.generation));
  const std::string host = "10.0." + std::to_string(p.owner) + ".1";
  emit(p, media::GatheringStateChanged{id, media::GatheringState::Gathering}, 0);
  emit(p, media::LocalCandidate{id, {"candidate:1 1 udp 2130706431 " + host + " " + port + " typ host", "0", 0}},
       rng_.between(0, config_.media.gather_max));
  if (rng_.chance(0.5))
    emit(p, media::LocalCandidate{id, {"candidate:2 1 udp 1694498815 192.0.2." + std::to_string(p.owner) + " " + port +
                                           " typ srflx raddr " + host + " rport " + port, "0", 0}},
         rng_.between(0, config_.media.gather_max));
  emit(p, media::LocalCandidate{id, {"", "0", 0}}, rng_.between(0, config_.media.gather_max));
  emit(p, media::GatheringStateChanged{id, media::GatheringState::Complete}, 0);
}

std::string MediaNet::make_sdp(PeerId id, Peer& p, SdpType type) {
  for (auto& t : p.tracks) {  // bind new tracks to a free m-line of their kind, or add one (offers)
    if (!t.mid.empty()) continue;
    for (const auto& [mid, kind] : p.mlines) {
      const bool taken = std::any_of(p.tracks.begin(), p.tracks.end(), [&](const Track& o) { return o.mid == mid; });
      if (!taken && kind == kind_name(t.spec.kind)) {
        t.mid = mid;
        break;
      }
    }
    if (t.mid.empty() && type == SdpType::Offer) {
      t.mid = std::to_string(p.mlines.size());
      p.mlines.emplace_back(t.mid, kind_name(t.spec.kind));
    }
  }
  std::string bundle;
  for (const auto& m : p.mlines) bundle += " " + m.first;
  std::string out = "v=0\r\no=- " + std::to_string(1000 + id) + " " + std::to_string(p.generation) +
                    " IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE" + bundle + "\r\na=ice-options:trickle\r\n";
  for (const auto& [mid, kind] : p.mlines) {
    const Track* track = nullptr;
    for (const auto& t : p.tracks)
      if (t.mid == mid && !t.removed) track = &t;
    sdp::Direction d = track ? sdp::Direction::SendRecv : sdp::Direction::RecvOnly;
    d = sdp::intersect(d, sdp::hold_direction(p.local_hold, false));
    if (type == SdpType::Answer)
      for (const auto& s : p.remote_sections)
        if (s.mid == mid) d = sdp::intersect(d, sdp::reverse(s.direction));
    out += kind == "audio" ? "m=audio 9 UDP/TLS/RTP/SAVPF 111 101\r\n" : "m=video 9 UDP/TLS/RTP/SAVPF 96\r\n";
    out += "c=IN IP4 0.0.0.0\r\na=mid:" + mid + "\r\na=ice-ufrag:" + p.ufrag + "\r\na=ice-pwd:simpassword" +
           std::to_string(id) + "xxxxxxxxxxxxxxxx\r\na=fingerprint:sha-256 "
           "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF\r\n";
    out += type == SdpType::Offer ? "a=setup:actpass\r\n" : "a=setup:active\r\n";
    out += std::string("a=") + sdp::to_string(d) + "\r\na=rtcp-mux\r\n";
    out += kind == "audio" ? "a=rtpmap:111 OPUS/48000/2\r\na=rtpmap:101 telephone-event/48000\r\n" : "a=rtpmap:96 VP8/90000\r\n";
    if (track) out += "a=msid:" + track->spec.stream_id + " " + track->spec.track_id + "\r\n";
  }
  return out;
}

void MediaNet::create_offer(PeerId id, const media::OfferOptions& options) {
  Peer* p = find(id);
  if (!p) return;  // the driver only calls us for its own live peers
  if (p->sig == Sig::HaveRemoteOffer) return misuse(id, *p, "create_offer", "an offer while a remote offer waits for its answer");
  if (options.ice_restart) fresh_agent(*p, id);
  if (options.ice_restart && on_count) on_count("media: ICE restart offer");
  const std::string sdp_text = make_sdp(id, *p, SdpType::Offer);
  p->sig = Sig::HaveLocalOffer;
  p->described = true;
  emit(*p, media::LocalDescriptionReady{id, {SdpType::Offer, sdp_text}}, rng_.between(1, config_.media.op_delay_max));
  gather(id, *p);
  evaluate_all();
}

void MediaNet::create_answer(PeerId id) {
  Peer* p = find(id);
  if (!p) return;
  if (p->sig != Sig::HaveRemoteOffer) return misuse(id, *p, "create_answer", "no remote offer to answer");
  const std::string sdp_text = make_sdp(id, *p, SdpType::Answer);
  p->sig = Sig::Stable;
  p->described = true;
  emit(*p, media::LocalDescriptionReady{id, {SdpType::Answer, sdp_text}}, rng_.between(1, config_.media.op_delay_max));
  gather(id, *p);
  evaluate_all();
}

void MediaNet::set_remote_description(PeerId id, const media::SessionDescription& d) {
  Peer* p = find(id);
  if (!p) return;
  if (!sdp::looks_like_sdp(d.sdp)) return emit(*p, media::OperationFailed{id, "set_remote_description", "not an SDP"}, 1);
  const std::string ufrag = sdp::ice_ufrag(d.sdp).value_or("");
  if (d.type == SdpType::Offer) {
    // A remote offer replaces a local one (implicit rollback, as perfect negotiation expects);
    // a new ufrag means the peer restarts ICE, and we take a fresh agent too.
    if (p->remote_set && ufrag != p->remote_ufrag) fresh_agent(*p, id);
    p->sig = Sig::HaveRemoteOffer;
  } else {
    if (p->sig != Sig::HaveLocalOffer) return misuse(id, *p, "set_remote_description", "an answer without a local offer");
    p->sig = Sig::Stable;
  }
  if (ufrag != p->remote_ufrag) p->remote_candidate = false;
  p->remote_ufrag = ufrag;
  p->remote_sdp = d.sdp;
  if (d.sdp.find("\na=candidate:") != std::string::npos) p->remote_candidate = true;
  p->remote_sections.clear();
  for (const auto& s : sdp::media_sections(d.sdp)) {
    if (s.kind != "audio" && s.kind != "video") continue;
    p->remote_sections.push_back(RemoteSection{s.mid, s.kind, s.stream_id, s.direction.value_or(sdp::Direction::SendRecv)});
    const bool known = std::any_of(p->mlines.begin(), p->mlines.end(), [&](const auto& m) { return m.first == s.mid; });
    if (!known) p->mlines.emplace_back(s.mid, s.kind);
  }
  p->remote_hold = sdp::normalise_directions(d.sdp).remote_hold;
  p->remote_set = true;
  auto queued = std::move(p->queued);
  p->queued.clear();
  for (const auto& c : queued)
    if (!c.is_end_of_candidates()) p->remote_candidate = true;
  emit(*p, media::RemoteDescriptionApplied{id, d.type}, rng_.between(1, config_.media.op_delay_max));
  evaluate_all();
}

void MediaNet::add_remote_candidate(PeerId id, const media::IceCandidate& c) {
  Peer* p = find(id);
  if (!p) return;
  if (!p->remote_set) {
    p->queued.push_back(c);
    return;
  }
  if (!c.is_end_of_candidates()) p->remote_candidate = true;
  evaluate_all();
}

void MediaNet::set_track_muted(PeerId id, const std::string& track_id, bool muted) {
  if (Peer* p = find(id))
    for (auto& t : p->tracks)
      if (t.spec.track_id == track_id) t.muted = muted;
}

void MediaNet::set_local_hold(PeerId id, bool on_hold) {
  if (Peer* p = find(id)) p->local_hold = on_hold;
  evaluate_all();  // the watchdog wakes up again on resume
}

Status MediaNet::send_dtmf(PeerId id, const std::string& digits) {
  Peer* p = find(id);
  if (!p) return Error::make(ErrorKind::InvalidArgument, "no peer " + std::to_string(id));
  if (!std::all_of(digits.begin(), digits.end(), valid_dtmf))
    return Error::make(ErrorKind::InvalidArgument, "not a DTMF digit in " + digits);
  if (p->ice != IceState::Connected || !linked(id, *p)) return ok_status();  // lost, as on a real path
  for (auto& [qid, q] : peers_) {
    if (q.ufrag != p->remote_ufrag) continue;
    SimTime delay = 20;
    for (char d : digits) {
      emit(q, media::DtmfReceived{qid, static_cast<char>(d >= 'a' && d <= 'd' ? d - 'a' + 'A' : d)}, delay);
      delay += 100;
    }
  }
  return ok_status();
}

media::PeerStats MediaNet::stats(PeerId id) const {
  media::PeerStats s;
  if (const Peer* p = find(id)) s.ice_generation = static_cast<std::uint32_t>(p->generation);
  return s;
}

}  // namespace mxcall::sim
