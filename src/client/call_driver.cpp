#include "client/call_driver.hpp"

#include "util/logging.hpp"
#include "util/overloaded.hpp"

namespace mxcall::client {

using util::overloaded;

namespace {

std::chrono::milliseconds between(const std::optional<core::TimePoint>& a, const std::optional<core::TimePoint>& b) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(*b - *a);
}

const char* link_name(core::LinkState l) {
  switch (l) {
    case core::LinkState::Up: return "up";
    case core::LinkState::Disconnected: return "disconnected";
    case core::LinkState::Restarting: return "restarting";
  }
  return "?";
}

}  // namespace

CallDriver::CallDriver(core::RegistryConfig config, Ports ports)
    : registry_(std::move(config)), ports_(std::move(ports)) {}

void CallDriver::set_ice_servers(std::vector<media::IceServer> servers) { registry_.set_ice_servers(std::move(servers)); }

void CallDriver::on_room_event(const matrix::RoomEvent& ev, core::TimePoint now) {
  if (!events::is_call_event_type(ev.type)) return;
  auto parsed = events::parse_call_event(ev.type, ev.content);
  if (!parsed.ok()) {
    MXLOG_WARN("calls: dropped {} {} from {} in {}: {}", ev.type, ev.event_id, ev.sender, ev.room_id,
               parsed.error().message);
    return;
  }
  registry_.handle_room_event(ev.room_id, ev.sender, ev.event_id, *parsed, ev.age, now);
}

void CallDriver::on_media_event(const media::MediaEvent& ev, core::TimePoint now) {
  auto it = calls_.find(media::peer_of(ev));
  if (it == calls_.end()) return;  // a late event of a closed peer
  MXLOG_TRACE("calls: media event {} for call {} (peer {})", ev.index(), it->second, media::peer_of(ev));
  registry_.handle(it->second, ev, now);
}

void CallDriver::place(const std::string& room_id, const std::string& call_id, const std::string& invitee, bool video,
                       core::TimePoint now) {
  registry_.place(room_id, call_id, invitee, video, now);
  CallSummary& s = summaries_[call_id];
  s.call_id = call_id;
  s.room_id = room_id;
  s.peer = invitee;
  s.outbound = true;
}

Status CallDriver::command(const std::string& call_id, const core::CallInput& input, core::TimePoint now) {
  const core::Call* call = registry_.find(call_id);
  if (!call || call->ended()) return Error::make(ErrorKind::InvalidArgument, "no live call " + call_id);
  registry_.handle(call_id, input, now);
  return ok_status();
}

std::optional<core::TimePoint> CallDriver::turn(core::TimePoint now) {
  now_ = now;
  registry_.tick(now);
  while (auto out = registry_.poll()) perform(out->call_id, out->item, now);
  registry_.collect();
  return registry_.next_deadline();
}

void CallDriver::perform(const std::string& call_id, const core::CallOutput& out, core::TimePoint now) {
  media::MediaEngine* engine = ports_.engine;
  auto peer = [&]() -> std::optional<media::PeerId> {
    auto it = peers_.find(call_id);
    if (it == peers_.end()) return std::nullopt;
    return it->second;
  };
  const core::Call* call = registry_.find(call_id);
  CallSummary& sum = summaries_[call_id];
  sum.call_id = call_id;
  if (call) {
    sum.room_id = call->room_id();
    if (call->opponent()) sum.peer = call->opponent()->user_id;
  }
  MXLOG_TRACE("calls: call {} output {}", call_id, out.index());
  CallUpdate u;
  u.call_id = call_id;
  u.room_id = sum.room_id;
  u.peer = sum.peer;
  std::visit(
      overloaded{
          [&](const core::SendSignal& s) {
            const std::string type(events::event_type(s.event));
            ports_.send_room_event(s.room_id, type, events::to_content(s.event), [this, call_id, type](const Status& st) {
              if (!st.ok()) registry_.handle(call_id, core::SendFailed{type, st.error()}, now_);
            });
          },
          [&](const core::op::CreatePeer& c) {
            media::PeerConfig cfg = c.config;
            auto p = engine->create_peer(cfg);
            if (!p.ok()) {
              registry_.handle(call_id, media::OperationFailed{0, "create_peer", p.error().message}, now);
              return;
            }
            peers_[call_id] = *p;
            calls_[*p] = call_id;
          },
          [&](const core::op::AddTrack& t) { if (auto p = peer()) (void)engine->add_track(*p, t.track); },
          [&](const core::op::RemoveTrack& t) { if (auto p = peer()) (void)engine->remove_track(*p, t.track_id); },
          [&](const core::op::CreateOffer& o) { if (auto p = peer()) engine->create_offer(*p, o.options); },
          [&](const core::op::CreateAnswer&) { if (auto p = peer()) engine->create_answer(*p); },
          [&](const core::op::SetRemoteDescription& d) { if (auto p = peer()) engine->set_remote_description(*p, d.description); },
          [&](const core::op::AddRemoteCandidates& c) {
            if (auto p = peer())
              for (const auto& cand : c.candidates) engine->add_remote_candidate(*p, cand);
          },
          [&](const core::op::SetTrackMuted& m) { if (auto p = peer()) engine->set_track_muted(*p, m.track_id, m.muted); },
          [&](const core::op::SetLocalHold& h) { if (auto p = peer()) engine->set_local_hold(*p, h.on_hold); },
          [&](const core::op::SendDtmf& d) { if (auto p = peer()) (void)engine->send_dtmf(*p, d.digits); },
          [&](const core::op::ClosePeer&) {
            if (auto p = peer()) {
              sum.stats = engine->stats(*p);
              engine->close_peer(*p);
              calls_.erase(*p);
              peers_.erase(call_id);
            }
          },
          [&](const core::note::Incoming& in) {
            sum.outbound = false;
            sum.peer = in.caller;
            u.kind = CallUpdate::Kind::Incoming;
            u.peer = in.caller;
            u.video = in.video_offered;
            update(u);
          },
          [&](const core::note::StateChanged& s) {
            sum.state = core::to_string(s.state);
            u.kind = CallUpdate::Kind::State;
            u.state = sum.state;
            update(u);
          },
          [&](const core::note::Connected& c) {
            sum.connected = true;
            u.kind = CallUpdate::Kind::Connected;
            u.setup = c.setup;
            update(u);
          },
          [&](const core::note::FirstMedia& f) {
            u.kind = CallUpdate::Kind::FirstMedia;
            u.media_kind = f.kind;
            u.setup = f.since_start;
            update(u);
          },
          [&](const core::note::RemoteMetadata& m) {
            u.kind = CallUpdate::Kind::RemoteMetadata;
            for (const auto& [stream, meta] : m.metadata)
              if (meta.purpose == media::StreamPurpose::UserMedia) {
                u.audio_muted = meta.audio_muted;
                u.video_muted = meta.video_muted;
              }
            update(u);
          },
          [&](const core::note::RemoteHold& h) {
            u.kind = CallUpdate::Kind::RemoteHold;
            u.on_hold = h.on_hold;
            update(u);
          },
          [&](const core::note::RemoteTrack& t) {
            u.kind = CallUpdate::Kind::RemoteTrack;
            u.media_kind = t.kind;
            u.screenshare = t.purpose == media::StreamPurpose::ScreenShare;
            update(u);
          },
          [&](const core::note::RemoteTrackRemoved& t) {
            u.kind = CallUpdate::Kind::RemoteTrackRemoved;
            u.media_kind = t.kind;
            u.screenshare = t.purpose == media::StreamPurpose::ScreenShare;
            update(u);
          },
          [&](const core::note::Dtmf& d) {
            u.kind = CallUpdate::Kind::Dtmf;
            u.digit = d.digit;
            update(u);
          },
          [&](const core::note::LinkChanged& l) {
            u.kind = CallUpdate::Kind::Link;
            u.link = link_name(l.link);
            update(u);
          },
          [&](const core::note::Ended& e) {
            sum.end_reason = e.reason;
            u.kind = CallUpdate::Kind::Ended;
            u.reason = e.reason;
            u.by_remote = e.by_remote;
            update(u);
          },
      },
      out);
  if (call) {
    const auto& t = call->timings();
    if (t.started && t.answered) sum.invite_to_answer = between(t.started, t.answered);
    if (t.started && t.connected) sum.invite_to_ice_connected = between(t.started, t.connected);
    if (t.started && t.first_audio) sum.invite_to_first_audio = between(t.started, t.first_audio);
  }
}

std::optional<CallSummary> CallDriver::summary(const std::string& call_id) const {
  auto it = summaries_.find(call_id);
  if (it == summaries_.end()) return std::nullopt;
  CallSummary s = it->second;
  if (auto p = peers_.find(call_id); p != peers_.end() && ports_.engine) s.stats = ports_.engine->stats(p->second);
  return s;
}

std::vector<std::string> CallDriver::live_call_ids() const {
  std::vector<std::string> out;
  for (const auto& [id, peer] : peers_) out.push_back(id);
  return out;
}

}  // namespace mxcall::client
