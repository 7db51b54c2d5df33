#include "client/event_loop.hpp"

namespace mxcall::client {

EventLoop::EventLoop(Task on_wake) : on_wake_(std::move(on_wake)) {}

EventLoop::~EventLoop() { stop(); }

void EventLoop::start() {
  std::lock_guard lock(mutex_);
  if (thread_.joinable()) return;
  stopping_ = false;
  stopped_ = false;
  thread_ = std::thread([this] { run(); });
}

void EventLoop::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable() && !on_loop_thread()) thread_.join();
  // Whoever still waits in call() gets an answer: what was queued runs here, and anything
  // posted from now on runs on the poster's thread (one at a time), never silently dropped.
  std::deque<Task> left;
  {
    std::lock_guard lock(mutex_);
    stopped_ = true;
    left.swap(tasks_);
  }
  std::lock_guard run(inline_mutex_);
  for (auto& t : left) t();
}

void EventLoop::post(Task task) {
  {
    std::lock_guard lock(mutex_);
    if (!stopped_) {
      tasks_.push_back(std::move(task));
      cv_.notify_all();
      return;
    }
  }
  std::lock_guard run(inline_mutex_);
  task();
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
