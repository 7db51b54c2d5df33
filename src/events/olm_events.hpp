// The two untrusted shapes of olm-encrypted to-device messaging (VOIP_PROTOCOL 2.5/2.6): the
// m.room.encrypted content with algorithm m.olm.v1.curve25519-aes-sha2, and the plaintext
// (spec OlmPlaintext) that a ciphertext decrypts to. Parsing never throws: wrong types, huge
// values and missing fields give an ErrorKind::Crypto error (reason MXCALL_OLM_MALFORMED or
// MXCALL_OLM_UNSUPPORTED_ALGORITHM) and nothing else.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "mxcall/error.hpp"

namespace mxcall::events {

using Json = nlohmann::json;

inline constexpr std::string_view kRoomEncrypted = "m.room.encrypted";
inline constexpr std::string_view kOlmV1 = "m.olm.v1.curve25519-aes-sha2";
// A to-device event is at most 64 KiB; these bounds leave room and stop absurd inputs early.
inline constexpr std::size_t kMaxOlmBodyBytes = 128 * 1024;
inline constexpr std::size_t kMaxOlmRecipients = 64;
inline constexpr std::size_t kMaxEventTypeBytes = 255;

struct OlmCiphertext {
  int type = 1;  // 0: pre-key message, 1: normal message
  std::string body;
  bool operator==(const OlmCiphertext&) const = default;
};

struct OlmEncryptedContent {
  std::string sender_key;                          // the sender's curve25519
  std::map<std::string, OlmCiphertext> ciphertext;  // recipient curve25519 -> message
  bool operator==(const OlmEncryptedContent&) const = default;
};

Result<OlmEncryptedContent> parse_olm_encrypted(const Json& content);
Json to_content(const OlmEncryptedContent& content);

struct OlmPlaintext {
  std::string type;
  Json content = Json::object();
  std::string sender;
  std::string recipient;
  std::string recipient_ed25519;  // recipient_keys.ed25519
  std::string sender_ed25519;     // keys.ed25519
  std::optional<std::string> sender_device;
  std::optional<Json> sender_device_keys;  // spec v1.15 (MSC4147), an object when present
  bool operator==(const OlmPlaintext&) const = default;
};

// Parses the decrypted bytes (untrusted: a peer chose them).
Result<OlmPlaintext> parse_olm_plaintext(std::string_view text);
Json to_json(const OlmPlaintext& plaintext);

}  // namespace mxcall::events
