// OlmToDevice over a scripted homeserver (FakeHttp routing to the in-memory KeyServer): the
// request budget of send() and receive(), key upload housekeeping, failures per device.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>

#include "client/olm_to_device.hpp"
#include "olm_harness.hpp"
#include "unit/fake_http.hpp"
#include "util/json_guard.hpp"

namespace mxcall::testing {
namespace {

namespace reason = crypto::reason;

// The key endpoints and sendToDevice of one homeserver, shared by every device's FakeHttp.
struct FakeHomeserver {
  KeyServer keys;
  std::map<std::string, int> requests;  // "/keys/query" ... per path kind
  std::map<DeviceRef, std::vector<matrix::ToDeviceEvent>> inboxes;
  std::vector<std::string> txn_ids;
  std::map<std::string, int> fail_with;  // path kind -> HTTP status to answer instead
  std::vector<Json> uploads;

  matrix::HttpResponse handle(const std::string& sender, const matrix::HttpRequest& r) {
    std::string kind;
    for (const char* k : {"/keys/upload", "/keys/query", "/keys/claim", "/sendToDevice/"})
      if (r.url.find(k) != std::string::npos) kind = k;
    ++requests[kind];
    if (auto f = fail_with.find(kind); f != fail_with.end())
      return http_status(f->second, R"({"errcode":"M_FORBIDDEN","error":"scripted"})");
    const Json body = r.body.empty() ? Json::object() : Json::parse(r.body);
    if (kind == "/keys/upload") {
      uploads.push_back(body);
      return http_ok(R"({"one_time_key_counts":{"signed_curve25519":50}})");
    }
    if (kind == "/keys/query") {
      std::vector<std::string> users;
      for (const auto& [user, _] : body["device_keys"].items()) users.push_back(user);
      return http_ok(keys.query(users).dump());
    }
    if (kind == "/keys/claim") {
      std::vector<DeviceRef> devices;
      for (const auto& [user, ds] : body["one_time_keys"].items())
        for (const auto& [device, _] : ds.items()) devices.push_back({user, device});
      return http_ok(keys.claim(devices).dump());
    }
    if (kind == "/sendToDevice/") {
      const auto path = r.url.substr(r.url.find("/sendToDevice/") + 14);
      const auto slash = path.find('/');
      txn_ids.push_back(path.substr(slash + 1));
      for (const auto& [user, ds] : body["messages"].items())
        for (const auto& [device, content] : ds.items())
          inboxes[{user, device}].push_back({path.substr(0, slash), sender, content});
      return http_ok("{}");
    }
    return http_status(404, R"({"errcode":"M_UNRECOGNIZED"})");
  }
};

struct Node {
  OlmDevice device;
  std::shared_ptr<FakeHttp> http = std::make_shared<FakeHttp>();
  std::unique_ptr<matrix::Api> api;
  std::unique_ptr<client::OlmToDevice> olm;

  Node(FakeHomeserver& hs, const std::string& user, const std::string& id, const TestClock& clock,
       client::OlmToDeviceOptions o = {})
      : device(OlmDevice::create(user, id, clock)) {
    http->set_handler([&hs, user](const matrix::HttpRequest& r) { return hs.handle(user, r); });
    api = std::make_unique<matrix::Api>("http://hs", http);
    olm = std::make_unique<client::OlmToDevice>(*api, *device.machine, o);
  }
};

class OlmToDeviceTest : public ::testing::Test {
 protected:
  std::unique_ptr<Node> node(const std::string& user, const std::string& id, client::OlmToDeviceOptions o = {}) {
    auto n = std::make_unique<Node>(hs, user, id, clock, o);
    hs.keys.upload(n->device);
    return n;
  }

  TestClock clock;
  FakeHomeserver hs;
};

TEST_F(OlmToDeviceTest, SendQueriesAndClaimsOnceAndKeepsOneContentPerDevicePerRequest) {
  auto alice = node("@alice:hs", "A");
  auto bob = node("@bob:hs", "B");
  auto carol = node("@carol:hs", "C");
  auto report = alice->olm->send({{"@bob:hs", "B", "m.call.invite", {{"n", 1}}},
                                  {"@carol:hs", "C", "m.call.invite", {{"n", 1}}},
                                  {"@bob:hs", "B", "m.call.candidates", {{"n", 2}}}});
  ASSERT_TRUE(report.ok()) << report.error();
  EXPECT_EQ(report->sent, 3u);
  EXPECT_EQ(report->requests, 2u);  // bob's second message needs a request of its own
  EXPECT_EQ(hs.requests["/keys/query"], 1);
  EXPECT_EQ(hs.requests["/keys/claim"], 1);
  EXPECT_EQ(hs.requests["/sendToDevice/"], 2);
  ASSERT_EQ(hs.txn_ids.size(), 2u);
  EXPECT_NE(hs.txn_ids[0], hs.txn_ids[1]);

  // Bob decrypts both, in order; his first receive fetches alice's keys once.
  auto& inbox = hs.inboxes[bob->device.ref()];
  ASSERT_EQ(inbox.size(), 2u);
  for (int n = 1; n <= 2; ++n) {
    auto got = bob->olm->receive(inbox[static_cast<std::size_t>(n - 1)]);
    ASSERT_TRUE(got.ok()) << got.error();
    EXPECT_EQ(got->content["n"], n);
  }
  EXPECT_EQ(hs.requests["/keys/query"], 2);
}

TEST_F(OlmToDeviceTest, PrefetchQueriesOnceClaimsOnlyForTheDevicesWeCallAndTheSendThenNeedsNoKeysRequest) {
  auto alice = node("@alice:hs", "A");
  auto bob = node("@bob:hs", "B");
  auto carol = node("@carol:hs", "C");
  ASSERT_TRUE(alice->olm->prefetch({{"@bob:hs", "B"}, {"@carol:hs", "C"}}, {{"@bob:hs", "B"}}).ok());
  EXPECT_EQ(hs.requests["/keys/query"], 1);
  EXPECT_EQ(hs.requests["/keys/claim"], 1);
  // Nothing left to fetch: a second prefetch makes no request.
  ASSERT_TRUE(alice->olm->prefetch({{"@bob:hs", "B"}, {"@carol:hs", "C"}}, {{"@bob:hs", "B"}}).ok());
  EXPECT_EQ(hs.requests["/keys/query"], 1);
  EXPECT_EQ(hs.requests["/keys/claim"], 1);

  // The send to bob is only the sendToDevice.
  auto report = alice->olm->send({{"@bob:hs", "B", "m.call.invite", {{"n", 1}}}});
  ASSERT_TRUE(report.ok()) << report.error();
  EXPECT_EQ(report->sent, 1u);
  EXPECT_EQ(hs.requests["/keys/query"], 1);
  EXPECT_EQ(hs.requests["/keys/claim"], 1);
  // Carol calls alice: alice knows her keys already and answers on the session carol made.
  auto from_carol = carol->olm->send({{"@alice:hs", "A", "m.call.invite", {{"n", 2}}}});
  ASSERT_TRUE(from_carol.ok());
  const int queries = hs.requests["/keys/query"];
  auto& inbox = hs.inboxes[alice->device.ref()];
  ASSERT_EQ(inbox.size(), 1u);
  auto got = alice->olm->receive(inbox[0]);
  ASSERT_TRUE(got.ok()) << got.error();
  EXPECT_EQ(hs.requests["/keys/query"], queries);  // no lookup for carol's key
  const int claims = hs.requests["/keys/claim"];
  auto answer = alice->olm->send({{"@carol:hs", "C", "m.call.answer", {{"n", 3}}}});
  ASSERT_TRUE(answer.ok());
  EXPECT_EQ(answer->sent, 1u);
  EXPECT_EQ(hs.requests["/keys/claim"], claims);
}

TEST_F(OlmToDeviceTest, PrefetchFailuresAreReportedAndLeftToTheSend) {
  auto alice = node("@alice:hs", "A");
  auto bob = node("@bob:hs", "B");
  hs.fail_with["/keys/claim"] = 403;
  EXPECT_FALSE(alice->olm->prefetch({{"@bob:hs", "B"}}, {{"@bob:hs", "B"}}).ok());
  hs.fail_with.clear();
  auto report = alice->olm->send({{"@bob:hs", "B", "m.call.invite", Json::object()}});
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->sent, 1u);
  EXPECT_EQ(hs.requests["/keys/claim"], 2);
}

TEST_F(OlmToDeviceTest, FailedQueryOrClaimIsReportedPerDeviceAndNothingElseIsSent) {
  auto alice = node("@alice:hs", "A");
  auto bob = node("@bob:hs", "B");
  hs.fail_with["/keys/query"] = 403;
  auto report = alice->olm->send({{"@bob:hs", "B", "m.call.invite", Json::object()},
                                  {"not a user", "X", "m.call.invite", Json::object()}});
  ASSERT_TRUE(report.ok()) << report.error();
  EXPECT_EQ(report->sent, 0u);
  ASSERT_EQ(report->failed.size(), 2u);
  EXPECT_EQ(hs.requests["/sendToDevice/"], 0);
  hs.fail_with.clear();

  hs.fail_with["/keys/claim"] = 403;
  report = alice->olm->send({{"@bob:hs", "B", "m.call.invite", Json::object()}});
  ASSERT_TRUE(report.ok());
  ASSERT_EQ(report->failed.size(), 1u);
  EXPECT_EQ(report->failed[0].error.errcode, "M_FORBIDDEN");
  hs.fail_with.clear();

  hs.fail_with["/sendToDevice/"] = 403;
  auto refused = alice->olm->send({{"@bob:hs", "B", "m.call.invite", Json::object()}});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().errcode, "M_FORBIDDEN");
}

TEST_F(OlmToDeviceTest, KeysAreUploadedOnceAndTopUpsFollowTheCount) {
  auto alice = std::make_unique<Node>(hs, "@alice:hs", "A", clock);
  ASSERT_TRUE(alice->olm->ensure_keys_uploaded(std::nullopt).ok());
  ASSERT_EQ(hs.uploads.size(), 1u);
  EXPECT_TRUE(hs.uploads[0].contains("device_keys"));
  EXPECT_EQ(hs.uploads[0]["one_time_keys"].size(), 50u);
  EXPECT_EQ(alice->olm->published_one_time_keys(), 50);

  ASSERT_TRUE(alice->olm->ensure_keys_uploaded(50).ok());
  ASSERT_TRUE(alice->olm->ensure_keys_uploaded(std::nullopt).ok());
  EXPECT_EQ(hs.uploads.size(), 1u);  // nothing to do

  hs.fail_with["/keys/upload"] = 403;
  EXPECT_FALSE(alice->olm->ensure_keys_uploaded(10).ok());
  hs.fail_with.clear();
  ASSERT_EQ(hs.uploads.size(), 1u);
  ASSERT_TRUE(alice->olm->ensure_keys_uploaded(10).ok());
  ASSERT_EQ(hs.uploads.size(), 2u);
  EXPECT_FALSE(hs.uploads[1].contains("device_keys"));
  EXPECT_EQ(hs.uploads[1]["one_time_keys"].size(), 40u);  // the ones the failed attempt made
  for (const auto& [id, _] : hs.uploads[1]["one_time_keys"].items()) EXPECT_FALSE(hs.uploads[0]["one_time_keys"].contains(id));
}

TEST_F(OlmToDeviceTest, PlaintextNeedsTheOptIn) {
  auto bob = node("@bob:hs", "B");
  const matrix::ToDeviceEvent invite{"m.call.invite", "@alice:hs", {{"call_id", "c"}}};
  auto refused = bob->olm->receive(invite);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().errcode, reason::kPlaintextRejected);

  client::OlmToDeviceOptions lenient;
  lenient.accept_plaintext = true;
  client::OlmToDevice compatible(*bob->api, *bob->device.machine, lenient);
  for (int i = 0; i < 2; ++i) {
    auto accepted = compatible.receive(invite);
    ASSERT_TRUE(accepted.ok()) << accepted.error();
    EXPECT_FALSE(accepted->encrypted);
    EXPECT_EQ(accepted->content["call_id"], "c");
  }
  EXPECT_EQ(hs.requests["/keys/query"], 0);
}

TEST_F(OlmToDeviceTest, UnknownSenderKeysAreLookedUpAtMostOncePerInterval) {
  auto alice = node("@alice:hs", "A");
  auto bob = node("@bob:hs", "B");
  ASSERT_TRUE(alice->olm->send({{"@bob:hs", "B", "m.dummy", Json::object()}}).ok());
  const auto envelope = hs.inboxes[bob->device.ref()].at(0);
  // Bob's server no longer lists alice's device: the key stays unknown.
  hs.keys.forget_device(alice->device.ref());
  const int before = hs.requests["/keys/query"];
  for (int i = 0; i < 3; ++i) {
    auto r = bob->olm->receive(envelope);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().errcode, reason::kUnknownSenderKey);
  }
  EXPECT_EQ(hs.requests["/keys/query"], before + 1);

  // A device-list change makes the next message look again, and now it is listed.
  hs.keys.device_keys(alice->device.ref()) = alice->device->device_keys();
  ASSERT_TRUE(bob->olm->on_device_lists({{"@alice:hs"}, {}}).ok());
  auto got = bob->olm->receive(envelope);
  ASSERT_TRUE(got.ok()) << got.error();
  EXPECT_EQ(hs.requests["/keys/query"], before + 2);
}

}  // namespace
}  // namespace mxcall::testing
