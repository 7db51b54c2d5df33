#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>

#include "mxcall/matrix/sender.hpp"
#include "mxcall/matrix/sync_loop.hpp"
#include "mxcall/store.hpp"
#include "unit/fake_http.hpp"

namespace mxcall::matrix {
namespace {

using testing::FakeHttp;
using testing::http_ok;
using testing::http_status;

std::string batch(const std::string& token, const std::string& body_text = "") {
  Json b = {{"next_batch", token}};
  if (!body_text.empty())
    b["rooms"]["join"]["!r:x"]["timeline"]["events"] = Json::array(
        {{{"type", "m.room.message"}, {"sender", "@a:x"}, {"event_id", "$" + token}, {"content", {{"body", body_text}}}}});
  return b.dump();
}

std::string since_of(const HttpRequest& r) {
  auto p = r.url.find("since=");
  if (p == std::string::npos) return {};
  auto e = r.url.find('&', p);
  return r.url.substr(p + 6, e == std::string::npos ? std::string::npos : e - p - 6);
}

struct Collector {
  std::mutex m;
  std::condition_variable cv;
  std::vector<std::string> bodies;
  void add(const SyncBatch& b) {
    std::lock_guard lock(m);
    for (const auto& room : b.joined)
      for (const auto& ev : room.timeline) bodies.push_back(ev.content.value("body", ""));
    cv.notify_all();
  }
  bool wait_for(std::size_t n) {
    std::unique_lock lock(m);
    return cv.wait_for(lock, std::chrono::seconds(5), [&] { return bodies.size() >= n; });
  }
};

TEST(SyncLoop, TokenAdvancesAfterEachBatchAndIsSaved) {
  auto http = std::make_shared<FakeHttp>();
  auto store = std::shared_ptr<store::Store>(store::Store::open_in_memory().value().release());
  Collector got;
  SyncLoop loop("http://hs", "T", store, [&](const SyncBatch& b) { got.add(b); }, {}, http);
  http->push(http_ok(batch("t1", "one")));
  http->push(http_ok(batch("t2", "two")));
  ASSERT_TRUE(loop.start().ok());
  ASSERT_TRUE(got.wait_for(2));
  ASSERT_TRUE(http->wait_for_requests(3));  // the third long-poll is parked in the fake
  loop.stop();
  const auto reqs = http->requests();
  EXPECT_EQ(since_of(reqs[0]), "");
  EXPECT_NE(reqs[0].url.find("timeout=0"), std::string::npos);  // initial sync returns at once
  EXPECT_EQ(since_of(reqs[1]), "t1");
  EXPECT_EQ(since_of(reqs[2]), "t2");
  EXPECT_EQ(store->load_sync_token().value(), std::optional<std::string>("t2"));
  EXPECT_EQ(got.bodies, (std::vector<std::string>{"one", "two"}));
}

TEST(SyncLoop, ResumesFromTheStoredTokenWithFullStateOnce) {
  auto http = std::make_shared<FakeHttp>();
  auto store = std::shared_ptr<store::Store>(store::Store::open_in_memory().value().release());
  ASSERT_TRUE(store->save_sync_token("saved-7").ok());
  SyncLoop loop("http://hs", "T", store, [](const SyncBatch&) {}, {}, http);
  http->push(http_ok(batch("t8")));
  ASSERT_TRUE(loop.start().ok());
  ASSERT_TRUE(http->wait_for_requests(2));
  loop.stop();
  const auto reqs = http->requests();
  EXPECT_EQ(since_of(reqs[0]), "saved-7");
  // A new process must learn the rooms' members again; later syncs are incremental.
  EXPECT_NE(reqs[0].url.find("full_state=true"), std::string::npos);
  EXPECT_EQ(since_of(reqs[1]), "t8");
  EXPECT_EQ(reqs[1].url.find("full_state"), std::string::npos);
}

// The filter a request carried, decoded from its query string.
Json filter_of(const HttpRequest& r) {
  auto p = r.url.find("filter=");
  if (p == std::string::npos) return nullptr;
  auto e = r.url.find('&', p);
  std::string enc = r.url.substr(p + 7, e == std::string::npos ? std::string::npos : e - p - 7);
  std::string dec;
  for (std::size_t i = 0; i < enc.size(); ++i) {
    if (enc[i] == '%' && i + 2 < enc.size()) {
      dec.push_back(static_cast<char>(std::stoi(enc.substr(i + 1, 2), nullptr, 16)));
      i += 2;
    } else {
      dec.push_back(enc[i]);
    }
  }
  return Json::parse(dec);
}

// bench/mesh: the restart's first sync after 10,000 events cost Synapse ~110 ms at 50
// timeline events, ~34 ms at 1, and it lies on the rejoin's path.
TEST(SyncLoop, TheCatchUpSyncAfterARestartAsksForAShortTimeline) {
  auto http = std::make_shared<FakeHttp>();
  auto store = std::shared_ptr<store::Store>(store::Store::open_in_memory().value().release());
  ASSERT_TRUE(store->save_sync_token("saved-7").ok());
  SyncLoop loop("http://hs", "T", store, [](const SyncBatch&) {}, {}, http);
  http->push(http_ok(batch("t8")));
  ASSERT_TRUE(loop.start().ok());
  ASSERT_TRUE(http->wait_for_requests(2));
  loop.stop();
  const auto reqs = http->requests();
  const Json first = filter_of(reqs[0]);
  const Json later = filter_of(reqs[1]);
  EXPECT_EQ(first["room"]["timeline"]["limit"], SyncLoopOptions{}.catch_up_timeline_limit);
  EXPECT_EQ(later["room"]["timeline"]["limit"], SyncLoopOptions::default_filter()["room"]["timeline"]["limit"]);
  EXPECT_EQ(first["presence"], later["presence"]);  // the rest of the filter is the same
}

// A restarted client that rejoined a call holds its catch-up sync until the rejoin's requests
// are done (Client::start): the gate runs once, before the first request, even when that request
// is retried, and never before an initial sync.
TEST(SyncLoop, TheGateBeforeTheCatchUpSyncRunsOnceBeforeItsFirstRequest) {
  auto http = std::make_shared<FakeHttp>();
  auto store = std::shared_ptr<store::Store>(store::Store::open_in_memory().value().release());
  ASSERT_TRUE(store->save_sync_token("saved-7").ok());
  std::atomic<int> gated{0};
  std::atomic<std::size_t> requests_at_gate{99};
  SyncLoopOptions o;
  o.retry.initial_backoff = std::chrono::milliseconds(1);
  o.before_catch_up = [&] {
    requests_at_gate = http->requests().size();
    ++gated;
  };
  SyncLoop loop("http://hs", "T", store, [](const SyncBatch&) {}, o, http);
  http->push(http_ok("not json"));  // the catch-up sync is asked again
  http->push(http_ok(batch("t8")));
  ASSERT_TRUE(loop.start().ok());
  ASSERT_TRUE(http->wait_for_requests(3));
  loop.stop();
  EXPECT_EQ(gated.load(), 1);
  EXPECT_EQ(requests_at_gate.load(), 0u);
  const auto reqs = http->requests();
  EXPECT_NE(reqs[1].url.find("full_state=true"), std::string::npos);  // the retry, not gated again

  auto fresh = std::shared_ptr<store::Store>(store::Store::open_in_memory().value().release());
  auto http2 = std::make_shared<FakeHttp>();
  SyncLoop initial("http://hs", "T", fresh, [](const SyncBatch&) {}, o, http2);
  http2->push(http_ok(batch("t1")));
  ASSERT_TRUE(initial.start().ok());
  ASSERT_TRUE(http2->wait_for_requests(2));
  initial.stop();
  EXPECT_EQ(gated.load(), 1);
}

TEST(SyncLoop, MalformedBodyDoesNotAdvanceTheToken) {
  auto http = std::make_shared<FakeHttp>();
  SyncLoopOptions o;
  o.retry.initial_backoff = std::chrono::milliseconds(1);
  Collector got;
  SyncLoop loop("http://hs", "T", nullptr, [&](const SyncBatch& b) { got.add(b); }, o, http);
  http->push(http_ok(batch("t1", "one")));
  http->push(http_ok("{garbage"));
  http->push(http_ok(R"({"next_batch": 12})"));
  http->push(http_status(502));
  http->push(http_ok(batch("t2", "two")));
  ASSERT_TRUE(loop.start().ok());
  ASSERT_TRUE(got.wait_for(2));
  loop.stop();
  const auto reqs = http->requests();
  ASSERT_GE(reqs.size(), 5u);
  for (std::size_t i = 1; i < 5; ++i) EXPECT_EQ(since_of(reqs[i]), "t1") << i;
  EXPECT_EQ(got.bodies, (std::vector<std::string>{"one", "two"}));
}

TEST(SyncLoop, UnknownTokenStopsTheLoopWithTheError) {
  auto http = std::make_shared<FakeHttp>();
  http->push(http_status(401, R"({"errcode":"M_UNKNOWN_TOKEN","error":"Invalid access token"})"));
  SyncLoop loop("http://hs", "T", nullptr, [](const SyncBatch&) {}, {}, http);
  std::promise<Error> failed;
  loop.set_error_handler([&](const Error& e) { failed.set_value(e); });
  ASSERT_TRUE(loop.start().ok());
  auto f = failed.get_future();
  ASSERT_EQ(f.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  EXPECT_EQ(f.get().errcode, "M_UNKNOWN_TOKEN");
  loop.stop();
  EXPECT_FALSE(loop.running());
}

TEST(Sender, SendsInOrderAndReportsEachResult) {
  auto http = std::make_shared<FakeHttp>();
  http->set_handler([](const HttpRequest& r) {
    return http_ok(Json{{"event_id", "$" + r.url.substr(r.url.rfind('/') + 1)}}.dump());
  });
  Sender sender("http://hs", "T", {}, http);
  std::mutex m;
  std::vector<std::string> done;
  std::vector<std::string> txns;
  for (int i = 0; i < 20; ++i)
    txns.push_back(sender.send_event("!r:x", "m.room.message", Json{{"i", i}}, [&](const Result<std::string>& r) {
      std::lock_guard lock(m);
      done.push_back(r.value());
    }));
  ASSERT_TRUE(sender.wait_idle(std::chrono::seconds(5)));
  const auto reqs = http->requests();
  ASSERT_EQ(reqs.size(), 20u);
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(Json::parse(reqs[static_cast<size_t>(i)].body)["i"], i);
    EXPECT_EQ(done[static_cast<size_t>(i)], "$" + txns[static_cast<size_t>(i)]);
  }
}

TEST(Sender, StopCancelsWhatIsQueued) {
  auto http = std::make_shared<FakeHttp>();  // no script: the first request parks
  Sender sender("http://hs", "T", {}, http);
  std::atomic<int> cancelled{0};
  for (int i = 0; i < 3; ++i)
    sender.send_event("!r:x", "m.t", Json::object(), [&](const Result<std::string>& r) {
      if (!r.ok() && r.error().kind == ErrorKind::Cancelled) ++cancelled;
    });
  ASSERT_TRUE(http->wait_for_requests(1));
  sender.stop();
  EXPECT_EQ(cancelled.load(), 3);
  sender.send_event("!r:x", "m.t", Json::object(), [&](const Result<std::string>& r) {
    if (!r.ok() && r.error().kind == ErrorKind::Cancelled) ++cancelled;
  });
  EXPECT_EQ(cancelled.load(), 4);
}

// The sim's 100k soak: a member event write that waited in the queue (behind retried
// to-device sends) overwrote the newer entries other devices of the user had written since.
TEST(Sender, AQueuedStateWriteIsSupersededByANewerOneOfTheSameState) {
  auto http = std::make_shared<FakeHttp>();  // no script: the first request parks
  Sender sender("http://hs", "T", {}, http);
  std::mutex m;
  std::vector<std::string> results;
  auto record = [&](const Result<std::string>& r) {
    std::lock_guard lock(m);
    results.push_back(r.ok() ? r.value() : std::string(to_string(r.error().kind)));
  };
  sender.send_event("!r:x", "m.t", Json::object());  // in flight, parked
  ASSERT_TRUE(http->wait_for_requests(1));
  sender.send_state("!r:x", "m.member", "@a:x", Json{{"v", 1}}, record);
  sender.send_state("!r:x", "m.member", "@b:x", Json{{"v", 1}}, record);  // another key: sent
  sender.send_state("!r:x", "m.member", "@a:x", Json{{"v", 2}}, record);
  for (int i = 0; i < 3; ++i) http->push(http_ok(R"({"event_id":"$e"})"));
  ASSERT_TRUE(sender.wait_idle(std::chrono::seconds(5)));
  const auto reqs = http->requests();
  ASSERT_EQ(reqs.size(), 3u);
  EXPECT_NE(reqs[1].url.find("%40b%3Ax"), std::string::npos);
  EXPECT_NE(reqs[2].url.find("%40a%3Ax"), std::string::npos);
  EXPECT_EQ(Json::parse(reqs[2].body)["v"], 2);
  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(results[0], to_string(ErrorKind::Cancelled));
  EXPECT_EQ(results[1], "$e");
  EXPECT_EQ(results[2], "$e");

  // Written once, the same state can be written again later.
  http->push(http_ok(R"({"event_id":"$f"})"));
  sender.send_state("!r:x", "m.member", "@a:x", Json{{"v", 3}}, record);
  ASSERT_TRUE(sender.wait_idle(std::chrono::seconds(5)));
  EXPECT_EQ(http->requests().size(), 4u);
}

}  // namespace
}  // namespace mxcall::matrix
