#include <gtest/gtest.h>

#include <set>

#include "unit/group_harness.hpp"

namespace mxcall::testing {
namespace {

// ---- what is refused ----

struct GroupRejectTest : ::testing::Test {
  Mesh mesh;
  MeshDevice& a = mesh.add("@alice:x", "ALICE1");

  void SetUp() override {
    // @aaron sorts before @alice: aaron calls, alice waits. Aaron has no machine here.
    mesh.room_members.insert("@aaron:x");
    for (auto& d : mesh.devices) mesh.deliver(*d, core::RoomMembers{mesh.room_members});
    mesh.put_member_state("@aaron:x",
                          member_content("conf1", {member_device("AARON1", "saaron", Mesh::kStartUnixMs + 3'600'000)}));
    mesh.input(a, core::gcmd::Join{});
  }
  bool answered(const std::string& device) const { return !a.sent_of<events::CallAnswer>(device).empty(); }
};

TEST_F(GroupRejectTest, SignallingThatFailsAnyCheckIsDroppedAndAValidInviteIsAnswered) {
  auto invite = crafted_invite("@aaron:x", "AARON1", "saaron", "1767225600000aaron1");
  std::vector<std::pair<std::string, core::ToDeviceSignal>> bad;
  auto plaintext = invite;
  plaintext.encrypted = false;
  plaintext.sender_device.reset();
  bad.emplace_back("plaintext", plaintext);
  auto mismatch = invite;
  mismatch.sender_device = "EVIL";
  bad.emplace_back("device mismatch", mismatch);
  auto unverified = invite;
  unverified.sender_device.reset();
  bad.emplace_back("unknown sender device", unverified);
  auto other_session = invite;
  other_session.envelope.dest_session_id = "SOMEONEELSE";
  bad.emplace_back("dest session", other_session);
  auto other_conf = invite;
  other_conf.envelope.conf_id = "conf2";
  bad.emplace_back("conf id", other_conf);
  auto stranger = crafted_invite("@zed:x", "ZED1", "szed", "1767225600000zed01");  // listed, not joined
  mesh.put_member_state("@zed:x", member_content("conf1", {member_device("ZED1", "szed", Mesh::kStartUnixMs + 3'600'000)}));
  bad.emplace_back("non-member", stranger);
  bad.emplace_back("own device", crafted_invite("@alice:x", "ALICE1", "SALICE1", "1767225600000self1"));

  for (const auto& [why, signal] : bad) {
    mesh.input(a, signal);
    EXPECT_TRUE(a.sent.empty()) << why;
    EXPECT_EQ(a.group->live_calls(), 0u) << why;
  }
  mesh.advance(20s);  // nothing was held for later either
  EXPECT_TRUE(a.sent.empty());

  mesh.input(a, invite);
  EXPECT_TRUE(answered("AARON1"));
  EXPECT_EQ(a.group->live_calls(), 1u);
}

TEST_F(GroupRejectTest, PlaintextIsAcceptedWhenEncryptionIsNotRequired) {
  Mesh open_mesh;
  open_mesh.tweak_config = [](core::GroupCallConfig& c) { c.require_encryption = false; };
  auto& x = open_mesh.add("@alice:x", "ALICE1");
  open_mesh.room_members.insert("@aaron:x");
  open_mesh.deliver(x, core::RoomMembers{open_mesh.room_members});
  open_mesh.put_member_state("@aaron:x",
                             member_content("conf1", {member_device("AARON1", "saaron", Mesh::kStartUnixMs + 3'600'000)}));
  open_mesh.input(x, core::gcmd::Join{});
  auto plaintext = crafted_invite("@aaron:x", "AARON1", "saaron", "1767225600000aaron1");
  plaintext.encrypted = false;
  plaintext.sender_device.reset();
  open_mesh.input(x, plaintext);
  EXPECT_EQ(x.sent_of<events::CallAnswer>("AARON1").size(), 1u);
}

TEST_F(GroupRejectTest, AnInviteFromAnotherSessionWaitsForItsMemberEventWhileItLives) {
  // Aaron restarted: the invite comes from a session member state does not show yet.
  mesh.input(a, crafted_invite("@aaron:x", "AARON1", "saaron2", "1767225600000aaron2"));
  EXPECT_FALSE(answered("AARON1"));
  mesh.put_member_state("@aaron:x",
                        member_content("conf1", {member_device("AARON1", "saaron2", Mesh::kStartUnixMs + 3'600'000)}));
  EXPECT_TRUE(answered("AARON1"));

  // An invite waits as long as it can be answered (its entry may be late: another device of
  // its user overwrote it), past the grace for other messages...
  mesh.input(a, crafted_invite("@aaron:x", "AARON1", "saaron3", "1767225600000aaron3"));
  mesh.advance(11s);
  mesh.put_member_state("@aaron:x",
                        member_content("conf1", {member_device("AARON1", "saaron3", Mesh::kStartUnixMs + 3'600'000)}));
  EXPECT_EQ(a.sent_of<events::CallAnswer>("AARON1").size(), 2u);

  // ...and once its lifetime is over it is dropped.
  mesh.input(a, crafted_invite("@aaron:x", "AARON1", "saaron4", "1767225600000aaron4"));
  mesh.advance(61s);
  mesh.put_member_state("@aaron:x",
                        member_content("conf1", {member_device("AARON1", "saaron4", Mesh::kStartUnixMs + 3'600'000)}));
  EXPECT_EQ(a.sent_of<events::CallAnswer>("AARON1").size(), 2u);
}

TEST_F(GroupRejectTest, AnInviteFromAnUnlistedDeviceIsAnsweredMutedUntilItsEntryArrives) {
  auto invite = crafted_invite("@aaron:x", "AARON2", "saaronb", "1767225600000aaronb");
  mesh.input(a, invite);
  const auto answers = a.sent_of<events::CallAnswer>("AARON2");
  ASSERT_EQ(answers.size(), 1u);
  const auto& meta = std::get<events::CallAnswer>(answers[0].envelope.event).metadata;
  ASSERT_TRUE(meta);
  EXPECT_TRUE(meta->begin()->second.audio_muted);
  EXPECT_TRUE(a.all<core::gnote::ParticipantJoined>().size() == 1u);  // only AARON1 so far

  // Its member event arrives: unmuted, told to the peer, and it is a participant now.
  mesh.put_member_state("@aaron:x", member_content("conf1", {member_device("AARON1", "saaron", Mesh::kStartUnixMs + 3'600'000),
                                                             member_device("AARON2", "saaronb", Mesh::kStartUnixMs + 3'600'000)}));
  const auto changed = a.sent_of<events::CallMetadataChanged>("AARON2");
  ASSERT_EQ(changed.size(), 1u);
  EXPECT_FALSE(std::get<events::CallMetadataChanged>(changed[0].envelope.event).metadata.begin()->second.audio_muted);
  EXPECT_EQ(a.all<core::gnote::ParticipantJoined>().back().device_id, "AARON2");
  mesh.advance(20s);
  EXPECT_EQ(a.group->live_calls(), 1u);
}

TEST_F(GroupRejectTest, AnUnlistedDeviceThatNeverAppearsIsHungUpAfterTheGrace) {
  mesh.input(a, crafted_invite("@aaron:x", "AARON9", "s9", "1767225600000aaron9"));
  ASSERT_EQ(a.group->live_calls(), 1u);
  mesh.advance(9s);
  EXPECT_EQ(a.group->live_calls(), 1u);
  mesh.advance(2s);
  EXPECT_EQ(a.group->live_calls(), 0u);
  EXPECT_EQ(a.sent_of<events::CallHangup>("AARON9").size(), 1u);
  EXPECT_EQ(a.group->link({"@aaron:x", "AARON9"}), nullptr);
  // Candidates (anything but an invite) from an unlisted device are only held, never acted on.
  events::CallCandidates cands{events::CallCommon{"1767225600000aaron8", "AARON8", events::CallVersion::V1},
                               {media::IceCandidate{"candidate:1 1 udp 1 10.0.0.1 1 typ host", "0", 0}}};
  mesh.input(a, core::ToDeviceSignal{"@aaron:x", "AARON8", true,
                                     events::ToDeviceCallEnvelope{cands, "conf1", "AARON8", "s8", "SALICE1", 1}});
  EXPECT_EQ(a.group->link({"@aaron:x", "AARON8"}), nullptr);
}

TEST_F(GroupRejectTest, OnlyAFewUnlistedDevicesAreAnsweredAtOnce) {
  for (int i = 0; i < 10; ++i) {
    const std::string dev = "GHOST" + std::to_string(i);
    mesh.input(a, crafted_invite("@aaron:x", dev, "s" + dev, "1767225600000ghost" + std::to_string(i)));
  }
  EXPECT_EQ(a.group->live_calls(), 8u);
  mesh.advance(11s);
  EXPECT_EQ(a.group->live_calls(), 0u);
}

// ---- media wishes ----

TEST(GroupCall, MuteAndVideoAreFannedOutToEveryPeerCall) {
  Mesh mesh;
  auto& a = mesh.add("@alice:x", "ALICE1");
  auto& b = mesh.add("@bob:x", "BOB1");
  auto& c = mesh.add("@carol:x", "CAROL1");
  for (auto* d : {&a, &b, &c}) mesh.input(*d, core::gcmd::Join{});
  expect_full_mesh({&a, &b, &c});

  mesh.input(a, core::gcmd::SetMuted{media::MediaKind::Audio, true});
  std::set<std::string> muted_calls;
  for (const auto& o : a.outputs())
    if (const auto* op = std::get_if<core::PeerOperation>(&o))
      if (const auto* m = std::get_if<core::op::SetTrackMuted>(&op->op); m && m->track_id == "audio" && m->muted)
        muted_calls.insert(op->call_id);
  EXPECT_EQ(muted_calls.size(), 2u);
  for (auto* peer : {&b, &c}) {
    EXPECT_EQ(a.sent_of<events::CallMetadataChanged>(peer->device).size(), 1u);
    EXPECT_TRUE(peer->call_with(a)->remote_metadata()->begin()->second.audio_muted);
  }

  mesh.input(a, core::gcmd::SetVideo{true});
  for (auto* peer : {&b, &c}) {
    EXPECT_EQ(a.sent_of<events::CallNegotiate>(peer->device).size(), 1u);
    EXPECT_TRUE(a.call_with(*peer)->video_enabled());
  }
  // A device joining later gets the same wishes from the start.
  auto& d = mesh.add("@dave:x", "DAVE1");
  mesh.input(d, core::gcmd::Join{});
  ASSERT_TRUE(a.connected_to(d));
  EXPECT_TRUE(a.call_with(d)->video_enabled());
  const auto invite = a.sent_of<events::CallInvite>("DAVE1").at(0);
  EXPECT_TRUE(std::get<events::CallInvite>(invite.envelope.event).metadata->begin()->second.audio_muted);
}

}  // namespace
}  // namespace mxcall::testing
