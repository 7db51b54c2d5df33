// Group-call invariants across devices (the per-device ones are in sim_client_group.cpp):
//  - settle: in every room, every two devices whose process is in the call are connected
//    exactly once: each lists the other with its current session, both hold the same live,
//    connected peer call with the link up and no renegotiation in flight, and each reported
//    it connected once; no device holds a connected call to a device that is not in the call;
//  - leave: once every device left, no process is in a call, no peer call is live, and member
//    state lists no device any more (a leave removes the device's entry).
#include "events/group_events.hpp"
#include "scenarios.hpp"
#include "sim.hpp"

namespace mxcall::sim {

namespace {

core::DeviceKey key_of(const SimClient& c) { return {c.device().user_id, c.device().device_id}; }

std::string describe(const core::Call& c) {
  const char* link = !c.link() ? "none" : *c.link() == core::LinkState::Up ? "up" : *c.link() == core::LinkState::Disconnected ? "disconnected" : "restarting";
  return std::string("state ") + core::to_string(c.state()) + ", signaling " + core::to_string(c.signaling()) + ", link " + link;
}

}  // namespace

void Sim::group_settle_checks() {
  std::map<std::string, std::vector<SimClient*>> in_call;  // room -> devices whose process is in its call
  for (auto& c : clients)
    for (const auto& room : c->group_rooms()) in_call[room].push_back(c.get());
  for (const auto& [room, devices] : in_call) {
    for (SimClient* a : devices) {
      const core::GroupCall* ga = a->group(room);
      for (SimClient* b : devices) {
        if (a == b) continue;
        const core::GroupCall* gb = b->group(room);
        if (ga->config().conf_id != gb->config().conf_id)
          return fail(a->name(), "in conf " + ga->config().conf_id + " but " + b->name() + " is in " + gb->config().conf_id);
        const core::PeerLink* link = ga->link(key_of(*b));
        if (!link || !link->listed()) return fail(a->name(), "does not list " + b->name() + ", which is in the call");
        if (link->session_id() != gb->config().own_session_id)
          return fail(a->name(), "knows " + b->name() + " by session " + link->session_id() + ", not its current " +
                                     gb->config().own_session_id);
        const core::Call* ca = link->call();
        if (!ca || ca->ended())
          return fail(a->name(), "has no live call to " + b->name() + " (link " + core::to_string(link->state()) +
                                     ", retries " + std::to_string(link->retries()) + ") long after the network healed");
        if (ca->state() != core::CallState::Connected || ca->link() != core::LinkState::Up ||
            ca->signaling() != core::Signaling::Stable)
          return fail(a->name(), "call " + ca->call_id() + " to " + b->name() + " still has " + describe(*ca));
        const core::Call* cb = gb->peer_call(key_of(*a));
        if (!cb || cb->call_id() != ca->call_id())
          return fail(a->name(), "is in call " + ca->call_id() + " with " + b->name() + ", which has " +
                                     (cb ? "call " + cb->call_id() : std::string("no call")) + " with it");
        const PeerCallRecord* rec = a->peer_record(ca->call_id());
        if (!rec || rec->connected != 1)
          return fail(a->name(), "call " + ca->call_id() + " is connected but reported PeerConnected " +
                                     std::to_string(rec ? rec->connected : 0) + " times");
      }
      // A connected call to a device that is not in the call is a ghost.
      for (const auto& key : ga->participants()) {
        const core::Call* c = ga->peer_call(key);
        if (!c || c->ended() || c->state() != core::CallState::Connected) continue;
        bool there = false;
        for (SimClient* b : devices) there = there || key_of(*b) == key;
        if (!there) return fail(a->name(), "call " + c->call_id() + " is connected to " + key.second + ", which is not in the call");
      }
    }
  }
}

void Sim::group_leave_everything() {
  world.log("sim", "---- leave: every device leaves its group call ----");
  for (auto& c : clients)
    for (const auto& room : c->group_rooms()) c->group_leave(room);
}

void Sim::group_leave_checks() {
  for (auto& c : clients) {
    if (!c->group_rooms().empty()) return fail(c->name(), "still in the group call in " + c->group_rooms().front() + " after leaving");
    for (const auto& r : c->peer_records())
      if (r.incarnation == c->incarnation() && !r.ended)
        return fail(c->name(), "peer call " + r.call_id + " to " + r.peer + " is still live after everyone left");
  }
  // Member state: nobody is listed any more.
  const std::int64_t unix_now = 1'700'000'000'000 + world.now();
  for (const auto& room : hs.rooms())
    for (const auto& user : hs.members(room)) {
      const Json* content = hs.state(room, std::string(events::type::kGroupCallMember), user);
      if (!content) continue;
      auto parsed = events::parse_group_call_member(*content);
      if (!parsed.ok()) return fail("homeserver", "unreadable member event of " + user + ": " + parsed.error().message);
      for (const auto& call : parsed->calls)
        for (const auto& d : call.devices)
          if (d.expires_ts > unix_now)
            return fail(user, "member state still lists device " + d.device_id + " (session " + d.session_id +
                                  ") after every device left");
    }
}

}  // namespace mxcall::sim
