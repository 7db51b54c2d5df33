// In-memory olm devices for unit tests: OlmMachines over in-memory stores and a KeyServer that
// plays the homeserver's /keys/upload, /keys/query and /keys/claim (no network).
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "crypto/olm_errors.hpp"
#include "crypto/olm_machine.hpp"
#include "mxcall/store.hpp"

namespace mxcall::testing {

using crypto::DeviceRef;
using crypto::OlmMachine;
using Json = nlohmann::json;

inline constexpr char kTestPickleKey[] = "0123456789abcdef0123456789abcdef";

struct TestClock {
  std::shared_ptr<std::int64_t> now = std::make_shared<std::int64_t>(1'700'000'000'000);
  std::function<std::int64_t()> fn() const {
    return [now = now] { return *now; };
  }
  void advance(std::int64_t ms) const { *now += ms; }
};

struct OlmDevice {
  std::string user_id;
  std::string device_id;
  std::shared_ptr<store::Store> store;
  std::unique_ptr<OlmMachine> machine;

  DeviceRef ref() const { return {user_id, device_id}; }
  OlmMachine* operator->() const { return machine.get(); }

  static crypto::OlmMachineOptions options(const std::string& user, const std::string& device, const TestClock& clock,
                                           std::string pickle_key = kTestPickleKey) {
    crypto::OlmMachineOptions o;
    o.user_id = user;
    o.device_id = device;
    o.pickle_key = std::move(pickle_key);
    o.now_ms = clock.fn();
    return o;
  }

  static OlmDevice create(const std::string& user, const std::string& device, const TestClock& clock,
                          std::shared_ptr<store::Store> store = nullptr) {
    OlmDevice d{user, device, std::move(store), nullptr};
    if (!d.store) {
      auto opened = store::Store::open_in_memory();
      EXPECT_TRUE(opened.ok()) << opened.error();
      d.store = std::shared_ptr<store::Store>(std::move(opened).value().release());
    }
    d.reopen(clock);
    return d;
  }

  // New machine objects over the same store.
  void reopen(const TestClock& clock) {
    machine.reset();
    auto m = OlmMachine::open(store, options(user_id, device_id, clock));
    EXPECT_TRUE(m.ok()) << m.error();
    if (m.ok()) machine = std::move(m).value();
  }
};

class KeyServer {
 public:
  // What ensure_keys_uploaded does: device keys once, one-time keys up to half the account.
  void upload(OlmDevice& d) {
    const std::size_t have = one_time_keys_[d.ref()].size();
    auto keys = d->one_time_keys_for_upload(d->one_time_keys_wanted(static_cast<std::int64_t>(have)));
    ASSERT_TRUE(keys.ok()) << keys.error();
    for (const auto& [id, object] : keys->items()) one_time_keys_[d.ref()].push_back({id, object});
    const bool send_device_keys = !d->device_keys_published();
    if (send_device_keys) device_keys_[d.user_id][d.device_id] = d->device_keys();
    ASSERT_TRUE(d->mark_published(send_device_keys).ok());
  }

  Json query(const std::vector<std::string>& users) const {
    Json out = {{"device_keys", Json::object()}, {"failures", Json::object()}};
    for (const auto& user : users) {
      auto it = device_keys_.find(user);
      out["device_keys"][user] = it == device_keys_.end() ? Json::object() : it->second;
    }
    return out;
  }

  Json claim(const std::vector<DeviceRef>& devices) {
    Json out = {{"one_time_keys", Json::object()}, {"failures", Json::object()}};
    for (const auto& ref : devices) {
      auto& queue = one_time_keys_[ref];
      if (queue.empty()) continue;
      out["one_time_keys"][ref.user_id][ref.device_id] = Json{{queue.front().first, queue.front().second}};
      queue.pop_front();
    }
    return out;
  }

  std::size_t one_time_key_count(const DeviceRef& ref) { return one_time_keys_[ref].size(); }
  // The published device_keys object, to tamper with.
  Json& device_keys(const DeviceRef& ref) { return device_keys_[ref.user_id][ref.device_id]; }
  void forget_device(const DeviceRef& ref) { device_keys_[ref.user_id].erase(ref.device_id); }

 private:
  std::map<std::string, Json> device_keys_;  // user -> device -> object
  std::map<DeviceRef, std::deque<std::pair<std::string, Json>>> one_time_keys_;
};

// `from` learns the devices of `users` from the key server.
inline void introduce(OlmDevice& from, const KeyServer& server, const std::vector<std::string>& users) {
  auto outcome = from->apply_keys_query(server.query(users), users);
  EXPECT_TRUE(outcome.rejected.empty()) << outcome.rejected.front().error;
}

// Makes sure `from` has a session with `to` (claiming a key if needed) and encrypts.
inline Json encrypt_for(OlmDevice& from, KeyServer& server, const DeviceRef& to, const std::string& type,
                        const Json& content) {
  if (!from->has_session(to)) {
    auto claimed = from->apply_keys_claim(server.claim({to}), {to});
    EXPECT_EQ(claimed.sessions_created.size(), 1u);
  }
  auto envelope = from->encrypt(to, type, content);
  EXPECT_TRUE(envelope.ok()) << envelope.error();
  return envelope.ok() ? *envelope : Json();
}

inline std::string reason_of(const Error& e) { return e.errcode; }

// Alice and Bob, each with one device whose keys the other has queried (no sessions yet).
class OlmPairTest : public ::testing::Test {
 protected:
  void SetUp() override {
    alice = OlmDevice::create("@alice:example.org", "ALICE1", clock);
    bob = OlmDevice::create("@bob:example.org", "BOB1", clock);
    for (OlmDevice* d : {&alice, &bob}) server.upload(*d);
    introduce(alice, server, {bob.user_id});
    introduce(bob, server, {alice.user_id});
  }

  TestClock clock;
  KeyServer server;
  OlmDevice alice;
  OlmDevice bob;
};

}  // namespace mxcall::testing
