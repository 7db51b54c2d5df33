// mxcall mesh benchmark (MSC3401 full mesh over olm-encrypted to-device): one run, ratios
// measured side by side, never a pass/fail.
//  - 1:1 reference: place_call -> ICE connected at the caller, median of `calls`;
//  - mesh of N (2, 4, 8): the call exists, everyone in the room joins at once -> every pair
//    connected on both sides; ratio to the 1:1 call;
//  - sendToDevice requests per signalling round (a loop turn with to-device messages) during
//    those joins, and keys requests per participant;
//  - CPU of the whole 8-party audio mesh (all bots in this process) and per connected peer;
//  - restart from the store: a participant stops without leaving, a new Client on the same
//    store rejoins -> member entry out and every pair connected again, with 0 and with
//    `history` events of room history (scripts/bench-mesh; default 10,000).
// Run inside a loopback-only network namespace (scripts/bench does).
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "mxcall/client.hpp"
#include "mxcall/homeserver.hpp"
#include "mxcall/log.hpp"
#include "mxcall/matrix/api.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using ms = std::chrono::milliseconds;
using namespace mxcall;
namespace fs = std::filesystem;

double median(std::vector<double> v) {
  if (v.empty()) return -1;
  std::sort(v.begin(), v.end());
  const auto mid = v.size() / 2;
  return v.size() % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

double cpu_seconds() {
  rusage r{};
  getrusage(RUSAGE_SELF, &r);
  return static_cast<double>(r.ru_utime.tv_sec + r.ru_stime.tv_sec) +
         static_cast<double>(r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e6;
}

// Percent of one core used by this process over `window`.
double cpu_percent(std::chrono::seconds window) {
  const double c0 = cpu_seconds();
  const auto w0 = Clock::now();
  std::this_thread::sleep_for(window);
  return (cpu_seconds() - c0) / std::chrono::duration<double>(Clock::now() - w0).count() * 100.0;
}

// CPU seconds of another process (utime + stime from /proc/PID/stat); -1 when unreadable.
double process_cpu_seconds(pid_t pid) {
  std::FILE* f = std::fopen(("/proc/" + std::to_string(pid) + "/stat").c_str(), "r");
  if (!f) return -1;
  char buf[1024] = {};
  const std::size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  const std::string st(buf, n);
  const auto close = st.rfind(')');  // the command name may hold spaces
  if (close == std::string::npos) return -1;
  std::istringstream in(st.substr(close + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && in >> field; ++i) {  // fields 14 and 15 (1-based) are utime, stime
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

double since_ms(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "mesh bench: %s\n", what.c_str());
  std::exit(1);
}

// A bot: a Client plus what its group updates said.
struct Bot {
  std::unique_ptr<Client> client;
  std::atomic<Client*> raw{nullptr};  // for the callbacks, which may run before start() returns
  std::mutex m;
  std::condition_variable cv;
  std::set<std::string> connected;  // user|device of peers whose current call is connected
  std::set<std::string> seen;       // user|device of participants whose member entry we saw
  Clock::time_point last_seen{};    // when `seen` last grew
  bool joined = false;

  void reset() {
    std::lock_guard lock(m);
    connected.clear();
    seen.clear();
    joined = false;
  }
  bool wait(const std::function<bool()>& pred, std::chrono::seconds t) {
    std::unique_lock lock(m);
    return cv.wait_for(lock, t, pred);
  }
};

struct World {
  homeserver::LocalSynapse* hs;
  fs::path dir;

  std::unique_ptr<Bot> start(const std::string& user, bool callee, bool rejoin = false) {
    ClientOptions o;
    o.homeserver = hs->base_url();
    o.user = user;
    o.password = "bench";
    o.store = dir / (user + ".db");
    o.auto_join_invites = callee;
    o.include_loopback_candidates = true;
    o.rejoin_group_calls = rejoin;
    o.leave_group_calls_on_stop = false;  // the restart measurement stops like a crash
    auto bot = std::make_unique<Bot>();
    Bot* b = bot.get();
    // Callbacks before start(): a restart rejoins (and reports Joined) inside it.
    o.on_group_update = [b](const GroupUpdate& u) {
      std::lock_guard lock(b->m);
      const std::string key = u.user_id + "|" + u.device_id;
      if (u.kind == GroupUpdate::Kind::PeerConnected) b->connected.insert(key);
      if (u.kind == GroupUpdate::Kind::PeerEnded || u.kind == GroupUpdate::Kind::ParticipantLeft) b->connected.erase(key);
      if (u.kind == GroupUpdate::Kind::Joined) b->joined = true;
      if (u.kind == GroupUpdate::Kind::ParticipantJoined && b->seen.insert(key).second) b->last_seen = Clock::now();
      b->cv.notify_all();
    };
    o.on_update = [b](const CallUpdate& u) {
      if (Client* c = b->raw.load(); u.kind == CallUpdate::Kind::Incoming && c) (void)c->answer(u.call_id);
    };
    auto c = Client::start(o);
    if (!c.ok()) die("client " + user + ": " + c.error().describe());
    bot->client = std::move(c).value();
    bot->raw = bot->client.get();
    return bot;
  }
};

// 1:1 reference: place_call -> Connected at the caller (ICE up), median of `calls`, with the
// CPU the homeserver and both clients spent meanwhile (medians).
struct OneToOne {
  double connected_ms = -1, synapse_cpu_ms = -1, clients_cpu_ms = -1;
};
OneToOne one_to_one_ms(World& w, int calls) {
  auto a = w.start("one-a", false), b = w.start("one-b", true);
  std::mutex m;
  std::condition_variable cv;
  std::set<std::string> connected;
  a->client->on_update([&](const CallUpdate& u) {
    std::lock_guard lock(m);
    if (u.kind == CallUpdate::Kind::Connected) connected.insert(u.call_id);
    cv.notify_all();
  });
  std::vector<double> v, hs_cpu, own_cpu;
  for (int i = -1; i < calls; ++i) {  // -1: warm-up (DM room, certificates)
    const double hs0 = process_cpu_seconds(w.hs->pid()), own0 = cpu_seconds();
    const auto t0 = Clock::now();
    auto id = a->client->place_call(b->client->user_id(), false);
    if (!id.ok()) die("1:1 call: " + id.error().describe());
    std::unique_lock lock(m);
    if (cv.wait_for(lock, std::chrono::seconds(20), [&] { return connected.count(*id) > 0; }) && i >= 0) {
      v.push_back(since_ms(t0));
      hs_cpu.push_back((process_cpu_seconds(w.hs->pid()) - hs0) * 1000);
      own_cpu.push_back((cpu_seconds() - own0) * 1000);
    }
    lock.unlock();
    (void)a->client->hangup(*id);
    std::this_thread::sleep_for(ms(200));
  }
  a->client->stop();
  b->client->stop();
  return {median(v), median(hs_cpu), median(own_cpu)};
}

bool all_connected(std::vector<std::unique_ptr<Bot>>& bots, std::size_t peers, std::chrono::seconds t) {
  const auto until = Clock::now() + t;
  for (auto& b : bots) {
    const auto left = std::chrono::duration_cast<std::chrono::seconds>(until - Clock::now()) + std::chrono::seconds(1);
    if (!b->wait([&] { return b->connected.size() >= peers; }, left)) return false;
  }
  return true;
}

struct MeshResult {
  double join_to_all_connected_ms = -1;
  // Join -> every bot has seen every other bot's member entry: the homeserver's part of the
  // join (n-1 state writes in one room, and the syncs that carry them). The peer calls placed
  // on the last entry seen still need two to-device hops, ICE and DTLS after it.
  double join_to_all_seen_ms = -1;
  std::uint64_t to_device_requests = 0, to_device_rounds = 0, to_device_messages = 0, keys_requests = 0;
  double cpu_percent = -1;
  // CPU spent from the joins to every pair connected: the homeserver's and this process's
  // (every bot). On a 2-core machine a join that keeps Synapse busy most of the time is
  // homeserver-bound.
  double synapse_cpu_ms = -1, bots_cpu_ms = -1;
};

// Everyone in the room; the first bot starts the call; once all have seen it, all join at once.
// Returns with the bots still in the call when `keep` is given.
MeshResult run_mesh(World& w, int n, const std::string& tag, std::vector<std::unique_ptr<Bot>>* keep = nullptr,
                    std::string* room_out = nullptr) {
  std::vector<std::unique_ptr<Bot>> bots;
  for (int i = 0; i < n; ++i) {
    const std::string user = "m" + tag + "-" + std::to_string(i);
    (void)w.hs->register_user(user, "bench");
    bots.push_back(w.start(user, i > 0));
  }
  std::vector<std::string> invite;
  for (int i = 1; i < n; ++i) invite.push_back(bots[i]->client->user_id());
  auto room = bots[0]->client->create_group_room(invite, "mesh bench " + tag);
  if (!room.ok()) die("room: " + room.error().describe());
  for (int i = 1; i < n; ++i)
    if (!bots[i]->client->wait_joined(*room, std::chrono::seconds(30))) die("join room timed out");
  auto conf = bots[0]->client->join_group_call(*room);
  if (!conf.ok()) die("start call: " + conf.error().describe());
  for (int i = 1; i < n; ++i) {
    const auto until = Clock::now() + std::chrono::seconds(30);
    while (bots[i]->client->live_group_call(*room) != *conf && Clock::now() < until) std::this_thread::sleep_for(ms(5));
  }
  // The call is running with its creator in it: its member entry has reached everyone too.
  std::this_thread::sleep_for(ms(500));
  std::vector<ClientStats> before;
  for (auto& b : bots) before.push_back(b->client->stats());
  MeshResult r;
  const double hs_cpu0 = process_cpu_seconds(w.hs->pid()), own_cpu0 = cpu_seconds();
  const auto t0 = Clock::now();
  {
    std::vector<std::thread> joins;
    for (int i = 1; i < n; ++i)
      joins.emplace_back([&, i] {
        if (auto j = bots[i]->client->join_group_call(*room); !j.ok()) die("join: " + j.error().describe());
      });
    for (auto& t : joins) t.join();
  }
  if (all_connected(bots, static_cast<std::size_t>(n - 1), std::chrono::seconds(90))) {
    r.join_to_all_connected_ms = since_ms(t0);
    Clock::time_point last = t0;
    for (auto& b : bots) {
      std::lock_guard lock(b->m);
      if (b->seen.size() >= static_cast<std::size_t>(n - 1)) last = std::max(last, b->last_seen);
      else last = Clock::time_point::max();
    }
    if (last != Clock::time_point::max()) r.join_to_all_seen_ms = std::chrono::duration<double, std::milli>(last - t0).count();
  }
  r.synapse_cpu_ms = (process_cpu_seconds(w.hs->pid()) - hs_cpu0) * 1000;
  r.bots_cpu_ms = (cpu_seconds() - own_cpu0) * 1000;
  std::this_thread::sleep_for(ms(500));  // stragglers of the last round are counted too
  for (std::size_t i = 0; i < bots.size(); ++i) {
    const auto s = bots[i]->client->stats();
    r.to_device_requests += s.to_device_requests - before[i].to_device_requests;
    r.to_device_rounds += s.to_device_rounds - before[i].to_device_rounds;
    r.to_device_messages += s.to_device_messages - before[i].to_device_messages;
    r.keys_requests += s.keys_requests - before[i].keys_requests;
  }
  // 3 s windows of one connected 8-mesh read 31-64 %: the window is 10 s, after 1 s to settle.
  if (r.join_to_all_connected_ms >= 0) {
    std::this_thread::sleep_for(std::chrono::seconds(1));
    r.cpu_percent = cpu_percent(std::chrono::seconds(10));
  }
  if (keep) {
    *keep = std::move(bots);
    if (room_out) *room_out = *room;
    return r;
  }
  for (auto& b : bots) (void)b->client->leave_group_call(*room);
  for (auto& b : bots) b->client->stop();
  return r;
}

// Until a process used under 5% of a core over 250 ms (at most 30 s).
void wait_until_quiet(pid_t pid) {
  const auto until = Clock::now() + std::chrono::seconds(30);
  while (Clock::now() < until) {
    const double c0 = process_cpu_seconds(pid);
    std::this_thread::sleep_for(ms(250));
    if (process_cpu_seconds(pid) - c0 < 0.0125) return;
  }
}

// A 3-party call; bot 2 stops like a crash, `history` room events are sent while it is down
// (at least `downtime` passes), and it comes back on its store. Returns restart -> Joined,
// restart -> every pair connected again, and how long it was down.
struct Restart {
  // seen: both peers saw the new member entry (our PUT through the homeserver and their syncs).
  double joined_ms = -1, seen_ms = -1, connected_ms = -1, down_ms = 0;
};
Restart restart(World& w, int history, std::chrono::milliseconds downtime, const std::string& tag) {
  std::vector<std::unique_ptr<Bot>> bots;
  std::string room;
  run_mesh(w, 3, tag, &bots, &room);
  const std::string user = bots[2]->client->user_id().substr(1, bots[2]->client->user_id().find(':') - 1);
  const auto down = Clock::now();
  bots[2]->client->stop();
  bots[2].reset();
  if (history > 0) {
    matrix::Api api(w.hs->base_url());
    if (auto l = api.login_password("m" + tag + "-0", "bench"); !l.ok()) die("login: " + l.error().describe());
    std::vector<std::thread> senders;
    constexpr int kSenders = 4;
    for (int t = 0; t < kSenders; ++t)
      senders.emplace_back([&, t] {
        matrix::Api a(w.hs->base_url());
        a.set_access_token(api.access_token());
        for (int i = t; i < history; i += kSenders)
          (void)a.send_event(room, "m.room.message", {{"msgtype", "m.text"}, {"body", "history " + std::to_string(i)}},
                             matrix::new_txn_id());
      });
    for (auto& t : senders) t.join();
    // Synapse digests fresh events for a while after the sends return: every sync touching
    // the room counts unread notifications over the raw push actions until its 30 s rotation
    // folds them into a summary (py-spy: ~90 ms of a restart's Synapse time went there when
    // the restart came right after the last event). Users come back later than that: the
    // restart comes 60 s after the last event, and the no-history run is down as long.
    std::this_thread::sleep_for(std::chrono::seconds(60));
  }
  wait_until_quiet(w.hs->pid());
  const auto left = downtime - std::chrono::duration_cast<ms>(Clock::now() - down);
  if (left > ms(0)) std::this_thread::sleep_for(left);
  Restart r;
  r.down_ms = since_ms(down);
  for (int i = 0; i < 2; ++i) bots[i]->reset();
  const auto t0 = Clock::now();
  bots[2] = w.start(user, true, /*rejoin=*/true);
  if (bots[2]->wait([&] { return bots[2]->joined; }, std::chrono::seconds(60))) r.joined_ms = since_ms(t0);
  if (bots[2]->wait([&] { return bots[2]->connected.size() >= 2; }, std::chrono::seconds(60))) r.connected_ms = since_ms(t0);
  double seen = 0;  // -1 unless both peers saw the new entry
  for (int i = 0; i < 2 && seen >= 0; ++i) {
    std::lock_guard lock(bots[i]->m);
    seen = bots[i]->seen.empty() ? -1 : std::max(seen, std::chrono::duration<double, std::milli>(bots[i]->last_seen - t0).count());
  }
  r.seen_ms = seen;
  for (auto& b : bots) (void)b->client->leave_group_call(room);
  for (auto& b : bots) b->client->stop();
  return r;
}

// The history case first: the 0-event case is then down just as long, so the peers' side of
// the story (their calls to the stopped device failing, retried) is the same in both.
nlohmann::json restart_pair(World& w, int history) {
  const Restart rh = restart(w, history, ms(0), "hh");
  const Restart r0 = restart(w, 0, ms(static_cast<long>(rh.down_ms)), "h0");
  std::printf("restart from store after %.1f s down -> rejoined / peers saw the new entry / all pairs connected: "
              "%.1f / %.1f / %.1f ms with 0 events of history, %.1f / %.1f / %.1f ms with %d (ratio %.2f, target <= 1.1)\n",
              rh.down_ms / 1000, r0.joined_ms, r0.seen_ms, r0.connected_ms, rh.joined_ms, rh.seen_ms, rh.connected_ms,
              history, rh.connected_ms / r0.connected_ms);
  std::fflush(stdout);
  return {{"history_events", history}, {"down_ms", rh.down_ms},
          {"rejoined_ms_0", r0.joined_ms}, {"seen_ms_0", r0.seen_ms}, {"connected_ms_0", r0.connected_ms},
          {"rejoined_ms_history", rh.joined_ms}, {"seen_ms_history", rh.seen_ms}, {"connected_ms_history", rh.connected_ms},
          {"ratio", rh.connected_ms / r0.connected_ms}};
}

}  // namespace

int main(int argc, char** argv) {
  const int calls = argc > 1 ? std::max(3, std::atoi(argv[1])) : 5;
  const int history = argc > 2 ? std::max(0, std::atoi(argv[2])) : 10000;
  if (!std::getenv("MXCALL_LOG")) log::set_level(log::Level::Warn);
  // MXCALL_BENCH_MESH_ONLY=N: one mesh of N and nothing else (to trace it with MXCALL_LOG=debug).
  const char* only = std::getenv("MXCALL_BENCH_MESH_ONLY");
  char tmpl[] = "/tmp/mxcall-bench-mesh-XXXXXX";
  if (!::mkdtemp(tmpl)) return 1;
  const fs::path dir(tmpl);
  homeserver::SynapseOptions so;
  so.dir = dir / "hs";
  so.kill_with_parent = true;
  so.overrides = {{"rc_message", {{"per_second", 10000}, {"burst_count", 10000}}}};  // the history
  auto hs = homeserver::LocalSynapse::start(so);
  if (!hs.ok()) die("synapse: " + hs.error().describe());
  for (const char* u : {"one-a", "one-b"}) (void)hs->register_user(u, "bench");
  World w{&*hs, dir};

  // MXCALL_BENCH_MESH_ONLY=restart: one restart, no history, `history` ms down;
  // =restart-history: one restart with `history` events sent while down.
  // =restart-pair: the main run's restart measurement alone (history, then none as long down).
  if (only && std::string(only) == "restart-pair") {
    (void)restart_pair(w, history);
    (void)hs->stop();
    fs::remove_all(dir);
    return 0;
  }
  if (only && (std::string(only) == "restart" || std::string(only) == "restart-history")) {
    const bool with_history = std::string(only) == "restart-history";
    const Restart r = with_history ? restart(w, history, ms(0), "rh") : restart(w, 0, ms(history), "ro");
    std::printf("restart after %.0f ms down: rejoined %.1f ms, all pairs connected %.1f ms\n", r.down_ms, r.joined_ms,
                r.connected_ms);
    (void)hs->stop();
    fs::remove_all(dir);
    return 0;
  }
  if (only) {
    const MeshResult r = run_mesh(w, std::atoi(only), "only");
    std::printf("mesh of %s: join -> every member entry seen %.1f ms, -> all connected %.1f ms; CPU meanwhile: Synapse "
                "%.0f ms, the bots %.0f ms; then %.1f %% of a core while connected\n", only, r.join_to_all_seen_ms,
                r.join_to_all_connected_ms, r.synapse_cpu_ms, r.bots_cpu_ms, r.cpu_percent);
    (void)hs->stop();
    fs::remove_all(dir);
    return 0;
  }
  const OneToOne ref = one_to_one_ms(w, calls);
  const double one = ref.connected_ms;
  std::printf("1:1 call, place -> ICE connected (median of %d): %.1f ms; CPU meanwhile: Synapse %.0f ms, both clients "
              "%.0f ms\n", calls, one, ref.synapse_cpu_ms, ref.clients_cpu_ms);
  nlohmann::json j = {{"one_to_one_connected_ms", one}, {"one_to_one_synapse_cpu_ms", ref.synapse_cpu_ms},
                      {"one_to_one_clients_cpu_ms", ref.clients_cpu_ms}};
  std::map<int, MeshResult> mesh;
  for (int n : {2, 4, 8}) {
    // Three runs each; the one with the median time is reported whole (its counts and CPU).
    std::vector<MeshResult> runs;
    for (int rep = 0; rep < 3; ++rep) runs.push_back(run_mesh(w, n, std::to_string(n) + "r" + std::to_string(rep)));
    std::sort(runs.begin(), runs.end(), [](const MeshResult& x, const MeshResult& y) {
      return x.join_to_all_connected_ms < y.join_to_all_connected_ms;
    });
    const MeshResult last = runs[1];
    mesh[n] = last;
    const double per_round = last.to_device_rounds ? static_cast<double>(last.to_device_requests) / last.to_device_rounds : -1;
    std::printf("mesh of %d: join -> every member entry seen everywhere %.1f ms, -> all %d pairs connected %.1f ms (%.2f x 1:1); sendToDevice %llu requests in %llu rounds "
                "(%.2f per round, %llu messages); keys requests %.1f per participant; CPU %.1f %% of a core; during "
                "the join Synapse used %.0f ms of CPU, the bots %.0f ms\n",
                n, last.join_to_all_seen_ms, n * (n - 1) / 2, last.join_to_all_connected_ms, last.join_to_all_connected_ms / one,
                static_cast<unsigned long long>(last.to_device_requests), static_cast<unsigned long long>(last.to_device_rounds),
                per_round, static_cast<unsigned long long>(last.to_device_messages),
                static_cast<double>(last.keys_requests) / n, last.cpu_percent, last.synapse_cpu_ms, last.bots_cpu_ms);
    j["mesh"][std::to_string(n)] = {{"join_to_all_connected_ms", last.join_to_all_connected_ms},
                                    {"join_to_all_seen_ms", last.join_to_all_seen_ms},
                                    {"ratio_vs_one_to_one", last.join_to_all_connected_ms / one},
                                    {"to_device_requests", last.to_device_requests},
                                    {"to_device_rounds", last.to_device_rounds},
                                    {"requests_per_round", per_round},
                                    {"keys_requests_per_participant", static_cast<double>(last.keys_requests) / n},
                                    {"cpu_percent", last.cpu_percent},
                                    {"synapse_cpu_ms", last.synapse_cpu_ms},
                                    {"bots_cpu_ms", last.bots_cpu_ms}};
  }
  // CPU per connected peer: the 8-mesh minus the 2-mesh over the peer connections added
  // (every pair is two peer connections in this process).
  const double per_peer = (mesh[8].cpu_percent - mesh[2].cpu_percent) / (8 * 7 - 2);
  std::printf("CPU: 8-party audio mesh in one process %.1f %% of a core (target <= 50); %.2f %% per extra connected peer "
              "(target <= 1)\n", mesh[8].cpu_percent, per_peer);
  j["cpu_percent_per_extra_peer"] = per_peer;

  j["restart"] = restart_pair(w, history);
  std::printf("%s\n", j.dump().c_str());
  (void)hs->stop();
  fs::remove_all(dir);
  return 0;
}
