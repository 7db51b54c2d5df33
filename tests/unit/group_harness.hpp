// Several devices, each running the real GroupCall machine, wired through an in-memory
// homeserver: state events (member and call) reach every device in order, to-device messages
// reach exactly their target (Olm-verified sender device, encrypted unless a test says
// otherwise). Media runs on the fake media semantics of call_harness.hpp, one FakePeer per
// peer call. Time is virtual; each device may see a skewed wall clock.
#pragma once

#include <gtest/gtest.h>

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/group_call.hpp"
#include "unit/call_harness.hpp"

namespace mxcall::testing {

using namespace std::chrono_literals;

struct MeshDevice {
  std::string user;
  std::string device;
  std::unique_ptr<core::GroupCall> group;
  std::map<std::string, FakePeer> peers;  // by call id
  std::deque<core::PeerMediaEvent> media_inbox;
  std::vector<std::vector<core::GroupOutput>> drains;  // outputs, one vector per poll()-until-empty
  std::vector<core::SendToDevice> sent;
  bool online = true;                                   // a crashed device does nothing at all
  std::int64_t clock_skew_ms = 0;

  core::DeviceKey key() const { return {user, device}; }

  std::vector<core::GroupOutput> outputs() const {
    std::vector<core::GroupOutput> out;
    for (const auto& d : drains) out.insert(out.end(), d.begin(), d.end());
    return out;
  }
  template <typename T>
  std::vector<T> all() const {
    std::vector<T> out;
    for (const auto& o : outputs())
      if (auto* p = std::get_if<T>(&o)) out.push_back(*p);
    return out;
  }
  // Notes of this device's peer calls of one kind.
  template <typename N>
  std::vector<std::pair<core::gnote::Peer, N>> peer_notes() const {
    std::vector<std::pair<core::gnote::Peer, N>> out;
    for (const auto& p : all<core::gnote::Peer>())
      if (auto* n = std::get_if<N>(&p.note)) out.emplace_back(p, *n);
    return out;
  }
  template <typename E>
  std::vector<core::SendToDevice> sent_of(const std::string& to_device = {}) const {
    std::vector<core::SendToDevice> out;
    for (const auto& s : sent)
      if (std::holds_alternative<E>(s.envelope.event) && (to_device.empty() || s.device_id == to_device)) out.push_back(s);
    return out;
  }
  const core::Call* call_with(const MeshDevice& other) const { return group->peer_call(other.key()); }
  bool connected_to(const MeshDevice& other) const {
    const auto* c = call_with(other);
    return c && c->state() == core::CallState::Connected;
  }
};

class Mesh {
 public:
  static constexpr std::int64_t kStartUnixMs = 1'767'225'600'000;
  core::TimePoint start = core::TimePoint{} + 1h;
  core::TimePoint now = start;
  std::vector<std::unique_ptr<MeshDevice>> devices;
  std::set<std::string> room_members;
  std::map<std::string, events::GroupCallMemberContent> member_state;  // the homeserver's, by user
  std::optional<events::GroupCallState> call_state;

  struct Wire {
    std::string from_user;
    std::string from_device;
    core::SendToDevice send;
  };
  // Sees every to-device message before delivery; may change it or return false to drop it.
  std::function<bool(Wire&)> intercept;
  // While set, to-device messages wait in `held_wire` instead of being delivered.
  bool hold_wire = false;
  std::deque<Wire> held_wire;
  // Whether ICE works for this device's peer of this call (default: always).
  std::function<bool(const MeshDevice&, const std::string& call_id)> ice_works;
  std::function<void(core::GroupCallConfig&)> tweak_config;

  std::int64_t unix_ms(const MeshDevice& d) const {
    return kStartUnixMs + std::chrono::duration_cast<core::Duration>(now - start).count() + d.clock_skew_ms;
  }

  core::GroupCallConfig config_for(const std::string& user, const std::string& device, const std::string& session) {
    core::GroupCallConfig c;
    c.room_id = "!room:x";
    c.conf_id = "conf1";
    c.own_user_id = user;
    c.own_device_id = device;
    c.own_session_id = session;
    c.random_seed = devices.size() + 1;
    if (tweak_config) tweak_config(c);
    return c;
  }

  // A device whose user is joined to the room; it learns the current room state at once (as
  // an initial sync would tell it).
  MeshDevice& add(const std::string& user, const std::string& device, std::string session = {}) {
    auto d = std::make_unique<MeshDevice>();
    d->user = user;
    d->device = device;
    if (session.empty()) session = "S" + device;
    d->group = std::make_unique<core::GroupCall>(config_for(user, device, session));
    devices.push_back(std::move(d));
    MeshDevice& dev = *devices.back();
    room_members.insert(user);
    for (auto& other : devices) deliver(*other, core::RoomMembers{room_members});
    if (call_state) deliver(dev, core::CallStateEvent{"conf1", call_state});
    for (const auto& [u, content] : member_state) deliver(dev, core::MemberStateEvent{u, content});
    pump();
    return dev;
  }

  // The same device restarted with a new session: a fresh machine that knows the room state.
  MeshDevice& restart(MeshDevice& d, const std::string& session) {
    d.group = std::make_unique<core::GroupCall>(config_for(d.user, d.device, session));
    d.peers.clear();
    d.media_inbox.clear();
    d.drains.clear();
    d.sent.clear();
    d.online = true;
    deliver(d, core::RoomMembers{room_members});
    if (call_state) deliver(d, core::CallStateEvent{"conf1", call_state});
    for (const auto& [u, content] : member_state) deliver(d, core::MemberStateEvent{u, content});
    pump();
    return d;
  }

  void input(MeshDevice& d, const core::GroupInput& in) {
    deliver(d, in);
    pump();
  }

  void leave_room(const std::string& user) {
    room_members.erase(user);
    for (auto& d : devices) deliver(*d, core::RoomMembers{room_members});
    pump();
  }

  // Writes member state as if `user` had sent it (for devices without a machine here).
  void put_member_state(const std::string& user, const events::GroupCallMemberContent& content) {
    member_state[user] = content;
    for (auto& d : devices) deliver(*d, core::MemberStateEvent{user, content});
    pump();
  }

  // Delivers everything until nothing moves (bounded: a livelock fails the test).
  void pump() {
    for (int round = 0; round < 1000; ++round)
      if (!step()) return;
    ADD_FAILURE() << "the mesh did not settle after 1000 rounds";
  }

  void release_wire() {
    hold_wire = false;
    while (!held_wire.empty()) {
      Wire w = std::move(held_wire.front());
      held_wire.pop_front();
      deliver_to_device(std::move(w));
    }
    pump();
  }

  void advance(core::Duration d) {
    const core::TimePoint target = now + d;
    for (int i = 0; i < 100000; ++i) {
      std::optional<core::TimePoint> next;
      for (auto& dev : devices)
        if (dev->online)
          if (auto dl = dev->group->next_deadline(); dl && *dl <= target && (!next || *dl < *next)) next = *dl;
      if (!next) break;
      now = std::max(now, *next);
      for (auto& dev : devices)
        if (dev->online) deliver(*dev, core::Tick{});
      pump();
    }
    now = target;
  }

  void deliver(MeshDevice& d, const core::GroupInput& in) {
    if (d.online) d.group->handle(in, now, unix_ms(d));
  }

  MeshDevice* find(const std::string& user, const std::string& device) {
    for (auto& d : devices)
      if (d->user == user && d->device == device) return d.get();
    return nullptr;
  }

 private:
  struct StateUpdate {
    std::optional<core::MemberStateEvent> member;
    std::optional<core::CallStateEvent> call;
  };
  std::deque<Wire> wire_;
  std::deque<StateUpdate> state_;

  bool step() {
    bool moved = false;
    for (auto& dev : devices) {
      if (!dev->online) continue;
      while (!dev->media_inbox.empty()) {
        auto e = std::move(dev->media_inbox.front());
        dev->media_inbox.pop_front();
        deliver(*dev, e);
        moved = true;
      }
      std::vector<core::GroupOutput> drain;
      while (auto o = dev->group->poll()) {
        drain.push_back(*o);
        perform(*dev, *o);
      }
      if (!drain.empty()) {
        dev->drains.push_back(std::move(drain));
        moved = true;
      }
    }
    while (!state_.empty()) {  // the homeserver's order: every device sees the same sequence
      StateUpdate u = std::move(state_.front());
      state_.pop_front();
      for (auto& dev : devices) {
        if (u.member) deliver(*dev, *u.member);
        if (u.call) deliver(*dev, *u.call);
      }
      moved = true;
    }
    while (!wire_.empty()) {
      Wire w = std::move(wire_.front());
      wire_.pop_front();
      moved = true;
      if (hold_wire) held_wire.push_back(std::move(w));
      else deliver_to_device(std::move(w));
    }
    return moved;
  }

  void deliver_to_device(Wire w) {
    if (intercept && !intercept(w)) return;
    MeshDevice* target = find(w.send.user_id, w.send.device_id);
    if (!target) return;
    deliver(*target, core::ToDeviceSignal{w.from_user, w.from_device, true, w.send.envelope});
  }

  void perform(MeshDevice& dev, const core::GroupOutput& o) {
    std::visit(util::overloaded{
                   [&](const core::SendToDevice& s) {
                     dev.sent.push_back(s);
                     wire_.push_back(Wire{dev.user, dev.device, s});
                   },
                   [&](const core::PutMemberState& p) {
                     member_state[p.state_key] = p.content;
                     state_.push_back(StateUpdate{core::MemberStateEvent{p.state_key, p.content}, std::nullopt});
                   },
                   [&](const core::PutCallState& p) {
                     call_state = p.content;
                     state_.push_back(StateUpdate{std::nullopt, core::CallStateEvent{p.state_key, p.content}});
                   },
                   [&](const core::PeerOperation& op) {
                     FakePeer& peer = dev.peers[op.call_id];
                     if (std::holds_alternative<core::op::CreatePeer>(op.op) && ice_works)
                       peer.ice_works = ice_works(dev, op.call_id);
                     FakeMedia::Inbox inbox;
                     const core::CallOutput as_call = std::visit([](const auto& x) { return core::CallOutput{x}; }, op.op);
                     FakeMedia::perform(peer, inbox, as_call, [](const core::SendSignal&) {});
                     for (auto& e : inbox) dev.media_inbox.push_back(core::PeerMediaEvent{op.call_id, std::move(e)});
                   },
                   [&](const auto&) {},
               },
               o);
  }
};

// A js-sdk/Hydrogen-shaped member entry.
inline events::MemberDevice member_device(const std::string& device, const std::string& session, std::int64_t expires) {
  return events::MemberDevice{device, session, expires, {{"m.usermedia", events::Json::object()}}, false,
                              events::Json::object()};
}

inline events::GroupCallMemberContent member_content(const std::string& conf, std::vector<events::MemberDevice> devices) {
  events::GroupCallMemberContent c;
  c.calls.push_back(events::MemberCall{conf, std::move(devices), events::Json::object()});
  return c;
}

// An invite from a device the test plays (no machine behind it), with SDP the fake media accepts.
inline core::ToDeviceSignal crafted_invite(const std::string& user, const std::string& device,
                                           const std::string& session, const std::string& call_id,
                                           std::int64_t seq = 0, const std::string& dest = "SALICE1") {
  events::CallInvite inv;
  inv.common = events::CallCommon{call_id, device, events::CallVersion::V1};
  inv.offer = media::SessionDescription{media::SdpType::Offer,
                                        "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=msid:st" + device +
                                            " audio\r\na=sendrecv\r\na=candidate:1 1 udp 1 127.0.0.1 5000 typ host\r\n"};
  inv.lifetime_ms = 60'000;
  inv.metadata = events::SdpStreamMetadata{{"st" + device, events::StreamMetadata{}}};
  return core::ToDeviceSignal{user, device, true, events::ToDeviceCallEnvelope{inv, "conf1", device, session, dest, seq}};
}

inline std::size_t count_invites(const MeshDevice& from, const MeshDevice& to) {
  return from.sent_of<events::CallInvite>(to.device).size();
}

inline void expect_full_mesh(const std::vector<MeshDevice*>& ds) {
  for (auto* x : ds) {
    EXPECT_EQ(x->group->participants().size(), ds.size() - 1) << x->device;
    for (auto* y : ds) {
      if (x != y) {
        EXPECT_TRUE(x->connected_to(*y)) << x->device << " -> " << y->device;
      }
    }
  }
}

}  // namespace mxcall::testing
