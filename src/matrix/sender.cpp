#include "mxcall/matrix/sender.hpp"

#include "util/logging.hpp"

namespace mxcall::matrix {

Sender::Sender(std::string base_url, std::string access_token, RetryPolicy policy,
               std::shared_ptr<HttpClient> http)
    : api_(std::move(base_url), std::move(http), policy) {
  api_.set_access_token(std::move(access_token));
  thread_ = std::thread([this] { run(); });
}

Sender::~Sender() { stop(); }

void Sender::enqueue(Job job) {
  {
    std::lock_guard lock(mutex_);
    if (!stopping_) {
      queue_.push_back(std::move(job));
      cv_.notify_all();
      return;
    }
  }
  job(api_, /*cancelled=*/true);
}

std::string Sender::send_event(std::string room_id, std::string type, Json content,
                               EventCallback done, std::string txn_id) {
  if (txn_id.empty()) txn_id = new_txn_id();
  enqueue([room_id = std::move(room_id), type = std::move(type), content = std::move(content),
           done = std::move(done), txn_id](Api& api, bool cancelled) {
    Result<std::string> r = cancelled ? Result<std::string>(Error::make(ErrorKind::Cancelled, "sender stopped"))
                                      : api.send_event(room_id, type, content, txn_id);
    if (!r.ok() && !cancelled)
      MXLOG_WARN("send: {} in {} (txn {}) failed: {}", type, room_id, txn_id, r.error().describe());
    if (done) done(r);
  });
  return txn_id;
}

std::string Sender::send_to_device(ToDeviceBatch batch, StatusCallback done) {
  if (batch.txn_id.empty()) batch.txn_id = new_txn_id();
  std::string txn_id = batch.txn_id;
  enqueue([batch = std::move(batch), done = std::move(done)](Api& api, bool cancelled) {
    Status st = cancelled ? Status(Error::make(ErrorKind::Cancelled, "sender stopped")) : api.send_to_device(batch);
    if (!st.ok() && !cancelled)
      MXLOG_WARN("send: to-device {} to {} devices (txn {}) failed: {}", batch.event_type,
                 batch.device_count(), batch.txn_id, st.error().describe());
    if (done) done(st);
  });
  return txn_id;
}

void Sender::send_state(std::string room_id, std::string type, std::string state_key, Json content,
                        EventCallback done) {
  std::string key = room_id + '\n' + type + '\n' + state_key;
  std::uint64_t generation = 0;
  {
    std::lock_guard lock(mutex_);
    generation = ++state_writes_[key];
  }
  enqueue([this, key = std::move(key), generation, room_id = std::move(room_id), type = std::move(type),
           state_key = std::move(state_key), content = std::move(content),
           done = std::move(done)](Api& api, bool cancelled) {
    bool superseded = false;
    {
      std::lock_guard lock(mutex_);
      auto it = state_writes_.find(key);
      superseded = it != state_writes_.end() && it->second != generation;
      if (!superseded && it != state_writes_.end()) state_writes_.erase(it);  // the newest one goes now
    }
    if (superseded && !cancelled) {
      MXLOG_DEBUG("send: state {}/{} in {} not sent: a newer write of it is queued", type, state_key, room_id);
      if (done) done(Error::make(ErrorKind::Cancelled, "superseded by a newer write of the same state"));
      return;
    }
    Result<std::string> r = cancelled ? Result<std::string>(Error::make(ErrorKind::Cancelled, "sender stopped"))
                                      : api.send_state(room_id, type, state_key, content);
    if (!r.ok() && !cancelled)
      MXLOG_WARN("send: state {}/{} in {} failed: {}", type, state_key, room_id, r.error().describe());
    if (done) done(r);
  });
}

void Sender::submit(std::function<void(Api&)> job) {
  enqueue([job = std::move(job)](Api& api, bool cancelled) {
    if (!cancelled) job(api);
  });
}

bool Sender::wait_idle(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return cv_.wait_for(lock, timeout, [this] { return queue_.empty() && !busy_; });
}

void Sender::stop() {
  std::deque<Job> abandoned;
  {
    std::lock_guard lock(mutex_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
    abandoned.swap(queue_);
    cv_.notify_all();
  }
  api_.cancel();
  if (thread_.joinable()) thread_.join();
  for (auto& job : abandoned) job(api_, /*cancelled=*/true);
}

void Sender::run() {
  for (;;) {
    Job job;
    {
      std::unique_lock lock(mutex_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      job = std::move(queue_.front());
      queue_.pop_front();
      busy_ = true;
    }
    job(api_, /*cancelled=*/false);
    {
      std::lock_guard lock(mutex_);
      busy_ = false;
      cv_.notify_all();
    }
  }
}

}  // namespace mxcall::matrix
