#include "mxcall/matrix/sync_loop.hpp"

#include <random>
#include <utility>

#include "matrix/retry_decision.hpp"
#include "mxcall/store.hpp"
#include "util/logging.hpp"

namespace mxcall::matrix {

Json SyncLoopOptions::default_filter() {
  return Json{{"presence", {{"types", Json::array()}}},
              {"account_data", {{"types", Json::array()}}},
              {"room",
               {{"timeline", {{"limit", 50}}},
                {"ephemeral", {{"types", Json::array()}}},
                {"account_data", {{"types", Json::array()}}},
                {"state", {{"lazy_load_members", false}}}}}};
}

SyncLoop::SyncLoop(std::string base_url, std::string access_token, std::shared_ptr<store::Store> store,
                   BatchHandler on_batch, SyncLoopOptions options, std::shared_ptr<HttpClient> http)
    : api_(std::move(base_url), std::move(http), options.retry),
      store_(std::move(store)),
      on_batch_(std::move(on_batch)),
      options_(std::move(options)) {
  api_.set_access_token(std::move(access_token));
}

SyncLoop::~SyncLoop() { stop(); }

Status SyncLoop::start(std::string since) {
  if (thread_.joinable()) return Error::make(ErrorKind::InvalidArgument, "sync loop already started");
  if (since.empty() && store_) {
    auto saved = store_->load_sync_token();
    if (!saved.ok()) return saved.error();
    if (*saved) since = **saved;
  }
  {
    std::lock_guard lock(mutex_);
    since_ = since;
  }
  MXLOG_INFO("sync: starting {}", since.empty() ? std::string("with an initial sync") : "from saved token " + since);
  running_.store(true);
  thread_ = std::thread([this] { run(); });
  return ok_status();
}

void SyncLoop::stop() {
  api_.cancel();
  if (thread_.joinable()) thread_.join();
  running_.store(false);
}

std::string SyncLoop::since() const {
  std::lock_guard lock(mutex_);
  return since_;
}

bool SyncLoop::advance(const SyncBatch& batch) {
  if (on_batch_) on_batch_(batch);
  if (store_) {
    // The token is saved only after the batch was handled: a crash before this line replays
    // the batch (handlers are idempotent), a crash after it never loses one.
    if (auto st = store_->save_sync_token(batch.next_batch); !st.ok()) {
      MXLOG_ERROR("sync: cannot save the sync token, stopping: {}", st.error().describe());
      if (on_error_) on_error_(st.error());
      return false;
    }
  }
  std::lock_guard lock(mutex_);
  since_ = batch.next_batch;
  return true;
}

Json SyncLoop::catch_up_filter() const {
  Json f = options_.filter;
  const int cap = options_.catch_up_timeline_limit;
  if (cap <= 0 || !f.is_object()) return f;  // a filter id (string) is used as it is
  Json& room = f["room"];
  if (!room.is_object()) room = Json::object();
  Json& timeline = room["timeline"];
  if (!timeline.is_object()) timeline = Json::object();
  const auto limit = timeline.find("limit");
  if (limit == timeline.end() || !limit->is_number_integer() || limit->get<std::int64_t>() > cap) timeline["limit"] = cap;
  return f;
}

void SyncLoop::run() {
  std::mt19937_64 rng{std::random_device{}()};
  int malformed_in_a_row = 0;
  bool first = true;
  while (!api_.cancelled()) {
    SyncOptions o;
    o.since = since();
    // The first sync returns at once so callers see the current state without waiting.
    o.timeout = o.since.empty() ? std::chrono::milliseconds(0) : options_.timeout;
    // A process resuming from a saved token knows nothing of its rooms yet (who is a member):
    // its first sync asks for the full state. Without it, a restarted client dropped every
    // call event as "not a member" (found by tests/sim).
    o.full_state = first && !o.since.empty();
    if (o.full_state && options_.before_catch_up) {
      std::exchange(options_.before_catch_up, nullptr)();  // once, not again on a retry
      if (api_.cancelled()) break;
    }
    o.filter = o.full_state ? catch_up_filter() : options_.filter;
    auto batch = api_.sync(o);
    if (batch.ok()) {
      first = false;
      malformed_in_a_row = 0;
      batches_.fetch_add(1);
      if (batch->dropped > 0) MXLOG_WARN("sync: {} malformed events dropped from this batch", batch->dropped);
      MXLOG_DEBUG("sync: batch {} ({} joined rooms, {} invites, {} to-device)", batch->next_batch,
                  batch->joined.size(), batch->invited.size(), batch->to_device.size());
      if (!advance(*batch)) break;
      continue;
    }
    const Error& e = batch.error();
    if (e.kind == ErrorKind::Cancelled) break;
    if (e.kind == ErrorKind::InvalidResponse) {
      // A body we cannot read: keep the token, wait, ask again.
      const auto delay = backoff_delay(options_.retry, ++malformed_in_a_row, rng);
      MXLOG_WARN("sync: {}; retrying in {} ms", e.describe(), delay.count());
      if (!api_.wait(delay)) break;
      continue;
    }
    MXLOG_ERROR("sync: stopped: {}", e.describe());
    if (on_error_) on_error_(e);
    break;
  }
  running_.store(false);
}

}  // namespace mxcall::matrix
