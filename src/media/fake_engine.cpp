#include "media/fake_engine.hpp"

#include <algorithm>

#include "media/sdp_rewrite.hpp"

namespace mxcall::media {

namespace {

using namespace std::chrono_literals;
constexpr auto kConnectAfter = 20ms;
constexpr auto kFirstMediaAfter = 40ms;
constexpr auto kAudioPacket = 20ms;
constexpr auto kVideoPacket = 66ms;

Error not_found(PeerId id) { return Error::make(ErrorKind::InvalidArgument, "no peer " + std::to_string(id)); }

bool valid_dtmf(char d) {
  return (d >= '0' && d <= '9') || d == '*' || d == '#' || (d >= 'A' && d <= 'D') || (d >= 'a' && d <= 'd');
}

bool sends(sdp::Direction d) { return d == sdp::Direction::SendRecv || d == sdp::Direction::SendOnly; }

}  // namespace

FakeMediaEngine::Peer* FakeMediaEngine::find(PeerId id) {
  auto it = peers_.find(id);
  return it == peers_.end() ? nullptr : &it->second;
}

const FakeMediaEngine::Peer* FakeMediaEngine::find(PeerId id) const {
  auto it = peers_.find(id);
  return it == peers_.end() ? nullptr : &it->second;
}

bool FakeMediaEngine::failing(const std::string& operation, PeerId peer) {
  if (failing_ops_.count(operation) == 0) return false;
  emit(OperationFailed{peer, operation, "injected failure"});
  return true;
}

std::vector<PeerId> FakeMediaEngine::peers() const {
  std::vector<PeerId> out;
  for (const auto& [id, p] : peers_) out.push_back(id);
  return out;
}

void FakeMediaEngine::fail_operation(const std::string& operation, bool fail) {
  if (fail) failing_ops_.insert(operation); else failing_ops_.erase(operation);
}

void FakeMediaEngine::fail_ice(bool fail, PeerId peer) {
  if (peer == 0) {
    ice_fails_all_ = fail;
  } else if (fail) {
    ice_fails_for_.insert(peer);
  } else {
    ice_fails_for_.erase(peer);
  }
}

bool FakeMediaEngine::local_hold(PeerId id) const {
  const Peer* p = find(id);
  return p != nullptr && p->local_hold;
}

Result<PeerId> FakeMediaEngine::create_peer(const PeerConfig& config) {
  if (failing_ops_.count("create_peer") > 0) return Error::make(ErrorKind::InvalidArgument, "injected failure");
  const PeerId id = next_id_++;
  Peer p;
  p.config = config;
  p.ufrag = "fake" + std::to_string(id) + "g0";
  peers_.emplace(id, std::move(p));
  return id;
}

void FakeMediaEngine::close_peer(PeerId id) {
  peers_.erase(id);
  queue_.erase(std::remove_if(queue_.begin(), queue_.end(), [id](const MediaEvent& e) { return peer_of(e) == id; }),
               queue_.end());
}

Status FakeMediaEngine::add_track(PeerId id, const TrackSpec& track) {
  Peer* p = find(id);
  if (p == nullptr) return not_found(id);
  if (failing_ops_.count("add_track") > 0) return Error::make(ErrorKind::InvalidArgument, "injected failure");
  for (auto& t : p->tracks) {
    if (t.spec.track_id != track.track_id) continue;
    if (!t.removed) return Error::make(ErrorKind::InvalidArgument, "track exists");
    t.removed = false;  // sends again on its old m-line, as the real engine does
    t.spec = track;
    if (p->local_set && p->remote_set) emit(NegotiationNeeded{id});
    return ok_status();
  }
  p->tracks.push_back(Track{track, {}, false, false});
  if (p->local_set && p->remote_set) emit(NegotiationNeeded{id});
  return ok_status();
}

Status FakeMediaEngine::remove_track(PeerId id, const std::string& track_id) {
  Peer* p = find(id);
  if (p == nullptr) return not_found(id);
  for (auto& t : p->tracks) {
    if (t.spec.track_id == track_id) {
      t.removed = true;
      return ok_status();
    }
  }
  return Error::make(ErrorKind::InvalidArgument, "no track " + track_id);
}

std::string FakeMediaEngine::make_sdp(PeerId id, Peer& p, SdpType type) {
  // m-lines: the remote's (in its order) when answering, then our tracks without one.
  std::vector<std::pair<std::string, std::string>> mlines;  // mid, kind
  for (const auto& t : p.tracks)
    if (!t.mid.empty()) mlines.emplace_back(t.mid, to_string(t.spec.kind));
  for (const auto& s : p.remote_sections) {
    bool known = std::any_of(mlines.begin(), mlines.end(), [&](const auto& m) { return m.first == s.mid; });
    if (!known) mlines.emplace_back(s.mid, s.kind);
  }
  for (auto& t : p.tracks) {
    if (!t.mid.empty()) continue;
    for (const auto& m : mlines) {  // an m-line of our kind the remote offered, without a track
      bool taken = std::any_of(p.tracks.begin(), p.tracks.end(), [&](const Track& o) { return o.mid == m.first; });
      if (!taken && m.second == to_string(t.spec.kind)) {
        t.mid = m.first;
        break;
      }
    }
    if (t.mid.empty() && type == SdpType::Offer) {
      t.mid = std::to_string(mlines.size());
      mlines.emplace_back(t.mid, to_string(t.spec.kind));
    }
  }
  std::string bundle;
  for (const auto& m : mlines) bundle += " " + m.first;
  std::string out = "v=0\r\no=- " + std::to_string(1000 + id) + " " + std::to_string(p.generation) +
                    " IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE" + bundle + "\r\na=ice-options:trickle\r\n";
  for (const auto& [mid, kind] : mlines) {
    const Track* track = nullptr;
    for (const auto& t : p.tracks)
      if (t.mid == mid && !t.removed) track = &t;
    sdp::Direction d = track != nullptr ? sdp::Direction::SendRecv : sdp::Direction::RecvOnly;
    d = sdp::intersect(d, sdp::hold_direction(p.local_hold, false));
    if (type == SdpType::Answer)
      for (const auto& s : p.remote_sections)
        if (s.mid == mid) d = sdp::intersect(d, sdp::reverse(s.direction));
    out += kind == "audio" ? "m=audio 9 UDP/TLS/RTP/SAVPF 111 101\r\n" : "m=video 9 UDP/TLS/RTP/SAVPF 96\r\n";
    out += "c=IN IP4 0.0.0.0\r\na=mid:" + mid + "\r\na=ice-ufrag:" + p.ufrag + "\r\na=ice-pwd:fakepassword" +
           std::to_string(id) + "xxxxxxxxxxxxxx\r\na=fingerprint:sha-256 "
           "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF\r\n";
    out += type == SdpType::Offer ? "a=setup:actpass\r\n" : "a=setup:active\r\n";
    out += std::string("a=") + sdp::to_string(d) + "\r\na=rtcp-mux\r\n";
    out += kind == "audio" ? "a=rtpmap:111 OPUS/48000/2\r\na=rtpmap:101 telephone-event/48000\r\n"
                           : "a=rtpmap:96 VP8/90000\r\n";
    if (track != nullptr) out += "a=msid:" + track->spec.stream_id + " " + track->spec.track_id + "\r\n";
  }
  return out;
}

void FakeMediaEngine::emit_candidates(PeerId id, Peer& p) {
  emit(GatheringStateChanged{id, GatheringState::Gathering});
  IceCandidate host{"candidate:1 1 UDP 2130706431 127.0.0.1 " + std::to_string(40000 + id) + " typ host", "0", 0};
  emit(LocalCandidate{id, host});
  emit(LocalCandidate{id, IceCandidate{"", "0", 0}});
  emit(GatheringStateChanged{id, GatheringState::Complete});
  (void)p;
}

void FakeMediaEngine::create_offer(PeerId id, const OfferOptions& options) {
  Peer* p = find(id);
  if (p == nullptr) return emit(OperationFailed{id, "create_offer", "no such peer"});
  if (failing("create_offer", id)) return;
  const bool first = !p->local_set;
  if (options.ice_restart) {
    ++p->generation;
    p->ufrag = "fake" + std::to_string(id) + "g" + std::to_string(p->generation);
    p->ice = IceState::New;
    p->have_remote_candidate = false;
  }
  emit(LocalDescriptionReady{id, SessionDescription{SdpType::Offer, make_sdp(id, *p, SdpType::Offer)}});
  p->local_set = true;
  if (first || options.ice_restart) emit_candidates(id, *p);
}

void FakeMediaEngine::create_answer(PeerId id) {
  Peer* p = find(id);
  if (p == nullptr) return emit(OperationFailed{id, "create_answer", "no such peer"});
  if (failing("create_answer", id)) return;
  if (!p->pending_remote_offer) return emit(OperationFailed{id, "create_answer", "no remote offer to answer"});
  const bool first = !p->local_set;
  const bool regather = p->ice == IceState::New && p->local_set;  // remote restarted ICE
  p->pending_remote_offer.reset();
  emit(LocalDescriptionReady{id, SessionDescription{SdpType::Answer, make_sdp(id, *p, SdpType::Answer)}});
  p->local_set = true;
  if (first || regather) emit_candidates(id, *p);
  maybe_start_ice(id, *p);
}

void FakeMediaEngine::set_remote_description(PeerId id, const SessionDescription& d) {
  Peer* p = find(id);
  if (p == nullptr) return emit(OperationFailed{id, "set_remote_description", "no such peer"});
  if (failing("set_remote_description", id)) return;
  if (!sdp::looks_like_sdp(d.sdp)) return emit(OperationFailed{id, "set_remote_description", "not an SDP"});
  if (d.type == SdpType::Answer && p->pending_remote_offer)
    return emit(OperationFailed{id, "set_remote_description", "an answer while answering an offer"});
  if (d.type == SdpType::Offer && sdp::is_ice_restart(p->remote_sdp, d.sdp)) {
    p->ice = IceState::New;
    p->have_remote_candidate = false;
  }
  auto normalised = sdp::normalise_directions(d.sdp);
  p->remote_sdp = d.sdp;
  p->remote_hold = normalised.remote_hold;
  p->remote_sections.clear();
  for (const auto& s : sdp::media_sections(d.sdp)) {
    if (s.kind != "audio" && s.kind != "video") continue;
    p->remote_sections.push_back(RemoteSection{s.mid, s.kind, s.stream_id, s.direction.value_or(sdp::Direction::SendRecv)});
  }
  if (d.type == SdpType::Offer) p->pending_remote_offer = SdpType::Offer;
  p->remote_set = true;
  emit(RemoteDescriptionApplied{id, d.type});
  // Announced remote tracks whose section stopped sending are gone; hold is no removal.
  if (!p->remote_hold && !p->local_hold) {
    for (const auto& s : p->remote_sections) {
      if (sends(s.direction) || p->announced_mids.erase(s.mid) == 0) continue;
      const auto old = std::find_if(p->announced.begin(), p->announced.end(),
                                    [&](const RemoteTrackAdded& a) { return a.mid == s.mid; });
      if (old == p->announced.end()) continue;
      emit(RemoteTrackRemoved{id, old->kind, old->stream_id});
      p->announced.erase(old);
    }
  }
  auto queued = std::move(p->queued_candidates);
  p->queued_candidates.clear();
  for (const auto& c : queued) add_remote_candidate(id, c);
  // Candidates inside the description count as webrtcbin takes them (the core puts them there).
  if (d.sdp.find("a=candidate:") != std::string::npos) p->have_remote_candidate = true;
  maybe_start_ice(id, *p);
}

void FakeMediaEngine::add_remote_candidate(PeerId id, const IceCandidate& c) {
  Peer* p = find(id);
  if (p == nullptr) return emit(OperationFailed{id, "add_remote_candidate", "no such peer"});
  if (failing("add_remote_candidate", id)) return;
  if (!p->remote_set) {
    p->queued_candidates.push_back(c);
    return;
  }
  if (!c.is_end_of_candidates()) p->have_remote_candidate = true;
  maybe_start_ice(id, *p);
}

void FakeMediaEngine::maybe_start_ice(PeerId id, Peer& p) {
  if (p.ice != IceState::New || !p.local_set || !p.remote_set || p.pending_remote_offer || !p.have_remote_candidate)
    return;
  p.ice = IceState::Checking;
  p.ice_clock = 0ms;
  p.ice_fails = ice_fails_all_ || ice_fails_for_.count(id) > 0;
  emit(IceStateChanged{id, IceState::Checking});
}

void FakeMediaEngine::set_track_muted(PeerId id, const std::string& track_id, bool muted) {
  if (Peer* p = find(id))
    for (auto& t : p->tracks)
      if (t.spec.track_id == track_id) t.muted = muted;
}

void FakeMediaEngine::set_local_hold(PeerId id, bool on_hold) {
  if (Peer* p = find(id)) p->local_hold = on_hold;
}

PeerId FakeMediaEngine::peer_by_ufrag(const std::string& ufrag) const {
  for (const auto& [id, p] : peers_)
    if (p.ufrag == ufrag) return id;
  return 0;
}

Status FakeMediaEngine::send_dtmf(PeerId id, const std::string& digits) {
  Peer* p = find(id);
  if (p == nullptr) return not_found(id);
  if (failing_ops_.count("send_dtmf") > 0) return Error::make(ErrorKind::InvalidArgument, "injected failure");
  if (!std::all_of(digits.begin(), digits.end(), valid_dtmf))
    return Error::make(ErrorKind::InvalidArgument, "not a DTMF digit in " + digits);
  bool audio = std::any_of(p->tracks.begin(), p->tracks.end(), [](const Track& t) { return t.spec.kind == MediaKind::Audio; });
  if (!audio) return Error::make(ErrorKind::InvalidArgument, "no audio track to send DTMF on");
  if (p->ice != IceState::Connected) return ok_status();  // lost, as on a real path
  PeerId far = peer_by_ufrag(sdp::ice_ufrag(p->remote_sdp).value_or(""));
  if (far != 0)
    for (char d : digits) emit(DtmfReceived{far, static_cast<char>(d >= 'a' && d <= 'd' ? d - 'a' + 'A' : d)});
  return ok_status();
}

PeerStats FakeMediaEngine::stats(PeerId id) const {
  const Peer* p = find(id);
  if (p == nullptr) return PeerStats{};
  PeerStats s = p->stats;
  s.ice_generation = static_cast<std::uint32_t>(p->generation + 1);  // one agent per ICE restart
  return s;
}

void FakeMediaEngine::advance(std::chrono::milliseconds ms) {
  for (auto& [id, p] : peers_) {
    if (p.ice == IceState::Checking) {
      p.ice_clock += ms;
      if (p.ice_clock < kConnectAfter) continue;
      p.ice = p.ice_fails ? IceState::Failed : IceState::Connected;
      p.ice_clock = 0ms;
      emit(IceStateChanged{id, p.ice});
      continue;
    }
    if (p.ice != IceState::Connected) continue;
    p.ice_clock += ms;
    const bool sending_blocked = p.local_hold || p.remote_hold;
    for (const auto& t : p.tracks) {
      if (t.removed || sending_blocked || (t.spec.kind == MediaKind::Video && t.muted)) continue;
      KindStats& k = t.spec.kind == MediaKind::Audio ? p.stats.audio : p.stats.video;
      auto& carry = t.spec.kind == MediaKind::Audio ? p.audio_carry : p.video_carry;
      const auto period = t.spec.kind == MediaKind::Audio ? kAudioPacket : kVideoPacket;
      carry += ms;
      const auto n = static_cast<std::uint64_t>(carry / period);
      carry -= period * static_cast<long>(n);
      k.packets_sent += n;
      k.bytes_sent += n * (t.spec.kind == MediaKind::Audio ? 80 : 900);
    }
    bool receiving[2] = {false, false};  // audio, video
    for (const auto& s : p.remote_sections) {
      if (!sends(s.direction) || s.stream_id.empty() || p.local_hold || p.remote_hold) continue;
      const MediaKind kind = s.kind == "video" ? MediaKind::Video : MediaKind::Audio;
      receiving[kind == MediaKind::Video ? 1 : 0] = true;
      if (p.announced_mids.insert(s.mid).second) {
        p.announced.push_back(RemoteTrackAdded{id, kind, s.stream_id, s.mid});
        emit(p.announced.back());
      }
      if (p.ice_clock >= kFirstMediaAfter && p.decoded.insert(kind).second) emit(FirstMediaDecoded{id, kind});
    }
    for (int v = 0; v < 2; ++v) {
      if (!receiving[v]) continue;
      KindStats& k = v == 0 ? p.stats.audio : p.stats.video;
      auto& carry = v == 0 ? p.audio_in_carry : p.video_in_carry;
      const auto period = v == 0 ? kAudioPacket : kVideoPacket;
      carry += ms;
      const auto n = static_cast<std::uint64_t>(carry / period);
      carry -= period * static_cast<long>(n);
      k.packets_received += n;
      k.bytes_received += n * (v == 0 ? 80 : 900);
    }
  }
}

std::size_t FakeMediaEngine::deliver() {
  std::size_t n = 0;
  while (!queue_.empty()) {
    MediaEvent ev = std::move(queue_.front());
    queue_.pop_front();
    ++n;
    if (sink_) sink_(ev);
  }
  return n;
}

}  // namespace mxcall::media
