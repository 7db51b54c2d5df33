#include <gtest/gtest.h>

#include <atomic>
#include <future>

#include "client/event_loop.hpp"

namespace mxcall::client {
namespace {

TEST(EventLoop, TasksRunOnTheLoopThreadThenTheWakeHook) {
  std::atomic<int> wakes{0};
  EventLoop loop([&] { ++wakes; });
  loop.start();
  const auto id = loop.call([&] { return std::this_thread::get_id(); });
  EXPECT_NE(id, std::this_thread::get_id());
  EXPECT_EQ(loop.call([&] { return loop.on_loop_thread(); }), true);
  loop.stop();
  EXPECT_GE(wakes.load(), 1);
}

TEST(EventLoop, DeadlineWakesTheLoopWithoutATask) {
  std::promise<void> woke;
  std::atomic<bool> armed{false};
  EventLoop* self = nullptr;
  std::atomic<bool> fired{false};
  EventLoop loop([&] {
    if (!armed.exchange(true)) {
      self->set_deadline(EventLoop::Clock::now() + std::chrono::milliseconds(20));
      return;
    }
    self->set_deadline(std::nullopt);  // the owner re-arms on every wake (here: nothing left)
    if (!fired.exchange(true)) woke.set_value();
  });
  self = &loop;
  loop.start();
  loop.post([] {});
  EXPECT_EQ(woke.get_future().wait_for(std::chrono::seconds(5)), std::future_status::ready);
  loop.stop();
}

TEST(EventLoop, CallAfterStopStillAnswersInsteadOfHanging) {
  EventLoop loop;
  loop.start();
  loop.stop();
  auto f = std::async(std::launch::async, [&] { return loop.call([] { return 7; }); });
  ASSERT_EQ(f.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  EXPECT_EQ(f.get(), 7);
}

}  // namespace
}  // namespace mxcall::client
