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

}  // namespace
}  // namespace mxcall::core
