#include "events/olm_events.hpp"

#include "events/call_event_detail.hpp"
#include "util/json_guard.hpp"

namespace mxcall::events {

namespace {

// The same reason codes as crypto/olm_errors.hpp (events/ does not depend on crypto/).
constexpr const char* kMalformed = "MXCALL_OLM_MALFORMED";
constexpr const char* kUnsupportedAlgorithm = "MXCALL_OLM_UNSUPPORTED_ALGORITHM";
constexpr std::size_t kMaxKeyBytes = 64;
constexpr std::size_t kMaxIdBytes = 255;

Error malformed(std::string_view where, std::string_view why) {
  return Error{ErrorKind::Crypto, std::string(where) + ": " + std::string(why), 0, kMalformed};
}

// A non-empty, bounded, printable UTF-8 string field.
const std::string* bounded_string(const Json& obj, const char* key, std::size_t max) {
  const auto* s = util::get_string(obj, key);
  if (s == nullptr || s->empty() || s->size() > max || !detail::is_valid_utf8(*s) || detail::has_control_chars(*s))
    return nullptr;
  return s;
}

bool is_base64_text(std::string_view s) {
  for (char c : s) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
                    c == '/' || c == '=';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

Result<OlmEncryptedContent> parse_olm_encrypted(const Json& content) {
  constexpr std::string_view where = "m.room.encrypted";
  if (!content.is_object()) return malformed(where, "content is not an object");
  const auto* algorithm = util::get_string(content, "algorithm");
  if (algorithm == nullptr) return malformed(where, "no string algorithm");
  if (*algorithm != kOlmV1) {
    return Error{ErrorKind::Crypto,
                 std::string(where) + ": algorithm " + detail::truncate_utf8(*algorithm, 64) + " is not " + std::string(kOlmV1),
                 0, kUnsupportedAlgorithm};
  }
  OlmEncryptedContent out;
  const auto* sender_key = bounded_string(content, "sender_key", kMaxKeyBytes);
  if (sender_key == nullptr || !is_base64_text(*sender_key)) return malformed(where, "no valid sender_key");
  out.sender_key = *sender_key;

  const auto* ciphertext = util::get_object(content, "ciphertext");
  if (ciphertext == nullptr) return malformed(where, "ciphertext is not an object");
  if (ciphertext->empty()) return malformed(where, "ciphertext is empty");
  if (ciphertext->size() > kMaxOlmRecipients) return malformed(where, "ciphertext has too many recipients");
  for (const auto& [key, message] : ciphertext->items()) {
    if (key.empty() || key.size() > kMaxKeyBytes || !is_base64_text(key))
      return malformed(where, "a ciphertext recipient key is not base64");
    if (!message.is_object()) return malformed(where, "a ciphertext entry is not an object");
    const auto type = util::get_int(message, "type");
    if (!type || (*type != 0 && *type != 1)) return malformed(where, "a ciphertext type is not 0 or 1");
    const auto* body = util::get_string(message, "body");
    if (body == nullptr || body->empty()) return malformed(where, "a ciphertext has no body");
    if (body->size() > kMaxOlmBodyBytes) return malformed(where, "a ciphertext body is too large");
    if (!is_base64_text(*body)) return malformed(where, "a ciphertext body is not base64");
    out.ciphertext.emplace(key, OlmCiphertext{static_cast<int>(*type), *body});
  }
  return out;
}

Json to_content(const OlmEncryptedContent& content) {
  Json ciphertext = Json::object();
  for (const auto& [key, message] : content.ciphertext)
    ciphertext[key] = Json{{"type", message.type}, {"body", message.body}};
  return Json{{"algorithm", std::string(kOlmV1)}, {"sender_key", content.sender_key}, {"ciphertext", std::move(ciphertext)}};
}

Result<OlmPlaintext> parse_olm_plaintext(std::string_view text) {
  constexpr std::string_view where = "olm plaintext";
  auto json = util::parse_untrusted_json(text, util::JsonLimits{kMaxOlmBodyBytes, 32});
  if (!json) return malformed(where, json.error().message);
  const Json& root = *json;
  if (!root.is_object()) return malformed(where, "not a JSON object");

  OlmPlaintext out;
  const auto* type = bounded_string(root, "type", kMaxEventTypeBytes);
  if (type == nullptr) return malformed(where, "no valid type");
  out.type = *type;
  const auto* content = util::get_object(root, "content");
  if (content == nullptr) return malformed(where, "content is not an object");
  out.content = *content;
  const auto* sender = bounded_string(root, "sender", kMaxIdBytes);
  if (sender == nullptr || !detail::is_user_id(*sender)) return malformed(where, "sender is not a user id");
  out.sender = *sender;
  const auto* recipient = bounded_string(root, "recipient", kMaxIdBytes);
  if (recipient == nullptr || !detail::is_user_id(*recipient)) return malformed(where, "recipient is not a user id");
  out.recipient = *recipient;
  const auto* recipient_keys = util::get_object(root, "recipient_keys");
  const auto* recipient_ed = recipient_keys ? bounded_string(*recipient_keys, "ed25519", kMaxKeyBytes) : nullptr;
  if (recipient_ed == nullptr) return malformed(where, "no recipient_keys.ed25519");
  out.recipient_ed25519 = *recipient_ed;
  const auto* keys = util::get_object(root, "keys");
  const auto* sender_ed = keys ? bounded_string(*keys, "ed25519", kMaxKeyBytes) : nullptr;
  if (sender_ed == nullptr) return malformed(where, "no keys.ed25519");
  out.sender_ed25519 = *sender_ed;

  if (root.contains("sender_device") && !root["sender_device"].is_null()) {
    const auto* device = bounded_string(root, "sender_device", kMaxIdBytes);
    if (device == nullptr) return malformed(where, "sender_device is not a valid string");
    out.sender_device = *device;
  }
  if (root.contains("sender_device_keys") && !root["sender_device_keys"].is_null()) {
    const auto* device_keys = util::get_object(root, "sender_device_keys");
    if (device_keys == nullptr) return malformed(where, "sender_device_keys is not an object");
    out.sender_device_keys = *device_keys;
  }
  return out;
}

Json to_json(const OlmPlaintext& plaintext) {
  Json out = {
      {"type", plaintext.type},
      {"content", plaintext.content},
      {"sender", plaintext.sender},
      {"recipient", plaintext.recipient},
      {"recipient_keys", {{"ed25519", plaintext.recipient_ed25519}}},
      {"keys", {{"ed25519", plaintext.sender_ed25519}}},
  };
  if (plaintext.sender_device) out["sender_device"] = *plaintext.sender_device;
  if (plaintext.sender_device_keys) out["sender_device_keys"] = *plaintext.sender_device_keys;
  return out;
}

}  // namespace mxcall::events
