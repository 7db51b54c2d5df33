#include "client/event_loop.hpp"

namespace mxcall::client {

EventLoop::EventLoop(Task on_wake) : on_wake_(std::move(on_wake)) {}

EventLoop::~EventLoop() { stop(); }

void EventLoop::start() {
  std::lock_guard lock(mutex_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { run(); });
}

void EventLoop::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable() && !on_loop_thread()) thread_.join();
}

void EventLoop::post(Task task) {
  std::lock_guard lock(mutex_);
  tasks_.push_back(std::move(task));
  cv_.notify_all();
}

void EventLoop::run() {
  for (;;) {
    std::deque<Task> batch;
    {
      std::unique_lock lock(mutex_);
      auto ready = [this] { return stopping_ || !tasks_.empty(); };
      if (deadline_) cv_.wait_until(lock, *deadline_, ready);
      else cv_.wait(lock, ready);
      if (stopping_) return;
      batch.swap(tasks_);
    }
    // One turn: every task that arrived, then one wake for the core to poll and re-arm.
    for (auto& t : batch) t();
    if (on_wake_) on_wake_();
  }
}

}  // namespace mxcall::client
