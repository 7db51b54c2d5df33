#include <gtest/gtest.h>

#include "unit/call_harness.hpp"

namespace mxcall::testing {
namespace {

using core::CallState;
using namespace std::chrono_literals;

struct CallTest : ::testing::Test {
  Room room;
  Device& alice = room.add("@alice:x", "ALICEDEV");
  Device& bob = room.add("@bob:x", "BOBDEV");

  void connect(bool video = false) {
    room.place(alice, video);
    room.pump();
    ASSERT_TRUE(bob.call) << bob.invite_error.value_or("no invite");
    room.input(bob, core::cmd::Answer{video});
    ASSERT_EQ(alice.state(), CallState::Connected);
    ASSERT_EQ(bob.state(), CallState::Connected);
  }
};

TEST_F(CallTest, HappyPathConnectsBothSidesWithSelectAnswer) {
  room.place(alice, false, std::string("@bob:x"));
  room.pump();
  EXPECT_EQ(alice.state(), CallState::InviteSent);
  ASSERT_TRUE(bob.call);
  EXPECT_EQ(bob.state(), CallState::Ringing);
  // The callee sends nothing, candidates included, before it answers.
  EXPECT_TRUE(bob.sent.empty());

  room.input(bob, core::cmd::Answer{false});
  EXPECT_EQ(alice.state(), CallState::Connected);
  EXPECT_EQ(bob.state(), CallState::Connected);
  auto selects = alice.sent_of<events::CallSelectAnswer>();
  ASSERT_EQ(selects.size(), 1u);
  EXPECT_EQ(selects[0].selected_party_id, "BOBDEV");
  EXPECT_EQ(alice.all<core::note::Connected>().size(), 1u);
  EXPECT_EQ(bob.all<core::note::FirstMedia>().size(), 1u);

  const auto invite = alice.sent_of<events::CallInvite>().at(0);
  EXPECT_EQ(invite.invitee, "@bob:x");
  EXPECT_EQ(invite.lifetime_ms, 60'000);
  ASSERT_TRUE(invite.metadata.has_value());
  EXPECT_EQ(invite.metadata->size(), 1u);
}

TEST_F(CallTest, CandidatesGatheredBeforeTheInviteRideInItsSdp) {
  room.place(alice);
  room.pump();
  ASSERT_EQ(alice.sent.size(), 1u);  // no separate m.call.candidates: no extra homeserver hop
  const auto invite = alice.sent_of<events::CallInvite>().at(0);
  EXPECT_NE(invite.offer.sdp.find("\r\na=candidate:1 1 udp 1 127.0.0.1 5000 typ host\r\n"), std::string::npos);
  EXPECT_NE(invite.offer.sdp.find("\r\na=end-of-candidates\r\n"), std::string::npos);
  EXPECT_EQ(bob.state(), CallState::Ringing);
}

TEST(CallCandidates, SlowGatheringSendsTheInviteAfterTheWaitAndTricklesTheRestInOneEvent) {
  core::CallConfig cfg;
  cfg.room_id = "!r:x";
  cfg.own_user_id = "@a:x";
  cfg.own_party_id = "A";
  core::TimePoint now{};
  auto call = core::Call::place(cfg, "c1", std::string("@b:x"), false, now);
  while (call.poll()) {}
  call.handle(media::LocalDescriptionReady{1, {media::SdpType::Offer, "v=0\r\nm=audio 9 X 111\r\na=mid:0\r\n"}}, now);
  EXPECT_FALSE(call.poll().has_value());  // held back while candidates gather
  ASSERT_TRUE(call.next_deadline());
  EXPECT_EQ(call.next_deadline()->timer, core::CallTimer::GatherWait);
  now += cfg.gather_wait;
  call.handle(core::Tick{}, now);
  std::vector<events::CallEvent> sent;
  while (auto o = call.poll())
    if (auto* s = std::get_if<core::SendSignal>(&*o)) sent.push_back(s->event);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<events::CallInvite>(sent[0]));
  // Two candidates in one turn leave in one event.
  call.handle(media::LocalCandidate{1, {"candidate:1 1 udp 1 10.0.0.1 5000 typ host", "0", 0}}, now);
  call.handle(media::LocalCandidate{1, {"candidate:2 1 udp 1 10.0.0.2 5000 typ srflx", "0", 0}}, now);
  sent.clear();
  while (auto o = call.poll())
    if (auto* s = std::get_if<core::SendSignal>(&*o)) sent.push_back(s->event);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(std::get<events::CallCandidates>(sent[0]).candidates.size(), 2u);
}

TEST(SdpCandidates, InsertedIntoTheirSectionsWithEndMarkers) {
  const std::string sdp = "v=0\r\no=- 1 0 IN IP4 0.0.0.0\r\nm=audio 9 X 111\r\na=mid:0\r\nm=video 0 X 96\r\na=mid:1\r\n";
  std::vector<media::IceCandidate> left;
  const auto out = core::sdp_with_candidates(sdp, {{"candidate:1 1 udp 1 1.2.3.4 5 typ host", "0", 0},
                                                   {"candidate:2 1 udp 1 1.2.3.4 6 typ host", std::nullopt, 1},
                                                   {"candidate:3 1 udp 1 1.2.3.4 7 typ host", "9", std::nullopt},
                                                   {"", std::nullopt, std::nullopt}},
                                             left);
  EXPECT_EQ(out,
            "v=0\r\no=- 1 0 IN IP4 0.0.0.0\r\nm=audio 9 X 111\r\na=mid:0\r\na=candidate:1 1 udp 1 1.2.3.4 5 typ host\r\n"
            "a=end-of-candidates\r\nm=video 0 X 96\r\na=mid:1\r\na=candidate:2 1 udp 1 1.2.3.4 6 typ host\r\n"
            "a=end-of-candidates\r\n");
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].sdp_mid, "9");
}

TEST_F(CallTest, RejectEndsBothSides) {
  room.place(alice);
  room.pump();
  room.input(bob, core::cmd::Reject{});
  EXPECT_EQ(bob.state(), CallState::Ended);
  EXPECT_EQ(bob.sent_of<events::CallReject>().size(), 1u);
  EXPECT_EQ(alice.state(), CallState::Ended);
  EXPECT_EQ(alice.call->end_reason(), "rejected");
}

TEST_F(CallTest, UnansweredInviteTimesOutOnBothSides) {
  room.place(alice);
  room.pump();
  room.advance(59'000ms);
  EXPECT_EQ(alice.state(), CallState::InviteSent);
  room.advance(1'100ms);
  EXPECT_EQ(alice.state(), CallState::Ended);
  auto hangups = alice.sent_of<events::CallHangup>();
  ASSERT_EQ(hangups.size(), 1u);
  EXPECT_EQ(hangups[0].reason, "invite_timeout");
  EXPECT_EQ(bob.state(), CallState::Ended);  // the caller's hangup stopped the ringing
  EXPECT_FALSE(alice.call->next_deadline().has_value());
}

TEST_F(CallTest, CalleeStopsRingingWhenTheLifetimeRunsOutEvenWithoutAHangup) {
  room.delivery_age_ms = 50'000;  // the invite reached bob late: 10 s of ringing left
  room.place(alice);
  room.pump();
  ASSERT_EQ(bob.state(), CallState::Ringing);
  ASSERT_TRUE(bob.call->next_deadline().has_value());
  EXPECT_EQ(bob.call->next_deadline()->at, room.now + 10'000ms);
}

TEST_F(CallTest, ExpiredOrForeignInvitesDoNotRing) {
  room.delivery_age_ms = 58'000;  // less than the 3 s grace left
  room.place(alice);
  room.pump();
  EXPECT_FALSE(bob.call);
  EXPECT_NE(bob.invite_error->find("expired"), std::string::npos);

  Room other;
  Device& a = other.add("@alice:x", "A");
  Device& b = other.add("@bob:x", "B");
  other.place(a, false, std::string("@carol:x"));
  other.pump();
  EXPECT_FALSE(b.call);
  EXPECT_NE(b.invite_error->find("meant for @carol:x"), std::string::npos);
}

TEST_F(CallTest, SecondCalleeDeviceStopsRingingQuietlyWhenAnotherAnswers) {
  Device& bob2 = room.add("@bob:x", "BOBPHONE");
  room.place(alice);
  room.pump();
  ASSERT_EQ(bob.state(), CallState::Ringing);
  ASSERT_EQ(bob2.state(), CallState::Ringing);
  room.input(bob, core::cmd::Answer{false});
  EXPECT_EQ(alice.state(), CallState::Connected);
  EXPECT_EQ(bob.state(), CallState::Connected);
  EXPECT_EQ(bob2.state(), CallState::Ended);
  EXPECT_EQ(bob2.call->end_reason(), "answered_elsewhere");
  EXPECT_TRUE(bob2.sent.empty());
}

TEST_F(CallTest, CallerCommitsToTheFirstAnswerAndIgnoresTheSecond) {
  Device& carol = room.add("@carol:x", "CAROLDEV");
  room.place(alice);
  room.pump();
  // Both answer in the same turn; alice picks bob (first in the room order).
  bob.call->handle(core::cmd::Answer{false}, room.now);
  carol.call->handle(core::cmd::Answer{false}, room.now);
  room.pump();
  EXPECT_EQ(alice.call->opponent()->user_id, "@bob:x");
  EXPECT_EQ(carol.state(), CallState::Ended);
  EXPECT_EQ(carol.call->end_reason(), "answered_elsewhere");
  EXPECT_EQ(alice.sent_of<events::CallSelectAnswer>().size(), 1u);
}

TEST_F(CallTest, HangupFromEitherSideEndsTheCallAndStrangersAreIgnored) {
  connect();
  Device& mallory = room.add("@mallory:x", "M");
  (void)mallory;
  events::CallHangup forged{{"call1", std::string("BOBDEV"), events::CallVersion::V1}, "user_hangup"};
  alice.call->handle(core::RemoteSignal{"@mallory:x", forged, 0}, room.now);
  EXPECT_EQ(alice.state(), CallState::Connected);

  room.input(bob, core::cmd::Hangup{});
  EXPECT_EQ(bob.state(), CallState::Ended);
  EXPECT_EQ(alice.state(), CallState::Ended);
  EXPECT_EQ(alice.call->end_reason(), "user_hangup");
  EXPECT_TRUE(alice.all<core::note::Ended>().at(0).by_remote);
  // An ended call emits nothing further and has no timer left.
  const auto outputs_before = alice.outputs.size();
  alice.call->handle(core::cmd::Hangup{}, room.now);
  room.pump();
  EXPECT_EQ(alice.outputs.size(), outputs_before);
  EXPECT_FALSE(alice.call->next_deadline().has_value());
  EXPECT_EQ(std::count(alice.peer.ops.begin(), alice.peer.ops.end(), "close"), 1);
}

TEST_F(CallTest, VideoAddedMidCallByEitherSideRenegotiates) {
  connect();
  room.input(alice, core::cmd::SetVideo{true});
  EXPECT_EQ(alice.call->signaling(), core::Signaling::Stable);
  EXPECT_EQ(bob.call->signaling(), core::Signaling::Stable);
  auto offers = alice.sent_of<events::CallNegotiate>();
  ASSERT_EQ(offers.size(), 1u);
  EXPECT_EQ(offers[0].description.type, media::SdpType::Offer);
  auto answers = bob.sent_of<events::CallNegotiate>();
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(answers[0].description.type, media::SdpType::Answer);

  room.input(bob, core::cmd::SetVideo{true});
  EXPECT_EQ(bob.sent_of<events::CallNegotiate>().size(), 2u);
  EXPECT_EQ(alice.call->signaling(), core::Signaling::Stable);
  EXPECT_EQ(bob.call->signaling(), core::Signaling::Stable);
}

TEST_F(CallTest, CollidingRenegotiationsResolveByPoliteness) {
  connect();
  // Both offer in the same turn.
  alice.call->handle(core::cmd::SetVideo{true}, room.now);
  bob.call->handle(core::cmd::SetVideo{true}, room.now);
  room.pump();
  EXPECT_EQ(alice.call->signaling(), core::Signaling::Stable);
  EXPECT_EQ(bob.call->signaling(), core::Signaling::Stable);
  // Bob (polite) answered alice's offer and then re-offered; alice answered that.
  int bob_offers = 0, alice_answers = 0;
  for (const auto& n : bob.sent_of<events::CallNegotiate>()) bob_offers += n.description.type == media::SdpType::Offer;
  for (const auto& n : alice.sent_of<events::CallNegotiate>()) alice_answers += n.description.type == media::SdpType::Answer;
  EXPECT_EQ(bob_offers, 2);
  EXPECT_EQ(alice_answers, 1);
  EXPECT_FALSE(alice.call->next_deadline().has_value());
}

TEST_F(CallTest, HoldIsSeenByTheOtherSide) {
  connect();
  room.input(alice, core::cmd::SetHold{true});
  EXPECT_TRUE(alice.peer.hold);
  auto held = bob.all<core::note::RemoteHold>();
  ASSERT_EQ(held.size(), 1u);
  EXPECT_TRUE(held[0].on_hold);
  room.input(alice, core::cmd::SetHold{false});
  EXPECT_FALSE(bob.all<core::note::RemoteHold>().back().on_hold);
  EXPECT_TRUE(bob.call->remote_on_hold() == false);
}

// Sim seeds one_to_one 0x1015ee and 0x1011e7 (100k soak): an offer that times out is made
// again, and a peer that leaves two in a row unanswered is gone.
TEST_F(CallTest, AnUnansweredHoldOfferIsMadeAgainAndReachesThePeer) {
  connect();
  auto bobs_call = std::move(bob.call);
  bob.call.reset();  // bob misses the first offer
  room.input(alice, core::cmd::SetHold{true});
  bob.call = std::move(bobs_call);
  room.advance(std::chrono::seconds(61));
  int offers = 0;
  for (const auto& n : alice.sent_of<events::CallNegotiate>()) offers += n.description.type == media::SdpType::Offer;
  EXPECT_EQ(offers, 2);
  EXPECT_TRUE(bob.call->remote_on_hold());
  EXPECT_EQ(alice.call->signaling(), core::Signaling::Stable);
  room.advance(std::chrono::seconds(130));
  EXPECT_FALSE(alice.call->ended());
}

TEST_F(CallTest, APeerThatLeavesTwoOffersUnansweredIsGone) {
  connect();
  bob.call.reset();  // bob's process died with the call
  room.input(alice, core::cmd::SetHold{true});
  room.advance(std::chrono::seconds(61));
  EXPECT_FALSE(alice.call->ended());
  room.advance(std::chrono::seconds(61));
  ASSERT_TRUE(alice.call->ended());
  EXPECT_EQ(alice.call->end_reason(), "unknown_error");
  ASSERT_FALSE(alice.sent_of<events::CallHangup>().empty());
}

TEST_F(CallTest, MuteSendsMetadataChanged) {
  connect();
  room.input(bob, core::cmd::SetMuted{media::MediaKind::Audio, true});
  auto changed = bob.sent_of<events::CallMetadataChanged>();
  ASSERT_EQ(changed.size(), 1u);
  EXPECT_TRUE(changed[0].metadata.begin()->second.audio_muted);
  ASSERT_TRUE(alice.call->remote_metadata());
  EXPECT_TRUE(alice.call->remote_metadata()->begin()->second.audio_muted);
  // Muting twice changes nothing.
  room.input(bob, core::cmd::SetMuted{media::MediaKind::Audio, true});
  EXPECT_EQ(bob.sent_of<events::CallMetadataChanged>().size(), 1u);
}

TEST_F(CallTest, DisconnectedPathRestartsIceAndRecovers) {
  connect();
  room.input(alice, media::IceStateChanged{1, media::IceState::Disconnected});
  EXPECT_EQ(alice.call->link(), core::LinkState::Disconnected);
  room.advance(2'100ms);
  EXPECT_EQ(std::count(alice.peer.ops.begin(), alice.peer.ops.end(), "create_offer_restart"), 1);
  EXPECT_EQ(alice.call->link(), core::LinkState::Up);
  EXPECT_EQ(alice.state(), CallState::Connected);
  EXPECT_FALSE(alice.call->next_deadline().has_value());
}

TEST_F(CallTest, IceThatNeverRecoversEndsWithIceFailed) {
  connect();
  alice.peer.ice_works = false;
  bob.peer.ice_works = false;
  room.input(alice, media::IceStateChanged{1, media::IceState::Failed});
  room.advance(16'000ms);
  EXPECT_EQ(alice.state(), CallState::Ended);
  EXPECT_EQ(alice.call->end_reason(), "ice_failed");
  EXPECT_EQ(bob.state(), CallState::Ended);
}

TEST_F(CallTest, NeverConnectingTimesOut) {
  alice.peer.ice_works = false;
  bob.peer.ice_works = false;
  room.place(alice);
  room.pump();
  room.input(bob, core::cmd::Answer{false});
  EXPECT_EQ(alice.state(), CallState::Connecting);
  room.advance(31'000ms);
  EXPECT_EQ(alice.state(), CallState::Ended);
  EXPECT_EQ(alice.call->end_reason(), "ice_failed");
}

TEST_F(CallTest, Version0PeerGetsHangupInsteadOfReject) {
  events::CallInvite v0;
  v0.common = {"oldcall", std::nullopt, events::CallVersion::V0};
  v0.offer = {media::SdpType::Offer, "v=0\r\n"};
  auto c = core::Call::receive(room.config_for(bob), "@alice:x", v0, 0, room.now);
  ASSERT_TRUE(c.ok());
  bob.call.emplace(std::move(c).value());
  room.input(bob, core::cmd::Reject{});
  EXPECT_EQ(bob.sent_of<events::CallHangup>().size(), 1u);
  EXPECT_TRUE(bob.sent_of<events::CallReject>().empty());
}

TEST_F(CallTest, FailedInviteSendEndsTheCall) {
  room.place(alice);
  room.pump();
  room.input(alice, core::SendFailed{"m.call.invite", Error::make(ErrorKind::Network, "down")});
  EXPECT_EQ(alice.state(), CallState::Ended);
  EXPECT_EQ(alice.call->end_reason(), "send_invite");
}

TEST_F(CallTest, FailedOfferCreationEndsTheCallQuietly) {
  room.place(alice);
  alice.call->handle(media::OperationFailed{1, "create_offer", "no codecs"}, room.now);
  room.pump();
  EXPECT_EQ(alice.state(), CallState::Ended);
  EXPECT_EQ(alice.call->end_reason(), "create_offer");
  EXPECT_TRUE(alice.sent.empty());  // nothing was announced, so nothing to hang up
  EXPECT_FALSE(bob.call);
}

TEST_F(CallTest, FailedAnswerApplicationHangsUp) {
  alice.peer.ice_works = false;
  room.place(alice);
  room.pump();
  room.input(bob, core::cmd::Answer{false});
  ASSERT_EQ(alice.state(), CallState::Connecting);
  room.input(alice, media::OperationFailed{1, "set_remote_description", "bad answer"});
  EXPECT_EQ(alice.state(), CallState::Ended);
  EXPECT_EQ(alice.sent_of<events::CallHangup>().size(), 1u);
}

TEST_F(CallTest, UnexpectedInputsInTheWrongStateAreIgnored) {
  room.place(alice);
  room.pump();
  room.input(alice, core::cmd::Answer{false});  // the caller cannot answer
  room.input(alice, core::cmd::SendDtmf{"1"});  // not connected yet
  events::CallSelectAnswer sel{{"call1", std::string("X"), events::CallVersion::V1}, "X"};
  room.input(alice, core::RemoteSignal{"@bob:x", sel, 0});  // select_answer means nothing to a caller
  EXPECT_EQ(alice.state(), CallState::InviteSent);
}

TEST(SdpHold, DirectionsDecideHold) {
  EXPECT_TRUE(core::sdp_holds_peer("v=0\r\nm=audio 9 X 111\r\na=sendonly\r\nm=video 0 X 96\r\na=inactive\r\n"));
  EXPECT_FALSE(core::sdp_holds_peer("v=0\r\nm=audio 9 X 111\r\na=sendonly\r\nm=video 0 X 96\r\na=sendrecv\r\n"));
  EXPECT_FALSE(core::sdp_holds_peer("v=0\r\nm=audio 9 X 111\r\n"));  // sendrecv by default
  EXPECT_FALSE(core::sdp_holds_peer("v=0\r\n"));
}

}  // namespace
}  // namespace mxcall::testing
