// OlmMachine: decryption and the receiver checks (VOIP_PROTOCOL 2.6), wedged sessions (2.7).
#include <algorithm>
#include <utility>

#include "crypto/olm_errors.hpp"
#include "crypto/olm_machine_impl.hpp"
#include "events/olm_events.hpp"
#include "util/logging.hpp"

namespace mxcall::crypto {

namespace {

using Impl = OlmMachine::Impl;

struct Opened {
  std::string plaintext;
};

Error refuse(std::string_view why, const std::string& sender, std::string message) {
  MXLOG_WARN("olm: refused a message from {}: {}", sender, message);
  return crypto_error(why, std::move(message));
}

// Sessions for peer_key, most recently used first.
std::vector<SessionEntry*> by_recency(Impl& m, const std::string& peer_key) {
  std::vector<SessionEntry*> out;
  auto it = m.sessions.find(peer_key);
  if (it == m.sessions.end()) return out;
  for (auto& e : it->second) out.push_back(&e);
  std::sort(out.begin(), out.end(), [](const SessionEntry* a, const SessionEntry* b) { return a->recency > b->recency; });
  return out;
}

// A message no session decrypts: the peer must start a new session with us (rate-limited).
void note_wedged(Impl& m, const KnownDevice& device) {
  const DeviceRef ref{device.keys.user_id, device.keys.device_id};
  const std::int64_t now = m.now();
  auto last = m.last_unwedge_ms.find(ref);
  if (last != m.last_unwedge_ms.end() && now - last->second < m.options.unwedge_interval.count()) {
    MXLOG_INFO("olm: session with {} {} still wedged; a new one was made recently", ref.user_id, ref.device_id);
    return;
  }
  m.last_unwedge_ms[ref] = now;
  m.wedged_keys.insert(device.keys.curve25519);
  if (std::find(m.unwedge_requests.begin(), m.unwedge_requests.end(), ref) == m.unwedge_requests.end())
    m.unwedge_requests.push_back(ref);
  MXLOG_WARN("olm: no session decrypts messages from {} {}; asking for a new session and an m.dummy", ref.user_id,
             ref.device_id);
}

// Decrypts with the sessions for the sender's key, or a new inbound session for a pre-key
// message that matches none (then the used one-time key is removed). Session state is saved
// as soon as a message decrypts.
Result<Opened> open_message(Impl& m, const std::string& sender, const KnownDevice& device,
                            const events::OlmCiphertext& ciphertext) {
  const std::string& peer_key = device.keys.curve25519;
  const OlmMessage message{static_cast<OlmMessageType>(ciphertext.type), ciphertext.body};
  const std::string fingerprint = peer_key + "|" + ciphertext.body;
  const auto mark_used = [&](SessionEntry& entry) {
    entry.last_received_ms = m.now();
    entry.recency = m.next_recency++;
    m.remember_ciphertext(fingerprint);
  };
  const auto undecryptable = [&](std::string detail) -> Error {
    if (m.recent.count(fingerprint) != 0)
      return refuse(reason::kDuplicate, sender, "the same message was already decrypted (replayed or redelivered)");
    note_wedged(m, device);
    return refuse(reason::kUndecryptable, sender, std::move(detail));
  };

  const auto sessions = by_recency(m, peer_key);
  if (message.type == OlmMessageType::Normal) {
    for (SessionEntry* entry : sessions) {
      auto plaintext = entry->session->decrypt(message);
      if (!plaintext) continue;
      mark_used(*entry);
      if (auto saved = m.save_session(peer_key, *entry); !saved) return std::move(saved).error();
      return Opened{std::move(plaintext).value()};
    }
    return undecryptable("no olm session with " + sender + " " + device.keys.device_id + " decrypts it");
  }

  for (SessionEntry* entry : sessions) {
    auto matches = entry->session->matches_inbound(peer_key, message.body);
    if (!matches) return refuse(reason::kMalformed, sender, "a malformed pre-key message: " + matches.error().message);
    if (!*matches) continue;
    auto plaintext = entry->session->decrypt(message);
    if (!plaintext) {
      if (m.recent.count(fingerprint) != 0)
        return refuse(reason::kDuplicate, sender, "the same message was already decrypted (replayed or redelivered)");
      return refuse(reason::kUndecryptable, sender, "a pre-key message of an existing session does not decrypt");
    }
    mark_used(*entry);
    if (auto saved = m.save_session(peer_key, *entry); !saved) return std::move(saved).error();
    return Opened{std::move(plaintext).value()};
  }

  auto inbound = m.account->create_inbound(peer_key, message.body);
  if (!inbound) return undecryptable("no session can be made from the pre-key message: " + inbound.error().message);
  auto plaintext = (*inbound)->decrypt(message);
  if (!plaintext) return undecryptable("a new inbound session does not decrypt it: " + plaintext.error().message);
  if (auto removed = m.account->remove_one_time_keys(**inbound); !removed)
    MXLOG_WARN("olm: {}", removed.error().message);
  const std::int64_t now = m.now();
  SessionEntry entry{std::move(inbound).value(), {}, now, now, 0};
  entry.id = entry.session->id();
  SessionEntry& added = m.add_session(peer_key, std::move(entry));
  m.remember_ciphertext(fingerprint);
  m.wedged_keys.erase(peer_key);  // the peer made a fresh session: it works in both directions
  auto record = m.record_of(peer_key, added);
  if (!record) return std::move(record).error();
  if (auto saved = m.save_account({*record}); !saved) return std::move(saved).error();
  MXLOG_DEBUG("olm: new inbound session {} from {} {}", added.id, sender, device.keys.device_id);
  return Opened{std::move(plaintext).value()};
}

// The checks on the decrypted plaintext; `device` is the known device owning the sender key.
Result<Decrypted> check_plaintext(Impl& m, const std::string& sender, const KnownDevice& device,
                                  const std::string& text) {
  auto parsed = events::parse_olm_plaintext(text);
  if (!parsed) return refuse(reason::kMalformed, sender, parsed.error().message);
  const events::OlmPlaintext& p = *parsed;
  if (p.sender != sender)
    return refuse(reason::kSenderMismatch, sender, "the plaintext claims sender " + p.sender);
  if (p.recipient != m.options.user_id)
    return refuse(reason::kRecipientMismatch, sender, "it is addressed to " + p.recipient + ", not to us");
  if (p.recipient_ed25519 != m.own.ed25519)
    return refuse(reason::kRecipientKeyMismatch, sender, "it was encrypted for another ed25519 key than ours");
  if (p.sender_ed25519 != device.keys.ed25519)
    return refuse(reason::kSenderEd25519Mismatch, sender,
                  "its keys.ed25519 is not the key of " + device.keys.device_id + ", the device owning the session");
  if (p.sender_device && *p.sender_device != device.keys.device_id)
    return refuse(reason::kSenderDeviceMismatch, sender,
                  "it claims device " + *p.sender_device + " but came from " + device.keys.device_id);
  if (p.sender_device_keys) {
    auto claimed = verify_device_keys(*m.backend, *p.sender_device_keys, sender, device.keys.device_id);
    if (!claimed || claimed->curve25519 != device.keys.curve25519 || claimed->ed25519 != device.keys.ed25519)
      return refuse(reason::kSenderDeviceMismatch, sender, "its sender_device_keys do not describe the sending device");
  }
  return Decrypted{sender, device.keys.device_id, device.keys.curve25519, p.type, p.content, true};
}

}  // namespace

void OlmMachine::Impl::remember_ciphertext(const std::string& fingerprint) {
  if (!recent.insert(fingerprint).second) return;
  recent_order.push_back(fingerprint);
  if (recent_order.size() > kRecentCiphertexts) {
    recent.erase(recent_order.front());
    recent_order.pop_front();
  }
}

Result<Decrypted> OlmMachine::decrypt(const std::string& sender, const nlohmann::json& content) {
  std::lock_guard lock(impl_->mutex);
  Impl& m = *impl_;
  auto parsed = events::parse_olm_encrypted(content);
  if (!parsed) {
    MXLOG_WARN("olm: refused a message from {}: {}", sender, parsed.error().message);
    return std::move(parsed).error();
  }
  auto mine = parsed->ciphertext.find(m.own.curve25519);
  if (mine == parsed->ciphertext.end())
    return refuse(reason::kNotForUs, sender, "it holds no ciphertext for this device's key");
  const KnownDevice* device = m.find_device_by_key(sender, parsed->sender_key);
  if (device == nullptr)
    return refuse(reason::kUnknownSenderKey, sender,
                  "sender key " + parsed->sender_key + " belongs to no known device of " + sender);
  const KnownDevice known = *device;  // a copy: nothing below may invalidate it
  auto opened = open_message(m, sender, known, mine->second);
  if (!opened) return std::move(opened).error();
  return check_plaintext(m, sender, known, opened->plaintext);
}

std::vector<DeviceRef> OlmMachine::take_unwedge_requests() {
  std::lock_guard lock(impl_->mutex);
  return std::exchange(impl_->unwedge_requests, {});
}

}  // namespace mxcall::crypto
