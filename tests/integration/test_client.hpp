// A logged-in user for integration tests: an Api for requests and, once started, a SyncLoop
// whose batches are collected so a test can wait for what it expects (never a fixed sleep).
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "integration/synapse_env.hpp"
#include "mxcall/matrix/api.hpp"
#include "mxcall/matrix/sync_loop.hpp"
#include "mxcall/store.hpp"

namespace mxcall::testing {

// Synapse requires msgtype on m.room.message.
inline matrix::Json text(const std::string& body) { return {{"msgtype", "m.text"}, {"body", body}}; }

class SyncCollector {
 public:
  void add(const matrix::SyncBatch& b) {
    std::lock_guard lock(mutex_);
    for (const auto& room : b.joined)
      for (const auto& ev : room.timeline) timeline_.push_back(ev);
    for (const auto& inv : b.invited) invites_.push_back(inv);
    for (const auto& td : b.to_device) to_device_.push_back(td);
    cv_.notify_all();
  }

  // Waits until pred holds over what was collected (the lock is held while pred runs).
  bool wait(const std::function<bool(const SyncCollector&)>& pred,
            std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, timeout, [&] { return pred(*this); });
  }

  std::vector<matrix::RoomEvent> timeline_of_type(const std::string& type) const {
    std::vector<matrix::RoomEvent> out;
    for (const auto& ev : timeline_)
      if (ev.type == type) out.push_back(ev);
    return out;
  }

  std::vector<matrix::RoomEvent> timeline_;
  std::vector<matrix::InvitedRoom> invites_;
  std::vector<matrix::ToDeviceEvent> to_device_;

  std::vector<matrix::RoomEvent> snapshot_of_type(const std::string& type) {
    std::lock_guard lock(mutex_);
    return timeline_of_type(type);
  }
  std::vector<matrix::ToDeviceEvent> to_device_snapshot() {
    std::lock_guard lock(mutex_);
    return to_device_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
};

struct TestUser {
  std::string user_id;
  std::string password = "pw";
  std::string device_id;
  std::unique_ptr<matrix::Api> api;
  std::shared_ptr<SyncCollector> seen = std::make_shared<SyncCollector>();
  std::unique_ptr<matrix::SyncLoop> sync;

  // Registers a fresh user and logs in one device.
  static TestUser create(const std::string& prefix) {
    TestUser u;
    u.user_id = register_unique_user(prefix, u.password);
    u.login();
    return u;
  }

  // Another device of the same account.
  TestUser another_device() const {
    TestUser u;
    u.user_id = user_id;
    u.password = password;
    u.login();
    return u;
  }

  void login() {
    api = std::make_unique<matrix::Api>(synapse().base_url());
    auto r = api->login_password(user_id, password);
    ASSERT_TRUE(r.ok()) << r.error();
    device_id = r->device_id;
  }

  void start_sync(std::shared_ptr<store::Store> store = nullptr, matrix::SyncLoopOptions o = {}) {
    o.retry.initial_backoff = std::chrono::milliseconds(100);
    o.retry.max_backoff = std::chrono::milliseconds(1000);
    auto collector = seen;
    sync = std::make_unique<matrix::SyncLoop>(
        synapse().base_url(), api->access_token(), std::move(store),
        [collector](const matrix::SyncBatch& b) { collector->add(b); }, o);
    ASSERT_TRUE(sync->start().ok());
  }
};

// alice creates a room (a DM when direct) inviting bob, and bob joins it.
inline std::string make_room(TestUser& alice, TestUser& bob, bool direct = false) {
  matrix::CreateRoomRequest req;
  req.invite = {bob.user_id};
  if (direct) {
    req.is_direct = true;
    req.preset = "trusted_private_chat";
  }
  auto room = alice.api->create_room(req);
  EXPECT_TRUE(room.ok()) << room.error();
  if (!room.ok()) return {};
  auto joined = bob.api->join_room(*room);
  EXPECT_TRUE(joined.ok()) << joined.error();
  return *room;
}

}  // namespace mxcall::testing
