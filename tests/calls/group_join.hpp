// Helpers for the group-call tests over the real stack: a room everyone is in, joining a call
// once its event is seen, waiting for a full mesh in one conf, timing.
#pragma once

#include <chrono>
#include <cstdio>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "calls/call_fixture.hpp"

namespace mxcall::testing {

using Clock = std::chrono::steady_clock;

inline long long ms_since(Clock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
}

// Everyone joins the room first (auto-join bots), then the call.
inline std::string make_group_room(Party& creator, const std::vector<Party*>& others) {
  std::vector<std::string> invite;
  for (auto* p : others) invite.push_back(p->user_id());
  auto room = creator.client().create_group_room(invite, "group call test");
  if (!room.ok()) throw std::runtime_error(room.error().describe());
  for (auto* p : others)
    if (!p->client().wait_joined(*room, std::chrono::seconds(30))) throw std::runtime_error(p->user_id() + " did not join");
  return *room;
}

// `p` joins the call `conf` once its event has reached it.
inline bool join_when_seen(Party& p, const std::string& room, const std::string& conf) {
  const auto until = Clock::now() + std::chrono::seconds(30);
  while (p.client().live_group_call(room) != conf && Clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  if (p.client().live_group_call(room) != conf) return false;
  auto joined = p.client().join_group_call(room);
  return joined.ok() && *joined == conf;
}

// Devices `p` has a connected peer call with in `conf`, from its group summary (current calls).
inline std::set<std::string> connected_now(Party& p, const std::string& room, const std::string& conf) {
  std::set<std::string> out;
  if (auto s = p.client().group_summary(room); s && s->conf_id == conf)
    for (const auto& peer : s->peers)
      if (peer.connected) out.insert(peer.user_id + "|" + peer.device_id);
  return out;
}

// Waits until every party's current peer calls in `conf` with all the others are connected.
inline bool wait_full_mesh(const std::vector<Party*>& all, const std::string& room, const std::string& conf,
                           std::chrono::milliseconds timeout = std::chrono::seconds(40)) {
  const auto until = Clock::now() + timeout;
  for (;;) {
    bool ok = true;
    for (Party* p : all)
      ok = ok && connected_now(*p, room, conf).size() >= all.size() - 1;
    if (ok) return true;
    if (Clock::now() >= until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace mxcall::testing
