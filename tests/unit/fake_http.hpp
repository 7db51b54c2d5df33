// A scripted HttpClient for unit tests: answers come from a queue (or a handler), every
// request is recorded. Thread-safe.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "mxcall/matrix/http.hpp"

namespace mxcall::testing {

inline matrix::HttpResponse http_ok(std::string body) {
  matrix::HttpResponse r;
  r.status = 200;
  r.body = std::move(body);
  return r;
}

inline matrix::HttpResponse http_status(int status, std::string body = {}) {
  matrix::HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

inline matrix::HttpResponse http_outcome(matrix::HttpOutcome o) {
  matrix::HttpResponse r;
  r.outcome = o;
  r.error_text = matrix::to_string(o);
  return r;
}

class FakeHttp final : public matrix::HttpClient {
 public:
  using Handler = std::function<matrix::HttpResponse(const matrix::HttpRequest&)>;

  void push(matrix::HttpResponse r) {
    std::lock_guard lock(mutex_);
    script_.push_back(std::move(r));
    cv_.notify_all();
  }
  void set_handler(Handler h) {
    std::lock_guard lock(mutex_);
    handler_ = std::move(h);
  }

  // With an empty script and no handler, perform() blocks until push() or abort().
  matrix::HttpResponse perform(const matrix::HttpRequest& request) override {
    std::unique_lock lock(mutex_);
    requests_.push_back(request);
    cv_.notify_all();
    if (handler_) {
      auto h = handler_;
      lock.unlock();
      return h(request);
    }
    cv_.wait(lock, [this] { return aborted_ || !script_.empty(); });
    if (aborted_) return http_outcome(matrix::HttpOutcome::Aborted);
    auto r = std::move(script_.front());
    script_.pop_front();
    return r;
  }

  void abort() noexcept override {
    std::lock_guard lock(mutex_);
    aborted_ = true;
    cv_.notify_all();
  }

  std::vector<matrix::HttpRequest> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }
  // Blocks until at least n requests were made (or the timeout passes).
  bool wait_for_requests(std::size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, timeout, [&] { return requests_.size() >= n; });
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<matrix::HttpResponse> script_;
  std::vector<matrix::HttpRequest> requests_;
  Handler handler_;
  bool aborted_ = false;
};

}  // namespace mxcall::testing
