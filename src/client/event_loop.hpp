// The one thread that owns all core state. Other threads (sync, sender, GStreamer) post work
// to it; it also wakes at the single deadline the core asks for.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <optional>
#include <thread>

namespace mxcall::client {

class EventLoop {
 public:
  using Clock = std::chrono::steady_clock;
  using Task = std::function<void()>;

  // on_wake runs on the loop thread after each batch of tasks and when the deadline passes.
  explicit EventLoop(Task on_wake = {});
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  void start();
  // Joins the thread, then runs what is still queued on the caller; later posts run inline.
  void stop();
  bool on_loop_thread() const { return std::this_thread::get_id() == thread_.get_id(); }

  void post(Task task);
  // Runs task on the loop and waits for it (runs inline when already on the loop).
  template <typename F>
  auto call(F&& f) -> decltype(f()) {
    using R = decltype(f());
    if (on_loop_thread()) return f();
    std::packaged_task<R()> task(std::forward<F>(f));
    auto fut = task.get_future();
    post([&task] { task(); });
    return fut.get();
  }

  // The loop wakes at this time (or earlier); nullopt: no deadline. Loop thread only.
  void set_deadline(std::optional<Clock::time_point> when) { deadline_ = when; }

 private:
  void run();

  Task on_wake_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Task> tasks_;
  bool stopping_ = false;
  bool stopped_ = false;
  std::mutex inline_mutex_;  // serialises tasks run after stop()
  std::optional<Clock::time_point> deadline_;
  std::thread thread_;
};

}  // namespace mxcall::client
