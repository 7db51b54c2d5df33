// OlmMachine: outbound sessions from claimed one-time keys, and encryption (VOIP_PROTOCOL 2.4, 2.5).
#include <algorithm>
#include <utility>

#include "crypto/olm_errors.hpp"
#include "crypto/olm_machine_impl.hpp"
#include "crypto/signed_json.hpp"
#include "events/olm_events.hpp"
#include "util/json_guard.hpp"
#include "util/logging.hpp"

namespace mxcall::crypto {

namespace {

std::string describe(const DeviceRef& ref) { return ref.user_id + " " + ref.device_id; }

// The signed_curve25519 key of one device in a /keys/claim answer, checked against its ed25519.
Result<std::string> claimed_key(CryptoBackend& backend, const nlohmann::json* keys, const DeviceKeys& device) {
  if (keys == nullptr || keys->empty())
    return crypto_error(reason::kNoSession, "the server has no one-time key for it (all claimed?)");
  for (const auto& [key_id, object] : keys->items()) {
    if (key_id.rfind("signed_curve25519:", 0) != 0 || !object.is_object()) continue;
    const auto* key = util::get_string(object, "key");
    if (key == nullptr || !is_public_key(*key)) return crypto_error(reason::kMalformed, "the claimed key is malformed");
    if (auto verified = verify_json_signature(backend, object, device.user_id, "ed25519:" + device.device_id,
                                              device.ed25519);
        !verified)
      return crypto_error(reason::kBadSignature, "claimed one-time key " + key_id + ": " + verified.error().message);
    return *key;
  }
  return crypto_error(reason::kNoSession, "the answer holds no signed_curve25519 key for it");
}

}  // namespace

SessionEntry& OlmMachine::Impl::add_session(const std::string& peer_key, SessionEntry entry) {
  entry.recency = next_recency++;
  auto& list = sessions[peer_key];
  list.push_back(std::move(entry));
  SessionEntry* added = &list.back();
  if (list.size() > kMaxSessionsPerDevice) {
    auto oldest = std::min_element(list.begin(), list.end(),
                                   [](const SessionEntry& a, const SessionEntry& b) { return a.recency < b.recency; });
    if (auto dropped = store->delete_olm_session(peer_key, oldest->id); !dropped)
      MXLOG_WARN("olm: forgetting an old session failed: {}", dropped.error().describe());
    const std::string added_id = added->id;
    list.erase(oldest);
    added = &*std::find_if(list.begin(), list.end(), [&](const SessionEntry& e) { return e.id == added_id; });
  }
  return *added;
}

SessionEntry* OlmMachine::Impl::newest_session(const std::string& peer_key) {
  auto it = sessions.find(peer_key);
  if (it == sessions.end() || it->second.empty()) return nullptr;
  return &*std::max_element(it->second.begin(), it->second.end(),
                            [](const SessionEntry& a, const SessionEntry& b) { return a.recency < b.recency; });
}

bool OlmMachine::has_session(const DeviceRef& ref) const {
  std::lock_guard lock(impl_->mutex);
  const KnownDevice* d = impl_->find_device(ref);
  if (d == nullptr || impl_->wedged_keys.count(d->keys.curve25519) != 0) return false;
  auto it = impl_->sessions.find(d->keys.curve25519);
  return it != impl_->sessions.end() && !it->second.empty();
}

std::size_t OlmMachine::session_count(const std::string& curve25519) const {
  std::lock_guard lock(impl_->mutex);
  auto it = impl_->sessions.find(curve25519);
  return it == impl_->sessions.end() ? 0 : it->second.size();
}

KeysClaimOutcome OlmMachine::apply_keys_claim(const nlohmann::json& response, const std::vector<DeviceRef>& requested) {
  std::lock_guard lock(impl_->mutex);
  Impl& m = *impl_;
  KeysClaimOutcome out;
  const auto* all = util::get_object(response, "one_time_keys");
  const auto fail = [&](const DeviceRef& ref, Error error) {
    MXLOG_DEBUG("olm: no session with {}: {}", describe(ref), error.message);
    out.failed.push_back({ref, std::move(error)});
  };
  for (const auto& ref : requested) {
    const KnownDevice* device = m.find_device(ref);
    if (device == nullptr) {
      fail(ref, crypto_error(reason::kUnknownDevice, "its keys are unknown (query them first)"));
      continue;
    }
    const auto* of_user = all != nullptr ? util::get_object(*all, ref.user_id.c_str()) : nullptr;
    const auto* keys = of_user != nullptr ? util::get_object(*of_user, ref.device_id.c_str()) : nullptr;
    auto key = claimed_key(*m.backend, keys, device->keys);
    if (!key) {
      fail(ref, std::move(key).error());
      continue;
    }
    auto session = m.account->create_outbound(device->keys.curve25519, *key);
    if (!session) {
      fail(ref, std::move(session).error());
      continue;
    }
    const std::int64_t now = m.now();
    SessionEntry entry{std::move(session).value(), {}, now, now, 0};
    entry.id = entry.session->id();
    SessionEntry& added = m.add_session(device->keys.curve25519, std::move(entry));
    if (auto saved = m.save_session(device->keys.curve25519, added); !saved) {
      fail(ref, std::move(saved).error());
      continue;
    }
    m.wedged_keys.erase(device->keys.curve25519);
    MXLOG_DEBUG("olm: new outbound session {} with {}", added.id, describe(ref));
    out.sessions_created.push_back(ref);
  }
  return out;
}

Result<nlohmann::json> OlmMachine::encrypt(const DeviceRef& to, const std::string& type, const nlohmann::json& content) {
  if (!content.is_object())
    return Error::make(ErrorKind::InvalidArgument, "encrypting for " + describe(to) + ": the content is not an object");
  nlohmann::json plaintext;
  {
    std::lock_guard lock(impl_->mutex);
    const KnownDevice* device = impl_->find_device(to);
    if (device == nullptr) return crypto_error(reason::kUnknownDevice, "encrypting for " + describe(to) + ": unknown device");
    events::OlmPlaintext p;
    p.type = type;
    p.content = content;
    p.sender = impl_->options.user_id;
    p.sender_device = impl_->options.device_id;
    p.recipient = to.user_id;
    p.recipient_ed25519 = device->keys.ed25519;
    p.sender_ed25519 = impl_->own.ed25519;
    p.sender_device_keys = impl_->own_device_keys;
    plaintext = events::to_json(p);
  }
  return encrypt_payload(to, plaintext);
}

Result<nlohmann::json> OlmMachine::encrypt_payload(const DeviceRef& to, const nlohmann::json& plaintext) {
  std::string text;
  try {
    text = plaintext.dump(-1, ' ', false, nlohmann::json::error_handler_t::strict);
  } catch (const nlohmann::json::exception&) {
    return Error::make(ErrorKind::InvalidArgument, "encrypting for " + describe(to) + ": a string is not valid UTF-8");
  }
  if (text.size() > events::kMaxOlmBodyBytes / 2)
    return Error::make(ErrorKind::InvalidArgument, "encrypting for " + describe(to) + ": the payload is too large");

  std::lock_guard lock(impl_->mutex);
  Impl& m = *impl_;
  const KnownDevice* device = m.find_device(to);
  if (device == nullptr) return crypto_error(reason::kUnknownDevice, "encrypting for " + describe(to) + ": unknown device");
  const std::string& peer_key = device->keys.curve25519;
  SessionEntry* session = m.wedged_keys.count(peer_key) != 0 ? nullptr : m.newest_session(peer_key);
  if (session == nullptr)
    return crypto_error(reason::kNoSession, "encrypting for " + describe(to) + ": no usable olm session (claim a key)");
  auto message = session->session->encrypt(text);
  if (!message) return std::move(message).error();
  // Saved before the ciphertext leaves: a restart must never reuse a message key.
  if (auto saved = m.save_session(peer_key, *session); !saved) return std::move(saved).error();

  events::OlmEncryptedContent content;
  content.sender_key = m.own.curve25519;
  content.ciphertext[peer_key] = {static_cast<int>(message->type), std::move(message->body)};
  return events::to_content(content);
}

}  // namespace mxcall::crypto
