#include <gtest/gtest.h>

#include "core/group_membership.hpp"
#include "core/mesh_rule.hpp"

namespace mxcall::core {
namespace {

TEST(MeshRule, TheSmallerUserCallsThenTheSmallerDeviceOfOneUser) {
  EXPECT_TRUE(we_initiate("@alice:x", "ZZZ", "@bob:x", "AAA"));
  EXPECT_FALSE(we_initiate("@bob:x", "AAA", "@alice:x", "ZZZ"));
  // Two devices of one user: the device ids decide, and exactly one side calls.
  EXPECT_TRUE(we_initiate("@alice:x", "DEVA", "@alice:x", "DEVB"));
  EXPECT_FALSE(we_initiate("@alice:x", "DEVB", "@alice:x", "DEVA"));
  EXPECT_FALSE(we_initiate("@alice:x", "DEVA", "@alice:x", "DEVA"));
  // A prefix sorts first; upper case before lower case (code units, not locale).
  EXPECT_TRUE(we_initiate("@al:x", "D", "@al:xy", "D"));
  EXPECT_TRUE(we_initiate("@Zed:x", "D", "@adam:x", "D"));
}

TEST(MeshRule, NonAsciiIdsCompareByUtf16CodeUnitsAsJavaScriptDoes) {
  // U+FF21 (FULLWIDTH A, UTF-8 EF BC A1) against U+1F600 (UTF-8 F0 9F 98 80): bytes put the
  // emoji last, UTF-16 puts it first (high surrogate 0xD83D < 0xFF21).
  const std::string fullwidth = "@\xEF\xBC\xA1:x";
  const std::string emoji = "@\xF0\x9F\x98\x80:x";
  EXPECT_LT(fullwidth, emoji);                      // byte order
  EXPECT_GT(compare_utf16(fullwidth, emoji), 0);    // JavaScript order
  EXPECT_TRUE(we_initiate(emoji, "D", fullwidth, "D"));
  EXPECT_FALSE(we_initiate(fullwidth, "D", emoji, "D"));
  // Below U+FFFF both orders agree: é (U+00E9) after z.
  EXPECT_GT(compare_utf16("@\xC3\xA9:x", "@z:x"), 0);
  EXPECT_EQ(compare_utf16("@\xC3\xA9:x", "@\xC3\xA9:x"), 0);
  // Devices of one user with non-ASCII ids.
  EXPECT_TRUE(we_initiate("@u:x", "\xF0\x9F\x98\x80", "@u:x", "\xEF\xBC\xA1"));
  // Invalid UTF-8 reads as U+FFFD and never crashes.
  EXPECT_EQ(compare_utf16("\xFF", "\xEF\xBF\xBD"), 0);
  EXPECT_LT(compare_utf16("", "a"), 0);
  EXPECT_GT(compare_utf16("\xF0\x9F", "a"), 0);
}

TEST(GroupMembershipTest, ParticipantsAreUnexpiredMeshDevicesOfJoinedUsersInOurCall) {
  constexpr std::int64_t now = 1'000'000;
  GroupMembership m("conf1", "@me:x", "MINE");
  auto dev = [](std::string id, std::int64_t exp, bool sfu = false) {
    return events::MemberDevice{std::move(id), "s-" + std::to_string(exp), exp, {}, sfu, events::Json::object()};
  };
  auto content = [](std::string conf, std::vector<events::MemberDevice> ds) {
    events::GroupCallMemberContent c;
    c.calls.push_back(events::MemberCall{std::move(conf), std::move(ds), events::Json::object()});
    return c;
  };
  m.set_member("@me:x", content("conf1", {dev("MINE", now + 10), dev("OTHERMINE", now + 10)}));
  m.set_member("@bob:x", content("conf1", {dev("BOB1", now + 5), dev("BOBOLD", now), dev("BOBSFU", now + 5, true)}));
  m.set_member("@carol:x", content("elsewhere", {dev("CAROL1", now + 5)}));
  m.set_member("@dave:x", content("conf1", {dev("DAVE1", now + 5)}));
  m.set_joined({"@me:x", "@bob:x", "@carol:x"});  // dave left the room

  const auto p = m.participants(now);
  ASSERT_EQ(p.size(), 2u);
  EXPECT_TRUE(p.count({"@me:x", "OTHERMINE"}));
  EXPECT_TRUE(p.count({"@bob:x", "BOB1"}));
  EXPECT_EQ(m.next_expiry(now), now + 5);
  EXPECT_EQ(m.listed_session({"@bob:x", "BOB1"}, now), "s-" + std::to_string(now + 5));
  EXPECT_FALSE(m.listed_session({"@bob:x", "BOBOLD"}, now));
  EXPECT_TRUE(m.has_entry({"@bob:x", "BOBOLD"}));
  EXPECT_EQ(m.own_expiry("s-" + std::to_string(now + 10)), now + 10);
  EXPECT_FALSE(m.own_expiry("another"));
  EXPECT_TRUE(m.participants(now + 5).count({"@me:x", "OTHERMINE"}));
  EXPECT_EQ(m.participants(now + 5).size(), 1u);
}

}  // namespace
}  // namespace mxcall::core
