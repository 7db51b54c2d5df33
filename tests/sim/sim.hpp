// One simulation run: the world, the homeserver, the network, the media, the clients, the
// scenario and the invariant checker, all from one seed.
//
// Phases (TigerBeetle's VOPR has the same two halves):
//  - Safety: the scenario's script runs with the drawn faults on; invariants are checked after
//    every turn of every client.
//  - Settle: faults off, crashed clients boot again, cuts heal, held calls are resumed; after
//    a bound every call must have ended on both sides or be connected on both sides.
//  - Hangup: one side of each live call hangs up; the other side must follow within the
//    delivery bound.
//  - Probe: in each room one member calls another, who answers: the system must still work.
//
// Group calls (scenario mesh): SimClient runs the real client::GroupDriver next to the
// CallDriver (sim_client_group.cpp), the homeserver keeps state events and to-device queues
// (sim_homeserver_group.cpp), the settle and leave checks are in invariants_group.cpp.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "sim_client.hpp"
#include "sim_config.hpp"
#include "sim_homeserver.hpp"
#include "sim_media.hpp"
#include "sim_network.hpp"
#include "sim_world.hpp"

namespace mxcall::sim {

class Scenario;

enum class Phase { Safety, Settle, Hangup, Probe, Done };
const char* to_string(Phase p);

// Records the first violation; the run stops there.
class Checker {
 public:
  void fail(SimTime at, const std::string& who, const std::string& what);
  bool failed() const { return failed_; }
  const std::string& message() const { return message_; }

 private:
  bool failed_ = false;
  std::string message_;
};

struct RunOptions {
  std::uint64_t seed = 1;
  std::string scenario = "one_to_one";
  bool trace = false;
  bool faults = true;      // false: every fault site off (a clean run of the same script)
  bool strict_hold = false; // fail (not just count) calls held by a peer that died
  SimTime safety = 0;      // 0: the scenario's own length
};

struct RunResult {
  bool ok = true;
  std::string violation;   // "at 12.345s alice/A1: ..."
  Phase phase = Phase::Done;
  SimTime end = 0;
  std::uint64_t items = 0;  // queue items run (for the curious and for livelock hunting)
  std::uint64_t digest = 0; // hash of everything the clients saw: equal runs, equal digests
  std::string config;
  int held_by_dead_peer = 0;  // known limitation hits (see invariants_global.cpp)
  std::map<std::string, std::uint64_t> stats;  // what the run exercised (--stats)
};

class Sim {
 public:
  Sim(const RunOptions& options, std::unique_ptr<Scenario> scenario);
  ~Sim();

  World world;
  SimConfig config;
  SimHomeserver hs;
  SimNetwork net;
  MediaNet media;
  Checker checker;
  Phase phase = Phase::Safety;
  const bool config_calm;  // config.calm() as drawn (config.active goes false when healing)
  // Set by group scenarios in setup(): every process runs a GroupDriver with a store.
  bool group_calls = false;
  SimTime member_lifetime = 3'600'000;  // our member entries' lifetime (the refresh is at 2/3)
  std::vector<std::unique_ptr<SimClient>> clients;

  SimClient& add_client(const std::string& user, const std::string& device);
  std::vector<SimClient*> devices_of(const std::string& user);
  void fail(const std::string& who, const std::string& what) { checker.fail(world.now(), who, what); }
  // A client reported an update (called after the turn that produced it).
  void on_update(SimClient& c, const mxcall::CallUpdate& u);
  void on_group_update(SimClient& c, const mxcall::GroupUpdate& u);
  void count(const std::string& what, std::uint64_t n = 1) { stats_[what] += n; }
  void note(std::uint64_t x) { digest_ = (digest_ ^ x) * 0x100000001b3ull; }
  std::uint64_t digest() const { return digest_; }
  Scenario& scenario() { return *scenario_; }
  Rng& rng() { return rng_; }

  RunResult run(SimTime safety);

 private:
  void fault_tick();
  void heal();
  void settle_checks();
  void hang_up_everything();
  void hangup_checks();
  void probe();
  void probe_checks();
  // invariants_group.cpp
  void group_settle_checks();
  void group_leave_everything();
  void group_leave_checks();
  bool run_for(SimTime duration);  // false once a violation was found

  std::unique_ptr<Scenario> scenario_;
  Rng rng_;
  std::uint64_t digest_ = 0xcbf29ce484222325ull;
  struct ProbeCall { std::string room, call_id, callee_user; SimClient* from = nullptr; SimClient* answered = nullptr; };
  std::vector<ProbeCall> probes_;
  std::vector<std::pair<SimClient*, std::string>> hung_up_;  // who hung up which call
  bool strict_hold_ = false;
  std::map<std::string, std::uint64_t> stats_;
  int known_held_by_dead_peer_ = 0;
};

RunResult run_sim(const RunOptions& options);

}  // namespace mxcall::sim
