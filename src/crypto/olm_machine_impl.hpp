// Internal to src/crypto: the state behind OlmMachine, shared by its source files
// (olm_machine.cpp: account and our keys; olm_devices.cpp: /keys/query; olm_sessions.cpp:
// sessions, /keys/claim, encryption; olm_decrypt.cpp: decryption and receiver checks).
// Every function here expects the caller to hold `mutex`.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <unordered_set>
#include <vector>

#include "crypto/olm_machine.hpp"
#include "mxcall/store.hpp"

namespace mxcall::crypto {

struct SessionEntry {
  std::unique_ptr<OlmSession> session;
  std::string id;
  std::int64_t created_ms = 0;
  std::int64_t last_received_ms = 0;
  std::uint64_t recency = 0;  // larger: created or decrypted with more recently
};

struct KnownDevice {
  DeviceKeys keys;
  bool deleted = false;
};

// Sessions kept per peer curve25519 key (the spec asks for at least 4); the least recently
// used beyond this are dropped.
inline constexpr std::size_t kMaxSessionsPerDevice = 8;
// Ciphertexts remembered to tell a duplicate delivery from a wedged session.
inline constexpr std::size_t kRecentCiphertexts = 1024;

struct OlmMachine::Impl {
  ~Impl();  // wipes the pickle key

  mutable std::mutex mutex;
  std::shared_ptr<store::Store> store;
  OlmMachineOptions options;
  std::shared_ptr<CryptoBackend> backend;
  std::unique_ptr<OlmAccount> account;
  IdentityKeys own;
  nlohmann::json own_device_keys;  // signed
  bool device_keys_published = false;

  std::map<std::string, std::vector<SessionEntry>> sessions;  // peer curve25519 -> sessions
  std::uint64_t next_recency = 1;
  std::map<DeviceRef, KnownDevice> devices;
  std::map<std::string, bool> tracked_users;  // user -> outdated

  std::set<std::string> wedged_keys;                 // peer curve25519 keys needing a new session
  std::map<DeviceRef, std::int64_t> last_unwedge_ms;
  std::vector<DeviceRef> unwedge_requests;
  std::deque<std::string> recent_order;
  std::unordered_set<std::string> recent;  // sender key + ciphertext body of decrypted messages

  std::int64_t now() const;
  Status save_account(const std::vector<store::OlmSessionRecord>& sessions = {});
  Result<store::OlmSessionRecord> record_of(const std::string& peer_key, SessionEntry& entry);
  Status save_session(const std::string& peer_key, SessionEntry& entry);
  // Adds a session (the newest) for peer_key and drops the least recent beyond the limit.
  SessionEntry& add_session(const std::string& peer_key, SessionEntry entry);
  SessionEntry* newest_session(const std::string& peer_key);

  const KnownDevice* find_device(const DeviceRef& ref) const;  // not deleted
  const KnownDevice* find_device_by_key(const std::string& user_id, const std::string& curve25519) const;
  void remember_ciphertext(const std::string& fingerprint);
};

}  // namespace mxcall::crypto
