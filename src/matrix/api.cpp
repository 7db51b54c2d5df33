#include "mxcall/matrix/api.hpp"

#include <openssl/rand.h>

#include <cstdio>

#include "matrix/curl_http_client.hpp"
#include "matrix/endpoints.hpp"
#include "matrix/responses.hpp"
#include "matrix/retry_decision.hpp"
#include "util/json_guard.hpp"
#include "util/logging.hpp"

namespace mxcall::matrix {

namespace ep = endpoints;

namespace {

// Strips the query (it may hold a since token) and never logs the access token.
std::string loggable(const HttpRequest& r) {
  std::string url = r.url;
  if (auto q = url.find('?'); q != std::string::npos) url.resize(q);
  return std::string(to_string(r.method)) + " " + url;
}

Result<std::string> string_field(const Json& obj, const char* key, const char* what) {
  if (const auto* s = util::get_string(obj, key)) return *s;
  return Error::make(ErrorKind::InvalidResponse, std::string(what) + ": answer has no string " + key);
}

Status to_status(const Result<Json>& r) {
  if (!r.ok()) return r.error();
  return ok_status();
}

}  // namespace

Api::Api(std::string base_url, std::shared_ptr<HttpClient> http, RetryPolicy policy)
    : base_url_(std::move(base_url)), http_(std::move(http)), policy_(policy), rng_(std::random_device{}()) {
  if (!http_) http_ = std::make_shared<CurlHttpClient>();
}

Api::~Api() = default;

void Api::cancel() {
  cancelled_.store(true);
  http_->abort();
  std::lock_guard lock(wait_mutex_);
  wait_cv_.notify_all();
}

ApiStats Api::stats() const {
  std::lock_guard lock(stats_mutex_);
  return stats_;
}

bool Api::wait(std::chrono::milliseconds d) {
  if (sleeper_) return sleeper_(d) && !cancelled_.load();
  std::unique_lock lock(wait_mutex_);
  return !wait_cv_.wait_for(lock, d, [this] { return cancelled_.load(); });
}

Result<std::string> Api::call_raw(const HttpRequest& request) {
  AttemptCounts counts;
  for (int attempt = 1;; ++attempt) {
    if (cancelled_.load()) return Error::make(ErrorKind::Cancelled, "cancelled: " + loggable(request));
    const auto sent = std::chrono::steady_clock::now();
    HttpResponse response = http_->perform(request);
    if (log::get()->should_log(spdlog::level::trace))  // the line's arguments cost a string per request
      MXLOG_TRACE("http: {} -> {} in {:.1f} ms", loggable(request), response.status,
                  std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - sent).count());
    if (observer_) observer_(request, response);
    const RetryDecision d = decide_retry(policy_, response, counts, std::chrono::system_clock::now(), rng_);
    {
      std::lock_guard lock(stats_mutex_);
      ++stats_.requests;
      if (attempt > 1) ++stats_.retries;
      if (d.rate_limited) ++stats_.rate_limited;
      if (d.action == RetryAction::Fail) ++stats_.failures;
    }
    switch (d.action) {
      case RetryAction::Done: return std::move(response.body);
      case RetryAction::Fail:
        if (d.error.kind != ErrorKind::Cancelled)
          MXLOG_DEBUG("http: {} failed: {}", loggable(request), d.error.describe());
        return d.error;
      case RetryAction::Retry:
        MXLOG_INFO("http: {} {}; retrying in {} ms (attempt {})", loggable(request),
                   d.error.describe(), d.delay.count(), attempt + 1);
        if (!wait(d.delay)) return Error::make(ErrorKind::Cancelled, "cancelled: " + loggable(request));
        break;
    }
  }
}

Result<Json> Api::call(const HttpRequest& request) {
  auto body = call_raw(request);
  if (!body.ok()) return std::move(body).error();
  auto parsed = util::parse_untrusted_json(*body);
  if (!parsed.ok()) {
    MXLOG_WARN("http: {}: dropped the answer: {}", loggable(request), parsed.error().message);
    return parsed.error();
  }
  if (!parsed->is_object()) {
    MXLOG_WARN("http: {}: the answer is not a JSON object", loggable(request));
    return Error::make(ErrorKind::InvalidResponse, loggable(request) + ": answer is not a JSON object");
  }
  return parsed;
}

Result<Json> Api::versions() { return call(ep::versions({base_url_, {}})); }

Result<LoginResponse> Api::login_password(const std::string& user, const std::string& password,
                                          const std::optional<std::string>& device_id,
                                          const std::optional<std::string>& display_name) {
  auto r = call(ep::login_password({base_url_, {}}, user, password, device_id, display_name));
  if (!r.ok()) return std::move(r).error();
  auto out = parse_login_response(*r);
  if (out.ok()) access_token_ = out->access_token;
  return out;
}

Result<std::string> Api::whoami() {
  auto r = call(ep::whoami({base_url_, access_token_}));
  if (!r.ok()) return std::move(r).error();
  return string_field(*r, "user_id", "whoami");
}

Status Api::logout() { return to_status(call(ep::logout({base_url_, access_token_}))); }

Result<std::string> Api::create_room(const CreateRoomRequest& request) {
  auto r = call(ep::create_room({base_url_, access_token_}, request));
  if (!r.ok()) return std::move(r).error();
  return string_field(*r, "room_id", "createRoom");
}

Result<std::string> Api::join_room(const std::string& room_id_or_alias) {
  auto r = call(ep::join_room({base_url_, access_token_}, room_id_or_alias));
  if (!r.ok()) return std::move(r).error();
  return string_field(*r, "room_id", "join");
}

Status Api::invite(const std::string& room_id, const std::string& user_id) {
  return to_status(call(ep::invite({base_url_, access_token_}, room_id, user_id)));
}

Result<std::string> Api::send_event(const std::string& room_id, const std::string& type,
                                    const Json& content, const std::string& txn_id) {
  auto r = call(ep::send_event({base_url_, access_token_}, room_id, type, txn_id, content));
  if (!r.ok()) return std::move(r).error();
  return string_field(*r, "event_id", "send");
}

Result<std::string> Api::send_state(const std::string& room_id, const std::string& type,
                                    const std::string& state_key, const Json& content) {
  auto r = call(ep::send_state({base_url_, access_token_}, room_id, type, state_key, content));
  if (!r.ok()) return std::move(r).error();
  return string_field(*r, "event_id", "state");
}

Result<Json> Api::get_state(const std::string& room_id, const std::string& type,
                            const std::string& state_key) {
  return call(ep::get_state({base_url_, access_token_}, room_id, type, state_key));
}

Status Api::send_to_device(const ToDeviceBatch& batch) {
  if (batch.txn_id.empty())
    return Error::make(ErrorKind::InvalidArgument, "sendToDevice needs a transaction id");
  if (batch.event_type.empty())
    return Error::make(ErrorKind::InvalidArgument, "sendToDevice needs an event type");
  return to_status(call(ep::send_to_device({base_url_, access_token_}, batch)));
}

Result<std::optional<TurnServer>> Api::turn_server() {
  auto r = call(ep::turn_server({base_url_, access_token_}));
  if (!r.ok()) return std::move(r).error();
  return parse_turn_server(*r);
}

Result<Json> Api::keys_upload(const Json& body) { return call(ep::keys_upload({base_url_, access_token_}, body)); }
Result<Json> Api::keys_query(const Json& body) { return call(ep::keys_query({base_url_, access_token_}, body)); }
Result<Json> Api::keys_claim(const Json& body) { return call(ep::keys_claim({base_url_, access_token_}, body)); }

Result<SyncBatch> Api::sync(const SyncOptions& o) {
  ep::SyncParams p;
  p.since = o.since;
  p.timeout = o.timeout;
  p.filter = o.filter;
  p.full_state = o.full_state;
  auto body = call_raw(ep::sync({base_url_, access_token_}, p));
  if (!body.ok()) return std::move(body).error();
  return parse_sync_response(*body);
}

std::string new_txn_id() {
  static std::atomic<std::uint64_t> counter{0};
  unsigned char random[12];
  if (RAND_bytes(random, sizeof random) != 1) {
    std::random_device rd;
    for (auto& b : random) b = static_cast<unsigned char>(rd());
  }
  char out[64];
  int n = 0;
  for (unsigned char b : random) n += std::snprintf(out + n, sizeof out - static_cast<size_t>(n), "%02x", b);
  std::snprintf(out + n, sizeof out - static_cast<size_t>(n), ".%llu",
                static_cast<unsigned long long>(counter.fetch_add(1)));
  return std::string("mx") + out;
}

}  // namespace mxcall::matrix
