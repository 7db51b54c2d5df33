#include <gtest/gtest.h>

#include "mxcall/matrix/sync.hpp"
#include "util/json_guard.hpp"

namespace mxcall::matrix {
namespace {

const char* kGood = R"({
  "next_batch": "s72595_4483_1934",
  "to_device": {"events": [
    {"type": "m.call.invite", "sender": "@a:x", "content": {"call_id": "c1"}},
    {"type": "m.call.invite", "sender": "not-a-user", "content": {}},
    {"type": 5, "sender": "@a:x", "content": {}},
    {"type": "m.x", "sender": "@a:x", "content": "string"}
  ]},
  "device_lists": {"changed": ["@a:x", 7, "junk"], "left": []},
  "device_one_time_keys_count": {"signed_curve25519": 20, "bad": "x", "neg": -1},
  "device_unused_fallback_key_types": ["signed_curve25519"],
  "rooms": {
    "join": {
      "!r:x": {
        "state": {"events": [
          {"type": "m.room.member", "sender": "@a:x", "event_id": "$1", "state_key": "@a:x",
           "content": {"membership": "join"}, "origin_server_ts": 5},
          {"type": "m.room.message", "sender": "@a:x", "event_id": "$nokey", "content": {}}
        ]},
        "timeline": {"limited": true, "prev_batch": "p1", "events": [
          {"type": "m.room.message", "sender": "@a:x", "event_id": "$2", "content": {"body": "hi"},
           "origin_server_ts": 9, "unsigned": {"age": 120}},
          {"type": "m.room.message", "sender": "@a:x", "event_id": "$3", "content": {}, "state_key": 4},
          {"type": "m.room.message", "sender": "@a:x", "content": {}},
          "not an event",
          null
        ]}
      },
      "bogus-room-id": {"timeline": {"events": []}}
    },
    "invite": {
      "!i:x": {"invite_state": {"events": [
        {"type": "m.room.member", "sender": "@b:x", "state_key": "@me:x",
         "content": {"membership": "invite", "is_direct": true}}
      ]}}
    },
    "leave": {"!l:x": {}}
  }
})";

TEST(SyncResponse, KeepsValidEventsAndDropsMalformedOnes) {
  auto r = parse_sync_response(kGood);
  ASSERT_TRUE(r.ok()) << r.error();
  const SyncBatch& b = *r;
  EXPECT_EQ(b.next_batch, "s72595_4483_1934");
  ASSERT_EQ(b.to_device.size(), 1u);
  EXPECT_EQ(b.to_device[0].content["call_id"], "c1");
  EXPECT_EQ(b.device_lists.changed, std::vector<std::string>{"@a:x"});
  EXPECT_EQ(b.one_time_keys_count.size(), 1u);
  EXPECT_EQ(b.one_time_keys_count.at("signed_curve25519"), 20);
  ASSERT_TRUE(b.unused_fallback_key_types.has_value());
  ASSERT_EQ(b.joined.size(), 1u);
  const JoinedRoom& room = b.joined[0];
  EXPECT_EQ(room.room_id, "!r:x");
  EXPECT_TRUE(room.limited);
  EXPECT_EQ(room.prev_batch, "p1");
  ASSERT_EQ(room.state.size(), 1u);
  EXPECT_EQ(room.state[0].state_key, "@a:x");
  ASSERT_EQ(room.timeline.size(), 1u);
  EXPECT_EQ(room.timeline[0].event_id, "$2");
  EXPECT_EQ(room.timeline[0].age, 120);
  EXPECT_EQ(room.timeline[0].room_id, "!r:x");
  ASSERT_EQ(b.invited.size(), 1u);
  EXPECT_EQ(b.invited[0].inviter, "@b:x");
  EXPECT_TRUE(b.invited[0].is_direct);
  EXPECT_EQ(b.left, std::vector<std::string>{"!l:x"});
  // 3 to-device + 1 state + 4 timeline + 1 bad room
  EXPECT_EQ(b.dropped, 9u);
}

TEST(SyncResponse, RejectsBodiesWithoutAToken) {
  for (const char* body : {"", "{", "[]", "null", "{}", R"({"next_batch": 5})", R"({"next_batch": ""})",
                           "\xff\xfe"}) {
    auto r = parse_sync_response(body);
    ASSERT_FALSE(r.ok()) << body;
    EXPECT_EQ(r.error().kind, ErrorKind::InvalidResponse);
  }
}

TEST(SyncResponse, WrongTypesEverywhereAreTolerated) {
  auto r = parse_sync_response(R"({"next_batch":"n","rooms":[],"to_device":{"events":{}},
      "device_lists":"x","device_one_time_keys_count":[],"rooms2":1})");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->empty());
  auto r2 = parse_sync_response(R"({"next_batch":"n","rooms":{"join":{"!r:x":{"timeline":{"events":"x","limited":"yes"}}}}})");
  ASSERT_TRUE(r2.ok());
  ASSERT_EQ(r2->joined.size(), 1u);
  EXPECT_FALSE(r2->joined[0].limited);
}

TEST(SyncResponse, DeepNestingIsRefusedWithoutRecursion) {
  std::string deep = R"({"next_batch":"n","x":)" + std::string(100'000, '[') + std::string(100'000, ']') + "}";
  auto r = parse_sync_response(deep);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("deeper"), std::string::npos);
}

TEST(SyncResponse, OverlongIdsAreDropped) {
  const std::string long_user = "@" + std::string(300, 'a') + ":x";
  auto r = parse_sync_response(R"({"next_batch":"n","to_device":{"events":[{"type":"t","sender":")" +
                               long_user + R"(","content":{}}]}})");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->to_device.empty());
  EXPECT_EQ(r->dropped, 1u);
}

TEST(JsonGuard, DepthScanIgnoresBracketsInStrings) {
  EXPECT_TRUE(util::json_depth_within(R"({"a":"[[[[[[[[[[\"[[[["})", 2));
  EXPECT_FALSE(util::json_depth_within("[[[]]]", 2));
  EXPECT_TRUE(util::json_depth_within("[[]]", 2));
}

TEST(JsonGuard, SizeLimitIsEnforced) {
  util::JsonLimits limits;
  limits.max_bytes = 10;
  EXPECT_FALSE(util::parse_untrusted_json(R"({"aaaaaaaaaaa":1})", limits).ok());
  EXPECT_TRUE(util::parse_untrusted_json(R"({"a":1})", limits).ok());
}

TEST(Ids, Grammar) {
  EXPECT_TRUE(is_valid_user_id("@a:x"));
  EXPECT_FALSE(is_valid_user_id("@ax"));
  EXPECT_FALSE(is_valid_user_id("a:x"));
  EXPECT_FALSE(is_valid_user_id(std::string("@a\n:x")));
  EXPECT_TRUE(is_valid_room_id("!r:x"));
  EXPECT_FALSE(is_valid_room_id("#r:x"));
  EXPECT_TRUE(is_valid_event_id("$abc"));
  EXPECT_FALSE(is_valid_event_id("abc"));
}

}  // namespace
}  // namespace mxcall::matrix
