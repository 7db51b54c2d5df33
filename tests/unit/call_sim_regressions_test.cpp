// Core bugs the simulator found (tests/sim/regression_seeds.txt has the seeds), pinned down
// at the level of one machine.
#include <gtest/gtest.h>

#include "core/call_registry.hpp"

namespace mxcall::core {
namespace {

using namespace std::chrono_literals;

const TimePoint kStart = TimePoint{} + 1h;

std::string sdp(const std::string& ufrag) {
  return "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=ice-ufrag:" + ufrag + "\r\na=sendrecv\r\n";
}

CallConfig config(const std::string& user, const std::string& party) {
  CallConfig c;
  c.room_id = "!r:x";
  c.own_user_id = user;
  c.own_party_id = party;
  return c;
}

std::vector<CallOutput> drain(Call& c) {
  std::vector<CallOutput> out;
  while (auto o = c.poll()) out.push_back(std::move(*o));
  return out;
}

template <typename T>
std::vector<T> sent(const std::vector<CallOutput>& outs) {
  std::vector<T> found;
  for (const auto& o : outs)
    if (const auto* s = std::get_if<SendSignal>(&o))
      if (const auto* e = std::get_if<T>(&s->event)) found.push_back(*e);
  return found;
}

template <typename T>
std::vector<T> of(const std::vector<CallOutput>& outs) {
  std::vector<T> found;
  for (const auto& o : outs)
    if (const auto* e = std::get_if<T>(&o)) found.push_back(*e);
  return found;
}

media::MediaEvent candidate() { return media::LocalCandidate{1, {"candidate:1 1 udp 1 10.0.0.1 5000 typ host", "0", 0}}; }
media::MediaEvent gathered() { return media::GatheringStateChanged{1, media::GatheringState::Complete}; }

events::CallInvite invite_from_alice() {
  events::CallInvite inv;
  inv.common = {"call1", std::string("ALICE"), events::CallVersion::V1};
  inv.offer = {media::SdpType::Offer, sdp("alice1") + "a=candidate:1 1 udp 1 10.0.0.2 5000 typ host\r\n"};
  inv.invitee = "@bob:x";
  return inv;
}

// bob's side of a connected call from alice (bob is the polite callee).
Call connected_callee() {
  auto c = Call::receive(config("@bob:x", "BOB"), "@alice:x", invite_from_alice(), 0, kStart);
  EXPECT_TRUE(c.ok());
  Call call = std::move(c).value();
  call.handle(cmd::Answer{false}, kStart);
  call.handle(media::LocalDescriptionReady{1, {media::SdpType::Answer, sdp("bob1")}}, kStart);
  call.handle(gathered(), kStart);
  call.handle(media::IceStateChanged{1, media::IceState::Connected}, kStart);
  drain(call);
  EXPECT_EQ(call.state(), CallState::Connected);
  return call;
}

TEST(CallSimRegressions, AnOrphanExpiresAtItsOwnDeadline) {
  RegistryConfig cfg;
  cfg.call = config("@bob:x", "BOB");
  CallRegistry reg(cfg);
  events::CallCommon common{"unknown", std::string("P"), events::CallVersion::V1};
  reg.handle_room_event("!r:x", "@alice:x", "$1", events::CallCandidates{common, {}}, 0, kStart);
  const auto deadline = reg.next_deadline();
  ASSERT_TRUE(deadline.has_value());
  reg.tick(*deadline);  // woken exactly when asked: the orphan must be gone, or the driver spins
  EXPECT_FALSE(reg.next_deadline().has_value());
}

TEST(CallSimRegressions, IceRestartCandidatesRideInTheirOfferNotAheadOfIt) {
  Call call = connected_callee();
  call.handle(cmd::RestartIce{}, kStart);
  ASSERT_FALSE(of<op::CreateOffer>(drain(call)).empty());
  call.handle(media::LocalDescriptionReady{1, {media::SdpType::Offer, sdp("bob2")}}, kStart);
  call.handle(candidate(), kStart);
  EXPECT_TRUE(sent<events::CallCandidates>(drain(call)).empty());  // the offer waits for them
  call.handle(gathered(), kStart + 5ms);
  const auto outs = drain(call);
  const auto negotiate = sent<events::CallNegotiate>(outs);
  ASSERT_EQ(negotiate.size(), 1u);
  EXPECT_NE(negotiate[0].description.sdp.find("a=candidate:1 1 udp 1 10.0.0.1"), std::string::npos);
  EXPECT_TRUE(sent<events::CallCandidates>(outs).empty());
}

TEST(CallSimRegressions, PoliteSideRedoesItsDroppedIceRestartAsARestart) {
  Call call = connected_callee();
  call.handle(cmd::RestartIce{}, kStart);
  call.handle(media::LocalDescriptionReady{1, {media::SdpType::Offer, sdp("bob2")}}, kStart);
  call.handle(gathered(), kStart);
  drain(call);
  ASSERT_EQ(call.signaling(), Signaling::HaveLocalOffer);
  // alice's plain renegotiation (same ufrag) collides with our restart: we are polite and take it.
  events::CallNegotiate theirs{{"call1", std::string("ALICE"), events::CallVersion::V1},
                               {media::SdpType::Offer, sdp("alice1")}, 60'000, std::nullopt};
  call.handle(RemoteSignal{"@alice:x", theirs, 0}, kStart + 10ms);
  drain(call);
  call.handle(media::LocalDescriptionReady{1, {media::SdpType::Answer, sdp("bob2")}}, kStart + 20ms);
  const auto redo = of<op::CreateOffer>(drain(call));
  ASSERT_EQ(redo.size(), 1u);
  EXPECT_TRUE(redo[0].options.ice_restart);  // our fresh agent still needs alice's candidates
}

TEST(CallSimRegressions, OurOwnAnswerFromBeforeARestartStopsTheReplayedInviteFromRinging) {
  auto c = Call::receive(config("@bob:x", "BOB"), "@alice:x", invite_from_alice(), 50'000, kStart);
  ASSERT_TRUE(c.ok());
  Call call = std::move(c).value();
  // History replayed by an initial sync: this device (party BOB) had answered in its last run.
  events::CallAnswer ours{{"call1", std::string("BOB"), events::CallVersion::V1}, {media::SdpType::Answer, sdp("bob0")}, std::nullopt, {}};
  call.handle(RemoteSignal{"@bob:x", ours, 46'000}, kStart);
  EXPECT_TRUE(call.ended());
  EXPECT_EQ(call.end_reason(), "answered_elsewhere");
  EXPECT_TRUE(sent<events::CallHangup>(drain(call)).empty());
}

events::CallNegotiate negotiate(media::SdpType type, const std::string& ufrag, const std::string& extra = "") {
  return events::CallNegotiate{{"call1", std::string("ALICE"), events::CallVersion::V1},
                               {type, sdp(ufrag) + extra}, 60'000, std::nullopt};
}

TEST(CallSimRegressions, ANegotiatePastItsLifetimeIsIgnored) {
  Call call = connected_callee();
  call.handle(RemoteSignal{"@alice:x", negotiate(media::SdpType::Offer, "alice1", "a=sendonly\r\n"), 61'000}, kStart);
  EXPECT_TRUE(of<op::SetRemoteDescription>(drain(call)).empty());
  EXPECT_FALSE(call.remote_on_hold());
}

TEST(CallSimRegressions, OnlyTheNewestOfTwoOffersIsAnswered) {
  Call call = connected_callee();
  call.handle(RemoteSignal{"@alice:x", negotiate(media::SdpType::Offer, "alice1", "a=sendonly\r\n"), 30'000}, kStart);
  call.handle(RemoteSignal{"@alice:x", negotiate(media::SdpType::Offer, "alice1"), 2'000}, kStart);
  EXPECT_EQ(of<op::CreateAnswer>(drain(call)).size(), 2u);
  call.handle(media::LocalDescriptionReady{1, {media::SdpType::Answer, sdp("bob1") + "a=recvonly\r\n"}}, kStart);
  EXPECT_TRUE(sent<events::CallNegotiate>(drain(call)).empty());  // the answer to the older offer
  call.handle(media::LocalDescriptionReady{1, {media::SdpType::Answer, sdp("bob1")}}, kStart);
  const auto answers = sent<events::CallNegotiate>(drain(call));
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(answers[0].description.sdp.find("recvonly"), std::string::npos);
  EXPECT_EQ(call.signaling(), Signaling::Stable);
}

TEST(CallSimRegressions, AnAnswerFromBeforeOurOfferIsNotTakenForItsAnswer) {
  Call call = connected_callee();
  const TimePoint t = kStart + 100s;
  call.handle(cmd::SetHold{true}, t);
  call.handle(media::LocalDescriptionReady{1, {media::SdpType::Offer, sdp("bob1") + "a=sendonly\r\n"}}, t);
  ASSERT_EQ(sent<events::CallNegotiate>(drain(call)).size(), 1u);
  ASSERT_EQ(call.signaling(), Signaling::HaveLocalOffer);
  // alice's answer to an offer of ours from 19 s before this one (which we had given up on).
  call.handle(RemoteSignal{"@alice:x", negotiate(media::SdpType::Answer, "alice1"), 20'000}, t + 1s);
  EXPECT_TRUE(of<op::SetRemoteDescription>(drain(call)).empty());
  EXPECT_EQ(call.signaling(), Signaling::HaveLocalOffer);
  call.handle(RemoteSignal{"@alice:x", negotiate(media::SdpType::Answer, "alice1", "a=recvonly\r\n"), 500}, t + 2s);
  EXPECT_EQ(of<op::SetRemoteDescription>(drain(call)).size(), 1u);
  EXPECT_EQ(call.signaling(), Signaling::Stable);
}

// Glare across bob's devices: bob1's call wins over alice's, bob2 answers alice's call.
// Sim glare seeds 0x1006ee, 0x102b4a, 0x103075: what alice does with her call decides.
class CrossDeviceGlare : public ::testing::Test {
 protected:
  CrossDeviceGlare() : reg_(registry_config()) {
    reg_.place("!r:x", "a-ours", std::string("@alice:x"), false, kStart);
    reg_.handle("a-ours", media::LocalDescriptionReady{1, {media::SdpType::Offer, sdp("bob1")}}, kStart);
    reg_.handle("a-ours", gathered(), kStart);
    while (reg_.poll()) {}
    events::CallInvite theirs = invite_from_alice();
    theirs.common.call_id = "z-theirs";  // the larger id: ours wins the glare here
    reg_.handle_room_event("!r:x", "@alice:x", "$1", theirs, 0, kStart);
  }
  static RegistryConfig registry_config() {
    RegistryConfig cfg;
    cfg.call = config("@bob:x", "BOB1");
    return cfg;
  }
  void bob2_answers_theirs() {
    events::CallAnswer answer{{"z-theirs", std::string("BOB2"), events::CallVersion::V1}, {media::SdpType::Answer, sdp("bob2")}, std::nullopt, {}};
    reg_.handle_room_event("!r:x", "@bob:x", "$2", answer, 0, kStart);
  }
  const Call& ours() { return *reg_.find("a-ours"); }
  CallRegistry reg_;
};

TEST_F(CrossDeviceGlare, OursYieldsWhenThePeerSelectsOurOtherDevicesAnswer) {
  ASSERT_EQ(ours().state(), CallState::InviteSent);
  bob2_answers_theirs();
  EXPECT_EQ(ours().state(), CallState::InviteSent);  // the answer alone decides nothing
  events::CallSelectAnswer select{{"z-theirs", std::string("alice1"), events::CallVersion::V1}, "BOB2"};
  reg_.handle_room_event("!r:x", "@alice:x", "$3", select, 0, kStart);
  EXPECT_TRUE(ours().ended());
  EXPECT_EQ(ours().end_reason(), "replaced");
}

TEST_F(CrossDeviceGlare, OursStaysWhenThePeerHungTheirsUp) {
  events::CallHangup hangup{{"z-theirs", std::string("alice1"), events::CallVersion::V1}, "replaced"};
  reg_.handle_room_event("!r:x", "@alice:x", "$3", hangup, 0, kStart);
  bob2_answers_theirs();  // arrives after alice gave her call up
  EXPECT_FALSE(ours().ended());
}

TEST_F(CrossDeviceGlare, OursStaysWhenThePeerAnsweredOursEvenIfOurOtherDeviceAnsweredTheirs) {
  bob2_answers_theirs();
  events::CallAnswer alice_takes_ours{{"a-ours", std::string("alice1"), events::CallVersion::V1}, {media::SdpType::Answer, sdp("alice1")}, std::nullopt, {}};
  reg_.handle_room_event("!r:x", "@alice:x", "$3", alice_takes_ours, 0, kStart);
  events::CallHangup hangup{{"z-theirs", std::string("alice1"), events::CallVersion::V1}, "replaced"};
  reg_.handle_room_event("!r:x", "@alice:x", "$4", hangup, 0, kStart);
  EXPECT_FALSE(ours().ended());
  EXPECT_EQ(ours().state(), CallState::Connecting);
}

TEST_F(CrossDeviceGlare, APeerSelectionThatArrivedBeforeTheirInviteIsHonoured) {
  // A fresh registry: bob2's answer and alice's select_answer arrive before alice's invite.
  CallRegistry reg(registry_config());
  reg.place("!r:x", "a-ours", std::string("@alice:x"), false, kStart);
  reg.handle("a-ours", media::LocalDescriptionReady{1, {media::SdpType::Offer, sdp("bob1")}}, kStart);
  reg.handle("a-ours", gathered(), kStart);
  while (reg.poll()) {}
  events::CallSelectAnswer select{{"z-theirs", std::string("alice1"), events::CallVersion::V1}, "BOB2"};
  reg.handle_room_event("!r:x", "@alice:x", "$3", select, 0, kStart);
  events::CallInvite theirs = invite_from_alice();
  theirs.common.call_id = "z-theirs";
  reg.handle_room_event("!r:x", "@alice:x", "$1", theirs, 0, kStart);
  EXPECT_TRUE(reg.find("a-ours")->ended());
}

}  // namespace
}  // namespace mxcall::core
