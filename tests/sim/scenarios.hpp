// Scenarios: who is in the room and what the users do during the safety phase. Each one is a
// small script over Sim's clients; faults come from the run's config, not from the script.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "mxcall/client.hpp"
#include "sim_world.hpp"

namespace mxcall::sim {

class Sim;
class SimClient;

class Scenario {
 public:
  virtual ~Scenario() = default;
  // Users, devices and rooms; schedules the script (world.at/after). Runs before any boot.
  virtual void setup(Sim& sim) = 0;
  // How long the safety phase runs.
  virtual SimTime length() const { return 120'000; }
  // A client reported an update (never inside the client's turn). Scripts react here, e.g. a
  // callee answers some time after its device rang. Called during the safety phase only.
  virtual void on_update(Sim&, SimClient&, const mxcall::CallUpdate&) {}
  virtual void on_group_update(Sim&, SimClient&, const mxcall::GroupUpdate&) {}
  // Settle phase starts: users who want to be in a group call and are not join again.
  virtual void heal(Sim&) {}
  // Extra checks once the settle phase is over (the common ones are in invariants.cpp).
  virtual void check_settled(Sim&) {}
};

struct ScenarioInfo {
  const char* name;
  const char* family;  // "1:1" today; "group" when the group-call core lands
  const char* about;
  std::unique_ptr<Scenario> (*make)();
};
const std::vector<ScenarioInfo>& all_scenarios();
const ScenarioInfo* find_scenario(std::string_view name);

std::unique_ptr<Scenario> make_one_to_one();
std::unique_ptr<Scenario> make_glare();
std::unique_ptr<Scenario> make_random();
std::unique_ptr<Scenario> make_mesh();

}  // namespace mxcall::sim
