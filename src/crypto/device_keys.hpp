// A device's published identity (the device_keys object of /keys/upload and /keys/query) and
// the validation every queried device passes before it is used (VOIP_PROTOCOL 2.3).
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "crypto/olm_backend.hpp"
#include "mxcall/error.hpp"

namespace mxcall::crypto {

inline constexpr std::string_view kOlmAlgorithm = "m.olm.v1.curve25519-aes-sha2";

struct DeviceKeys {
  std::string user_id;
  std::string device_id;
  std::string curve25519;
  std::string ed25519;
  nlohmann::json object;  // the signed device_keys object as published (without "unsigned")

  bool operator==(const DeviceKeys& other) const {
    return user_id == other.user_id && device_id == other.device_id && curve25519 == other.curve25519 &&
           ed25519 == other.ed25519;
  }
};

// Our own device_keys object, signed by the account.
Result<nlohmann::json> make_device_keys(OlmAccount& account, const std::string& user_id, const std::string& device_id);

// Validates an untrusted device_keys object found under [user_id][device_id] of a /keys/query
// answer: the ids inside match the map keys, both keys are present and well-formed, olm is
// among its algorithms, and its self-signature verifies. Errors are ErrorKind::Crypto.
Result<DeviceKeys> verify_device_keys(CryptoBackend& backend, const nlohmann::json& object,
                                      std::string_view user_id, std::string_view device_id);

}  // namespace mxcall::crypto
