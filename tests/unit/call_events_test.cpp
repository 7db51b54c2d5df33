#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "events/call_events.hpp"
#include "util/json_guard.hpp"

namespace mxcall::events {
namespace {

Json J(const char* text) {
  auto r = util::parse_untrusted_json(text);
  EXPECT_TRUE(r.ok()) << text;
  return r.ok() ? *r : Json();
}

template <typename T>
T parse_as(std::string_view type, const Json& content) {
  auto r = parse_call_event(type, content);
  EXPECT_TRUE(r.ok()) << type << ": " << (r.ok() ? std::string() : r.error().message);
  if (!r.ok() || !std::holds_alternative<T>(*r)) {
    ADD_FAILURE() << "not parsed as the expected alternative";
    return T{};
  }
  return std::get<T>(*r);
}

// Parses without throwing; true when accepted.
bool accepted(std::string_view type, const Json& content) {
  bool ok = false;
  EXPECT_NO_THROW(ok = parse_call_event(type, content).ok()) << type << " " << content.dump();
  return ok;
}

bool same(const CallCommon& a, const CallCommon& b) {
  return a.call_id == b.call_id && a.party_id == b.party_id && a.version == b.version;
}
bool same(const media::SessionDescription& a, const media::SessionDescription& b) {
  return a.type == b.type && a.sdp == b.sdp;
}
bool same(const Capabilities& a, const Capabilities& b) {
  return a.transferee == b.transferee && a.dtmf == b.dtmf;
}
bool same(const media::IceCandidate& a, const media::IceCandidate& b) {
  return a.candidate == b.candidate && a.sdp_mid == b.sdp_mid && a.sdp_mline_index == b.sdp_mline_index;
}

bool same(const CallEvent& x, const CallEvent& y) {
  if (x.index() != y.index() || !same(common_of(x), common_of(y))) return false;
  if (auto* a = std::get_if<CallInvite>(&x)) {
    const auto& b = std::get<CallInvite>(y);
    return same(a->offer, b.offer) && a->lifetime_ms == b.lifetime_ms && a->invitee == b.invitee &&
           a->metadata == b.metadata && same(a->capabilities, b.capabilities);
  }
  if (auto* a = std::get_if<CallCandidates>(&x)) {
    const auto& b = std::get<CallCandidates>(y);
    if (a->candidates.size() != b.candidates.size()) return false;
    for (std::size_t i = 0; i < a->candidates.size(); ++i)
      if (!same(a->candidates[i], b.candidates[i])) return false;
    return true;
  }
  if (auto* a = std::get_if<CallAnswer>(&x)) {
    const auto& b = std::get<CallAnswer>(y);
    return same(a->answer, b.answer) && a->metadata == b.metadata && same(a->capabilities, b.capabilities);
  }
  if (auto* a = std::get_if<CallSelectAnswer>(&x))
    return a->selected_party_id == std::get<CallSelectAnswer>(y).selected_party_id;
  if (auto* a = std::get_if<CallNegotiate>(&x)) {
    const auto& b = std::get<CallNegotiate>(y);
    return same(a->description, b.description) && a->lifetime_ms == b.lifetime_ms && a->metadata == b.metadata;
  }
  if (auto* a = std::get_if<CallHangup>(&x)) return a->reason == std::get<CallHangup>(y).reason;
  if (auto* a = std::get_if<CallMetadataChanged>(&x))
    return a->metadata == std::get<CallMetadataChanged>(y).metadata;
  return true;  // reject: common fields only
}

const char* kSdp = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n";

// ---- real-world shapes ------------------------------------------------------------------

TEST(CallEvents, InviteFromElementParses) {
  // js-sdk: version "1", device id as party_id, stable metadata, capabilities; to-device extras.
  auto inv = parse_as<CallInvite>(type::kInvite, J(R"({
    "call_id": "1767225600123aB3dE5fG7hJ9kL1m", "party_id": "QWERTYUIOP", "version": "1",
    "lifetime": 60000, "seq": 0, "conf_id": "g1", "device_id": "QWERTYUIOP",
    "offer": {"type": "offer", "sdp": "v=0\r\ns=-\r\n"},
    "sdp_stream_metadata": {"{3f5a-e1}": {"purpose": "m.usermedia", "audio_muted": false, "video_muted": true}},
    "capabilities": {"m.call.transferee": false, "m.call.dtmf": false}})"));
  EXPECT_EQ(inv.common.call_id, "1767225600123aB3dE5fG7hJ9kL1m");
  EXPECT_EQ(inv.common.party_id, "QWERTYUIOP");
  EXPECT_EQ(inv.common.version, CallVersion::V1);
  EXPECT_EQ(inv.offer.type, media::SdpType::Offer);
  EXPECT_EQ(inv.offer.sdp, "v=0\r\ns=-\r\n");
  EXPECT_EQ(inv.lifetime_ms, 60000);
  EXPECT_FALSE(inv.invitee);
  ASSERT_TRUE(inv.metadata);
  ASSERT_EQ(inv.metadata->count("{3f5a-e1}"), 1u);
  EXPECT_EQ(inv.metadata->at("{3f5a-e1}"), (StreamMetadata{media::StreamPurpose::UserMedia, false, true}));
  EXPECT_FALSE(inv.capabilities.dtmf);
}

TEST(CallEvents, CandidatesFromElementParse) {
  auto ev = parse_as<CallCandidates>(type::kCandidates, J(R"({
    "call_id": "c1", "party_id": "DEV", "version": "1", "candidates": [
      {"candidate": "candidate:1 1 udp 2122260223 192.0.2.7 54400 typ host", "sdpMid": "0",
       "sdpMLineIndex": 0, "usernameFragment": "a1b2"},
      {"candidate": "candidate:2 1 udp 1686052607 203.0.113.5 61000 typ srflx", "sdpMid": "1",
       "sdpMLineIndex": null, "usernameFragment": null},
      {"candidate": ""}]})"));
  ASSERT_EQ(ev.candidates.size(), 3u);
  EXPECT_EQ(ev.candidates[0].sdp_mid, "0");
  EXPECT_EQ(ev.candidates[0].sdp_mline_index, 0);
  EXPECT_FALSE(ev.candidates[1].sdp_mline_index);
  EXPECT_TRUE(ev.candidates[2].is_end_of_candidates());
  EXPECT_FALSE(ev.candidates[2].sdp_mid);
}

TEST(CallEvents, InviteFromHydrogenParses) {
  // Hydrogen: integer version 1, only the unstable metadata key, no capabilities.
  auto inv = parse_as<CallInvite>(type::kInvite, J(R"({
    "call_id": "c_hydrogen_1", "party_id": "HYDROGENDEV", "version": 1, "seq": 3, "lifetime": 60000,
    "offer": {"type": "offer", "sdp": "v=0\r\n"},
    "org.matrix.msc3077.sdp_stream_metadata": {"s1": {"purpose": "m.screenshare"}}})"));
  EXPECT_EQ(inv.common.version, CallVersion::V1);
  ASSERT_TRUE(inv.metadata);
  EXPECT_EQ(inv.metadata->at("s1").purpose, media::StreamPurpose::ScreenShare);
  EXPECT_FALSE(inv.metadata->at("s1").audio_muted);
}

TEST(CallEvents, VersionZeroInviteParses) {
  auto inv = parse_as<CallInvite>(type::kInvite, J(R"({"call_id": "12345", "version": 0,
    "lifetime": 60000, "offer": {"type": "offer", "sdp": "v=0\r\n"}})"));
  EXPECT_EQ(inv.common.version, CallVersion::V0);
  EXPECT_FALSE(inv.common.party_id);
  EXPECT_FALSE(inv.metadata);
  auto hang = parse_as<CallHangup>(type::kHangup, J(R"({"call_id": "12345", "version": 0})"));
  EXPECT_EQ(hang.reason, "user_hangup");
}

TEST(CallEvents, VersionValues) {
  const auto version = [](const char* v) {
    Json c = J(R"({"call_id": "c"})");
    if (v) c["version"] = J(v);
    return parse_as<CallReject>(type::kReject, c).common.version;
  };
  EXPECT_EQ(version(nullptr), CallVersion::V0);
  EXPECT_EQ(version("0"), CallVersion::V0);
  EXPECT_EQ(version("0.0"), CallVersion::V0);
  for (const char* v : {R"("1")", "1", "2", R"("0")", "null", "{}", "[]", "true", "-1", R"("")"})
    EXPECT_EQ(version(v), CallVersion::V1) << v;
}

// ---- candidates -------------------------------------------------------------------------

TEST(CallEvents, EndOfCandidatesWithoutSdpMidIsKept) {
  auto ev = parse_as<CallCandidates>(type::kCandidates,
                                     J(R"({"call_id": "c", "version": "1", "candidates": [{"candidate": ""}]})"));
  ASSERT_EQ(ev.candidates.size(), 1u);
  EXPECT_TRUE(ev.candidates[0].is_end_of_candidates());
  // A real candidate with only sdpMLineIndex (no sdpMid) is fine too.
  ev = parse_as<CallCandidates>(type::kCandidates, J(R"({"call_id": "c", "candidates":
        [{"candidate": "candidate:1 1 udp 1 192.0.2.1 1 typ host", "sdpMLineIndex": 1}]})"));
  ASSERT_EQ(ev.candidates.size(), 1u);
  EXPECT_EQ(ev.candidates[0].sdp_mline_index, 1);
}

TEST(CallEvents, MalformedCandidateEntriesAreSkipped) {
  const std::string big(kMaxCandidateBytes + 1, 'a');
  Json c = J(R"({"call_id": "c", "candidates": [
    "candidate:1 1 udp 1 192.0.2.1 1 typ host", 7, null, [], {},
    {"candidate": 5, "sdpMid": "0"}, {"candidate": null, "sdpMid": "0"},
    {"candidate": "candidate:1 1 udp 1 192.0.2.1 1 typ host"},
    {"candidate": "candidate:2", "sdpMid": 0}, {"candidate": "candidate:3", "sdpMLineIndex": "0"},
    {"candidate": "candidate:4", "sdpMLineIndex": -1}, {"candidate": "candidate:5", "sdpMLineIndex": 256},
    {"candidate": "candidate:6", "sdpMLineIndex": 1.5}, {"candidate": "candidate:7\r\na=x", "sdpMid": "0"},
    {"candidate": "candidate:ok", "sdpMid": "0", "sdpMLineIndex": 255}]})");
  c["candidates"].push_back(Json{{"candidate", big}, {"sdpMid", "0"}});
  auto ev = parse_as<CallCandidates>(type::kCandidates, c);
  ASSERT_EQ(ev.candidates.size(), 1u);
  EXPECT_EQ(ev.candidates[0].candidate, "candidate:ok");
  // Only malformed entries (or none): still an event, with nothing in it.
  EXPECT_TRUE(parse_as<CallCandidates>(type::kCandidates, J(R"({"call_id": "c", "candidates": [1, {}]})"))
                  .candidates.empty());
  EXPECT_TRUE(accepted(type::kCandidates, J(R"({"call_id": "c", "candidates": []})")));
  EXPECT_FALSE(accepted(type::kCandidates, J(R"({"call_id": "c"})")));
  EXPECT_FALSE(accepted(type::kCandidates, J(R"({"call_id": "c", "candidates": {"candidate": ""}})")));
  EXPECT_FALSE(accepted(type::kCandidates, J(R"({"call_id": "c", "candidates": "x"})")));
}

TEST(CallEvents, TooManyCandidatesIsAnError) {
  Json c = J(R"({"call_id": "c", "version": "1"})");
  c["candidates"] = Json::array();
  for (std::size_t i = 0; i < kMaxCandidatesPerEvent; ++i)
    c["candidates"].push_back(Json{{"candidate", "candidate:" + std::to_string(i)}, {"sdpMid", "0"}});
  EXPECT_EQ(parse_as<CallCandidates>(type::kCandidates, c).candidates.size(), kMaxCandidatesPerEvent);
  c["candidates"].push_back(Json{{"candidate", ""}});
  auto r = parse_call_event(type::kCandidates, c);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("m.call.candidates"), std::string::npos);
  EXPECT_EQ(r.error().kind, ErrorKind::InvalidArgument);
}

// ---- descriptions, ids, lifetime --------------------------------------------------------

TEST(CallEvents, SdpBounds) {
  Json c = J(R"({"call_id": "c", "version": "1", "lifetime": 60000, "offer": {"type": "offer"}})");
  c["offer"]["sdp"] = std::string(kMaxSdpBytes, 'x');
  EXPECT_TRUE(accepted(type::kInvite, c));
  c["offer"]["sdp"] = std::string(kMaxSdpBytes + 1, 'x');
  auto r = parse_call_event(type::kInvite, c);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("offer.sdp"), std::string::npos) << r.error().message;
  for (const char* bad : {R"({"type": "offer", "sdp": ""})", R"({"type": "offer"})", R"({"sdp": 5})",
                          R"({"type": "answer", "sdp": "v=0"})", R"({"type": 1, "sdp": "v=0"})", R"("v=0")"}) {
    c["offer"] = J(bad);
    EXPECT_FALSE(accepted(type::kInvite, c)) << bad;
  }
  c["offer"] = Json{{"type", "offer"}, {"sdp", std::string("v=0\0x", 5)}};
  EXPECT_FALSE(accepted(type::kInvite, c));
  c["offer"] = J(R"({"sdp": "v=0"})");  // type is redundant: defaults to offer
  EXPECT_TRUE(accepted(type::kInvite, c));
  EXPECT_FALSE(accepted(type::kAnswer, J(R"({"call_id": "c", "answer": {"type": "offer", "sdp": "v=0"}})")));
  EXPECT_FALSE(accepted(type::kAnswer, J(R"({"call_id": "c"})")));
}

TEST(CallEvents, InvalidCallIdsAreRejected) {
  const std::string ok255(255, 'a');
  EXPECT_TRUE(is_valid_call_id(ok255));
  EXPECT_TRUE(is_valid_call_id("Az09._~-"));
  for (const std::string& bad : {std::string(), std::string(256, 'a'), std::string("a b"),
                                 std::string("caf\xc3\xa9"), std::string("call/1"), std::string("a\nb")}) {
    EXPECT_FALSE(is_valid_call_id(bad)) << bad;
    EXPECT_FALSE(accepted(type::kReject, Json{{"call_id", bad}, {"version", "1"}})) << bad;
    EXPECT_FALSE(accepted(type::kReject, Json{{"call_id", "c"}, {"party_id", bad}})) << bad;
    EXPECT_FALSE(accepted(type::kSelectAnswer, Json{{"call_id", "c"}, {"selected_party_id", bad}})) << bad;
  }
  for (const char* bad : {R"({})", R"({"call_id": 5})", R"({"call_id": null})", R"({"call_id": ["c"]})",
                          R"({"call_id": "c", "party_id": 7})", R"({"call_id": "c", "party_id": {}})"})
    EXPECT_FALSE(accepted(type::kReject, J(bad))) << bad;
  for (const char* bad : {"null", "[]", R"("c")", "5"}) EXPECT_FALSE(accepted(type::kReject, J(bad))) << bad;
  // party_id null is treated as absent (a v1 sender without one).
  EXPECT_FALSE(parse_as<CallReject>(type::kReject, J(R"({"call_id": "c", "party_id": null})")).common.party_id);
  EXPECT_FALSE(accepted(type::kSelectAnswer, J(R"({"call_id": "c"})")));
}

TEST(CallEvents, LifetimeForms) {
  const auto lifetime = [](const char* v) -> std::optional<std::int64_t> {
    Json c = J(R"({"call_id": "c", "offer": {"type": "offer", "sdp": "v=0"}})");
    c["lifetime"] = J(v);
    auto r = parse_call_event(type::kInvite, c);
    if (!r.ok()) return std::nullopt;
    return std::get<CallInvite>(*r).lifetime_ms;
  };
  constexpr std::int64_t kDay = 86'400'000;
  EXPECT_EQ(lifetime("60000"), 60000);
  EXPECT_EQ(lifetime(R"("60000")"), 60000);
  EXPECT_EQ(lifetime("6e4"), 60000);
  EXPECT_EQ(lifetime("1"), 1);
  EXPECT_EQ(lifetime("86400001"), kDay);
  EXPECT_EQ(lifetime("1000000000000"), kDay);
  EXPECT_EQ(lifetime("18446744073709551615"), kDay);
  EXPECT_EQ(lifetime(R"("99999999999999999999999999")"), kDay);
  EXPECT_EQ(lifetime("1e300"), kDay);
  for (const char* bad : {"0", "-1", "-60000", R"("-5")", R"("")", R"("6e4")", R"(" 60000")", R"("abc")",
                          "1.5", "0.5", "true", "{}", "[60000]", "-9223372036854775808"})
    EXPECT_FALSE(lifetime(bad)) << bad;
  EXPECT_FALSE(accepted(type::kInvite, J(R"({"call_id": "c", "offer": {"type": "offer", "sdp": "v=0"}})")));
}

TEST(CallEvents, InviteeAndCapabilities) {
  Json c = J(R"({"call_id": "c", "lifetime": 60000, "offer": {"type": "offer", "sdp": "v=0"},
               "capabilities": {"m.call.transferee": "yes", "m.call.dtmf": true}})");
  c["invitee"] = "@bob:b.example";
  auto inv = parse_as<CallInvite>(type::kInvite, c);
  EXPECT_EQ(inv.invitee, "@bob:b.example");
  EXPECT_TRUE(inv.capabilities.dtmf);
  EXPECT_FALSE(inv.capabilities.transferee);
  for (const char* bad : {R"("bob")", R"("@bob")", R"("@:x")", R"("@bob:")", "5", R"(["@b:x"])"}) {
    c["invitee"] = J(bad);
    EXPECT_FALSE(accepted(type::kInvite, c)) << bad;
  }
  c["invitee"] = nullptr;
  c["capabilities"] = "all";
  inv = parse_as<CallInvite>(type::kInvite, c);
  EXPECT_FALSE(inv.invitee);
  EXPECT_FALSE(inv.capabilities.dtmf);
}

TEST(CallEvents, NegotiateNeedsTypeButNotLifetime) {
  // js-sdk answers a renegotiation without a lifetime.
  auto neg = parse_as<CallNegotiate>(type::kNegotiate, J(R"({"call_id": "c", "party_id": "P", "version": "1",
    "description": {"type": "answer", "sdp": "v=0"}, "sdp_stream_metadata": {}})"));
  EXPECT_EQ(neg.description.type, media::SdpType::Answer);
  EXPECT_EQ(neg.lifetime_ms, 60000);
  ASSERT_TRUE(neg.metadata);
  EXPECT_TRUE(neg.metadata->empty());
  EXPECT_FALSE(accepted(type::kNegotiate, J(R"({"call_id": "c", "description": {"sdp": "v=0"}})")));
  EXPECT_FALSE(accepted(type::kNegotiate, J(R"({"call_id": "c", "description": {"type": "pranswer", "sdp": "v=0"}})")));
  EXPECT_FALSE(accepted(type::kNegotiate, J(R"({"call_id": "c", "lifetime": -1,
    "description": {"type": "offer", "sdp": "v=0"}})")));
  EXPECT_EQ(parse_as<CallNegotiate>(type::kNegotiate, J(R"({"call_id": "c", "lifetime": "30000",
    "description": {"type": "offer", "sdp": "v=0"}})")).lifetime_ms, 30000);
}

// ---- metadata ---------------------------------------------------------------------------

TEST(CallEvents, MetadataWithUnknownPurposeIsDropped) {
  auto ev = parse_as<CallMetadataChanged>(type::kMetadataChanged, J(R"({"call_id": "c", "version": "1",
    "sdp_stream_metadata": {
      "a": {"purpose": "m.usermedia", "audio_muted": true, "video_muted": "yes"},
      "b": {"purpose": "m.hologram"}, "c": {"audio_muted": true}, "d": "m.usermedia", "": {"purpose": "m.usermedia"},
      "e": {"purpose": "m.screenshare", "video_muted": true, "audio_mutted": true}},
    "org.matrix.msc3077.sdp_stream_metadata": {"x": {"purpose": "m.usermedia"}}})"));
  ASSERT_EQ(ev.metadata.size(), 2u);  // stable key wins; only a and e are usable
  EXPECT_EQ(ev.metadata.at("a"), (StreamMetadata{media::StreamPurpose::UserMedia, true, false}));
  EXPECT_EQ(ev.metadata.at("e"), (StreamMetadata{media::StreamPurpose::ScreenShare, false, true}));
}

TEST(CallEvents, MetadataBoundsAndTypeNames) {
  Json c = J(R"({"call_id": "c", "sdp_stream_metadata": {}})");
  for (std::size_t i = 0; i < kMaxStreamsInMetadata; ++i)
    c["sdp_stream_metadata"]["s" + std::to_string(i)] = Json{{"purpose", "m.usermedia"}};
  EXPECT_EQ(parse_as<CallMetadataChanged>(type::kMetadataChanged, c).metadata.size(), kMaxStreamsInMetadata);
  c["sdp_stream_metadata"]["one-more"] = Json{{"purpose", "m.usermedia"}};
  EXPECT_FALSE(accepted(type::kMetadataChanged, c));
  c["sdp_stream_metadata"] = std::string(300, 'x');
  EXPECT_FALSE(accepted(type::kMetadataChanged, c));
  EXPECT_FALSE(accepted(type::kInvite, J(R"({"call_id": "c", "lifetime": 1, "offer": {"sdp": "v=0"},
    "sdp_stream_metadata": []})")));
  c["sdp_stream_metadata"] = Json::object();
  c["sdp_stream_metadata"][std::string(256, 's')] = Json{{"purpose", "m.usermedia"}};
  EXPECT_TRUE(parse_as<CallMetadataChanged>(type::kMetadataChanged, c).metadata.empty());
  EXPECT_FALSE(accepted(type::kMetadataChanged, J(R"({"call_id": "c"})")));
  auto unstable = parse_call_event(type::kMetadataChangedUnstable, J(R"({"call_id": "c",
    "org.matrix.msc3077.sdp_stream_metadata": {"s": {"purpose": "m.usermedia", "audio_muted": true}}})"));
  ASSERT_TRUE(unstable.ok()) << unstable.error();
  EXPECT_EQ(event_type(*unstable), type::kMetadataChanged);
  EXPECT_TRUE(std::get<CallMetadataChanged>(*unstable).metadata.at("s").audio_muted);
}

// ---- hangup, types ----------------------------------------------------------------------

TEST(CallEvents, HangupReasons) {
  const auto reason = [](Json r) {
    Json c = J(R"({"call_id": "c", "version": "1"})");
    if (!r.is_discarded()) c["reason"] = std::move(r);
    return parse_as<CallHangup>(type::kHangup, c).reason;
  };
  EXPECT_EQ(reason(Json(Json::value_t::discarded)), "user_hangup");
  EXPECT_EQ(reason(nullptr), "user_hangup");
  EXPECT_EQ(reason(42), "user_hangup");
  EXPECT_EQ(reason(Json::array({"ice_failed"})), "user_hangup");
  EXPECT_EQ(reason("answered_elsewhere"), "answered_elsewhere");
  EXPECT_EQ(reason("set_remote_description"), "set_remote_description");
  EXPECT_EQ(reason(std::string(1000, 'r')), std::string(255, 'r'));
  // 'é' is two bytes: 127 of them (254 bytes) fit, the cut must not split the 128th.
  std::string accents;
  for (int i = 0; i < 200; ++i) accents += "\xc3\xa9";
  const std::string got = reason(accents);
  EXPECT_EQ(got.size(), 254u);
  EXPECT_NO_THROW((void)to_content(CallHangup{{"c", std::nullopt, CallVersion::V1}, got}).dump());
}

TEST(CallEvents, EventTypeNames) {
  for (auto t : {type::kInvite, type::kCandidates, type::kAnswer, type::kSelectAnswer, type::kReject,
                 type::kNegotiate, type::kHangup, type::kMetadataChanged, type::kMetadataChangedUnstable})
    EXPECT_TRUE(is_call_event_type(t)) << t;
  for (std::string_view t : {"m.call.replaces", "m.call.asserted_identity", "m.call", "", "m.room.message"}) {
    EXPECT_FALSE(is_call_event_type(t));
    EXPECT_FALSE(accepted(t, J(R"({"call_id": "c"})"))) << t;
  }
  EXPECT_EQ(event_type(CallEvent{CallReject{}}), type::kReject);
  EXPECT_EQ(event_type(CallEvent{CallSelectAnswer{}}), type::kSelectAnswer);
}

TEST(CallEvents, MediaTypeNames) {
  EXPECT_STREQ(media::to_string(media::SdpType::Offer), "offer");
  EXPECT_STREQ(media::to_string(media::SdpType::Answer), "answer");
  EXPECT_STREQ(media::to_string(media::MediaKind::Audio), "audio");
  EXPECT_STREQ(media::to_string(media::MediaKind::Video), "video");
  EXPECT_STREQ(media::to_string(media::IceState::Checking), "checking");
  EXPECT_STREQ(media::to_string(media::IceState::Disconnected), "disconnected");
  EXPECT_EQ(media::peer_of(media::MediaEvent{media::IceStateChanged{7, media::IceState::New}}), 7u);
  EXPECT_EQ(media::peer_of(media::MediaEvent{media::OperationFailed{9, "create_offer", "x"}}), 9u);
}

// Every field of every type replaced by every kind of junk: an error or a value, never a throw.
TEST(CallEvents, WrongTypesEverywhereNeverThrow) {
  const std::vector<std::pair<std::string_view, const char*>> valid = {
      {type::kInvite, R"({"call_id": "c", "party_id": "p", "version": "1", "lifetime": 60000, "invitee": "@a:b",
        "offer": {"type": "offer", "sdp": "v=0"}, "capabilities": {"m.call.dtmf": true},
        "sdp_stream_metadata": {"s": {"purpose": "m.usermedia"}}})"},
      {type::kCandidates, R"({"call_id": "c", "candidates": [{"candidate": "", "sdpMid": "0"}]})"},
      {type::kAnswer, R"({"call_id": "c", "answer": {"type": "answer", "sdp": "v=0"}})"},
      {type::kSelectAnswer, R"({"call_id": "c", "selected_party_id": "p"})"},
      {type::kReject, R"({"call_id": "c"})"},
      {type::kNegotiate, R"({"call_id": "c", "lifetime": 1, "description": {"type": "offer", "sdp": "v=0"}})"},
      {type::kHangup, R"({"call_id": "c", "reason": "ice_failed"})"},
      {type::kMetadataChangedUnstable, R"({"call_id": "c", "sdp_stream_metadata": {"s": {"purpose": "m.usermedia"}}})"}};
  const std::vector<Json> junk = {nullptr, true, 0, -1, 1.5, 18446744073709551615ULL, "", "x",
                                  Json::array(), Json::array({1, "a", nullptr}), Json::object(),
                                  J(R"({"type": 1, "sdp": [], "purpose": {}, "candidate": false})")};
  for (const auto& [t, text] : valid) {
    const Json base = J(text);
    ASSERT_TRUE(accepted(t, base)) << t;
    for (const auto& [key, value] : base.items()) {
      for (const Json& j : junk) {
        Json c = base;
        c[key] = j;
        (void)accepted(t, c);
        if (value.is_object()) {
          for (const auto& [inner, unused] : value.items()) {
            Json d = base;
            d[key][inner] = j;
            (void)accepted(t, d);
          }
        }
      }
    }
    for (const Json& j : junk) EXPECT_FALSE(accepted(t, j)) << t;
  }
}

// ---- serialization ----------------------------------------------------------------------

TEST(CallEvents, RoundTripOfEveryType) {
  const CallCommon common{"1767225600123aB3dE5fG7hJ9kL1m", "MXCALL01", CallVersion::V1};
  const SdpStreamMetadata meta{{"cam", {media::StreamPurpose::UserMedia, true, false}},
                               {"screen", {media::StreamPurpose::ScreenShare, false, true}}};
  const std::vector<CallEvent> events = {
      CallInvite{common, {media::SdpType::Offer, kSdp}, 90'000, "@bob:b.example", meta, {false, true}},
      CallInvite{{"c", std::nullopt, CallVersion::V1}, {media::SdpType::Offer, kSdp}, 1, std::nullopt, std::nullopt, {}},
      CallCandidates{common, {{"candidate:1 1 udp 2122260223 192.0.2.7 54400 typ host", "0", 0},
                              {"candidate:2 1 tcp 1 192.0.2.7 9 typ host", std::nullopt, 1},
                              {"candidate:3 1 udp 1 192.0.2.7 9 typ host", "audio", std::nullopt},
                              {"", std::nullopt, std::nullopt}}},
      CallCandidates{common, {}},
      CallAnswer{common, {media::SdpType::Answer, kSdp}, meta, {false, false}},
      CallAnswer{common, {media::SdpType::Answer, kSdp}, SdpStreamMetadata{}, {false, true}},
      CallSelectAnswer{common, "ANSWERER"},
      CallReject{common},
      CallNegotiate{common, {media::SdpType::Offer, kSdp}, 60'000, meta},
      CallNegotiate{common, {media::SdpType::Answer, kSdp}, 86'400'000, std::nullopt},
      CallHangup{common, "ice_failed"},
      CallHangup{common, ""},
      CallMetadataChanged{common, meta},
  };
  for (const CallEvent& e : events) {
    const Json content = to_content(e);
    EXPECT_EQ(content["version"], "1");
    EXPECT_NO_THROW((void)content.dump());
    auto back = parse_call_event(event_type(e), content);
    ASSERT_TRUE(back.ok()) << event_type(e) << ": " << back.error();
    EXPECT_TRUE(same(e, *back)) << event_type(e) << " " << content.dump();
    EXPECT_EQ(to_content(*back), content);
  }
}

TEST(CallEvents, ContentUsesSpecNames) {
  const CallCommon v0{"c0", std::nullopt, CallVersion::V0};
  const Json inv = to_content(CallInvite{v0, {media::SdpType::Answer, "v=0"}, 60'000, std::nullopt,
                                         SdpStreamMetadata{{"s", {}}}, {true, true}});
  EXPECT_EQ(inv, J(R"({"call_id": "c0", "version": "1", "lifetime": 60000,
    "offer": {"type": "offer", "sdp": "v=0"},
    "capabilities": {"m.call.transferee": false, "m.call.dtmf": true},
    "sdp_stream_metadata": {"s": {"purpose": "m.usermedia", "audio_muted": false, "video_muted": false}},
    "org.matrix.msc3077.sdp_stream_metadata": {"s": {"purpose": "m.usermedia", "audio_muted": false, "video_muted": false}}})"));
  const Json cands = to_content(CallCandidates{{"c", "p", CallVersion::V1}, {{"", std::nullopt, std::nullopt},
                                                                             {"candidate:1", std::nullopt, 2}}});
  EXPECT_EQ(cands, J(R"({"call_id": "c", "party_id": "p", "version": "1",
    "candidates": [{"candidate": ""}, {"candidate": "candidate:1", "sdpMLineIndex": 2}]})"));
  EXPECT_EQ(to_content(CallReject{{"c", "p", CallVersion::V1}}), J(R"({"call_id": "c", "party_id": "p", "version": "1"})"));
  EXPECT_EQ(to_content(CallHangup{{"c", "p", CallVersion::V1}, "user_hangup"}),
            J(R"({"call_id": "c", "party_id": "p", "version": "1", "reason": "user_hangup"})"));
  EXPECT_EQ(to_content(CallSelectAnswer{{"c", "p", CallVersion::V1}, "q"})["selected_party_id"], "q");
  EXPECT_EQ(to_content(CallNegotiate{{"c", "p", CallVersion::V1}, {media::SdpType::Answer, "v=0"}, 60'000, std::nullopt})["description"],
            J(R"({"type": "answer", "sdp": "v=0"})"));
}

}  // namespace
}  // namespace mxcall::events
