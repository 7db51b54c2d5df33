// Mesh group calls (MSC3401 over to-device): two to eight devices of two to six users (some
// users with two devices, who overwrite each other's member entries) join one call at random
// times — some at the same millisecond, some leaving as another joins — leave, come back,
// mute; crashes, restarts from the store, homeserver restarts, 429 storms, to-device
// reordering and duplication come from the run's faults. Clocks are skewed (member expiry is
// wall-clock time) and member entries live 45-120 s, so refreshes and expiry happen in a run.
// Forged to-device signalling (a non-member, a device olm does not vouch for, plaintext) is
// injected in half the runs. The settle phase then requires a full mesh of the devices in the
// call (invariants_group.cpp).
#include <map>

#include "events/group_events.hpp"
#include "scenarios.hpp"
#include "sim.hpp"

namespace mxcall::sim {

namespace {

constexpr SimTime kJoinLoop = 1'000;  // a user who wants to be in the call and is not clicks join again

class Mesh final : public Scenario {
 public:
  SimTime length() const override { return 120'000; }

  void setup(Sim& sim) override {
    rng_ = sim.rng().split("mesh");
    sim.group_calls = true;
    sim.member_lifetime = rng_.between(45'000, 120'000);
    static const char* kUsers[] = {"@alice:sim", "@bob:sim", "@carol:sim", "@dave:sim", "@erin:sim", "@frank:sim"};
    const std::size_t users = static_cast<std::size_t>(rng_.between(2, 6));
    const std::size_t devices = static_cast<std::size_t>(rng_.between(static_cast<std::int64_t>(std::max<std::size_t>(users, 2)), 8));
    std::vector<std::string> members;
    for (std::size_t u = 0; u < users; ++u) members.push_back(kUsers[u]);
    std::map<std::string, int> per_user;
    for (std::size_t d = 0; d < devices; ++d) {
      // Every user has a device; the rest go to users who then have two (or more).
      const std::string& user = d < users ? members[d] : members[rng_.index(users)];
      const std::string dev = std::string(1, static_cast<char>(user[1] - 32)) + "DEV" + std::to_string(++per_user[user]);
      sim.add_client(user, dev);
    }
    room_ = sim.hs.create_room(members);
    // Two clocks may disagree by up to twice this: less than the refresh margin (a third of
    // the lifetime, >= 15 s) minus delivery time, the bound GroupCall documents.
    const std::int64_t skew = rng_.chance(0.5) ? rng_.between(0, 5'000) : rng_.between(0, 500);
    for (auto& c : sim.clients) c->set_wall_skew(rng_.between(-skew, skew));
    want_.assign(sim.clients.size(), false);
    creator_ = rng_.index(sim.clients.size());
    if (rng_.chance(0.5)) {  // the call event exists before anyone joins (created by another app)
      conf_ = "simconf" + std::to_string(rng_.between(0, 9999));
      events::GroupCallState s;
      s.intent = events::GroupCallIntent::Prompt;
      s.call_type = events::GroupCallType::Voice;
      sim.hs.handle(sim.clients[creator_]->device(),
                    req::PutState{room_, std::string(events::type::kGroupCall), conf_, "setup", events::to_content(s)},
                    [](matrix::HttpResponse) {});
    }
    script(sim);
    sim.world.at(500, [this, &sim] { join_loop(sim); });
    if (rng_.chance(0.5))
      for (SimTime t = rng_.between(1'000, 15'000); t < length(); t += rng_.between(1'000, 15'000))
        sim.world.at(t, [this, &sim] {
          if (sim.phase == Phase::Safety) forge(sim);
        });
  }

 private:
  void want(Sim& sim, std::size_t i, SimTime at, bool in) {
    sim.world.at(at, [this, &sim, i, in] {
      if (sim.phase != Phase::Safety) return;
      want_[i] = in;
      SimClient& c = *sim.clients[i];
      sim.world.log(c.name(), std::string("user wants ") + (in ? "in" : "out"));
      if (in) try_join(sim, i);
      else c.group_leave(room_);
    });
  }

  void script(Sim& sim) {
    const std::size_t n = sim.clients.size();
    const SimTime first = rng_.between(200, 3'000);
    std::vector<SimTime> joins(n);
    for (std::size_t i = 0; i < n; ++i) {
      joins[i] = i == creator_ ? first : rng_.between(first + 300, 40'000);
      if (i != creator_ && i > 0 && rng_.chance(0.3)) joins[i] = std::max(first + 300, joins[rng_.index(i)]);  // simultaneous
      want(sim, i, joins[i], true);
    }
    for (std::size_t i = 0; i < n; ++i) {
      if (!rng_.chance(0.3)) continue;
      // A leave, sometimes exactly when another device joins; often a rejoin later.
      SimTime leave = joins[i] + rng_.between(5'000, 60'000);
      if (rng_.chance(0.3)) leave = std::max(joins[i] + 1, joins[rng_.index(n)]);
      want(sim, i, leave, false);
      if (rng_.chance(0.6)) want(sim, i, leave + rng_.between(1'000, 30'000), true);
    }
    for (SimTime t = rng_.between(2'000, 20'000); t < length(); t += rng_.between(2'000, 20'000)) {
      const std::size_t i = rng_.index(n);
      sim.world.at(t, [this, &sim, i] {
        if (sim.phase == Phase::Safety) sim.clients[i]->group_mute(room_, muted_[i] = !muted_[i]);
      });
    }
  }

  void try_join(Sim& sim, std::size_t i) {
    SimClient& c = *sim.clients[i];
    if (!want_[i] || !c.alive() || !c.synced() || c.group(room_)) return;
    // Only the creator starts a call, and only while none exists (concurrent creations are
    // not converged yet: NOTES.md).
    const bool create =
        i == creator_ && (conf_.empty() || !sim.hs.state(room_, std::string(events::type::kGroupCall), conf_));
    if (c.group_join(room_, create, false) && create && c.group(room_)) conf_ = c.group(room_)->config().conf_id;
  }

  void join_loop(Sim& sim) {
    if (sim.phase != Phase::Safety && sim.phase != Phase::Settle) return;
    for (std::size_t i = 0; i < sim.clients.size(); ++i) try_join(sim, i);
    sim.world.after(kJoinLoop, [this, &sim] { join_loop(sim); });
  }

  // Signalling no client may accept: from a non-member, from a device olm does not vouch for
  // (another device's olm session claiming this device id), or in plaintext.
  void forge(Sim& sim) {
    std::vector<SimClient*> in;
    for (auto& c : sim.clients)
      if (c->group(room_)) in.push_back(c.get());
    if (in.empty()) return;
    SimClient* target = in[rng_.index(in.size())];
    SimClient* victim = sim.clients[rng_.index(sim.clients.size())].get();  // whose device is impersonated
    const core::GroupCall* g = target->group(room_);
    events::ToDeviceCallEnvelope env;
    env.conf_id = g->config().conf_id;
    env.device_id = victim->device().device_id;
    env.sender_session_id = victim->group(room_) ? victim->group(room_)->config().own_session_id : "forgedsess";
    env.dest_session_id = g->config().own_session_id;
    const core::Call* live = g->peer_call({victim->device().user_id, victim->device().device_id});
    events::CallCommon common{live && rng_.chance(0.7) ? live->call_id() : "1700000000000forged" + std::to_string(rng_.between(0, 99999)),
                              env.device_id, events::CallVersion::V1};
    if (live && rng_.chance(0.5)) {
      env.event = events::CallHangup{common, "user_hangup"};
      env.seq = rng_.between(0, 20);
    } else {
      events::CallInvite invite;
      invite.common = common;
      invite.offer = {media::SdpType::Offer, "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"};
      invite.invitee = target->device().user_id;
      env.event = invite;
      env.seq = 0;
    }
    const std::string type(events::event_type(env.event));
    const auto content = events::to_content(env);
    switch (rng_.index(3)) {
      case 0:  // a non-member with a valid olm device of its own, naming a member's device id
        sim.hs.inject_to_device(target->device(), "@mallory:sim", type, content, env.device_id);
        sim.count("forged: to-device from a non-member");
        break;
      case 1:  // a member's user id, but olm vouches for another device
        sim.hs.inject_to_device(target->device(), victim->device().user_id, type, content, env.device_id + "X");
        sim.count("forged: to-device from a device olm does not vouch for");
        break;
      default:  // plaintext
        sim.hs.inject_to_device(target->device(), victim->device().user_id, type, content, "");
        sim.count("forged: plaintext to-device");
        break;
    }
  }

  Rng rng_{0};
  std::string room_;
  std::string conf_;
  std::size_t creator_ = 0;
  std::vector<bool> want_;
  std::map<std::size_t, bool> muted_;
};

}  // namespace

std::unique_ptr<Scenario> make_mesh() { return std::make_unique<Mesh>(); }

}  // namespace mxcall::sim
