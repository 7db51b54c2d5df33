#include "client/group_driver.hpp"

#include <algorithm>
#include <random>

#include "util/logging.hpp"
#include "util/overloaded.hpp"

namespace mxcall::client {

using util::overloaded;

namespace {

core::CallOutput as_call_output(const core::PeerOp& op) {
  return std::visit([](const auto& o) -> core::CallOutput { return o; }, op);
}

}  // namespace

GroupDriver::GroupDriver(Settings settings, Ports ports)
    : settings_(std::move(settings)), ports_(std::move(ports)), peers_(ports_.engine) {}

std::uint64_t GroupDriver::random() {
  if (settings_.random) return settings_.random();
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return rng();
}

std::string GroupDriver::random_id(std::size_t n) {
  static constexpr char kChars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  std::string out;
  for (std::size_t i = 0; i < n; ++i) out.push_back(kChars[random() % (sizeof(kChars) - 1)]);
  return out;
}

void GroupDriver::on_room_event(const matrix::RoomEvent& ev, core::TimePoint now) {
  if (!ev.state_key) return;
  if (ev.type == events::type::kGroupCall) {
    std::optional<events::GroupCallState> content;
    if (!ev.content.empty()) {
      auto parsed = events::parse_group_call_state(ev.content);
      if (!parsed.ok()) {
        MXLOG_WARN("group: dropped {} {} in {}: {}", ev.type, *ev.state_key, ev.room_id, parsed.error().message);
        return;
      }
      content = *parsed;
    }
    // A redacted or emptied call event counts as terminated.
    events::GroupCallState kept = content.value_or(events::GroupCallState{});
    if (!content) kept.terminated = true;
    rooms_[ev.room_id].calls[*ev.state_key] = {ev.origin_server_ts, kept};
    feed(ev.room_id, core::CallStateEvent{*ev.state_key, content}, now);
    check_convergence(ev.room_id);
  } else if (ev.type == events::type::kGroupCallMember) {
    // One event per user, written by that user: anyone else's is a forgery (or an admin's
    // mistake) and must not add or remove that user's devices.
    if (!ev.sender.empty() && ev.sender != *ev.state_key) {
      MXLOG_WARN("group: {} for {} sent by {} in {}: dropped", ev.type, *ev.state_key, ev.sender, ev.room_id);
      return;
    }
    auto parsed = events::parse_group_call_member(ev.content);
    if (!parsed.ok()) {
      MXLOG_WARN("group: dropped {} of {} in {}: {}", ev.type, *ev.state_key, ev.room_id, parsed.error().message);
      return;
    }
    rooms_[ev.room_id].members[*ev.state_key] = *parsed;
    feed(ev.room_id, core::MemberStateEvent{*ev.state_key, *parsed}, now);
    if (auto left = left_.find(ev.room_id); left != left_.end() && *ev.state_key == settings_.own_user_id &&
        !active_.count(ev.room_id) && !left->second.recheck_at && lists_left_session(left->second, *parsed))
      left->second.recheck_at = now + core::Duration(2'000 + static_cast<std::int64_t>(random() % 1'000));
  }
}

void GroupDriver::on_members_changed(const std::string& room_id, core::TimePoint now) {
  if (!active_.count(room_id)) return;
  feed(room_id, core::RoomMembers{ports_.joined_members(room_id)}, now);
}

void GroupDriver::on_to_device(const InboundSignal& s, core::TimePoint now) {
  auto env = events::parse_to_device_call(s.type, s.content);
  if (!env.ok()) {
    MXLOG_WARN("group: dropped to-device {} from {}: {}", s.type, s.sender, env.error().message);
    return;
  }
  for (auto& [room_id, a] : active_) {
    if (a.call->config().conf_id != env->conf_id) continue;
    core::ToDeviceSignal sig;
    sig.sender = s.sender;
    if (!s.sender_device.empty()) sig.sender_device = s.sender_device;
    sig.encrypted = s.encrypted;
    sig.envelope = std::move(env).value();
    feed(room_id, sig, now);
    return;
  }
  MXLOG_INFO("group: to-device {} from {} for a call we are not in ({}): dropped", s.type, s.sender, env->conf_id);
}

bool GroupDriver::on_media_event(const media::MediaEvent& ev, core::TimePoint now) {
  auto call_id = peers_.call_of(media::peer_of(ev));
  if (!call_id) return false;
  auto room = call_rooms_.find(*call_id);
  if (room != call_rooms_.end()) feed(room->second, core::PeerMediaEvent{*call_id, ev}, now);
  return true;
}

Result<std::string> GroupDriver::join(const std::string& room_id, const GroupCallOptions& options, core::TimePoint now) {
  return join_conf(room_id, options, std::nullopt, now);
}

Result<std::string> GroupDriver::join_conf(const std::string& room_id, const GroupCallOptions& options,
                                           const std::optional<std::string>& wanted, core::TimePoint now) {
  if (auto it = active_.find(room_id); it != active_.end()) return it->second.call->config().conf_id;
  auto conf = wanted ? wanted : live_conf_id(room_id);
  if (!conf && !options.create_if_missing)
    return Error::make(ErrorKind::InvalidArgument, "no group call runs in " + room_id);
  left_.erase(room_id);
  core::GroupCallConfig cfg;
  cfg.room_id = room_id;
  cfg.conf_id = conf.value_or(random_id(20));
  cfg.own_user_id = settings_.own_user_id;
  cfg.own_device_id = settings_.own_device_id;
  cfg.own_session_id = random_id(10);  // a new session per join: peers drop what was before
  cfg.call = settings_.call;
  cfg.call.audio_frame_ms = options.audio_frame_ms;
  cfg.video = options.video;
  cfg.start_audio_muted = options.audio_muted;
  cfg.require_encryption = settings_.require_encryption;
  cfg.member_lifetime = settings_.member_lifetime;
  cfg.member_refresh_margin = settings_.member_refresh_margin;
  cfg.random_seed = random();
  Active a;
  a.call = std::make_unique<core::GroupCall>(cfg);
  a.options = options;
  active_[room_id] = std::move(a);
  MXLOG_INFO("group: joining {} in {} as session {}", cfg.conf_id, room_id, cfg.own_session_id);

  const RoomCalls& known = rooms_[room_id];
  if (auto c = known.calls.find(cfg.conf_id); c != known.calls.end())
    feed(room_id, core::CallStateEvent{cfg.conf_id, c->second.second}, now);
  feed(room_id, core::RoomMembers{ports_.joined_members(room_id)}, now);
  for (const auto& [user, content] : known.members) feed(room_id, core::MemberStateEvent{user, content}, now);
  feed(room_id, core::gcmd::Join{}, now);
  remember(room_id, active_[room_id]);
  return cfg.conf_id;
}

Status GroupDriver::leave(const std::string& room_id, core::TimePoint now) {
  if (!active_.count(room_id)) return Error::make(ErrorKind::InvalidArgument, "not in a group call in " + room_id);
  feed(room_id, core::gcmd::Leave{}, now);
  return ok_status();
}

Status GroupDriver::set_muted(const std::string& room_id, media::MediaKind kind, bool muted, core::TimePoint now) {
  auto it = active_.find(room_id);
  if (it == active_.end()) return Error::make(ErrorKind::InvalidArgument, "not in a group call in " + room_id);
  if (kind == media::MediaKind::Audio) it->second.options.audio_muted = muted;
  feed(room_id, core::gcmd::SetMuted{kind, muted}, now);
  remember(room_id, it->second);
  return ok_status();
}

Status GroupDriver::set_video(const std::string& room_id, bool enabled, core::TimePoint now) {
  auto it = active_.find(room_id);
  if (it == active_.end()) return Error::make(ErrorKind::InvalidArgument, "not in a group call in " + room_id);
  it->second.options.video = enabled;
  feed(room_id, core::gcmd::SetVideo{enabled}, now);
  remember(room_id, it->second);
  return ok_status();
}

void GroupDriver::feed(const std::string& room_id, const core::GroupInput& input, core::TimePoint now) {
  auto it = active_.find(room_id);
  if (it == active_.end()) return;
  it->second.call->handle(input, now, ports_.unix_ms());
}

std::optional<core::TimePoint> GroupDriver::turn(core::TimePoint now) {
  move_calls(now);
  const std::int64_t unix_ms = ports_.unix_ms();
  std::vector<std::string> done;
  for (auto& [room_id, a] : active_) {
    a.call->handle(core::Tick{}, now, unix_ms);
    bool left = false;
    while (auto out = a.call->poll()) {
      left = left || std::holds_alternative<core::gnote::Left>(*out);
      perform(room_id, a, *out, now);
    }
    if (left) done.push_back(room_id);  // Leave hung up and closed every peer call at once
    else save_wire_calls(room_id, a);   // before the delivery: a crash after it knows the seqs
    if (!left) prefetch_new(a);          // ahead of this turn's delivery (the sender is one FIFO)
  }
  // One signalling round, one delivery: while another peer call is still making its
  // description (its invite or answer is due within the gather wait), hold what we have.
  if (unflushed_) {
    if (!flush_by_) flush_by_ = now + settings_.flush_window;
    if (!descriptions_pending() || now >= *flush_by_ || !done.empty()) {
      if (ports_.flush_to_device) ports_.flush_to_device();
      unflushed_ = false;
      flush_by_.reset();
    }
  }
  for (const auto& room_id : done) {
    const auto& cfg = active_.at(room_id).call->config();
    left_[room_id] = LeftCall{cfg.conf_id, cfg.own_session_id, unix_ms + cfg.member_lifetime.count(), std::nullopt};
    if (ports_.store)
      if (auto st = ports_.store->remove_group_call(room_id); !st.ok())
        MXLOG_WARN("group: forgetting the call in {} in the store failed: {}", room_id, st.error().describe());
    active_.erase(room_id);
  }
  recheck_left_entries(now);
  std::optional<core::TimePoint> next = flush_by_;
  for (const auto& [room_id, left] : left_)
    if (left.recheck_at && (!next || *left.recheck_at < *next)) next = left.recheck_at;
  for (const auto& [room_id, a] : active_)
    if (auto d = a.call->next_deadline(); d && (!next || *d < *next)) next = d;
  return next;
}

void GroupDriver::perform(const std::string& room_id, Active& a, const core::GroupOutput& out, core::TimePoint now) {
  GroupUpdate u;
  u.room_id = room_id;
  u.conf_id = a.call->config().conf_id;
  std::visit(
      overloaded{
          [&](const core::SendToDevice& s) {
            ports_.send_to_device(
                {s.user_id, s.device_id, std::string(events::event_type(s.envelope.event)), events::to_content(s.envelope)});
            unflushed_ = true;
            track_send(a, s);
          },
          [&](const core::PutMemberState& m) {
            // What we wrote is the newest we know of our user's entries until the echo: a call
            // we join next (moving from a losing one) builds on it.
            if (m.state_key == settings_.own_user_id) rooms_[m.room_id].members[m.state_key] = m.content;
            ports_.put_state(m.room_id, std::string(events::type::kGroupCallMember), m.state_key,
                             events::to_content(m.content), [room = m.room_id](const Status& st) {
                               if (!st.ok() && st.error().kind != ErrorKind::Cancelled)
                                 MXLOG_WARN("group: writing our member event in {} failed: {}", room, st.error().describe());
                             });
          },
          [&](const core::PutCallState& c) {
            if (!c.content.terminated) a.created = true;
            ports_.put_state(c.room_id, std::string(events::type::kGroupCall), c.state_key, events::to_content(c.content),
                             [room = c.room_id](const Status& st) {
                               if (!st.ok())
                                 MXLOG_WARN("group: writing the call event in {} failed: {}", room, st.error().describe());
                             });
          },
          [&](const core::PeerOperation& p) {
            call_rooms_[p.call_id] = room_id;
            if (std::holds_alternative<core::op::ClosePeer>(p.op)) {
              auto& peer = a.peers[{p.user_id, p.device_id}];
              if (auto st = peers_.stats(p.call_id)) peer.stats = *st;
            }
            if (auto failed = peers_.apply(p.call_id, as_call_output(p.op)))
              a.call->handle(core::PeerMediaEvent{p.call_id, media::MediaEvent{*failed}}, now, ports_.unix_ms());
            if (std::holds_alternative<core::op::ClosePeer>(p.op)) call_rooms_.erase(p.call_id);
          },
          [&](const core::gnote::Joined&) {
            u.kind = GroupUpdate::Kind::Joined;
            update(u);
          },
          [&](const core::gnote::Left& l) {
            u.kind = GroupUpdate::Kind::Left;
            u.reason = l.reason;
            update(u);
          },
          [&](const core::gnote::ParticipantJoined& p) {
            u.kind = GroupUpdate::Kind::ParticipantJoined;
            u.user_id = p.user_id;
            u.device_id = p.device_id;
            auto& peer = a.peers[{p.user_id, p.device_id}];
            peer.user_id = p.user_id;
            peer.device_id = p.device_id;
            update(u);
          },
          [&](const core::gnote::ParticipantLeft& p) {
            u.kind = GroupUpdate::Kind::ParticipantLeft;
            u.user_id = p.user_id;
            u.device_id = p.device_id;
            u.reason = p.reason;
            update(u);
          },
          [&](const core::gnote::Peer& p) { on_peer_note(room_id, a, p); },
          [&](const core::gnote::PeerRetry& r) {
            MXLOG_INFO("group: call to {} {} failed; attempt {} in {} ms", r.user_id, r.device_id, r.attempt,
                       r.after.count());
          },
          [&](const core::gnote::PeerGaveUp& g) {
            MXLOG_WARN("group: gave up calling {} {} (last: {})", g.user_id, g.device_id, g.last_reason);
          },
      },
      out);
}

void GroupDriver::on_peer_note(const std::string& room_id, Active& a, const core::gnote::Peer& p) {
  GroupPeerSummary& peer = a.peers[{p.user_id, p.device_id}];
  peer.user_id = p.user_id;
  peer.device_id = p.device_id;
  const bool ended = std::holds_alternative<core::note::Ended>(p.note);
  if (peer.call_id != p.call_id && !ended) {  // a new call with this device: its own progress
    peer.call_id = p.call_id;
    peer.connected = false;
    peer.setup.reset();
    peer.first_audio.reset();
  }
  if (ended && peer.call_id == p.call_id) peer.connected = false;
  GroupUpdate u;
  u.room_id = room_id;
  u.conf_id = a.call->config().conf_id;
  u.user_id = p.user_id;
  u.device_id = p.device_id;
  u.call_id = p.call_id;
  std::visit(overloaded{
                 [&](const core::note::Connected& c) {
                   peer.connected = true;
                   peer.setup = c.setup;
                   u.kind = GroupUpdate::Kind::PeerConnected;
                   u.setup = c.setup;
                   update(u);
                 },
                 [&](const core::note::FirstMedia& f) {
                   if (f.kind == media::MediaKind::Audio) peer.first_audio = f.since_start;
                   u.kind = GroupUpdate::Kind::PeerFirstMedia;
                   u.media_kind = f.kind;
                   u.setup = f.since_start;
                   update(u);
                 },
                 [&](const core::note::Ended& e) {
                   track_end(a, p.call_id);
                   u.kind = GroupUpdate::Kind::PeerEnded;
                   u.reason = e.reason;
                   update(u);
                 },
                 [](const auto&) {},
             },
             p.note);
}

bool GroupDriver::lists_left_session(const LeftCall& left, const events::GroupCallMemberContent& ours) const {
  const events::MemberCall* call = events::find_call(ours, left.conf_id);
  const std::int64_t unix_ms = ports_.unix_ms();
  return call && unix_ms < left.until_unix_ms &&
         std::any_of(call->devices.begin(), call->devices.end(), [&](const events::MemberDevice& d) {
           return d.device_id == settings_.own_device_id && d.session_id == left.session_id && !d.expired(unix_ms);
         });
}

void GroupDriver::recheck_left_entries(core::TimePoint now) {
  for (auto it = left_.begin(); it != left_.end();) {
    LeftCall& left = it->second;
    const std::string& room_id = it->first;
    if (ports_.unix_ms() >= left.until_unix_ms) {
      it = left_.erase(it);
      continue;
    }
    if (left.recheck_at && now >= *left.recheck_at) {
      left.recheck_at.reset();
      const auto& members = rooms_[room_id].members;
      if (auto ours = members.find(settings_.own_user_id); ours != members.end() && lists_left_session(left, ours->second)) {
        MXLOG_INFO("group: our member event in {} lists us again after we left {} (another of our devices wrote over "
                   "it); removing our entry again", room_id, left.conf_id);
        auto content = events::updated_member_content(ours->second, left.conf_id, settings_.own_device_id, std::nullopt,
                                                      ports_.unix_ms());
        ports_.put_state(room_id, std::string(events::type::kGroupCallMember), settings_.own_user_id,
                         events::to_content(content), [room = room_id](const Status& st) {
                           if (!st.ok())
                             MXLOG_WARN("group: removing our member entry in {} again failed: {}", room, st.error().describe());
                         });
      }
    }
    ++it;
  }
}

bool GroupDriver::descriptions_pending() const {
  for (const auto& [room_id, a] : active_)
    for (const auto& device : a.call->participants())
      if (const core::Call* c = a.call->peer_call(device); c && !c->ended()) {
        const auto st = c->state();
        if (st == core::CallState::CreatingOffer || st == core::CallState::CreatingAnswer) return true;
      }
  return false;
}

void GroupDriver::remember(const std::string& room_id, const Active& a) {
  if (!ports_.store) return;
  store::OngoingGroupCall c;
  c.room_id = room_id;
  c.conf_id = a.call->config().conf_id;
  c.session_id = a.call->config().own_session_id;
  c.video = a.options.video;
  c.audio_muted = a.options.audio_muted;
  c.joined_at_ms = ports_.unix_ms();
  if (auto st = ports_.store->save_group_call(c); !st.ok())
    MXLOG_WARN("group: keeping the call in {} in the store failed: {}", room_id, st.error().describe());
}

std::optional<GroupCallSummary> GroupDriver::summary(const std::string& room_id) const {
  auto it = active_.find(room_id);
  if (it == active_.end()) return std::nullopt;
  GroupCallSummary s;
  s.room_id = room_id;
  s.conf_id = it->second.call->config().conf_id;
  s.joined = it->second.call->joined();
  for (const auto& [key, peer] : it->second.peers) {
    GroupPeerSummary p = peer;
    if (!p.call_id.empty())
      if (auto st = peers_.stats(p.call_id)) p.stats = *st;
    s.peers.push_back(std::move(p));
  }
  return s;
}

std::vector<std::string> GroupDriver::rooms_in_call() const {
  std::vector<std::string> out;
  for (const auto& [room, a] : active_) out.push_back(room);
  return out;
}

}  // namespace mxcall::client
