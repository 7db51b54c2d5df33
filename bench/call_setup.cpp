// mxcall call-setup benchmark: one run, ratios measured side by side (never a pass/fail).
//  - mxcall -> mxcall through the local Synapse: invite sent (place_call) -> first decoded
//    audio at the callee, median of N calls (the callee answers from its update callback);
//  - one homeserver hop: a room event sent by one client -> seen in the other's /sync;
//  - the floor: a warmed, tuned webrtcbin pair with in-process signalling;
//  - CPU and RSS of the process while one call is up (both ends are in this process).
// Run inside a loopback-only network namespace (scripts/bench does).
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>
#include <spdlog/logger.h>

#include "bench/floor_pair.hpp"
#include "interop/node_peer.hpp"
#include "mxcall/client.hpp"
#include "mxcall/homeserver.hpp"
#include "mxcall/log.hpp"
#include "mxcall/matrix/api.hpp"
#include "mxcall/matrix/sync_loop.hpp"
#include "mxcall/media_webrtcbin.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using namespace mxcall;
using us = std::chrono::microseconds;

double median_ms(std::vector<us> v) {
  if (v.empty()) return -1;
  std::sort(v.begin(), v.end());
  const auto mid = v.size() / 2;
  const double m = v.size() % 2 ? static_cast<double>(v[mid].count())
                                : (static_cast<double>(v[mid - 1].count()) + static_cast<double>(v[mid].count())) / 2;
  return m / 1000.0;
}

double cpu_seconds() {
  rusage r{};
  getrusage(RUSAGE_SELF, &r);
  return static_cast<double>(r.ru_utime.tv_sec + r.ru_stime.tv_sec) +
         static_cast<double>(r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e6;
}

long rss_kb() {
  std::ifstream s("/proc/self/status");
  std::string line;
  while (std::getline(s, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

struct Waiter {
  std::mutex m;
  std::condition_variable cv;
  std::vector<CallUpdate> seen;
  void add(const CallUpdate& u) {
    std::lock_guard lock(m);
    seen.push_back(u);
    cv.notify_all();
  }
  std::optional<Clock::time_point> wait(const std::string& call_id, CallUpdate::Kind k, std::chrono::seconds t = std::chrono::seconds(20)) {
    std::unique_lock lock(m);
    std::optional<Clock::time_point> at;
    cv.wait_for(lock, t, [&] {
      for (const auto& u : seen)
        if (u.call_id == call_id && u.kind == k) return true;
      return false;
    });
    for (const auto& u : seen)
      if (u.call_id == call_id && u.kind == k) at = Clock::now();
    return at;
  }
};

std::unique_ptr<Client> start_client(const std::string& url, const std::string& user, const std::filesystem::path& dir,
                                     bool callee, std::chrono::milliseconds latency) {
  ClientOptions o;
  o.jitterbuffer_latency = latency;
  o.homeserver = url;
  o.user = user;
  o.password = "bench";
  o.store = dir / (user + ".db");
  o.auto_join_invites = callee;
  o.include_loopback_candidates = true;
  auto c = Client::start(o);
  if (!c.ok()) {
    std::fprintf(stderr, "client %s: %s\n", user.c_str(), c.error().describe().c_str());
    std::exit(1);
  }
  return std::move(c).value();
}

struct Series {
  std::vector<us> setup;
  double cpu = -1;
  long rss_kb = -1;
};

Series measure_calls(const std::string& url, const std::filesystem::path& dir, int calls, std::chrono::milliseconds latency) {
  auto alice = start_client(url, "alice", dir, false, latency);
  auto bob = start_client(url, "bob", dir, true, latency);
  Waiter wa, wb;
  alice->on_update([&](const CallUpdate& u) { wa.add(u); });
  Client* b = bob.get();
  bob->on_update([&, b](const CallUpdate& u) {
    if (u.kind == CallUpdate::Kind::Incoming) (void)b->answer(u.call_id);
    wb.add(u);
  });
  Series out;
  std::vector<us>& setup = out.setup;
  double& cpu_per_call = out.cpu;
  long& rss_in_call = out.rss_kb;
  for (int i = -1; i < calls; ++i) {  // i = -1: a warm-up call (DM creation, DTLS certificate)
    const auto t0 = Clock::now();
    auto id = alice->place_call(bob->user_id(), false);
    if (!id.ok()) {
      std::fprintf(stderr, "call: %s\n", id.error().describe().c_str());
      std::exit(1);
    }
    auto heard = wb.wait(*id, CallUpdate::Kind::FirstMedia);
    if (i >= 0 && heard) setup.push_back(std::chrono::duration_cast<us>(*heard - t0));
    if (i == calls - 1 && heard) {  // CPU while one call is up
      const double c0 = cpu_seconds();
      const auto w0 = Clock::now();
      std::this_thread::sleep_for(std::chrono::seconds(5));
      cpu_per_call = (cpu_seconds() - c0) / std::chrono::duration<double>(Clock::now() - w0).count() * 100.0;
      rss_in_call = rss_kb();
    }
    (void)alice->hangup(*id);
    wb.wait(*id, CallUpdate::Kind::Ended);
  }
  alice->stop();
  bob->stop();

  return out;
}

// js-sdk -> js-sdk: two matrix-js-sdk peers (node + @roamhq/wrtc, tests/interop/jsdk_peer.mjs);
// "call" sent -> the callee's inbound audio counter moves (stats polled back to back).
std::vector<us> measure_jsdk(const std::string& url, int calls) {
  std::vector<us> out;
  if (!std::filesystem::exists(std::filesystem::path(MXCALL_INTEROP_DIR) / "node_modules" / "matrix-js-sdk")) {
    std::fprintf(stderr, "js-sdk not installed (scripts/setup): skipping js-sdk -> js-sdk\n");
    return out;
  }
  testing::NodePeer a(url, "@jsalice:localhost", "bench");
  testing::NodePeer b(url, "@jsbob:localhost", "bench");
  auto received = [](const testing::NodePeer::Json& st) {
    return st.contains("audio") && st["audio"].value("packets_received", 0) > 0;
  };
  for (int i = -1; i < calls; ++i) {
    const std::size_t mark = b.mark();
    const auto t0 = Clock::now();
    auto placed = a.command({{"cmd", "call"}, {"user", "@jsbob:localhost"}, {"video", false}});
    if (!placed) break;
    if (!b.wait_named("incoming", mark)) break;
    if (!b.command({{"cmd", "answer"}})) break;
    std::optional<Clock::time_point> heard;
    for (const auto until = Clock::now() + std::chrono::seconds(20); Clock::now() < until && !heard;)
      if (auto st = b.stats(); st && received(*st)) heard = Clock::now();
    if (i >= 0 && heard) out.push_back(std::chrono::duration_cast<us>(*heard - t0));
    const std::size_t end_mark = b.mark();
    (void)a.command({{"cmd", "hangup"}});
    b.wait_named("hangup", end_mark, {}, std::chrono::seconds(10));
  }
  return out;
}

// One homeserver hop: a real m.call.invite as large as an Opus offer with candidates (~3 KB)
// sent by alice -> seen in bob's /sync. Synapse's work for a hop depends on the type (push
// rules ring for invites) and the size, so a tiny text message would flatter the floor.
// Nobody answers: the bench's sync only sees it. `sender_syncs`: alice long-polls too.
std::vector<us> measure_hops(const std::string& url, int calls, bool sender_syncs) {
  std::vector<us> hops;
  matrix::Api a(url), bapi(url);
  (void)a.login_password("alice", "bench");
  (void)bapi.login_password("bob", "bench");
  matrix::CreateRoomRequest req;
  req.invite = {"@bob:localhost"};
  auto room = a.create_room(req);
  if (room.ok()) (void)bapi.join_room(*room);
  std::mutex m;
  std::condition_variable cv;
  std::string last_seen;
  int batches = 0, sender_batches = 0;
  matrix::SyncLoop sync(url, bapi.access_token(), nullptr, [&](const matrix::SyncBatch& batch) {
    std::lock_guard lock(m);
    ++batches;
    for (const auto& r : batch.joined)
      for (const auto& ev : r.timeline) last_seen = ev.event_id;
    cv.notify_all();
  });
  matrix::SyncLoop sender_sync(url, a.access_token(), nullptr, [&](const matrix::SyncBatch&) {
    std::lock_guard lock(m);
    ++sender_batches;
    cv.notify_all();
  });
  (void)sync.start();
  if (sender_syncs) (void)sender_sync.start();
  {
    std::unique_lock lock(m);  // the initial syncs are done before the first measurement
    cv.wait_for(lock, std::chrono::seconds(10), [&] { return batches > 0 && (!sender_syncs || sender_batches > 0); });
  }
  for (int i = 0; i < calls && room.ok(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // both long-polls parked again
    const auto t0 = Clock::now();
    const nlohmann::json invite = {{"call_id", "benchhop" + std::to_string(i) + (sender_syncs ? "s" : "")},
                                   {"party_id", "BENCH"}, {"version", "1"}, {"lifetime", 60000},
                                   {"offer", {{"type", "offer"}, {"sdp", std::string(3000, 'x')}}}};
    auto ev = a.send_event(*room, "m.call.invite", invite, matrix::new_txn_id());
    if (!ev.ok()) break;
    std::unique_lock lock(m);
    if (cv.wait_for(lock, std::chrono::seconds(10), [&] { return last_seen == *ev; }))
      hops.push_back(std::chrono::duration_cast<us>(Clock::now() - t0));
  }
  sync.stop();
  sender_sync.stop();
  return hops;
}

}  // namespace

int main(int argc, char** argv) {
  const int calls = argc > 1 ? std::max(3, std::atoi(argv[1])) : 10;
  log::set_level(log::Level::Warn);
  // MXCALL_BENCH_TRACE=1: only the tuned mxcall series with trace logs stamped to the
  // microsecond, then the floor's engine events; bench/trace_breakdown.py turns stderr into
  // per-call phases (where a call's setup time goes).
  const bool trace = std::getenv("MXCALL_BENCH_TRACE") != nullptr;
  char tmpl[] = "/tmp/mxcall-bench-XXXXXX";
  if (!::mkdtemp(tmpl)) return 1;
  const std::filesystem::path dir(tmpl);
  homeserver::SynapseOptions so;
  so.dir = dir / "hs";
  so.kill_with_parent = true;
  auto hs = homeserver::LocalSynapse::start(so);
  if (!hs.ok()) {
    std::fprintf(stderr, "synapse: %s\n", hs.error().describe().c_str());
    return 1;
  }
  for (const char* u : {"alice", "bob", "jsalice", "jsbob"}) (void)hs->register_user(u, "bench");

  if (trace) {
    log::get()->set_pattern("%H:%M:%S.%f %-5l %v");
    log::set_level(log::Level::Trace);
    const Series t = measure_calls(hs->base_url(), dir, calls, std::chrono::milliseconds(20));
    (void)hs->stop();
    std::filesystem::remove_all(dir);
    std::vector<us> floor;
    {
      auto engine = media::make_webrtcbin_engine();
      engine->warm_up();
      bench::FloorPair pair(*engine, true);
      for (int i = 0; i < calls; ++i)
        if (auto f = pair.run_once()) floor.push_back(*f);
    }
    std::printf("median invite -> first audio %.1f ms, floor %.1f ms\n", median_ms(t.setup), median_ms(floor));
    return 0;
  }
  // mxcall -> mxcall, with the default jitterbuffer (50 ms) and tuned like the floor (20 ms).
  Series dflt = measure_calls(hs->base_url(), dir, calls, std::chrono::milliseconds(50));
  Series tuned = measure_calls(hs->base_url(), dir, calls, std::chrono::milliseconds(20));
  std::vector<us>& setup = tuned.setup;

  const std::vector<us> jsdk = measure_jsdk(hs->base_url(), calls);

  // One homeserver hop: event sent -> seen in the other's /sync; measured with only the
  // receiver syncing, and with the sender syncing too (as in a call: Synapse then serves two
  // /sync responses per event, the sender's echo and the receiver's).
  const std::vector<us> hops = measure_hops(hs->base_url(), calls, false);
  const std::vector<us> hops_both = measure_hops(hs->base_url(), calls, true);
  (void)hs->stop();

  // The floor.
  std::vector<us> floor;
  {
    auto engine = media::make_webrtcbin_engine();
    engine->warm_up();
    bench::FloorPair pair(*engine);
    (void)pair.run_once();  // warm-up
    for (int i = 0; i < calls; ++i)
      if (auto t = pair.run_once()) floor.push_back(*t);
  }
  std::filesystem::remove_all(dir);

  const double js = median_ms(jsdk);
  const double mx = median_ms(setup), mx_default = median_ms(dflt.setup), hop = median_ms(hops), fl = median_ms(floor);
  const double hop_both = median_ms(hops_both);
  const double cpu_per_call = dflt.cpu;
  const long rss_in_call = dflt.rss_kb;
  std::printf("\nmxcall call setup benchmark (%d calls each, medians, loopback)\n", calls);
  std::printf("  mxcall -> mxcall  invite -> first audio at callee : %8.1f ms (jitterbuffer 50 ms, the default)\n", mx_default);
  std::printf("  mxcall -> mxcall  invite -> first audio at callee : %8.1f ms (jitterbuffer 20 ms, as the floor)\n", mx);
  std::printf("  js-sdk -> js-sdk  call -> audio at callee (stats)   : %8.1f ms\n", js);
  std::printf("  homeserver hop    m.call.invite -> other's /sync : %8.1f ms (only the receiver syncs)\n", hop);
  std::printf("  homeserver hop    m.call.invite -> other's /sync : %8.1f ms (both sync, as in a call)\n", hop_both);
  std::printf("  floor             tuned webrtcbin pair, in-process : %8.1f ms\n", fl);
  std::printf("  ratio mxcall(20 ms) / (floor + 2 hops)             : %8.2f  (target <= 1)\n", mx / (fl + 2 * hop));
  std::printf("  ratio mxcall(20 ms) / (floor + 2 hops, both sync)  : %8.2f\n", mx / (fl + 2 * hop_both));
  std::printf("  ratio mxcall(default) / js-sdk                     : %8.2f  (target <= 0.25)\n", mx_default / js);
  std::printf("  ratio mxcall / floor                               : %8.2f\n", mx / fl);
  std::printf("  CPU while one call is up (both ends, one process)  : %8.1f %% of a core\n", cpu_per_call);
  std::printf("  RSS while one call is up (both ends + engine)      : %8.1f MB\n", static_cast<double>(rss_in_call) / 1024.0);
  nlohmann::json j = {{"calls", calls}, {"mxcall_invite_to_first_audio_ms", mx}, {"mxcall_default_latency_ms", mx_default}, {"homeserver_hop_ms", hop}, {"homeserver_hop_both_syncing_ms", hop_both},
                      {"ratio_vs_floor_plus_two_hops_both_syncing", mx / (fl + 2 * hop_both)}, {"jsdk_to_jsdk_ms", js}, {"ratio_mxcall_vs_jsdk", mx_default / js},
                      {"floor_ms", fl}, {"ratio_vs_floor_plus_two_hops", mx / (fl + 2 * hop)},
                      {"cpu_percent_one_call", cpu_per_call}, {"rss_mb_one_call", static_cast<double>(rss_in_call) / 1024.0}};
  std::printf("%s\n", j.dump().c_str());
  return setup.empty() || floor.empty() ? 1 : 0;
}
