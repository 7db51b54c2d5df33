// The 1:1 scripts: a call with every feature, and glare.
#include <map>

#include "scenario_util.hpp"
#include "scenarios.hpp"
#include "sim.hpp"

namespace mxcall::sim {

namespace {

using Kind = mxcall::CallUpdate::Kind;

// alice and bob, bob with one or two devices, in one room; the users behave as drawn per call.
class OneToOne final : public Scenario {
 public:
  void setup(Sim& sim) override {
    rng_ = sim.rng().split("one_to_one");
    alice_ = &sim.add_client("@alice:sim", "ALICE1");
    bob_.push_back(&sim.add_client("@bob:sim", "BOB1"));
    if (rng_.chance(0.5)) bob_.push_back(&sim.add_client("@bob:sim", "BOB2"));
    room_ = sim.hs.create_room({"@alice:sim", "@bob:sim"});
    calls_left_ = static_cast<int>(rng_.between(1, 3));
    sim.world.at(rng_.between(500, 5'000), [this, &sim] { director(sim); });
    schedule_forgeries(sim, rng_, length());
  }

  void on_update(Sim& sim, SimClient& c, const mxcall::CallUpdate& u) override {
    if (u.call_id != call_id_) return;
    if (u.kind == Kind::Incoming) react_to_ringing(sim, c);
    if (u.kind == Kind::Connected && &c != caller_ && !callee_) callee_ = &c;
    if (u.kind == Kind::Connected && &c == caller_) {
      const std::string id = call_id_;
      sim.world.after(rng_.between(200, 5'000), [this, &sim, id] { feature_step(sim, id, plan_.features); });
    }
  }

 private:
  enum class Reaction { Answer, AnswerBoth, Reject, Ignore };
  struct Plan {
    bool from_alice = true;
    bool video = false, answer_video = false;
    Reaction reaction = Reaction::Answer;
    std::size_t answering_device = 0;
    SimTime answer_after = 1'000;
    SimTime cancel_after = 0;  // 0: the caller does not cancel
    int features = 0;
  };

  Plan draw() {
    Plan p;
    p.from_alice = rng_.chance(0.5);
    p.video = rng_.chance(0.4);
    p.answer_video = rng_.chance(0.4);
    const double r = rng_.unit();
    p.reaction = r < 0.6 ? Reaction::Answer : r < 0.75 ? Reaction::AnswerBoth : r < 0.85 ? Reaction::Reject : Reaction::Ignore;
    p.answering_device = rng_.index(2);
    p.answer_after = rng_.between(100, rng_.chance(0.1) ? 70'000 : 8'000);
    if (rng_.chance(0.1)) p.cancel_after = rng_.between(100, 20'000);
    p.features = static_cast<int>(rng_.between(0, 10));
    return p;
  }

  // Every few seconds: when no call is going on at the caller, the next one starts.
  void director(Sim& sim) {
    if (sim.phase != Phase::Safety) return;
    const CallRecord* rec = caller_ ? caller_->record(call_id_) : nullptr;
    if ((!rec || !rec->live()) && calls_left_ > 0) place(sim);
    sim.world.after(rng_.between(2'000, 10'000), [this, &sim] { director(sim); });
  }

  void place(Sim& sim) {
    plan_ = draw();
    SimClient* from = plan_.from_alice ? alice_ : bob_[rng_.index(bob_.size())];
    if (!from->alive()) return;
    auto id = from->place(room_, plan_.from_alice ? "@bob:sim" : "@alice:sim", plan_.video);
    if (!id) return;
    --calls_left_;
    call_id_ = *id;
    caller_ = from;
    callee_ = nullptr;
    features_.clear();
    features_[from].video = plan_.video;
    if (plan_.cancel_after > 0)
      sim.world.after(plan_.cancel_after, [&sim, from, id = *id] {
        if (sim.phase == Phase::Safety) from->command(id, core::cmd::Hangup{});
      });
  }

  void react_to_ringing(Sim& sim, SimClient& c) {
    std::vector<SimClient*> devices = sim.devices_of(c.device().user_id);
    const bool designated = devices[plan_.answering_device % devices.size()] == &c;
    const std::string id = call_id_;
    SimClient* who = &c;
    auto later = [&](SimTime after, core::CallInput in) {
      sim.world.after(after, [&sim, who, id, in] {
        if (sim.phase == Phase::Safety) who->command(id, in);
      });
    };
    switch (plan_.reaction) {
      case Reaction::Answer:
        if (designated) later(plan_.answer_after, core::cmd::Answer{plan_.answer_video});
        break;
      case Reaction::AnswerBoth: later(plan_.answer_after + rng_.between(0, 300), core::cmd::Answer{plan_.answer_video}); break;
      case Reaction::Reject:
        if (designated) later(plan_.answer_after, core::cmd::Reject{});
        break;
      case Reaction::Ignore: break;
    }
    features_[who].video = plan_.answer_video;
  }

  // Mid-call actions from either side, then (usually) a hangup from either side.
  void feature_step(Sim& sim, const std::string& id, int left) {
    if (sim.phase != Phase::Safety || id != call_id_) return;
    SimClient* who = callee_ && rng_.chance(0.5) ? callee_ : caller_;
    const CallRecord* rec = who->record(id);
    if (!rec || !rec->live()) return;
    if (left <= 0 || rng_.chance(0.05)) {
      if (left > 0 || rng_.chance(0.6)) who->command(id, core::cmd::Hangup{});
      return;
    }
    random_feature(*who, id, rng_, features_[who]);
    sim.world.after(rng_.between(200, 8'000), [this, &sim, id, left] { feature_step(sim, id, left - 1); });
  }

  Rng rng_{0};
  SimClient* alice_ = nullptr;
  std::vector<SimClient*> bob_;
  std::string room_;
  int calls_left_ = 0;
  Plan plan_;
  std::string call_id_;
  SimClient* caller_ = nullptr;
  SimClient* callee_ = nullptr;
  std::map<SimClient*, FeatureState> features_;
};

// alice and bob call each other within a few hundred ms (sometimes seconds). When both invites
// were out before either side saw the other's, the spec's rule must leave exactly one call.
class Glare final : public Scenario {
 public:
  SimTime length() const override { return 60'000; }

  void setup(Sim& sim) override {
    rng_ = sim.rng().split("glare");
    alice_ = &sim.add_client("@alice:sim", "ALICE1");
    bob_ = &sim.add_client("@bob:sim", "BOB1");
    if (rng_.chance(0.3)) sim.add_client("@bob:sim", "BOB2");
    room_ = sim.hs.create_room({"@alice:sim", "@bob:sim"});
    const SimTime t0 = rng_.between(500, 3'000);
    const SimTime delta = rng_.chance(0.7) ? rng_.between(0, 300) : rng_.between(0, 3'000);
    answer_ringing_ = rng_.chance(0.5);
    SimClient* first = rng_.chance(0.5) ? alice_ : bob_;
    SimClient* second = first == alice_ ? bob_ : alice_;
    sim.world.at(t0, [this, first] { place(*first); });
    sim.world.at(t0 + delta, [this, second] {
      // True glare: the second caller has not yet seen the first one's invite.
      true_glare_ = second->records().empty();
      place(*second);
    });
  }

  void on_update(Sim& sim, SimClient& c, const mxcall::CallUpdate& u) override {
    if (u.kind != Kind::Incoming || !answer_ringing_) return;
    const std::string id = u.call_id;
    SimClient* who = &c;
    sim.world.after(rng_.between(200, 5'000), [&sim, who, id] {
      if (sim.phase == Phase::Safety) who->command(id, core::cmd::Answer{false});
    });
  }

  void check_settled(Sim& sim) override {
    std::vector<std::string> live;
    for (auto& c : sim.clients)
      for (const auto& id : c->live_calls())
        if (std::find(live.begin(), live.end(), id) == live.end()) live.push_back(id);
    if (!true_glare_) return;  // users who answer a ringing call and also place one get two calls
    if (live.size() > 1) return sim.fail("glare", std::to_string(live.size()) + " calls between alice and bob survived");
    if (sim.config_calm && live.empty())
      sim.fail("glare", "both calls died although nothing went wrong: glare must leave one call");
  }

 private:
  void place(SimClient& c) {
    const std::string peer = &c == alice_ ? "@bob:sim" : "@alice:sim";
    c.place(room_, peer, rng_.chance(0.3));
  }

  Rng rng_{0};
  SimClient* alice_ = nullptr;
  SimClient* bob_ = nullptr;
  std::string room_;
  bool answer_ringing_ = false;
  bool true_glare_ = false;
};

}  // namespace

std::unique_ptr<Scenario> make_one_to_one() { return std::make_unique<OneToOne>(); }
std::unique_ptr<Scenario> make_glare() { return std::make_unique<Glare>(); }

}  // namespace mxcall::sim
