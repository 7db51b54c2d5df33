// The Matrix client-server API as blocking, typed calls with the retry policy applied:
// 429 waits what the server asks, 5xx/network errors back off, other 4xx are typed errors.
// Sends carry a transaction id and every retry reuses it (the homeserver deduplicates).
// One Api is used by one thread at a time; cancel() may be called from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>

#include "mxcall/error.hpp"
#include "mxcall/matrix/http.hpp"
#include "mxcall/matrix/retry.hpp"
#include "mxcall/matrix/sync.hpp"
#include "mxcall/matrix/types.hpp"

namespace mxcall::matrix {

struct ApiStats {
  std::uint64_t requests = 0;      // HTTP requests performed (every attempt counts)
  std::uint64_t retries = 0;       // attempts after the first, for any reason
  std::uint64_t rate_limited = 0;  // 429 answers received
  std::uint64_t failures = 0;      // logical calls that ended in an error
};

struct SyncOptions {
  std::string since;
  std::chrono::milliseconds timeout{30'000};
  Json filter;  // inline filter object, a filter id string, or null
  bool full_state = false;
};

class Api {
 public:
  // Observes every attempt (tests count requests; the CLI can trace).
  using Observer = std::function<void(const HttpRequest&, const HttpResponse&)>;
  // Waits between attempts; returns false when cancelled. Tests inject a recorder.
  using Sleeper = std::function<bool(std::chrono::milliseconds)>;

  // With no http client, a libcurl one is made (one connection kept alive).
  explicit Api(std::string base_url, std::shared_ptr<HttpClient> http = nullptr,
               RetryPolicy policy = {});
  ~Api();
  Api(const Api&) = delete;
  Api& operator=(const Api&) = delete;

  const std::string& base_url() const { return base_url_; }
  void set_access_token(std::string token) { access_token_ = std::move(token); }
  const std::string& access_token() const { return access_token_; }
  void set_retry_policy(RetryPolicy p) { policy_ = p; }
  void set_observer(Observer o) { observer_ = std::move(o); }
  void set_sleeper(Sleeper s) { sleeper_ = std::move(s); }
  void seed_jitter(std::uint64_t seed) { rng_.seed(seed); }

  // Aborts waits and in-flight requests (they return ErrorKind::Cancelled). Thread-safe.
  void cancel();
  bool cancelled() const { return cancelled_.load(); }
  // Waits d (through the sleeper, if one is set); false as soon as cancel() is called.
  bool wait(std::chrono::milliseconds d);
  ApiStats stats() const;

  Result<Json> versions();
  Result<LoginResponse> login_password(const std::string& user, const std::string& password,
                                       const std::optional<std::string>& device_id = std::nullopt,
                                       const std::optional<std::string>& display_name = std::nullopt);
  Result<std::string> whoami();  // the user id of the access token
  Status logout();
  Result<std::string> create_room(const CreateRoomRequest& request);  // room id
  Result<std::string> join_room(const std::string& room_id_or_alias);  // room id
  Status invite(const std::string& room_id, const std::string& user_id);
  Result<std::string> send_event(const std::string& room_id, const std::string& type,
                                 const Json& content, const std::string& txn_id);  // event id
  Result<std::string> send_state(const std::string& room_id, const std::string& type,
                                 const std::string& state_key, const Json& content);
  Result<Json> get_state(const std::string& room_id, const std::string& type,
                         const std::string& state_key);
  // One request for the whole batch, whatever the number of users and devices.
  Status send_to_device(const ToDeviceBatch& batch);
  // nullopt when the homeserver has no TURN configured.
  Result<std::optional<TurnServer>> turn_server();
  Result<Json> keys_upload(const Json& body);
  Result<Json> keys_query(const Json& body);
  Result<Json> keys_claim(const Json& body);
  Result<SyncBatch> sync(const SyncOptions& options);

  // Performs one request with the retry policy; the body of a 2xx answer is parsed as untrusted
  // JSON (must be an object). Exposed for endpoints without a typed wrapper yet.
  Result<Json> call(const HttpRequest& request);

 private:
  Result<std::string> call_raw(const HttpRequest& request);

  std::string base_url_;
  std::string access_token_;
  std::shared_ptr<HttpClient> http_;
  RetryPolicy policy_;
  Observer observer_;
  Sleeper sleeper_;
  std::mt19937_64 rng_;
  std::atomic<bool> cancelled_{false};
  std::mutex wait_mutex_;
  std::condition_variable_any wait_cv_;
  mutable std::mutex stats_mutex_;
  ApiStats stats_;
};

// A transaction id unique across restarts and devices: random 96 bits plus a counter.
std::string new_txn_id();

}  // namespace mxcall::matrix
