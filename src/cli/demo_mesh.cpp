#include "cli/demo_mesh.hpp"

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "mxcall/client.hpp"

namespace mxcall::cli {

namespace {

using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr const char* kNames[] = {"mesh-ann", "mesh-ben", "mesh-cat", "mesh-dan", "mesh-eve", "mesh-fay", "mesh-gus", "mesh-hal"};
constexpr int kMaxParticipants = static_cast<int>(std::size(kNames));

Json fail(const std::string& why) { return {{"ok", false}, {"error", why}}; }

}  // namespace

Json run_mesh_demo(homeserver::LocalSynapse& synapse, const MeshDemo& demo) {
  const int n = std::clamp(demo.participants, 2, kMaxParticipants);
  const std::string password = "mxcall-demo";
  std::vector<std::unique_ptr<Client>> clients;
  std::mutex m;
  std::map<std::string, std::set<std::string>> connected;  // user -> users it connected to
  for (int i = 0; i < n; ++i) {
    auto user = synapse.register_user(kNames[i], password);
    if (!user.ok() && user.error().errcode != "M_USER_IN_USE") return fail("registering " + std::string(kNames[i]));
    ClientOptions o;
    o.homeserver = synapse.base_url();
    o.user = kNames[i];
    o.password = password;
    o.store = std::filesystem::path(demo.dir) / "clients" / (std::string(kNames[i]) + ".db");
    o.auto_join_invites = i > 0;
    o.include_loopback_candidates = true;
    o.rejoin_group_calls = false;  // a demo starts fresh
    auto c = Client::start(o);
    if (!c.ok()) return fail("starting " + std::string(kNames[i]) + ": " + c.error().describe());
    Client* self = c->get();
    self->on_group_update([&, self](const GroupUpdate& u) {
      if (u.kind == GroupUpdate::Kind::PeerConnected) {
        demo.say(self->user_id() + " <-> " + u.user_id + " connected in " + std::to_string(u.setup.count()) + " ms",
                 {{"event", "mesh_pair_connected"}, {"a", self->user_id()}, {"b", u.user_id}, {"setup_ms", u.setup.count()}});
        std::lock_guard lock(m);
        connected[self->user_id()].insert(u.user_id);
      } else if (u.kind == GroupUpdate::Kind::Joined) {
        demo.say(self->user_id() + " joined the group call", {{"event", "mesh_joined"}, {"user", self->user_id()}});
      }
    });
    clients.push_back(std::move(c).value());
  }
  std::vector<std::string> invite;
  for (int i = 1; i < n; ++i) invite.push_back(clients[i]->user_id());
  auto room = clients[0]->create_group_room(invite, "mxcall demo mesh");
  if (!room.ok()) return fail("creating the room: " + room.error().describe());
  demo.say("mesh of " + std::to_string(n) + " in room " + *room, {{"event", "mesh_room"}, {"room_id", *room}});
  for (int i = 1; i < n; ++i)
    if (!clients[i]->wait_joined(*room, std::chrono::seconds(30))) return fail(clients[i]->user_id() + " did not join the room");

  const auto t0 = Clock::now();
  auto conf = clients[0]->join_group_call(*room);
  if (!conf.ok()) return fail("starting the call: " + conf.error().describe());
  for (int i = 1; i < n; ++i) {
    const auto until = Clock::now() + std::chrono::seconds(30);
    while (clients[i]->live_group_call(*room) != *conf && Clock::now() < until)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (auto j = clients[i]->join_group_call(*room); !j.ok()) return fail("joining: " + j.error().describe());
  }
  // Every pair connected (each side reports it).
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  bool all = false;
  while (!all && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    std::lock_guard lock(m);
    all = true;
    for (const auto& c : clients) all = all && connected[c->user_id()].size() >= static_cast<std::size_t>(n - 1);
  }
  const auto all_connected_ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
  if (all) demo.say("all " + std::to_string(n * (n - 1) / 2) + " pairs connected " + std::to_string(all_connected_ms) +
                    " ms after the first join", {{"event", "mesh_connected"}, {"ms", all_connected_ms}});

  const auto until = Clock::now() + std::chrono::milliseconds(static_cast<long>(demo.duration_s * 1000));
  while (Clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::seconds(1));
    std::string line = "audio packets received:";
    for (const auto& c : clients)
      if (auto s = c->group_summary(*room)) {
        std::uint64_t rx = 0;
        for (const auto& p : s->peers) rx += p.stats.audio.packets_received;
        line += " " + c->user_id().substr(1, c->user_id().find(':') - 1) + " " + std::to_string(rx);
      }
    demo.say(line, {{"event", "mesh_stats"}});
  }

  Json pairs = Json::array();
  bool ok = all;
  std::uint64_t requests = 0, messages = 0, rounds = 0;
  for (const auto& c : clients) {
    auto s = c->group_summary(*room);
    const auto st = c->stats();
    requests += st.to_device_requests;
    messages += st.to_device_messages;
    rounds += st.to_device_rounds;
    if (!s) continue;
    for (const auto& p : s->peers) {
      if (c->user_id() > p.user_id) continue;  // each pair once, from its smaller side
      pairs.push_back({{"a", c->user_id()}, {"b", p.user_id}, {"connected", p.connected},
                       {"setup_ms", p.setup ? Json(p.setup->count()) : Json(nullptr)},
                       {"audio_packets_received", p.stats.audio.packets_received}});
      ok = ok && p.connected && p.stats.audio.packets_received > 0;
    }
  }
  for (const auto& c : clients) (void)c->leave_group_call(*room);
  for (const auto& c : clients) c->stop();
  demo.say("everyone left the call", {{"event", "mesh_left"}});
  return {{"ok", ok && pairs.size() == static_cast<std::size_t>(n * (n - 1) / 2)},
          {"participants", n},
          {"room_id", *room},
          {"all_connected_ms", all ? Json(all_connected_ms) : Json(nullptr)},
          {"to_device_requests", requests},
          {"to_device_messages", messages},
          {"to_device_rounds", rounds},
          {"pairs", pairs}};
}

}  // namespace mxcall::cli
