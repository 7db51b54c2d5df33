// Random command sequences: three or four users, some with two devices, one DM room per pair,
// and every few seconds a random device does a random thing (place, answer, reject, hang up, or
// a mid-call feature) to a random call of its own.
#include <map>

#include "scenario_util.hpp"
#include "scenarios.hpp"
#include "sim.hpp"

namespace mxcall::sim {

namespace {

class RandomCommands final : public Scenario {
 public:
  SimTime length() const override { return 180'000; }

  void setup(Sim& sim) override {
    rng_ = sim.rng().split("random");
    static const char* kUsers[] = {"@alice:sim", "@bob:sim", "@carol:sim", "@dave:sim"};
    const std::size_t users = rng_.chance(0.5) ? 3 : 4;
    for (std::size_t u = 0; u < users; ++u) {
      const std::string name = std::string(kUsers[u]).substr(1, 1);
      sim.add_client(kUsers[u], name + "DEV1");
      if (rng_.chance(0.3)) sim.add_client(kUsers[u], name + "DEV2");
    }
    for (std::size_t a = 0; a < users; ++a)
      for (std::size_t b = a + 1; b < users; ++b) rooms_.push_back(sim.hs.create_room({kUsers[a], kUsers[b]}));
    sim.world.at(rng_.between(200, 3'000), [this, &sim] { act(sim); });
    schedule_forgeries(sim, rng_, length());
  }

 private:
  void act(Sim& sim) {
    if (sim.phase != Phase::Safety) return;
    sim.world.after(rng_.between(100, 8'000), [this, &sim] { act(sim); });
    SimClient& c = *sim.clients[rng_.index(sim.clients.size())];
    if (!c.alive()) return;
    std::vector<std::string> ringing, live, connected;
    for (const auto& id : c.live_calls()) {
      const CallRecord* r = c.record(id);
      live.push_back(id);
      if (r->state() == "ringing") ringing.push_back(id);
      if (r->state() == "connected") connected.push_back(id);
    }
    const double roll = rng_.unit();
    if (roll < 0.25 || live.empty()) return place(sim, c);
    if (roll < 0.45 && !ringing.empty()) {
      c.command(rng_.pick(ringing), core::cmd::Answer{rng_.chance(0.3)});
      return;
    }
    if (roll < 0.53 && !ringing.empty()) {
      c.command(rng_.pick(ringing), core::cmd::Reject{});
      return;
    }
    if (roll < 0.65) {
      c.command(rng_.pick(live), core::cmd::Hangup{});
      return;
    }
    if (!connected.empty()) {
      const std::string id = rng_.pick(connected);
      random_feature(c, id, rng_, features_[{&c, id}]);
    }
  }

  void place(Sim& sim, SimClient& c) {
    std::vector<std::string> mine;
    for (const auto& r : rooms_)
      if (sim.hs.is_member(r, c.device().user_id)) mine.push_back(r);
    const std::string room = rng_.pick(mine);
    for (const auto& m : sim.hs.members(room))
      if (m != c.device().user_id) {
        const bool video = rng_.chance(0.3);
        if (auto id = c.place(room, m, video)) features_[{&c, *id}].video = video;
      }
  }

  Rng rng_{0};
  std::vector<std::string> rooms_;
  std::map<std::pair<SimClient*, std::string>, FeatureState> features_;
};

}  // namespace

std::unique_ptr<Scenario> make_random() { return std::make_unique<RandomCommands>(); }

}  // namespace mxcall::sim
