#include "sim.hpp"

#include "scenarios.hpp"

namespace mxcall::sim {

namespace {

constexpr std::uint64_t kItemBudget = 5'000'000;  // queue items per run: more means a livelock
constexpr SimTime kSettle = 150'000;   // > invite lifetime + ICE recovery + connect timeout
constexpr SimTime kHangupWait = 60'000;
constexpr SimTime kProbeWait = 40'000;

SimConfig make_config(World& world, bool faults) {
  Rng r = world.rng().split("config");
  SimConfig c = SimConfig::draw(r);
  c.active = faults;
  return c;
}

}  // namespace

const char* to_string(Phase p) {
  switch (p) {
    case Phase::Safety: return "safety";
    case Phase::Settle: return "settle";
    case Phase::Hangup: return "hangup";
    case Phase::Probe: return "probe";
    case Phase::Done: return "done";
  }
  return "?";
}

void Checker::fail(SimTime at, const std::string& who, const std::string& what) {
  if (failed_) return;
  failed_ = true;
  message_ = "at " + format_time(at) + " " + who + ": " + what;
}

Sim::Sim(const RunOptions& options, std::unique_ptr<Scenario> scenario)
    : world(options.seed, options.trace),
      config(make_config(world, options.faults)),
      hs(world, config, world.rng().split("homeserver")),
      net(world, config, hs, world.rng().split("network")),
      media(world, config, world.rng().split("media")),
      config_calm(config.calm()),
      scenario_(std::move(scenario)),
      rng_(world.rng().split("sim")),
      strict_hold_(options.strict_hold) {
  media.on_count = [this](const std::string& what) { count(what); };
  media.on_misuse = [this](int client, const std::string& what) {
    fail(clients.at(static_cast<std::size_t>(client))->name(), "media engine contract broken: " + what);
  };
  hs.on_violation = [this](const std::string& who, const std::string& what) { fail(who, what); };
}

Sim::~Sim() = default;

SimClient& Sim::add_client(const std::string& user, const std::string& device) {
  const int index = static_cast<int>(clients.size());
  DeviceRef ref{user, device};
  hs.add_device(ref);
  SkewedClock clock;
  clock.offset_ms = rng_.between(0, 10LL * 24 * 3600 * 1000);
  clock.ppm = rng_.between(-config.client.max_drift_ppm, config.client.max_drift_ppm);
  clients.push_back(std::make_unique<SimClient>(*this, index, ref, rng_.split("client" + std::to_string(index)), clock));
  return *clients.back();
}

std::vector<SimClient*> Sim::devices_of(const std::string& user) {
  std::vector<SimClient*> out;
  for (auto& c : clients)
    if (c->device().user_id == user) out.push_back(c.get());
  return out;
}

void Sim::on_update(SimClient& c, const mxcall::CallUpdate& u) {
  if (phase == Phase::Safety) {
    scenario_->on_update(*this, c, u);
    return;
  }
  if (phase != Phase::Probe || u.kind != mxcall::CallUpdate::Kind::Incoming) return;
  for (auto& p : probes_) {
    if (p.call_id != u.call_id || c.device().user_id != p.callee_user || p.answered) continue;
    p.answered = &c;
    const std::string id = p.call_id;
    world.after(200, [&c, id] { c.command(id, core::cmd::Answer{false}); });
  }
}

void Sim::on_group_update(SimClient& c, const mxcall::GroupUpdate& u) {
  if (phase == Phase::Safety || phase == Phase::Settle) scenario_->on_group_update(*this, c, u);
}

bool Sim::run_for(SimTime duration) {
  const SimTime end = world.now() + duration;
  while (!checker.failed() && world.pending() > 0 && world.next_at() <= end) {
    world.run_one();
    if (world.items_run() > kItemBudget) fail("sim", "more than " + std::to_string(kItemBudget) + " queue items: livelock?");
  }
  if (checker.failed()) return false;
  world.run_until(end);
  return true;
}

void Sim::fault_tick() {
  if (phase != Phase::Safety) return;
  if (config.fire(config.hs.restart, rng_) && hs.up()) {
    count("fault: homeserver restart");
    hs.restart(rng_.between(200, 5'000));
  }
  for (auto& cp : clients) {
    SimClient* c = cp.get();
    if (c->alive() && config.fire(config.client.crash, rng_)) {
      c->crash();
      const bool lost = config.fire(config.client.lost_store, rng_);
      count(lost ? "fault: client crash, store lost" : "fault: client crash");
      world.after(rng_.between(200, 20'000), [c, lost] {
        if (!c->alive()) c->boot(lost);
      });
    }
    if (!c->offline() && config.fire(config.client.offline, rng_)) {
      world.log(c->name(), "goes offline");
      count("fault: client offline");
      c->set_offline(true);
      media.set_offline(c->index(), true);
      world.after(rng_.between(500, config.client.max_offline), [this, c] {
        world.log(c->name(), "back online");
        c->set_offline(false);
        media.set_offline(c->index(), false);
      });
    }
    if (config.fire(config.media.spurious_disconnect, rng_)) {
      count("fault: media blip");
      media.blip(c->index());
    }
  }
  for (std::size_t i = 0; i < clients.size(); ++i)
    for (std::size_t j = i + 1; j < clients.size(); ++j)
      if (config.fire(config.media.path_cut, rng_)) {
        const SimTime d = rng_.between(500, config.media.max_cut);
        world.log("media", "path " + clients[i]->name() + " <-> " + clients[j]->name() + " cut for " + std::to_string(d) + " ms");
        count("fault: path cut");
        media.cut(static_cast<int>(i), static_cast<int>(j), d);
      }
  world.after(1'000, [this] { fault_tick(); });
}

void Sim::heal() {
  world.log("sim", "---- settle: faults off, everything heals ----");
  config.active = false;
  media.heal_all();
  for (auto& c : clients) {
    c->set_offline(false);
    if (!c->alive()) c->boot(false);
  }
  // A user who put a call on hold takes it off again (a held call never notices a dead peer).
  for (auto& c : clients)
    for (const auto& id : c->live_calls())
      if (const core::Call* call = c->call(id); call && call->on_hold()) c->command(id, core::cmd::SetHold{false});
  scenario_->heal(*this);
}

void Sim::hang_up_everything() {
  world.log("sim", "---- hangup: one side of every live call hangs up ----");
  std::vector<std::string> done;
  for (auto& c : clients) {
    for (const auto& id : c->live_calls()) {
      if (std::find(done.begin(), done.end(), id) != done.end()) continue;
      done.push_back(id);
      std::vector<SimClient*> holders;
      for (auto& o : clients)
        if (o->record(id) && o->record(id)->live()) holders.push_back(o.get());
      SimClient* who = holders[rng_.index(holders.size())];
      hung_up_.emplace_back(who, id);
      who->command(id, core::cmd::Hangup{});
    }
  }
}

void Sim::probe() {
  world.log("sim", "---- probe: a fresh call in every room ----");
  for (const auto& room : hs.rooms()) {
    const auto members = hs.members(room);
    if (members.size() < 2) continue;
    const std::string& caller_user = members[rng_.index(members.size())];
    std::string callee = caller_user;
    while (callee == caller_user) callee = members[rng_.index(members.size())];
    auto devices = devices_of(caller_user);
    if (devices.empty()) continue;
    SimClient* from = devices[rng_.index(devices.size())];
    if (auto id = from->place(room, callee, false)) probes_.push_back(ProbeCall{room, *id, callee, from, nullptr});
  }
}

RunResult Sim::run(SimTime safety) {
  scenario_->setup(*this);
  world.log("sim", "config: " + config.describe());
  for (auto& c : clients) c->boot(false);
  fault_tick();
  RunResult result;
  result.config = config.describe();
  auto finish = [&] {
    result.ok = !checker.failed();
    result.violation = checker.message();
    result.phase = phase;
    result.end = world.now();
    result.items = world.items_run();
    result.digest = digest_;
    result.held_by_dead_peer = known_held_by_dead_peer_;
    result.stats = stats_;
    return result;
  };
  if (!run_for(safety > 0 ? safety : scenario_->length())) return finish();
  phase = Phase::Settle;
  heal();
  if (!run_for(kSettle)) return finish();
  settle_checks();
  if (!checker.failed() && group_calls) group_settle_checks();
  if (checker.failed()) return finish();
  scenario_->check_settled(*this);
  phase = Phase::Hangup;
  hang_up_everything();
  if (group_calls) group_leave_everything();
  if (!run_for(kHangupWait)) return finish();
  hangup_checks();
  if (!checker.failed() && group_calls) group_leave_checks();
  if (checker.failed()) return finish();
  phase = Phase::Probe;
  probe();
  if (!run_for(kProbeWait)) return finish();
  probe_checks();
  phase = Phase::Done;
  return finish();
}

RunResult run_sim(const RunOptions& options) {
  const ScenarioInfo* info = find_scenario(options.scenario);
  if (!info) {
    RunResult r;
    r.ok = false;
    r.violation = "no scenario named " + options.scenario;
    return r;
  }
  Sim sim(options, info->make());
  return sim.run(options.safety);
}

}  // namespace mxcall::sim
