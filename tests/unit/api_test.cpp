#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "mxcall/matrix/api.hpp"
#include "unit/fake_http.hpp"

namespace mxcall::matrix {
namespace {

using testing::FakeHttp;
using testing::http_ok;
using testing::http_outcome;
using testing::http_status;

struct ApiTest : ::testing::Test {
  std::shared_ptr<FakeHttp> http = std::make_shared<FakeHttp>();
  Api api{"http://hs", http};
  std::vector<std::chrono::milliseconds> waits;
  void SetUp() override {
    api.set_access_token("T");
    api.set_sleeper([this](std::chrono::milliseconds d) { waits.push_back(d); return true; });
  }
};

TEST_F(ApiTest, RetriesReuseTheSameTxnIdAndBody) {
  http->push(http_status(500));
  http->push(http_outcome(HttpOutcome::ConnectFailed));
  http->push(http_status(429, R"({"errcode":"M_LIMIT_EXCEEDED","retry_after_ms":700})"));
  http->push(http_outcome(HttpOutcome::Timeout));
  http->push(http_ok(R"({"event_id":"$e1"})"));
  auto r = api.send_event("!r:x", "m.room.message", Json{{"body", "hi"}}, "txn-42");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(*r, "$e1");
  const auto reqs = http->requests();
  ASSERT_EQ(reqs.size(), 5u);
  for (const auto& q : reqs) {
    EXPECT_EQ(q.url, reqs[0].url);
    EXPECT_EQ(q.body, reqs[0].body);
    EXPECT_NE(q.url.find("/txn-42"), std::string::npos);
  }
  ASSERT_EQ(waits.size(), 4u);
  EXPECT_EQ(waits[2], std::chrono::milliseconds(700));
  const auto stats = api.stats();
  EXPECT_EQ(stats.requests, 5u);
  EXPECT_EQ(stats.retries, 4u);
  EXPECT_EQ(stats.rate_limited, 1u);
  EXPECT_EQ(stats.failures, 0u);
}

TEST_F(ApiTest, ClientErrorIsTypedAndNeverRetried) {
  http->push(http_status(403, R"({"errcode":"M_FORBIDDEN","error":"not in room"})"));
  auto r = api.send_event("!r:x", "m.room.message", Json::object(), "t");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::Matrix);
  EXPECT_EQ(r.error().errcode, "M_FORBIDDEN");
  EXPECT_EQ(http->requests().size(), 1u);
  EXPECT_TRUE(waits.empty());
}

TEST_F(ApiTest, MalformedSuccessBodiesAreErrorsNotCrashes) {
  http->push(http_ok("{not json"));
  http->push(http_ok("[1,2]"));
  http->push(http_ok(R"({"event_id": 17})"));
  http->push(http_ok(std::string(100, '[') + std::string(100, ']')));
  for (int i = 0; i < 4; ++i) {
    auto r = api.send_event("!r:x", "m.room.message", Json::object(), "t" + std::to_string(i));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().kind, ErrorKind::InvalidResponse) << i;
  }
}

TEST_F(ApiTest, LoginStoresTheAccessToken) {
  http->push(http_ok(R"({"user_id":"@a:x","device_id":"D","access_token":"NEW"})"));
  auto r = api.login_password("a", "pw");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->device_id, "D");
  EXPECT_EQ(api.access_token(), "NEW");
}

TEST_F(ApiTest, TurnServerEmptyAnswerMeansNoTurn) {
  http->push(http_ok("{}"));
  auto none = api.turn_server();
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  http->push(http_ok(R"({"username":"u","password":"p","uris":["turn:127.0.0.1:3478"],"ttl":86400})"));
  auto some = api.turn_server();
  ASSERT_TRUE(some.ok() && some->has_value());
  EXPECT_EQ((*some)->ttl_s, 86400);
  http->push(http_ok(R"({"username":"u","uris":["turn:x"],"ttl":"soon"})"));
  EXPECT_EQ(api.turn_server().error().kind, ErrorKind::InvalidResponse);
}

TEST_F(ApiTest, SendToDeviceNeedsTxnIdAndSendsOneRequest) {
  ToDeviceBatch b;
  b.event_type = "m.test";
  b.messages["@a:x"]["D1"] = Json::object();
  EXPECT_EQ(api.send_to_device(b).error().kind, ErrorKind::InvalidArgument);
  EXPECT_TRUE(http->requests().empty());
  b.txn_id = new_txn_id();
  b.messages["@a:x"]["D2"] = Json::object();
  b.messages["@b:x"]["D3"] = Json::object();
  http->push(http_ok("{}"));
  EXPECT_TRUE(api.send_to_device(b).ok());
  EXPECT_EQ(http->requests().size(), 1u);
}

TEST(ApiCancel, CancelInterruptsARetryWait) {
  auto http = std::make_shared<FakeHttp>();
  http->set_handler([](const HttpRequest&) { return http_status(503); });
  RetryPolicy p;
  p.initial_backoff = std::chrono::milliseconds(60'000);
  p.max_backoff = std::chrono::milliseconds(60'000);
  Api api("http://hs", http, p);
  std::thread t([&] {
    http->wait_for_requests(1);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    api.cancel();
  });
  const auto start = std::chrono::steady_clock::now();
  auto r = api.whoami();
  t.join();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::Cancelled);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

TEST(TxnId, UniqueAndUrlSafe) {
  std::set<std::string> ids;
  for (int i = 0; i < 10'000; ++i) {
    auto id = new_txn_id();
    for (char c : id) ASSERT_TRUE(std::isalnum(static_cast<unsigned char>(c)) || c == '.') << id;
    ids.insert(id);
  }
  EXPECT_EQ(ids.size(), 10'000u);
}

}  // namespace
}  // namespace mxcall::matrix
