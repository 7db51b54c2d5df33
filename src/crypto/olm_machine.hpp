// One device's olm identity and its olm-encrypted to-device messaging, without I/O of its own:
// it builds what /keys/upload needs, digests /keys/query and /keys/claim answers, encrypts one
// payload per device and decrypts with every receiver check of VOIP_PROTOCOL 2.6. The network
// side lives in client/olm_to_device.hpp. State is persisted in the Store (pickles encrypted
// with the pickle key) before any result that depends on it is returned.
// Thread-safe: one internal mutex (the loop thread and the sender thread may both call it).
#pragma once

#include <chrono>
#include <compare>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "crypto/device_keys.hpp"
#include "crypto/olm_backend.hpp"
#include "mxcall/error.hpp"

namespace mxcall::store {
class Store;
}

namespace mxcall::crypto {

struct DeviceRef {
  std::string user_id;
  std::string device_id;
  auto operator<=>(const DeviceRef&) const = default;
};

// An inbound to-device message that passed every check.
struct Decrypted {
  std::string sender;             // user id: the to-device sender, equal to the plaintext's
  std::string sender_device;      // the olm-verified device id (empty when not encrypted)
  std::string sender_curve25519;  // empty when not encrypted
  std::string type;               // the inner event type
  nlohmann::json content;         // an object
  bool encrypted = false;
};

struct DeviceProblem {
  DeviceRef device;
  Error error;
};

struct KeysQueryOutcome {
  std::size_t accepted = 0;            // devices now known (new or unchanged)
  std::vector<DeviceProblem> rejected;  // dropped (bad signature, mismatched ids, changed keys...)
};

struct KeysClaimOutcome {
  std::vector<DeviceRef> sessions_created;
  std::vector<DeviceProblem> failed;  // requested devices without a usable one-time key
};

struct OlmMachineOptions {
  std::string user_id;
  std::string device_id;
  // Encrypts every pickle in the store (store::load_or_create_pickle_key gives a default).
  std::string pickle_key;
  std::shared_ptr<CryptoBackend> backend;    // null: libolm
  std::function<std::int64_t()> now_ms;      // null: the system clock, ms since the epoch
  // A device whose message no session decrypts gets a new session and an m.dummy at most this
  // often (VOIP_PROTOCOL 2.7).
  std::chrono::milliseconds unwedge_interval{std::chrono::hours(1)};
};

class OlmMachine {
 public:
  // Loads the account and sessions of options.user_id/device_id from `store`, or creates and
  // saves a new account. A pickle key that does not open the stored state gives
  // ErrorKind::WrongPickleKey; a store holding another device's account, InvalidArgument.
  static Result<std::unique_ptr<OlmMachine>> open(std::shared_ptr<store::Store> store, OlmMachineOptions options);
  ~OlmMachine();
  OlmMachine(const OlmMachine&) = delete;
  OlmMachine& operator=(const OlmMachine&) = delete;

  const std::string& user_id() const;
  const std::string& device_id() const;
  IdentityKeys identity_keys() const;
  std::string backend_name() const;

  // ---- our keys, for /keys/upload ----
  // The signed device_keys object (canonical-JSON signature by our ed25519).
  nlohmann::json device_keys() const;
  bool device_keys_published() const;
  // How many one-time keys to add so that the server holds about half of what the account can
  // keep, given how many it holds now (`published`, from /sync or the last upload).
  std::size_t one_time_keys_wanted(std::int64_t published) const;
  // The one_time_keys field of /keys/upload ("signed_curve25519:<id>" -> {key, signatures}):
  // every key not yet published, after generating more so that at least `count` are pending.
  // The account is saved before this returns.
  Result<nlohmann::json> one_time_keys_for_upload(std::size_t count);
  // After /keys/upload succeeded: the pending one-time keys (and the device keys, when sent)
  // count as published.
  Status mark_published(bool device_keys_sent);

  // ---- other devices, from /keys/query ----
  // Of `users`, those whose device list was never fetched or is outdated.
  std::vector<std::string> users_needing_query(const std::vector<std::string>& users) const;
  // Validates every device of the answer for the users asked about (ids match, keys present,
  // self-signature valid, keys unchanged since first seen); bad devices are dropped and logged.
  // Devices the server no longer lists are forgotten for sending (their keys stay pinned).
  KeysQueryOutcome apply_keys_query(const nlohmann::json& response, const std::vector<std::string>& queried_users);
  // device_lists.changed from /sync: their device lists must be fetched again.
  Status mark_users_outdated(const std::vector<std::string>& users);
  std::optional<DeviceKeys> device(const DeviceRef& device) const;
  std::vector<DeviceKeys> devices_of(const std::string& user_id) const;

  // ---- sessions and encryption ----
  // A usable outbound session exists (false after the device's session was found wedged).
  bool has_session(const DeviceRef& device) const;
  // Makes an outbound session per requested device from a /keys/claim answer, after checking
  // the one-time key's signature by the device's ed25519.
  KeysClaimOutcome apply_keys_claim(const nlohmann::json& response, const std::vector<DeviceRef>& requested);
  // The m.room.encrypted content carrying {type, content} to one device, with the newest
  // session for its curve25519 key (sender, recipient, their and our ed25519, our device).
  Result<nlohmann::json> encrypt(const DeviceRef& to, const std::string& type, const nlohmann::json& content);
  // As encrypt(), with the whole plaintext given by the caller (for payload extensions).
  Result<nlohmann::json> encrypt_payload(const DeviceRef& to, const nlohmann::json& plaintext);
  std::size_t session_count(const std::string& curve25519) const;

  // ---- decryption ----
  // Decrypts an m.room.encrypted to-device content sent by `sender` and applies the receiver
  // checks. Every refusal is ErrorKind::Crypto with a reason code (crypto/olm_errors.hpp).
  Result<Decrypted> decrypt(const std::string& sender, const nlohmann::json& content);
  // Devices whose messages no session could decrypt (rate-limited per device): the caller
  // claims a key, which makes a new session, and sends them an encrypted m.dummy.
  std::vector<DeviceRef> take_unwedge_requests();

  struct Impl;

 private:
  explicit OlmMachine(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace mxcall::crypto
