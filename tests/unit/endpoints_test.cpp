#include <gtest/gtest.h>

#include "matrix/endpoints.hpp"

namespace mxcall::matrix {
namespace {

const endpoints::Target kTarget{"http://127.0.0.1:8008/", "TOKEN"};

std::string header(const HttpRequest& r, const std::string& name) {
  for (const auto& [k, v] : r.headers)
    if (k == name) return v;
  return {};
}

TEST(Endpoints, EncodeComponentEscapesEverythingButUnreserved) {
  EXPECT_EQ(endpoints::encode_component("!room:localhost"), "%21room%3Alocalhost");
  EXPECT_EQ(endpoints::encode_component("a b/c?d&e#f"), "a%20b%2Fc%3Fd%26e%23f");
  EXPECT_EQ(endpoints::encode_component("m.call.invite"), "m.call.invite");
  EXPECT_EQ(endpoints::encode_component("\xC3\xA9"), "%C3%A9");
}

TEST(Endpoints, SendEventPutsTxnIdInPathWithAuth) {
  auto r = endpoints::send_event(kTarget, "!r:localhost", "m.call.invite", "txn-1", Json{{"a", 1}});
  EXPECT_EQ(r.method, HttpMethod::Put);
  EXPECT_EQ(r.url, "http://127.0.0.1:8008/_matrix/client/v3/rooms/%21r%3Alocalhost/send/m.call.invite/txn-1");
  EXPECT_EQ(header(r, "Authorization"), "Bearer TOKEN");
  EXPECT_EQ(Json::parse(r.body), (Json{{"a", 1}}));
}

TEST(Endpoints, StateEventWithEmptyKeyEndsWithSlash) {
  auto r = endpoints::send_state(kTarget, "!r:x", "org.matrix.msc3401.call", "", Json::object());
  EXPECT_EQ(r.url, "http://127.0.0.1:8008/_matrix/client/v3/rooms/%21r%3Ax/state/org.matrix.msc3401.call/");
  auto m = endpoints::send_state(kTarget, "!r:x", "org.matrix.msc3401.call.member", "@a:x", Json::object());
  EXPECT_EQ(m.url, "http://127.0.0.1:8008/_matrix/client/v3/rooms/%21r%3Ax/state/org.matrix.msc3401.call.member/%40a%3Ax");
}

TEST(Endpoints, SendToDeviceCarriesEveryUserAndDeviceInOneBody) {
  ToDeviceBatch b;
  b.event_type = "m.call.invite";
  b.txn_id = "t1";
  b.messages["@a:x"]["DEV1"] = Json{{"n", 1}};
  b.messages["@a:x"]["DEV2"] = Json{{"n", 2}};
  b.messages["@b:x"]["*"] = Json{{"n", 3}};
  EXPECT_EQ(b.device_count(), 3u);
  auto r = endpoints::send_to_device(kTarget, b);
  EXPECT_EQ(r.url, "http://127.0.0.1:8008/_matrix/client/v3/sendToDevice/m.call.invite/t1");
  const auto body = Json::parse(r.body);
  EXPECT_EQ(body["messages"]["@a:x"]["DEV1"]["n"], 1);
  EXPECT_EQ(body["messages"]["@a:x"]["DEV2"]["n"], 2);
  EXPECT_EQ(body["messages"]["@b:x"]["*"]["n"], 3);
}

TEST(Endpoints, LoginIsUnauthenticatedAndNamesTheUser) {
  auto r = endpoints::login_password(kTarget, "alice", "pw", std::string("DEV"), std::string("mxcall"));
  EXPECT_EQ(r.method, HttpMethod::Post);
  EXPECT_EQ(header(r, "Authorization"), "");
  auto body = Json::parse(r.body);
  EXPECT_EQ(body["type"], "m.login.password");
  EXPECT_EQ(body["identifier"]["user"], "alice");
  EXPECT_EQ(body["device_id"], "DEV");
  EXPECT_EQ(body["initial_device_display_name"], "mxcall");
}

TEST(Endpoints, SyncQueryHasSinceFilterAndLongerHttpTimeout) {
  endpoints::SyncParams p;
  p.since = "s1_2 3";
  p.timeout = std::chrono::milliseconds(30'000);
  p.filter = Json{{"room", {{"timeline", {{"limit", 5}}}}}};
  auto r = endpoints::sync(kTarget, p);
  EXPECT_NE(r.url.find("/_matrix/client/v3/sync?timeout=30000"), std::string::npos);
  EXPECT_NE(r.url.find("&since=s1_2%203"), std::string::npos);
  EXPECT_NE(r.url.find("&filter=%7B%22room%22"), std::string::npos);
  EXPECT_GT(r.timeout, p.timeout);
}

TEST(Endpoints, CreateDirectRoomInvitesAndMarksDirect) {
  CreateRoomRequest c;
  c.invite = {"@b:x"};
  c.is_direct = true;
  c.preset = "trusted_private_chat";
  auto body = Json::parse(endpoints::create_room(kTarget, c).body);
  EXPECT_EQ(body["is_direct"], true);
  EXPECT_EQ(body["invite"], Json::array({"@b:x"}));
  EXPECT_EQ(body["preset"], "trusted_private_chat");
  EXPECT_FALSE(body.contains("initial_state"));
}

}  // namespace
}  // namespace mxcall::matrix
