#include <gtest/gtest.h>

#include <string>

#include "events/group_events.hpp"
#include "util/json_guard.hpp"

namespace mxcall::events {
namespace {

constexpr std::int64_t kNow = 1'767'225'600'000;

Json J(const std::string& text) {
  auto r = util::parse_untrusted_json(text);
  EXPECT_TRUE(r.ok()) << text;
  return r.ok() ? *r : Json();
}

GroupCallMemberContent member(const std::string& text) {
  auto r = parse_group_call_member(J(text));
  EXPECT_TRUE(r.ok()) << text;
  return r.ok() ? *r : GroupCallMemberContent{};
}

std::vector<std::string> device_ids(const GroupCallMemberContent& c, const std::string& conf) {
  std::vector<std::string> out;
  if (const auto* call = find_call(c, conf))
    for (const auto& d : call->devices) out.push_back(d.device_id);
  return out;
}

// ---- call state ----

TEST(GroupCallState, ReadsIntentTypeNameAndKeepsExtensions) {
  auto s = parse_group_call_state(J(R"({"m.intent":"m.prompt","m.type":"m.video","m.name":"Standup",
                                         "io.element.ptt":false,"dataChannelsEnabled":true})"));
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->intent, GroupCallIntent::Prompt);
  EXPECT_EQ(s->call_type, GroupCallType::Video);
  EXPECT_EQ(s->name, "Standup");
  EXPECT_FALSE(s->terminated);
  const Json out = to_content(*s);
  EXPECT_EQ(out["io.element.ptt"], false);
  EXPECT_EQ(out["dataChannelsEnabled"], true);
  EXPECT_EQ(out["m.intent"], "m.prompt");
  EXPECT_EQ(out["m.type"], "m.video");
  EXPECT_FALSE(out.contains("m.terminated"));
}

TEST(GroupCallState, TerminatedIsAnyTruthyValue) {
  for (const char* v : {R"("call_ended")", "true", "1", "-2.5", "{}", "[]", R"("x")"}) {
    auto s = parse_group_call_state(J(std::string(R"({"m.type":"m.voice","m.terminated":)") + v + "}"));
    ASSERT_TRUE(s.ok());
    EXPECT_TRUE(s->terminated) << v;
    EXPECT_EQ(to_content(*s)["m.terminated"], "call_ended");
  }
  for (const char* v : {"false", "0", "0.0", R"("")", "null"}) {
    auto s = parse_group_call_state(J(std::string(R"({"m.type":"m.voice","m.terminated":)") + v + "}"));
    ASSERT_TRUE(s.ok());
    EXPECT_FALSE(s->terminated) << v;
  }
}

TEST(GroupCallState, UnknownOrWrongTypedValuesReadAsAbsent) {
  auto s = parse_group_call_state(J(R"({"m.intent":"m.hologram","m.type":5,"m.name":["x"]})"));
  ASSERT_TRUE(s.ok());
  EXPECT_FALSE(s->intent);
  EXPECT_FALSE(s->call_type);
  EXPECT_FALSE(s->name);
  EXPECT_FALSE(parse_group_call_state(J("[1]")).ok());
  EXPECT_FALSE(parse_group_call_state(J(R"("call")")).ok());
}

// ---- member content ----

TEST(GroupCallMember, ParsesJsSdkAndHydrogenShapes) {
  auto c = member(R"({"m.calls":[{"m.call_id":"conf1","m.devices":[
      {"device_id":"ABCDEFGHIJ","session_id":"k2Jd8aQp0z","expires_ts":1767229200000,"feeds":[{"purpose":"m.usermedia"}]},
      {"device_id":"PHONE","session_id":"s7Fh2kQ9aP","expires_ts":1767229300000,
       "feeds":[{"purpose":"m.usermedia"},{"purpose":"m.screenshare"}]}]}]})");
  ASSERT_EQ(c.calls.size(), 1u);
  ASSERT_EQ(c.calls[0].devices.size(), 2u);
  const auto& d = c.calls[0].devices[1];
  EXPECT_EQ(d.device_id, "PHONE");
  EXPECT_EQ(d.session_id, "s7Fh2kQ9aP");
  EXPECT_EQ(d.expires_ts, 1767229300000);
  ASSERT_EQ(d.feeds.size(), 2u);
  EXPECT_EQ(d.feeds[1].purpose, "m.screenshare");
  EXPECT_FALSE(d.sfu);
}

TEST(GroupCallMember, MalformedDeviceEntriesAreDroppedOneByOne) {
  auto c = member(R"({"m.calls":[{"m.call_id":"conf1","m.devices":[
      {"device_id":"GOOD","session_id":"s","expires_ts":1767229200000,"feeds":[]},
      {"device_id":"NOSESSION","expires_ts":1767229200000,"feeds":[]},
      {"device_id":"STRINGTS","session_id":"s","expires_ts":"1767229200000","feeds":[]},
      {"device_id":"UNSAFE","session_id":"s","expires_ts":9007199254740993,"feeds":[]},
      {"device_id":"FRACTION","session_id":"s","expires_ts":1767229200000.5,"feeds":[]},
      {"device_id":"NEGATIVE","session_id":"s","expires_ts":-1,"feeds":[]},
      {"device_id":"FEEDSOBJECT","session_id":"s","expires_ts":1767229200000,"feeds":{"purpose":"m.usermedia"}},
      {"device_id":42,"session_id":"s","expires_ts":1767229200000},
      {"device_id":"","session_id":"s","expires_ts":1767229200000},
      {"device_id":"CTRL\u0001","session_id":"s","expires_ts":1767229200000},
      "not an object", null,
      {"device_id":"NOFEEDS","session_id":"s","expires_ts":1767229200000},
      {"device_id":"INTEGRALFLOAT","session_id":"s","expires_ts":1.7672292e12},
      {"device_id":"BADFEEDS","session_id":"s","expires_ts":1767229200000,
       "feeds":[1,{"purpose":2},{"purpose":"m.usermedia","tracks":[{"kind":"audio"}]}]}]},
    {"m.devices":[]}, {"m.call_id":7,"m.devices":[]}, {"m.call_id":"nodevices"}, "junk"]})");
  ASSERT_EQ(c.calls.size(), 1u);
  EXPECT_EQ(device_ids(c, "conf1"), (std::vector<std::string>{"GOOD", "NOFEEDS", "INTEGRALFLOAT", "BADFEEDS"}));
  const auto& bad_feeds = c.calls[0].devices[3];
  ASSERT_EQ(bad_feeds.feeds.size(), 1u);  // the two unusable feed entries are left out
  EXPECT_EQ(to_content(c)["m.calls"][0]["m.devices"][3]["feeds"][0]["tracks"][0]["kind"], "audio");
  EXPECT_EQ(c.calls[0].devices[2].expires_ts, 1767229200000);
}

TEST(GroupCallMember, ContentThatIsNotAnObjectIsAnErrorAndOtherShapesReadAsEmpty) {
  EXPECT_FALSE(parse_group_call_member(J("[]")).ok());
  EXPECT_FALSE(parse_group_call_member(J("null")).ok());
  EXPECT_TRUE(member("{}").calls.empty());
  EXPECT_TRUE(member(R"({"m.calls":{"m.call_id":"conf1"}})").calls.empty());
  EXPECT_TRUE(member(R"({"m.calls":"x"})").calls.empty());
}

TEST(GroupCallMember, DuplicateCallsMergeAndADeviceListedTwiceKeepsItsLaterExpiry) {
  auto c = member(R"({"m.calls":[
      {"m.call_id":"conf1","m.devices":[{"device_id":"D","session_id":"s1","expires_ts":100,"feeds":[]},
                                        {"device_id":"D","session_id":"s2","expires_ts":300,"feeds":[]}]},
      {"m.call_id":"conf1","m.devices":[{"device_id":"E","session_id":"s3","expires_ts":100,"feeds":[]},
                                        {"device_id":"D","session_id":"s0","expires_ts":200,"feeds":[]}]}]})");
  ASSERT_EQ(c.calls.size(), 1u);
  EXPECT_EQ(device_ids(c, "conf1"), (std::vector<std::string>{"D", "E"}));
  EXPECT_EQ(c.calls[0].devices[0].session_id, "s2");
}

TEST(GroupCallMember, ActiveFociMarkADeviceAsSfuAndUnknownKeysSurviveARoundTrip) {
  const Json in = J(R"({
      "memberships":[{"application":"m.call","call_id":"","device_id":"RTC","expires":3600000,
                      "foci_active":[{"type":"livekit","livekit_service_url":"https://rtc.example"}]}],
      "m.calls":[{"m.call_id":"conf1","m.foci":["@sfu:x"],"m.devices":[
          {"device_id":"MESH","session_id":"s","expires_ts":1767229200000,"feeds":[{"purpose":"m.usermedia"}],"x.extra":1},
          {"device_id":"SFU","session_id":"s","expires_ts":1767229200000,"feeds":[],
           "m.foci.active":[{"user_id":"@sfu:x","device_id":"SFUDEV"}]},
          {"device_id":"EMPTYFOCI","session_id":"s","expires_ts":1767229200000,"feeds":[],"m.foci.active":[]}]}]})");
  auto c = parse_group_call_member(in);
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(c->calls[0].devices[0].sfu);
  EXPECT_TRUE(c->calls[0].devices[1].sfu);
  EXPECT_FALSE(c->calls[0].devices[2].sfu);
  EXPECT_EQ(to_content(*c), in);  // nothing lost, nothing added

  // Our read-modify-write keeps the MatrixRTC memberships, m.foci and the SFU device.
  const auto mine = updated_member_content(*c, "conf1", "OURS", std::nullopt, kNow);
  const Json out = to_content(mine);
  EXPECT_EQ(out["memberships"], in["memberships"]);
  EXPECT_EQ(out["m.calls"][0]["m.foci"], in["m.calls"][0]["m.foci"]);
  EXPECT_EQ(out["m.calls"][0]["m.devices"][1]["m.foci.active"][0]["device_id"], "SFUDEV");
}

TEST(GroupCallMember, ReadModifyWriteReplacesOurEntryAndDropsExpiredAndEmptyCalls) {
  auto current = member(R"({"m.calls":[
      {"m.call_id":"conf1","m.devices":[
          {"device_id":"OURS","session_id":"old","expires_ts":1767229200000,"feeds":[]},
          {"device_id":"OTHER","session_id":"o","expires_ts":1767229200000,"feeds":[]},
          {"device_id":"STALE","session_id":"x","expires_ts":1767225599999,"feeds":[]}]},
      {"m.call_id":"elsewhere","m.devices":[
          {"device_id":"OURS","session_id":"e","expires_ts":1767229200000,"feeds":[]},
          {"device_id":"GONE","session_id":"g","expires_ts":1000,"feeds":[]}]},
      {"m.call_id":"dead","m.devices":[{"device_id":"GONE","session_id":"g","expires_ts":1000,"feeds":[]}]}],
    "unknown":{"kept":true}})");
  MemberDevice own{"OURS", "new", kNow + 3'600'000, {{"m.usermedia", Json::object()}}, false, Json::object()};
  auto joined = updated_member_content(current, "conf1", "OURS", own, kNow);
  EXPECT_EQ(device_ids(joined, "conf1"), (std::vector<std::string>{"OTHER", "OURS"}));
  EXPECT_EQ(find_device(*find_call(joined, "conf1"), "OURS")->session_id, "new");
  EXPECT_EQ(device_ids(joined, "elsewhere"), (std::vector<std::string>{"OURS"}));  // another call: ours stays
  EXPECT_EQ(find_call(joined, "dead"), nullptr);
  EXPECT_EQ(to_content(joined)["unknown"]["kept"], true);

  auto left = updated_member_content(joined, "conf1", "OURS", std::nullopt, kNow);
  EXPECT_EQ(device_ids(left, "conf1"), (std::vector<std::string>{"OTHER"}));
  auto alone = updated_member_content(member(R"({"m.calls":[{"m.call_id":"conf1","m.devices":[
      {"device_id":"OURS","session_id":"s","expires_ts":1767229200000,"feeds":[]}]}]})"),
                                      "conf1", "OURS", std::nullopt, kNow);
  EXPECT_TRUE(alone.calls.empty());
  EXPECT_EQ(to_content(alone), J(R"({"m.calls":[]})"));

  // No member event yet: a fresh one with our call.
  auto fresh = updated_member_content(GroupCallMemberContent{}, "conf1", "OURS", own, kNow);
  EXPECT_EQ(to_content(fresh)["m.calls"][0]["m.devices"][0]["expires_ts"], kNow + 3'600'000);
  EXPECT_EQ(to_content(fresh)["m.calls"][0]["m.devices"][0]["feeds"][0]["purpose"], "m.usermedia");
}

TEST(GroupCallMember, ReadModifyWriteStaysWithinWhatReadersKeep) {
  GroupCallMemberContent full;
  MemberCall call{"conf1", {}, Json::object()};
  for (std::size_t i = 0; i < kMaxMemberDevices; ++i)
    call.devices.push_back(MemberDevice{"D" + std::to_string(i), "s", kNow + 1000, {}, false, Json::object()});
  full.calls.push_back(call);
  MemberDevice own{"OURS", "s", kNow + 1000, {}, false, Json::object()};
  auto out = parse_group_call_member(to_content(updated_member_content(full, "conf1", "OURS", own, kNow)));
  ASSERT_TRUE(out.ok());
  EXPECT_NE(find_device(*find_call(*out, "conf1"), "OURS"), nullptr);
}

// ---- to-device envelope ----

TEST(ToDeviceCall, CarriesTheMeshFieldsAroundTheCallEvent) {
  auto e = parse_to_device_call("m.call.hangup", J(R"({"call_id":"c1","party_id":"DEV","version":"1",
      "reason":"new_session","conf_id":"conf1","device_id":"DEV","sender_session_id":"s1",
      "dest_session_id":"s2","seq":7,"org.matrix.msgid":"x"})"));
  ASSERT_TRUE(e.ok()) << e.error().message;
  EXPECT_EQ(std::get<CallHangup>(e->event).reason, "new_session");
  EXPECT_EQ(e->conf_id, "conf1");
  EXPECT_EQ(e->device_id, "DEV");
  EXPECT_EQ(e->sender_session_id, "s1");
  EXPECT_EQ(e->dest_session_id, "s2");
  EXPECT_EQ(e->seq, 7);
  const Json out = to_content(*e);
  EXPECT_EQ(out["seq"], 7);
  EXPECT_EQ(out["dest_session_id"], "s2");
  EXPECT_EQ(out["reason"], "new_session");
  EXPECT_EQ(out["version"], "1");
  EXPECT_FALSE(out.contains("org.matrix.msgid"));
}

TEST(ToDeviceCall, HydrogenShapeWithIntegerVersionAndUnstableMetadata) {
  auto e = parse_to_device_call("org.matrix.call.sdp_stream_metadata_changed",
                                J(R"({"call_id":"c1","party_id":"PHONE","version":1,"conf_id":"conf1",
      "device_id":"PHONE","sender_session_id":"s1","dest_session_id":"s2","seq":12,
      "org.matrix.msc3077.sdp_stream_metadata":{"st":{"purpose":"m.usermedia","audio_muted":true}}})"));
  ASSERT_TRUE(e.ok()) << e.error().message;
  EXPECT_TRUE(std::get<CallMetadataChanged>(e->event).metadata.at("st").audio_muted);
}

TEST(ToDeviceCall, MissingAddressingFieldsAreErrorsAndABadSeqIsIgnored) {
  const std::string base = R"("call_id":"c1","party_id":"D","version":"1","reason":"user_hangup")";
  for (const char* missing : {"conf_id", "device_id", "sender_session_id", "dest_session_id"}) {
    Json c = J("{" + base + R"(,"conf_id":"conf1","device_id":"D","sender_session_id":"s1","dest_session_id":"s2"})");
    c.erase(missing);
    auto e = parse_to_device_call("m.call.hangup", c);
    ASSERT_FALSE(e.ok()) << missing;
    EXPECT_NE(e.error().message.find(missing), std::string::npos);
  }
  EXPECT_FALSE(parse_to_device_call("m.call.hangup", J("{" + base + R"(,"conf_id":12,"device_id":"D",
      "sender_session_id":"s1","dest_session_id":"s2"})")).ok());
  for (const char* seq : {R"("4")", "-1", "2.5", "9007199254740992", "[]"}) {
    auto e = parse_to_device_call("m.call.hangup", J("{" + base + R"(,"conf_id":"conf1","device_id":"D",
        "sender_session_id":"s1","dest_session_id":"s2","seq":)" + seq + "}"));
    ASSERT_TRUE(e.ok()) << seq;
    EXPECT_FALSE(e->seq.has_value()) << seq;
    EXPECT_FALSE(to_content(*e).contains("seq"));
  }
  // The m.call.* part is validated as for room events.
  EXPECT_FALSE(parse_to_device_call("m.call.invite", J(R"({"call_id":"c1","conf_id":"conf1","device_id":"D",
      "sender_session_id":"s1","dest_session_id":"s2","seq":0})")).ok());
  EXPECT_FALSE(parse_to_device_call("m.room.message", J(R"({"call_id":"c1"})")).ok());
}

}  // namespace
}  // namespace mxcall::events
