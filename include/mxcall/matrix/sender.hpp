// Outgoing requests on a thread of their own, in order (an invite is never overtaken by its
// candidates). Each send gets a transaction id up front; retries reuse it, so a send that
// the homeserver saw twice is stored once. Callbacks run on the sender thread: post them to
// your own loop.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "mxcall/matrix/api.hpp"

namespace mxcall::matrix {

class Sender {
 public:
  using EventCallback = std::function<void(const Result<std::string>&)>;  // event id
  using StatusCallback = std::function<void(const Status&)>;

  Sender(std::string base_url, std::string access_token, RetryPolicy policy = {},
         std::shared_ptr<HttpClient> http = nullptr);
  ~Sender();
  Sender(const Sender&) = delete;
  Sender& operator=(const Sender&) = delete;

  // Each returns the transaction id it will use (txn_id if given).
  std::string send_event(std::string room_id, std::string type, Json content,
                         EventCallback done = {}, std::string txn_id = {});
  std::string send_to_device(ToDeviceBatch batch, StatusCallback done = {});
  // A state write still queued when a newer write of the same (room, type, state key) is
  // queued is not sent: its callback gets ErrorKind::Cancelled ("superseded"). Sent late, its
  // older content would overwrite the newer (a member event losing entries written since).
  void send_state(std::string room_id, std::string type, std::string state_key, Json content,
                  EventCallback done = {});

  // Any other request, in order with the sends (e.g. joining a room); skipped once stopped.
  void submit(std::function<void(Api&)> job);

  // True when every queued request has completed before the timeout.
  bool wait_idle(std::chrono::milliseconds timeout);
  // Cancels what is queued or in flight (callbacks get ErrorKind::Cancelled) and joins.
  void stop();

  void set_observer(Api::Observer o) { api_.set_observer(std::move(o)); }
  ApiStats stats() const { return api_.stats(); }

 private:
  using Job = std::function<void(Api&, bool cancelled)>;
  void enqueue(Job job);
  void run();

  Api api_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Job> queue_;
  std::map<std::string, std::uint64_t> state_writes_;  // (room, type, key) -> newest write queued
  bool busy_ = false;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace mxcall::matrix
