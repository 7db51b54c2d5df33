// The olm primitives mxcall needs, behind an interface so that libolm (deprecated upstream) can
// be replaced by vodozemac without touching the logic in OlmMachine. Objects are not
// thread-safe; their owner serialises access. Keys and signatures are unpadded base64 strings
// as they travel in Matrix JSON. Failures are Error values (ErrorKind::Crypto, or
// ErrorKind::WrongPickleKey when a pickle does not open with the key given).
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "mxcall/error.hpp"

namespace mxcall::crypto {

struct IdentityKeys {
  std::string curve25519;
  std::string ed25519;
};

// 0 and 1 are the wire values of an olm message's "type".
enum class OlmMessageType : int { PreKey = 0, Normal = 1 };

struct OlmMessage {
  OlmMessageType type = OlmMessageType::Normal;
  std::string body;  // base64, as in the m.room.encrypted ciphertext map
};

struct OneTimeKey {
  std::string key_id;      // e.g. "AAAAAQ"
  std::string public_key;  // curve25519
};

class OlmSession {
 public:
  virtual ~OlmSession() = default;

  // The same on both ends of the session.
  virtual std::string id() const = 0;
  // Whether the other end has answered: until then encrypt() gives pre-key messages.
  virtual bool has_received_message() const = 0;
  // Whether a pre-key message from their_curve25519 belongs to this (inbound) session.
  virtual Result<bool> matches_inbound(std::string_view their_curve25519, std::string_view pre_key_body) = 0;
  virtual Result<OlmMessage> encrypt(std::string_view plaintext) = 0;
  // A message that does not decrypt (wrong session, bad MAC, replay) leaves the session as it was.
  virtual Result<std::string> decrypt(const OlmMessage& message) = 0;
  virtual Result<std::string> pickle(std::string_view key) = 0;
};

class OlmAccount {
 public:
  virtual ~OlmAccount() = default;

  virtual IdentityKeys identity_keys() = 0;
  virtual Result<std::string> sign(std::string_view message) = 0;

  // How many one-time keys the account keeps; generating more discards the oldest.
  virtual std::size_t max_one_time_keys() const = 0;
  virtual Status generate_one_time_keys(std::size_t count) = 0;
  // Generated keys not yet marked as published, oldest first.
  virtual Result<std::vector<OneTimeKey>> unpublished_one_time_keys() = 0;
  virtual void mark_keys_as_published() = 0;

  virtual Result<std::unique_ptr<OlmSession>> create_outbound(std::string_view their_curve25519,
                                                              std::string_view their_one_time_key) = 0;
  // From a pre-key message whose sender's identity key must be their_curve25519.
  virtual Result<std::unique_ptr<OlmSession>> create_inbound(std::string_view their_curve25519,
                                                             std::string_view pre_key_body) = 0;
  // Forgets the one-time key an inbound session was made from (it must never serve twice).
  virtual Status remove_one_time_keys(OlmSession& inbound) = 0;

  virtual Result<std::string> pickle(std::string_view key) = 0;
};

class CryptoBackend {
 public:
  virtual ~CryptoBackend() = default;

  virtual std::string name() const = 0;
  virtual Result<std::unique_ptr<OlmAccount>> create_account() = 0;
  virtual Result<std::unique_ptr<OlmAccount>> unpickle_account(std::string_view pickle, std::string_view key) = 0;
  virtual Result<std::unique_ptr<OlmSession>> unpickle_session(std::string_view pickle, std::string_view key) = 0;
  // False for a bad signature and for malformed keys or signatures alike.
  virtual bool ed25519_verify(std::string_view public_key, std::string_view message,
                              std::string_view signature) = 0;
};

}  // namespace mxcall::crypto
