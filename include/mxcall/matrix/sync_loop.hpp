// The /sync long-poll on a thread of its own. Each batch is handed to the handler in order;
// the since token advances (and is saved to the store) only after the handler returns, so a
// crash or restart resumes where processing stopped, and to-device messages are never lost.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "mxcall/matrix/api.hpp"

namespace mxcall::store { class Store; }

namespace mxcall::matrix {

struct SyncLoopOptions {
  std::chrono::milliseconds timeout{30'000};
  // Inline filter; the default keeps presence and account data out and timelines short.
  Json filter = default_filter();
  // Failures of the long-poll itself (network, 5xx, 429, a malformed body) are retried forever
  // with this backoff; only a Matrix 4xx (e.g. M_UNKNOWN_TOKEN) stops the loop.
  RetryPolicy retry = RetryPolicy::forever();
  // The first sync from a saved token (a restart) asks for the full state and, when the client
  // was down long, a "limited" gap: Synapse's cost there grows with the timeline it returns
  // (~1.5 ms per event on a cold cache: 110 ms at 50 events, 47 at 10, 34 at 1), and that
  // sync is on the path of a rejoin. Its timeline is capped to this many events (0: no cap).
  // The events cut are older timeline events of the gap (room state is complete either way);
  // a 1:1 invite that rang while we were down is kept if it is among the newest ones.
  int catch_up_timeline_limit = 10;
  // Run on the sync thread right before that first sync from a saved token (once, also when
  // that sync is retried; never before an initial sync). A client that rejoined its calls from
  // the store waits here, bounded, for its new member entry to be written: the peers wait for
  // that entry, and the catch-up sync beside it delayed it on the homeserver (bench/mesh).
  std::function<void()> before_catch_up;

  static Json default_filter();
};

class SyncLoop {
 public:
  using BatchHandler = std::function<void(const SyncBatch&)>;
  using ErrorHandler = std::function<void(const Error&)>;

  // store may be null (the token then lives only in memory).
  SyncLoop(std::string base_url, std::string access_token, std::shared_ptr<store::Store> store,
           BatchHandler on_batch, SyncLoopOptions options = {},
           std::shared_ptr<HttpClient> http = nullptr);
  ~SyncLoop();
  SyncLoop(const SyncLoop&) = delete;
  SyncLoop& operator=(const SyncLoop&) = delete;

  // Starts from `since` if given, else from the store's token, else with an initial sync.
  Status start(std::string since = {});
  // Aborts the long-poll in flight and joins the thread. Idempotent.
  void stop();
  bool running() const { return running_.load(); }

  void set_error_handler(ErrorHandler h) { on_error_ = std::move(h); }
  void set_observer(Api::Observer o) { api_.set_observer(std::move(o)); }

  std::string since() const;
  std::uint64_t batches() const { return batches_.load(); }
  ApiStats stats() const { return api_.stats(); }

 private:
  void run();
  bool advance(const SyncBatch& batch);
  Json catch_up_filter() const;  // options_.filter with the catch-up timeline cap

  Api api_;
  std::shared_ptr<store::Store> store_;
  BatchHandler on_batch_;
  ErrorHandler on_error_;
  SyncLoopOptions options_;
  mutable std::mutex mutex_;
  std::string since_;
  std::atomic<bool> running_{false};
  std::atomic<std::uint64_t> batches_{0};
  std::thread thread_;
};

}  // namespace mxcall::matrix
