#include <gtest/gtest.h>

#include <map>

#include "core/call_registry.hpp"
#include "unit/call_harness.hpp"

namespace mxcall::testing {
namespace {

using core::CallState;
using namespace std::chrono_literals;

struct Endpoint {
  std::string user;
  std::unique_ptr<core::CallRegistry> calls;
  std::map<std::string, FakePeer> peers;
  std::map<std::string, FakeMedia::Inbox> inboxes;
  std::vector<core::note::Incoming> incoming;
  std::vector<events::CallEvent> sent;
};

// Two or more devices, each with a CallRegistry, in one room; a room event reaches everyone.
struct RegistryRoom {
  core::TimePoint now = core::TimePoint{} + 1h;
  std::vector<std::unique_ptr<Endpoint>> eps;
  std::set<std::string> members;
  struct Pending { std::string sender; std::string event_id; events::CallEvent event; };
  std::deque<Pending> room;
  int next_event = 0;

  Endpoint& add(const std::string& user, const std::string& party) {
    auto ep = std::make_unique<Endpoint>();
    ep->user = user;
    core::RegistryConfig cfg;
    cfg.call.own_user_id = user;
    cfg.call.own_party_id = party;
    cfg.is_member = [this](const std::string&, const std::string& u) { return members.count(u) > 0; };
    ep->calls = std::make_unique<core::CallRegistry>(cfg);
    members.insert(user);
    eps.push_back(std::move(ep));
    return *eps.back();
  }

  void inject(const std::string& sender, const std::string& event_id, const events::CallEvent& e) {
    room.push_back({sender, event_id, e});
  }

  void pump() {
    for (int round = 0; round < 1000; ++round) {
      bool moved = false;
      for (auto& ep : eps) {
        for (auto& [id, inbox] : ep->inboxes)
          while (!inbox.empty()) {
            auto e = inbox.front();
            inbox.pop_front();
            ep->calls->handle(id, e, now);
            moved = true;
          }
        while (auto o = ep->calls->poll()) {
          moved = true;
          if (auto* in = std::get_if<core::note::Incoming>(&o->item)) ep->incoming.push_back(*in);
          FakeMedia::perform(ep->peers[o->call_id], ep->inboxes[o->call_id], o->item, [&](const core::SendSignal& s) {
            ep->sent.push_back(s.event);
            room.push_back({ep->user, "$" + std::to_string(next_event++), s.event});
          });
        }
      }
      while (!room.empty()) {
        auto p = room.front();
        room.pop_front();
        moved = true;
        for (auto& ep : eps) ep->calls->handle_room_event("!r:x", p.sender, p.event_id, p.event, 10, now);
      }
      if (!moved) return;
    }
    ADD_FAILURE() << "did not settle";
  }
};

TEST(CallRegistry, GlareWhereTheyNameUsSmallerCallIdWins) {
  RegistryRoom r;
  auto& alice = r.add("@alice:x", "A");
  auto& bob = r.add("@bob:x", "B");
  alice.calls->place("!r:x", "aaa-call", std::string("@bob:x"), false, r.now);
  bob.calls->place("!r:x", "bbb-call", std::string("@alice:x"), false, r.now);
  r.pump();
  // alice's call id is smaller: bob hangs up his own call (replaced) and answers hers.
  ASSERT_NE(alice.calls->find("aaa-call"), nullptr);
  EXPECT_EQ(alice.calls->find("aaa-call")->state(), CallState::Connected);
  ASSERT_NE(bob.calls->find("aaa-call"), nullptr);
  EXPECT_EQ(bob.calls->find("aaa-call")->state(), CallState::Connected);
  EXPECT_EQ(bob.calls->find("bbb-call")->end_reason(), "replaced");
  EXPECT_TRUE(alice.incoming.empty());
  EXPECT_TRUE(bob.incoming.empty());  // glare answers without ringing
  EXPECT_EQ(alice.calls->live_calls(), 1u);
  EXPECT_EQ(bob.calls->live_calls(), 1u);
}

TEST(CallRegistry, GlareWithAnElementStyleInviteYieldsToThem) {
  RegistryRoom r;
  auto& bob = r.add("@bob:x", "B");
  r.members.insert("@alice:x");
  bob.calls->place("!r:x", "aaa-call", std::string("@alice:x"), false, r.now);
  r.pump();
  ASSERT_EQ(bob.calls->find("aaa-call")->state(), CallState::InviteSent);
  // Element Web calls without an invitee and ignores colliding invites, so bob must yield
  // even though his call id is the smaller one.
  events::CallInvite element;
  element.common = {"zzz-call", std::string("ELEMENTDEV"), events::CallVersion::V1};
  element.offer = {media::SdpType::Offer, "v=0\r\nm=audio 9 X 111\r\na=msid:s a\r\n"};
  r.inject("@alice:x", "$e1", element);
  r.pump();
  EXPECT_EQ(bob.calls->find("aaa-call")->end_reason(), "replaced");
  ASSERT_NE(bob.calls->find("zzz-call"), nullptr);
  EXPECT_EQ(bob.calls->find("zzz-call")->state(), CallState::Connecting);  // answered at once
  ASSERT_EQ(bob.sent.size(), 3u);  // invite, hangup (replaced), answer; candidates ride in the SDPs
  EXPECT_TRUE(std::holds_alternative<events::CallHangup>(bob.sent[1]));
  EXPECT_TRUE(std::holds_alternative<events::CallAnswer>(bob.sent[2]));
  EXPECT_TRUE(bob.incoming.empty());
}

TEST(CallRegistry, GlareWhereOurCallIdIsSmallerKeepsOurs) {
  RegistryRoom r;
  auto& bob = r.add("@bob:x", "B");
  r.members.insert("@alice:x");
  bob.calls->place("!r:x", "aaa-call", std::string("@alice:x"), false, r.now);
  r.pump();
  events::CallInvite named;
  named.common = {"zzz-call", std::string("ALICEDEV"), events::CallVersion::V1};
  named.invitee = "@bob:x";
  named.offer = {media::SdpType::Offer, "v=0\r\n"};
  r.inject("@alice:x", "$e1", named);
  r.pump();
  EXPECT_EQ(bob.calls->find("aaa-call")->state(), CallState::InviteSent);
  EXPECT_EQ(bob.calls->find("zzz-call"), nullptr);
  EXPECT_TRUE(bob.incoming.empty());
}

TEST(CallRegistry, DuplicateEventsAndNonMembersAreDropped) {
  RegistryRoom r;
  auto& bob = r.add("@bob:x", "B");
  events::CallInvite invite;
  invite.common = {"c1", std::string("P"), events::CallVersion::V1};
  invite.offer = {media::SdpType::Offer, "v=0\r\nm=audio 9 X 111\r\n"};
  r.inject("@mallory:x", "$m1", invite);  // not a member
  r.pump();
  EXPECT_TRUE(bob.incoming.empty());
  r.members.insert("@alice:x");
  r.inject("@alice:x", "$a1", invite);
  r.inject("@alice:x", "$a1", invite);  // duplicate delivery
  r.pump();
  EXPECT_EQ(bob.incoming.size(), 1u);
  EXPECT_EQ(bob.incoming[0].caller, "@alice:x");
  EXPECT_FALSE(bob.incoming[0].video_offered);
}

TEST(CallRegistry, InviteWithItsHangupInTheSameBatchNeverRings) {
  RegistryRoom r;
  auto& bob = r.add("@bob:x", "B");
  r.members.insert("@alice:x");
  events::CallInvite invite;
  invite.common = {"c1", std::string("P"), events::CallVersion::V1};
  invite.offer = {media::SdpType::Offer, "v=0\r\n"};
  bob.calls->handle_room_event("!r:x", "@alice:x", "$1", invite, 0, r.now);
  bob.calls->handle_room_event("!r:x", "@alice:x", "$2", events::CallHangup{invite.common, "user_hangup"}, 0, r.now);
  r.pump();
  EXPECT_TRUE(bob.incoming.empty());
  bob.calls->collect();
  // A late repeat of the invite does not resurrect the finished call.
  bob.calls->handle_room_event("!r:x", "@alice:x", "$3", invite, 0, r.now);
  r.pump();
  EXPECT_TRUE(bob.incoming.empty());
  EXPECT_EQ(bob.calls->live_calls(), 0u);
}

TEST(CallRegistry, EventsBeforeTheirInviteAreReplayedAndExpire) {
  RegistryRoom r;
  auto& bob = r.add("@bob:x", "B");
  r.members.insert("@alice:x");
  events::CallCommon common{"c1", std::string("P"), events::CallVersion::V1};
  bob.calls->handle_room_event("!r:x", "@alice:x", "$1", events::CallHangup{common, "user_hangup"}, 0, r.now);
  events::CallInvite invite;
  invite.common = common;
  invite.offer = {media::SdpType::Offer, "v=0\r\n"};
  bob.calls->handle_room_event("!r:x", "@alice:x", "$2", invite, 0, r.now);
  r.pump();
  EXPECT_TRUE(bob.incoming.empty());  // the early hangup ended it at once

  events::CallCommon other{"c2", std::string("P"), events::CallVersion::V1};
  bob.calls->handle_room_event("!r:x", "@alice:x", "$3", events::CallCandidates{other, {}}, 0, r.now);
  ASSERT_TRUE(bob.calls->next_deadline().has_value());
  bob.calls->tick(r.now + 61s);
  EXPECT_FALSE(bob.calls->next_deadline().has_value());
}

}  // namespace
}  // namespace mxcall::testing
