#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "core/mesh_rule.hpp"
#include "unit/group_harness.hpp"

namespace mxcall::testing {
namespace {

using core::CallState;
using core::GroupOutput;

// ---- join, member entry, refresh ----

TEST(GroupCall, JoinPublishesTheCallAndOurEntryAndRefreshesItBeforeItExpires) {
  Mesh mesh;
  auto& a = mesh.add("@alice:x", "ALICE1");
  mesh.input(a, core::gcmd::Join{});
  const auto calls = a.all<core::PutCallState>();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].state_key, "conf1");
  EXPECT_EQ(calls[0].content.intent, events::GroupCallIntent::Prompt);
  EXPECT_EQ(calls[0].content.call_type, events::GroupCallType::Voice);
  EXPECT_FALSE(calls[0].content.terminated);
  ASSERT_EQ(a.all<core::gnote::Joined>().size(), 1u);

  auto puts = a.all<core::PutMemberState>();
  ASSERT_EQ(puts.size(), 1u);
  EXPECT_EQ(puts[0].state_key, "@alice:x");
  EXPECT_EQ(puts[0].room_id, "!room:x");
  const auto* entry = events::find_device(*events::find_call(puts[0].content, "conf1"), "ALICE1");
  ASSERT_NE(entry, nullptr);
  EXPECT_EQ(entry->session_id, "SALICE1");
  EXPECT_EQ(entry->expires_ts, Mesh::kStartUnixMs + 3'600'000);
  ASSERT_EQ(entry->feeds.size(), 1u);
  EXPECT_EQ(entry->feeds[0].purpose, "m.usermedia");

  ASSERT_TRUE(a.group->next_deadline());
  EXPECT_EQ(*a.group->next_deadline(), mesh.now + 45min);
  mesh.advance(45min - 1ms);
  EXPECT_EQ(a.all<core::PutMemberState>().size(), 1u);
  mesh.advance(1ms);
  puts = a.all<core::PutMemberState>();
  ASSERT_EQ(puts.size(), 2u);
  EXPECT_EQ(events::find_call(puts[1].content, "conf1")->devices.at(0).expires_ts,
            Mesh::kStartUnixMs + 45 * 60'000 + 3'600'000);
  mesh.advance(45min);
  EXPECT_EQ(a.all<core::PutMemberState>().size(), 3u);
  EXPECT_EQ(a.all<core::PutCallState>().size(), 1u);  // the call event stays as it is
}

TEST(GroupCall, AJoinBuildsOnOurUsersMemberEventAndKeepsOtherCalls) {
  Mesh mesh;
  auto& a = mesh.add("@alice:x", "ALICE1");
  events::GroupCallMemberContent existing = member_content("other-conf", {member_device("PHONE", "p", Mesh::kStartUnixMs + 10'000)});
  existing.extra["memberships"] = events::Json::array();
  mesh.put_member_state("@alice:x", existing);
  mesh.input(a, core::gcmd::Join{});
  const auto put = a.all<core::PutMemberState>().at(0).content;
  ASSERT_NE(events::find_call(put, "other-conf"), nullptr);
  ASSERT_NE(events::find_call(put, "conf1"), nullptr);
  EXPECT_TRUE(events::to_content(put).contains("memberships"));
  mesh.input(a, core::gcmd::Leave{});
  const auto left = a.all<core::PutMemberState>().back().content;
  EXPECT_EQ(events::find_call(left, "conf1"), nullptr);
  EXPECT_NE(events::find_call(left, "other-conf"), nullptr);
}

TEST(GroupCall, OneTurnOfAJoinSendsTheInvitesForEveryPeerTogether) {
  Mesh mesh;
  std::vector<MeshDevice*> others = {&mesh.add("@bob:x", "BOB1"), &mesh.add("@carol:x", "CAROL1"),
                                     &mesh.add("@dave:x", "DAVE1")};
  for (auto* d : others) mesh.input(*d, core::gcmd::Join{});
  auto& first = mesh.add("@aaron:x", "AARON1");  // sorts first: calls everybody
  mesh.input(first, core::gcmd::Join{});
  std::size_t drains_with_invites = 0;
  for (const auto& drain : first.drains) {
    std::set<std::string> to;
    for (const auto& o : drain)
      if (const auto* s = std::get_if<core::SendToDevice>(&o); s && std::holds_alternative<events::CallInvite>(s->envelope.event))
        to.insert(s->device_id);
    if (to.empty()) continue;
    ++drains_with_invites;
    EXPECT_EQ(to, (std::set<std::string>{"BOB1", "CAROL1", "DAVE1"}));
  }
  EXPECT_EQ(drains_with_invites, 1u);
  expect_full_mesh({&first, others[0], others[1], others[2]});
}

// ---- the mesh ----

TEST(GroupCall, FourDevicesFormAMeshInWhichEveryPairConnectsExactlyOnce) {
  Mesh mesh;
  auto& carol = mesh.add("@carol:x", "CAROL1");
  auto& alice2 = mesh.add("@alice:x", "ALICE2");
  auto& bob = mesh.add("@bob:x", "BOB1");
  auto& alice1 = mesh.add("@alice:x", "ALICE1");
  std::vector<MeshDevice*> all = {&carol, &alice2, &bob, &alice1};
  for (auto* d : all) mesh.input(*d, core::gcmd::Join{});
  expect_full_mesh(all);

  std::size_t invites = 0;
  for (auto* x : all)
    for (auto* y : all) {
      if (x == y) continue;
      const bool first = core::we_initiate(x->user, x->device, y->user, y->device);
      EXPECT_EQ(count_invites(*x, *y), first ? 1u : 0u) << x->device << " -> " << y->device;
      invites += count_invites(*x, *y);
    }
  EXPECT_EQ(invites, 6u);
  for (auto* x : all) {
    EXPECT_EQ(x->sent_of<events::CallHangup>().size(), 0u) << x->device;
    EXPECT_EQ(x->peer_notes<core::note::Connected>().size(), 3u) << x->device;
    EXPECT_EQ(x->group->live_calls(), 3u);
    // Every to-device message carries the mesh fields, and each call counts seq from 0.
    std::map<std::string, std::int64_t> next;
    for (const auto& s : x->sent) {
      EXPECT_EQ(s.envelope.conf_id, "conf1");
      EXPECT_EQ(s.envelope.device_id, x->device);
      EXPECT_EQ(s.envelope.sender_session_id, "S" + x->device);
      EXPECT_EQ(s.envelope.dest_session_id, "S" + s.device_id);
      EXPECT_EQ(events::common_of(s.envelope.event).party_id, x->device);
      const auto& id = events::common_of(s.envelope.event).call_id;
      EXPECT_EQ(s.envelope.seq, next[id]++) << id;
    }
  }
  // Encode once: every peer call of a device sends its audio from one shared source (the
  // same opaque key), and no two devices share a key.
  std::set<std::string> keys;
  for (auto* x : all) {
    std::set<std::string> own;
    for (const auto& [id, peer] : x->peers)
      for (const auto& t : peer.tracks)
        if (t.kind == media::MediaKind::Audio) own.insert(t.shared_source);
    ASSERT_EQ(own.size(), 1u) << x->device;
    EXPECT_FALSE(own.begin()->empty()) << x->device;
    keys.insert(*own.begin());
  }
  EXPECT_EQ(keys.size(), all.size());
  // Both of alice's devices are in her one member event.
  const auto* call = events::find_call(mesh.member_state.at("@alice:x"), "conf1");
  ASSERT_NE(call, nullptr);
  EXPECT_EQ(call->devices.size(), 2u);
}

TEST(GroupCall, DevicesJoiningInTheSameTurnConvergeEvenWhenOneUsersDevicesOverwriteEachOther) {
  Mesh mesh;
  auto& a1 = mesh.add("@alice:x", "ALICE1");
  auto& a2 = mesh.add("@alice:x", "ALICE2");
  auto& bob = mesh.add("@bob:x", "BOB1");
  auto& carol = mesh.add("@carol:x", "CAROL1");
  std::vector<MeshDevice*> all = {&a1, &a2, &bob, &carol};
  for (auto* d : all) mesh.deliver(*d, core::gcmd::Join{});
  mesh.pump();
  // Both of alice's devices wrote her member event from an empty one: the later write won.
  EXPECT_EQ(events::find_call(mesh.member_state.at("@alice:x"), "conf1")->devices.size(), 1u);
  mesh.advance(3s);  // the overwritten device writes its entry again (read-modify-write)
  EXPECT_EQ(events::find_call(mesh.member_state.at("@alice:x"), "conf1")->devices.size(), 2u);
  expect_full_mesh(all);
  std::size_t invites = 0;
  for (auto* x : all)
    for (auto* y : all)
      if (x != y) invites += count_invites(*x, *y);
  EXPECT_EQ(invites, 6u);  // the overwritten device's calls were answered (muted) meanwhile
}

// ---- leaving ----

TEST(GroupCall, LeaveHangsUpEveryPeerBeforeRemovingOurEntryAndARejoinConnectsAgain) {
  Mesh mesh;
  auto& a = mesh.add("@alice:x", "ALICE1");
  auto& b = mesh.add("@bob:x", "BOB1");
  auto& c = mesh.add("@carol:x", "CAROL1");
  for (auto* d : {&a, &b, &c}) mesh.input(*d, core::gcmd::Join{});
  expect_full_mesh({&a, &b, &c});

  const std::size_t drains_before = b.drains.size();
  mesh.input(b, core::gcmd::Leave{});
  const auto& drain = b.drains.at(drains_before);
  std::vector<std::string> order;
  for (const auto& o : drain) {
    if (const auto* s = std::get_if<core::SendToDevice>(&o)) {
      const auto* h = std::get_if<events::CallHangup>(&s->envelope.event);
      ASSERT_NE(h, nullptr);
      EXPECT_EQ(h->reason, "user_hangup");
      order.push_back("hangup " + s->device_id);
    } else if (std::holds_alternative<core::PutMemberState>(o)) {
      order.push_back("member");
    } else if (std::holds_alternative<core::gnote::Left>(o)) {
      order.push_back("left");
    }
  }
  EXPECT_EQ(order, (std::vector<std::string>{"hangup ALICE1", "hangup CAROL1", "member", "left"}));
  EXPECT_EQ(events::find_call(mesh.member_state.at("@bob:x"), "conf1"), nullptr);
  for (auto* d : {&a, &c}) {
    EXPECT_EQ(d->group->participants().size(), 1u);
    EXPECT_EQ(d->group->peer_call(b.key()), nullptr);
    const auto left = d->all<core::gnote::ParticipantLeft>();
    ASSERT_EQ(left.size(), 1u);
    EXPECT_EQ(left[0].device_id, "BOB1");
  }
  EXPECT_TRUE(a.connected_to(c));
  EXPECT_EQ(b.group->live_calls(), 0u);
  mesh.advance(20s);  // nobody calls a device that left
  EXPECT_EQ(count_invites(a, b), 1u);

  mesh.input(b, core::gcmd::Join{});
  expect_full_mesh({&a, &b, &c});
  EXPECT_EQ(count_invites(a, b), 2u);
  EXPECT_EQ(b.all<core::gnote::Joined>().size(), 2u);
}

TEST(GroupCall, ACrashedPeerIsDroppedWhenItsMemberEntryExpires) {
  Mesh mesh;
  auto& a = mesh.add("@alice:x", "ALICE1");
  auto& b = mesh.add("@bob:x", "BOB1");
  auto& c = mesh.add("@carol:x", "CAROL1");
  for (auto* d : {&a, &b, &c}) mesh.input(*d, core::gcmd::Join{});
  expect_full_mesh({&a, &b, &c});
  c.online = false;  // no leave, no refresh: only its expires_ts will end it
  mesh.advance(59min);
  EXPECT_EQ(a.group->participants().size(), 2u);
  mesh.advance(2min);
  for (auto* d : {&a, &b}) {
    EXPECT_EQ(d->group->participants().size(), 1u) << d->device;
    EXPECT_EQ(d->group->peer_call(c.key()), nullptr);
    const auto left = d->all<core::gnote::ParticipantLeft>();
    ASSERT_EQ(left.size(), 1u);
    EXPECT_EQ(left[0].reason, "expired");
  }
  EXPECT_TRUE(a.connected_to(b));  // they refreshed their own entries meanwhile
  EXPECT_GE(a.all<core::PutMemberState>().size(), 2u);
}

// A member lifetime shorter than the 15-minute refresh margin (tests, the CLI's
// --member-lifetime): refreshed at 3/4 of it, not on every turn.
TEST(GroupCall, AShortMemberLifetimeIsRefreshedAtThreeQuartersOfIt) {
  Mesh mesh;
  mesh.tweak_config = [](core::GroupCallConfig& c) { c.member_lifetime = 8s; };
  auto& a = mesh.add("@alice:x", "ALICE1");
  auto& b = mesh.add("@bob:x", "BOB1");
  for (auto* d : {&a, &b}) mesh.input(*d, core::gcmd::Join{});
  ASSERT_TRUE(a.connected_to(b));
  const auto puts = a.all<core::PutMemberState>().size();
  mesh.advance(6s - 1ms);
  EXPECT_EQ(a.all<core::PutMemberState>().size(), puts);
  mesh.advance(1ms);
  EXPECT_EQ(a.all<core::PutMemberState>().size(), puts + 1);
  mesh.advance(60s);
  EXPECT_EQ(a.all<core::PutMemberState>().size(), puts + 11);  // every 6 s
  EXPECT_TRUE(a.connected_to(b));
  b.online = false;  // crashed: gone within one lifetime
  mesh.advance(8s);
  ASSERT_EQ(a.all<core::gnote::ParticipantLeft>().size(), 1u);
  EXPECT_EQ(a.all<core::gnote::ParticipantLeft>()[0].reason, "expired");
}

TEST(GroupCall, WallClocksThatDisagreeByLessThanTheRefreshMarginKeepTheMeshTogether) {
  Mesh mesh;
  auto& a = mesh.add("@alice:x", "ALICE1");
  auto& b = mesh.add("@bob:x", "BOB1");
  b.clock_skew_ms = -10 * 60'000;  // bob's entries look 10 minutes shorter to alice
  mesh.input(a, core::gcmd::Join{});
  mesh.input(b, core::gcmd::Join{});
  ASSERT_TRUE(a.connected_to(b));
  mesh.advance(3h);
  EXPECT_TRUE(a.connected_to(b));
  EXPECT_TRUE(a.all<core::gnote::ParticipantLeft>().empty());
  EXPECT_TRUE(b.all<core::gnote::ParticipantLeft>().empty());
  // Past bob's last expires_ts by alice's clock, without a refresh: gone.
  b.online = false;
  mesh.advance(50min);
  EXPECT_EQ(a.all<core::gnote::ParticipantLeft>().size(), 1u);
}

TEST(GroupCall, ATerminatedCallEventMakesEveryoneLeave) {
  Mesh mesh;
  auto& a = mesh.add("@alice:x", "ALICE1");
  auto& b = mesh.add("@bob:x", "BOB1");
  mesh.input(a, core::gcmd::Join{});
  mesh.input(b, core::gcmd::Join{});
  ASSERT_TRUE(a.connected_to(b));
  mesh.input(a, core::gcmd::Leave{true});
  const auto states = a.all<core::PutCallState>();
  ASSERT_EQ(states.size(), 2u);
  EXPECT_TRUE(states[1].content.terminated);
  ASSERT_EQ(b.all<core::gnote::Left>().size(), 1u);
  EXPECT_EQ(b.all<core::gnote::Left>()[0].reason, "terminated");
  EXPECT_FALSE(b.group->joined());
  EXPECT_EQ(events::find_call(mesh.member_state.at("@bob:x"), "conf1"), nullptr);
  // Joining again starts the call afresh.
  mesh.input(b, core::gcmd::Join{});
  EXPECT_FALSE(b.all<core::PutCallState>().back().content.terminated);
}

TEST(GroupCall, APeerLeavingTheRoomIsHungUpAndItsSignallingDropped) {
  Mesh mesh;
  auto& a = mesh.add("@alice:x", "ALICE1");
  auto& b = mesh.add("@bob:x", "BOB1");
  mesh.input(a, core::gcmd::Join{});
  mesh.input(b, core::gcmd::Join{});
  ASSERT_TRUE(a.connected_to(b));
  mesh.leave_room("@bob:x");
  EXPECT_EQ(a.group->peer_call(b.key()), nullptr);
  EXPECT_EQ(a.all<core::gnote::ParticipantLeft>().at(0).reason, "left_room");
}

// ---- sessions and glare ----

TEST(GroupCall, ANewSessionHangsUpTheOldCallAndTheInitiatorCallsTheNewOne) {
  Mesh mesh;
  auto& a = mesh.add("@alice:x", "ALICE1");
  auto& b = mesh.add("@bob:x", "BOB1");
  mesh.input(a, core::gcmd::Join{});
  mesh.input(b, core::gcmd::Join{});
  ASSERT_TRUE(a.connected_to(b));
  const std::string old_call = a.call_with(b)->call_id();

  mesh.restart(b, "SBOB1-second");  // the app restarted: a new session
  mesh.input(b, core::gcmd::Join{});
  const auto hangups = a.sent_of<events::CallHangup>("BOB1");
  ASSERT_EQ(hangups.size(), 1u);
  EXPECT_EQ(std::get<events::CallHangup>(hangups[0].envelope.event).reason, "new_session");
  EXPECT_EQ(hangups[0].envelope.dest_session_id, "SBOB1");
  const auto left = a.all<core::gnote::ParticipantLeft>();
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].reason, "new_session");
  EXPECT_EQ(a.all<core::gnote::ParticipantJoined>().back().session_id, "SBOB1-second");
  ASSERT_TRUE(a.connected_to(b));
  EXPECT_NE(a.call_with(b)->call_id(), old_call);
  EXPECT_EQ(a.sent_of<events::CallInvite>("BOB1").back().envelope.dest_session_id, "SBOB1-second");
  EXPECT_EQ(b.sent_of<events::CallAnswer>().size(), 1u);  // the new machine ignored the old session's hangup
}

TEST(GroupCall, GlareWhileSettingUpTheSmallerCallIdWinsAndAStaleWinnerIsReplacedByOurCall) {
  Mesh mesh;
  auto& a = mesh.add("@alice:x", "ALICE1");
  auto& b = mesh.add("@bob:x", "BOB1");
  mesh.input(b, core::gcmd::Join{});
  mesh.ice_works = [](const MeshDevice&, const std::string& call_id) { return call_id != "1000stale"; };
  mesh.hold_wire = true;
  mesh.input(a, core::gcmd::Join{});
  const std::string ours = a.call_with(b)->call_id();
  ASSERT_EQ(a.call_with(b)->state(), CallState::InviteSent);

  // A stale invite of bob's with a smaller call id: ours gives way.
  mesh.input(a, crafted_invite("@bob:x", "BOB1", "SBOB1", "1000stale"));
  ASSERT_EQ(a.call_with(b)->call_id(), "1000stale");
  const auto ended = a.peer_notes<core::note::Ended>();
  ASSERT_EQ(ended.size(), 1u);
  EXPECT_EQ(ended[0].first.call_id, ours);
  EXPECT_EQ(ended[0].second.reason, "replaced");
  ASSERT_EQ(a.sent_of<events::CallAnswer>("BOB1").size(), 1u);
  EXPECT_EQ(events::common_of(a.sent_of<events::CallAnswer>("BOB1")[0].envelope.event).call_id, "1000stale");
  EXPECT_EQ(std::get<events::CallHangup>(a.sent_of<events::CallHangup>("BOB1").at(0).envelope.event).reason, "replaced");

  // Bob never had that call: it does not come up, and then the call is ours to place again.
  mesh.release_wire();
  mesh.advance(31s);
  ASSERT_TRUE(a.connected_to(b));
  EXPECT_EQ(count_invites(a, b), 2u);
  EXPECT_TRUE(a.all<core::gnote::PeerRetry>().empty());
  EXPECT_EQ(a.call_with(b)->direction(), core::CallDirection::Outbound);
}

TEST(GroupCall, GlareOnAnEstablishedCallFollowsTheCallIdRuleToo) {
  Mesh mesh;
  auto& a = mesh.add("@alice:x", "ALICE1");
  auto& b = mesh.add("@bob:x", "BOB1");
  mesh.input(a, core::gcmd::Join{});
  mesh.input(b, core::gcmd::Join{});
  ASSERT_TRUE(a.connected_to(b));
  const std::string ours = a.call_with(b)->call_id();

  mesh.input(a, crafted_invite("@bob:x", "BOB1", "SBOB1", "9999999999999zzzz"));  // larger: ignored
  EXPECT_EQ(a.call_with(b)->call_id(), ours);
  EXPECT_TRUE(a.connected_to(b));
  EXPECT_TRUE(a.sent_of<events::CallAnswer>().empty());

  mesh.input(a, crafted_invite("@bob:x", "BOB1", "SBOB1", "1000early"));  // smaller: replaces ours
  EXPECT_EQ(a.call_with(b)->call_id(), "1000early");
  EXPECT_EQ(a.call_with(b)->direction(), core::CallDirection::Inbound);
  const auto hangups = a.sent_of<events::CallHangup>("BOB1");
  ASSERT_EQ(hangups.size(), 1u);
  EXPECT_EQ(events::common_of(hangups[0].envelope.event).call_id, ours);
  EXPECT_EQ(std::get<events::CallHangup>(hangups[0].envelope.event).reason, "replaced");
}

// ---- ordering ----

TEST(GroupCall, ReorderedAndDuplicatedSignallingIsProcessedInOrderOnce) {
  Mesh mesh;
  mesh.tweak_config = [](core::GroupCallConfig& c) { c.video = true; };  // video_muted then means something
  auto& a = mesh.add("@alice:x", "ALICE1");
  auto& b = mesh.add("@bob:x", "BOB1");
  mesh.input(b, core::gcmd::Join{});
  mesh.hold_wire = true;
  mesh.input(a, core::gcmd::Join{});
  ASSERT_EQ(mesh.held_wire.size(), 1u);
  mesh.held_wire.push_back(mesh.held_wire.front());  // the invite twice
  mesh.release_wire();
  ASSERT_TRUE(a.connected_to(b));
  EXPECT_EQ(b.sent_of<events::CallAnswer>().size(), 1u);

  const std::size_t notes_before = b.peer_notes<core::note::RemoteMetadata>().size();
  mesh.hold_wire = true;
  mesh.input(a, core::gcmd::SetMuted{media::MediaKind::Audio, true});
  mesh.input(a, core::gcmd::SetMuted{media::MediaKind::Video, true});
  mesh.input(a, core::gcmd::SetMuted{media::MediaKind::Audio, false});
  ASSERT_EQ(mesh.held_wire.size(), 3u);
  std::reverse(mesh.held_wire.begin(), mesh.held_wire.end());
  const auto copy = mesh.held_wire;
  mesh.held_wire.insert(mesh.held_wire.end(), copy.begin(), copy.end());
  mesh.release_wire();
  const auto notes = b.peer_notes<core::note::RemoteMetadata>();
  ASSERT_EQ(notes.size(), notes_before + 3);
  auto muted = [&](std::size_t i) {
    const auto& m = notes[notes_before + i].second.metadata.begin()->second;
    return std::make_pair(m.audio_muted, m.video_muted);
  };
  EXPECT_EQ(muted(0), std::make_pair(true, false));
  EXPECT_EQ(muted(1), std::make_pair(true, true));
  EXPECT_EQ(muted(2), std::make_pair(false, true));
}

TEST(GroupCall, AGapThatNeverFillsIsReleasedAfterTheGapTimeout) {
  Mesh mesh;
  mesh.tweak_config = [](core::GroupCallConfig& c) { c.video = true; };
  auto& a = mesh.add("@alice:x", "ALICE1");
  auto& b = mesh.add("@bob:x", "BOB1");
  mesh.input(a, core::gcmd::Join{});
  mesh.input(b, core::gcmd::Join{});
  ASSERT_TRUE(a.connected_to(b));
  bool dropped = false;
  mesh.intercept = [&](Mesh::Wire& w) {
    if (dropped || w.from_device != "ALICE1") return true;
    dropped = true;  // the first metadata change is lost
    return false;
  };
  mesh.input(a, core::gcmd::SetMuted{media::MediaKind::Audio, true});
  mesh.input(a, core::gcmd::SetMuted{media::MediaKind::Video, true});
  ASSERT_TRUE(dropped);
  const auto* remote = b.call_with(a);
  ASSERT_TRUE(remote->remote_metadata());
  EXPECT_FALSE(remote->remote_metadata()->begin()->second.video_muted);  // waits for the gap
  mesh.advance(2900ms);
  EXPECT_FALSE(b.call_with(a)->remote_metadata()->begin()->second.video_muted);
  mesh.advance(200ms);
  const auto& m = b.call_with(a)->remote_metadata()->begin()->second;
  EXPECT_TRUE(m.video_muted);
  EXPECT_TRUE(m.audio_muted);
}

TEST(GroupCall, HydrogenStyleCountersThatContinueAcrossARetriedCallNeedNoGapTimeout) {
  Mesh mesh;
  std::string first_call;
  mesh.ice_works = [&](const MeshDevice&, const std::string& call_id) {
    if (first_call.empty()) first_call = call_id;
    return call_id != first_call;
  };
  std::int64_t counter = 0;
  std::vector<std::int64_t> rewritten;
  mesh.intercept = [&](Mesh::Wire& w) {
    if (w.from_device == "ALICE1") {
      w.send.envelope.seq = counter++;  // one counter for the device link, as Hydrogen keeps it
      rewritten.push_back(*w.send.envelope.seq);
    }
    return true;
  };
  auto& a = mesh.add("@alice:x", "ALICE1");
  auto& b = mesh.add("@bob:x", "BOB1");
  mesh.input(b, core::gcmd::Join{});
  mesh.input(a, core::gcmd::Join{});
  EXPECT_FALSE(a.connected_to(b));
  mesh.advance(31s);  // the first call fails (ICE never connects)...
  ASSERT_EQ(a.all<core::gnote::PeerRetry>().size(), 1u);
  mesh.advance(5s);  // ...and is placed again
  ASSERT_TRUE(a.connected_to(b));
  const auto& timings = a.call_with(b)->timings();
  EXPECT_EQ(timings.started, timings.connected);  // bob answered at once: no gap waited for
  const auto invites = a.sent_of<events::CallInvite>("BOB1");
  ASSERT_EQ(invites.size(), 2u);
  EXPECT_EQ(invites[1].envelope.seq, 0);  // we count per call...
  EXPECT_GT(rewritten.size(), 3u);        // ...what bob saw continued across the two calls
}

// ---- retries ----

TEST(GroupCall, AFailedCallIsRetriedThreeTimesThenGivenUp) {
  Mesh mesh;
  mesh.ice_works = [](const MeshDevice&, const std::string&) { return false; };
  auto& a = mesh.add("@alice:x", "ALICE1");
  auto& b = mesh.add("@bob:x", "BOB1");
  mesh.input(b, core::gcmd::Join{});
  mesh.input(a, core::gcmd::Join{});
  mesh.advance(5min);
  const auto retries = a.all<core::gnote::PeerRetry>();
  ASSERT_EQ(retries.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(retries[static_cast<std::size_t>(i)].attempt, i + 1);
    EXPECT_EQ(retries[static_cast<std::size_t>(i)].after, 5s);
  }
  const auto gave_up = a.all<core::gnote::PeerGaveUp>();
  ASSERT_EQ(gave_up.size(), 1u);
  EXPECT_EQ(gave_up[0].last_reason, "ice_failed");
  EXPECT_EQ(count_invites(a, b), 4u);
  EXPECT_EQ(count_invites(b, a), 0u);  // bob never calls: alice is the initiator
  EXPECT_EQ(a.group->link(b.key())->state(), core::PeerLinkState::Done);
}

TEST(GroupCall, APeerThatHungUpBecauseOurEntryVanishedIsCalledAgain) {
  Mesh mesh;
  auto& a1 = mesh.add("@alice:x", "ALICE1");
  auto& b = mesh.add("@bob:x", "BOB1");
  mesh.input(a1, core::gcmd::Join{});
  mesh.input(b, core::gcmd::Join{});
  ASSERT_TRUE(a1.connected_to(b));
  // Alice's other device wrote her member event from a base without ALICE1.
  mesh.put_member_state("@alice:x", member_content("conf1", {member_device("ALICE2", "s2", Mesh::kStartUnixMs + 3'600'000)}));
  EXPECT_EQ(b.group->peer_call(a1.key()), nullptr);  // bob hung up (user_hangup)
  EXPECT_FALSE(a1.connected_to(b));
  mesh.advance(6s);  // alice writes her entry again and calls bob again
  EXPECT_EQ(events::find_call(mesh.member_state.at("@alice:x"), "conf1")->devices.size(), 2u);
  EXPECT_TRUE(a1.connected_to(b));
  EXPECT_EQ(a1.all<core::gnote::PeerRetry>().size(), 1u);
  EXPECT_EQ(count_invites(a1, b), 2u);
}

}  // namespace
}  // namespace mxcall::testing
