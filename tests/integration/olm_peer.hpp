// An olm device for integration tests: a logged-in TestUser with its olm state in an SQLite
// file (Store + OlmMachine + OlmToDevice), synced by hand on the test thread, with its
// requests counted by endpoint. open() rebuilds every object from the files, as a new
// process would.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "client/olm_to_device.hpp"
#include "crypto/olm_machine.hpp"
#include "integration/test_client.hpp"
#include "mxcall/store.hpp"

namespace mxcall::testing {

// Requests by endpoint, counted through Api::set_observer.
struct RequestCounts {
  std::map<std::string, int> by_kind;
  void count(const matrix::HttpRequest& r) {
    for (const char* kind : {"/keys/upload", "/keys/query", "/keys/claim", "/sendToDevice/", "/sync"})
      if (r.url.find(kind) != std::string::npos) ++by_kind[kind];
  }
  int operator[](const char* kind) const {
    auto it = by_kind.find(kind);
    return it == by_kind.end() ? 0 : it->second;
  }
};

class OlmTempDir {
 public:
  OlmTempDir() {
    char tmpl[] = "/tmp/mxcall-olm-it-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~OlmTempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// One Matrix device with its olm state in an SQLite file, synced by hand (no threads).
struct OlmPeer {
  TestUser user;
  std::filesystem::path store_path;
  client::OlmToDeviceOptions options;
  std::shared_ptr<store::Store> store;
  std::unique_ptr<crypto::OlmMachine> machine;
  std::unique_ptr<client::OlmToDevice> olm;
  std::shared_ptr<RequestCounts> requests = std::make_shared<RequestCounts>();
  std::string since;
  std::vector<matrix::ToDeviceEvent> inbox;
  std::optional<std::int64_t> otk_count;

  crypto::DeviceRef ref() const { return {user.user_id, user.device_id}; }

  static std::unique_ptr<OlmPeer> create(TestUser u, const std::filesystem::path& dir, client::OlmToDeviceOptions o = {}) {
    auto p = std::make_unique<OlmPeer>();
    p->user = std::move(u);
    p->store_path = dir / (p->user.device_id + ".db");
    p->options = o;
    auto counts = p->requests;
    p->user.api->set_observer([counts](const matrix::HttpRequest& r, const matrix::HttpResponse&) { counts->count(r); });
    p->open();
    return p;
  }

  // Everything from the files: new Store, OlmMachine and OlmToDevice objects.
  void open() {
    olm.reset();
    machine.reset();
    store.reset();
    auto opened = store::Store::open(store_path);
    ASSERT_TRUE(opened.ok()) << opened.error();
    store = std::shared_ptr<store::Store>(std::move(opened).value().release());
    auto key = store::load_or_create_pickle_key(store_path);
    ASSERT_TRUE(key.ok()) << key.error();
    crypto::OlmMachineOptions mo;
    mo.user_id = user.user_id;
    mo.device_id = user.device_id;
    mo.pickle_key = *key;
    auto m = crypto::OlmMachine::open(store, mo);
    ASSERT_TRUE(m.ok()) << m.error();
    machine = std::move(m).value();
    olm = std::make_unique<client::OlmToDevice>(*user.api, *machine, options);
  }

  void upload_keys() {
    auto uploaded = olm->ensure_keys_uploaded(otk_count);
    ASSERT_TRUE(uploaded.ok()) << uploaded.error();
  }

  // Long-polls /sync (1 s at a time) until pred holds over the inbox, or 30 s pass.
  bool sync_until(const std::function<bool(const OlmPeer&)>& pred) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!pred(*this)) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      matrix::SyncOptions o;
      o.since = since;
      o.timeout = since.empty() ? std::chrono::milliseconds(0) : std::chrono::milliseconds(1000);
      auto batch = user.api->sync(o);
      if (!batch.ok()) {
        ADD_FAILURE() << "sync: " << batch.error();
        return false;
      }
      since = batch->next_batch;
      for (auto& ev : batch->to_device) inbox.push_back(std::move(ev));
      if (auto it = batch->one_time_keys_count.find("signed_curve25519"); it != batch->one_time_keys_count.end())
        otk_count = it->second;
      EXPECT_TRUE(olm->on_device_lists(batch->device_lists).ok());
    }
    return true;
  }

  // The next to-device event (synced for if none is waiting).
  std::optional<matrix::ToDeviceEvent> next_event() {
    if (!sync_until([](const OlmPeer& p) { return !p.inbox.empty(); })) return std::nullopt;
    auto ev = inbox.front();
    inbox.erase(inbox.begin());
    return ev;
  }

  Result<crypto::Decrypted> receive_next() {
    auto ev = next_event();
    if (!ev) return Error::make(ErrorKind::Timeout, user.device_id + " received no to-device message");
    return olm->receive(*ev);
  }
};

}  // namespace mxcall::testing
