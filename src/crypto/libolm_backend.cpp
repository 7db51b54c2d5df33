#include "crypto/libolm_backend.hpp"

#include <olm/olm.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <cstdint>
#include <cstdlib>
#include <new>
#include <utility>

#include <nlohmann/json.hpp>

#include "crypto/olm_errors.hpp"

namespace mxcall::crypto {

namespace {

// Bytes that are wiped when released: randomness, plaintexts, copies of pickles.
class SecureBuffer {
 public:
  explicit SecureBuffer(std::size_t size) : bytes_(size) {}
  explicit SecureBuffer(std::string_view text) : bytes_(text.begin(), text.end()) {}
  SecureBuffer(SecureBuffer&&) noexcept = default;
  SecureBuffer& operator=(SecureBuffer&&) = delete;
  SecureBuffer(const SecureBuffer&) = delete;
  SecureBuffer& operator=(const SecureBuffer&) = delete;
  ~SecureBuffer() {
    if (!bytes_.empty()) OPENSSL_cleanse(bytes_.data(), bytes_.size());
  }

  std::uint8_t* data() { return bytes_.data(); }
  std::size_t size() const { return bytes_.size(); }
  std::string text(std::size_t length) const {
    return std::string(reinterpret_cast<const char*>(bytes_.data()), std::min(length, bytes_.size()));
  }

 private:
  std::vector<std::uint8_t> bytes_;
};

Result<SecureBuffer> random_bytes(std::size_t size) {
  SecureBuffer buffer(size);
  if (size > 0 && RAND_bytes(buffer.data(), static_cast<int>(size)) != 1) {
    return crypto_error(reason::kOlmFailure, "no randomness available from OpenSSL");
  }
  return buffer;
}

bool failed(std::size_t result) { return result == olm_error(); }

Error olm_failure(std::string_view what, const char* last_error) {
  return crypto_error(reason::kOlmFailure, std::string(what) + ": libolm says " +
                                               (last_error != nullptr ? last_error : "unknown error"));
}

// A pickle that does not open: the wrong key is reported as such, anything else as corruption.
Error unpickle_failure(std::string_view what, const char* last_error) {
  const std::string code = last_error != nullptr ? last_error : "unknown error";
  if (code == "BAD_ACCOUNT_KEY") {
    return Error{ErrorKind::WrongPickleKey,
                 std::string(what) + ": the pickle key does not open it (a different key was used to store it)",
                 0, std::string(reason::kWrongPickleKey)};
  }
  return crypto_error(reason::kOlmFailure, std::string(what) + ": the stored pickle is damaged (libolm says " + code + ")");
}

class LibolmSession final : public OlmSession {
 public:
  LibolmSession() : memory_(allocate(olm_session_size())), session_(olm_session(memory_)) {}
  ~LibolmSession() override {
    olm_clear_session(session_);
    std::free(memory_);
  }
  LibolmSession(const LibolmSession&) = delete;
  LibolmSession& operator=(const LibolmSession&) = delete;

  ::OlmSession* raw() { return session_; }
  const char* last_error() const { return olm_session_last_error(session_); }

  std::string id() const override {
    std::string out(olm_session_id_length(session_), '\0');
    const std::size_t n = olm_session_id(session_, out.data(), out.size());
    if (failed(n)) return {};
    out.resize(n);
    return out;
  }

  bool has_received_message() const override { return olm_session_has_received_message(session_) != 0; }

  Result<bool> matches_inbound(std::string_view their_curve25519, std::string_view pre_key_body) override {
    SecureBuffer message(pre_key_body);  // decoded in place
    const std::size_t r = olm_matches_inbound_session_from(session_, their_curve25519.data(), their_curve25519.size(),
                                                           message.data(), message.size());
    if (failed(r)) return olm_failure("matching a pre-key message", last_error());
    return r == 1;
  }

  Result<OlmMessage> encrypt(std::string_view plaintext) override {
    auto random = random_bytes(olm_encrypt_random_length(session_));
    if (!random) return std::move(random).error();
    const std::size_t type = olm_encrypt_message_type(session_);
    if (failed(type)) return olm_failure("encrypting", last_error());
    std::string body(olm_encrypt_message_length(session_, plaintext.size()), '\0');
    const std::size_t n = olm_encrypt(session_, plaintext.data(), plaintext.size(), random->data(), random->size(),
                                      body.data(), body.size());
    if (failed(n)) return olm_failure("encrypting", last_error());
    body.resize(n);
    return OlmMessage{type == OLM_MESSAGE_TYPE_PRE_KEY ? OlmMessageType::PreKey : OlmMessageType::Normal,
                      std::move(body)};
  }

  Result<std::string> decrypt(const OlmMessage& message) override {
    const auto type = static_cast<std::size_t>(message.type);
    SecureBuffer probe(message.body);  // both calls decode their input in place
    const std::size_t max = olm_decrypt_max_plaintext_length(session_, type, probe.data(), probe.size());
    if (failed(max)) return olm_failure("decrypting", last_error());
    SecureBuffer input(message.body);
    SecureBuffer plaintext(max);
    const std::size_t n = olm_decrypt(session_, type, input.data(), input.size(), plaintext.data(), plaintext.size());
    if (failed(n)) return olm_failure("decrypting", last_error());
    return plaintext.text(n);
  }

  Result<std::string> pickle(std::string_view key) override {
    std::string out(olm_pickle_session_length(session_), '\0');
    const std::size_t n = olm_pickle_session(session_, key.data(), key.size(), out.data(), out.size());
    if (failed(n)) return olm_failure("pickling a session", last_error());
    out.resize(n);
    return out;
  }

 private:
  static void* allocate(std::size_t size) {
    void* memory = std::malloc(size);
    if (memory == nullptr) throw std::bad_alloc();
    return memory;
  }

  void* memory_;
  ::OlmSession* session_;
};

class LibolmAccount final : public OlmAccount {
 public:
  LibolmAccount() : memory_(std::malloc(olm_account_size())) {
    if (memory_ == nullptr) throw std::bad_alloc();
    account_ = olm_account(memory_);
  }
  ~LibolmAccount() override {
    olm_clear_account(account_);
    std::free(memory_);
  }
  LibolmAccount(const LibolmAccount&) = delete;
  LibolmAccount& operator=(const LibolmAccount&) = delete;

  ::OlmAccount* raw() { return account_; }
  const char* last_error() const { return olm_account_last_error(account_); }

  Status create() {
    auto random = random_bytes(olm_create_account_random_length(account_));
    if (!random) return std::move(random).error();
    if (failed(olm_create_account(account_, random->data(), random->size())))
      return olm_failure("creating an account", last_error());
    return ok_status();
  }

  IdentityKeys identity_keys() override {
    std::string out(olm_account_identity_keys_length(account_), '\0');
    const std::size_t n = olm_account_identity_keys(account_, out.data(), out.size());
    if (failed(n)) return {};
    out.resize(n);
    auto json = nlohmann::json::parse(out, nullptr, false);
    IdentityKeys keys;
    if (json.is_object()) {
      keys.curve25519 = json.value("curve25519", "");
      keys.ed25519 = json.value("ed25519", "");
    }
    return keys;
  }

  Result<std::string> sign(std::string_view message) override {
    std::string out(olm_account_signature_length(account_), '\0');
    const std::size_t n = olm_account_sign(account_, message.data(), message.size(), out.data(), out.size());
    if (failed(n)) return olm_failure("signing", last_error());
    out.resize(n);
    return out;
  }

  std::size_t max_one_time_keys() const override { return olm_account_max_number_of_one_time_keys(account_); }

  Status generate_one_time_keys(std::size_t count) override {
    auto random = random_bytes(olm_account_generate_one_time_keys_random_length(account_, count));
    if (!random) return std::move(random).error();
    if (failed(olm_account_generate_one_time_keys(account_, count, random->data(), random->size())))
      return olm_failure("generating one-time keys", last_error());
    return ok_status();
  }

  Result<std::vector<OneTimeKey>> unpublished_one_time_keys() override {
    std::string out(olm_account_one_time_keys_length(account_), '\0');
    const std::size_t n = olm_account_one_time_keys(account_, out.data(), out.size());
    if (failed(n)) return olm_failure("listing one-time keys", last_error());
    out.resize(n);
    // Ordered: libolm lists the keys in the order it made them.
    auto json = nlohmann::ordered_json::parse(out, nullptr, false);
    std::vector<OneTimeKey> keys;
    if (!json.is_object() || !json.contains("curve25519") || !json["curve25519"].is_object())
      return crypto_error(reason::kOlmFailure, "libolm listed its one-time keys in an unexpected shape");
    for (const auto& [id, key] : json["curve25519"].items())
      if (key.is_string()) keys.push_back({id, key.get<std::string>()});
    return keys;
  }

  void mark_keys_as_published() override { olm_account_mark_keys_as_published(account_); }

  Result<std::unique_ptr<OlmSession>> create_outbound(std::string_view their_curve25519,
                                                      std::string_view their_one_time_key) override {
    auto session = std::make_unique<LibolmSession>();
    auto random = random_bytes(olm_create_outbound_session_random_length(session->raw()));
    if (!random) return std::move(random).error();
    if (failed(olm_create_outbound_session(session->raw(), account_, their_curve25519.data(), their_curve25519.size(),
                                           their_one_time_key.data(), their_one_time_key.size(), random->data(),
                                           random->size())))
      return olm_failure("creating an outbound session", session->last_error());
    return std::unique_ptr<OlmSession>(std::move(session));
  }

  Result<std::unique_ptr<OlmSession>> create_inbound(std::string_view their_curve25519,
                                                     std::string_view pre_key_body) override {
    auto session = std::make_unique<LibolmSession>();
    SecureBuffer message(pre_key_body);  // decoded in place
    if (failed(olm_create_inbound_session_from(session->raw(), account_, their_curve25519.data(),
                                               their_curve25519.size(), message.data(), message.size())))
      return olm_failure("creating an inbound session", session->last_error());
    return std::unique_ptr<OlmSession>(std::move(session));
  }

  Status remove_one_time_keys(OlmSession& inbound) override {
    auto* session = dynamic_cast<LibolmSession*>(&inbound);
    if (session == nullptr) return crypto_error(reason::kOlmFailure, "removing one-time keys: not a libolm session");
    if (failed(olm_remove_one_time_keys(account_, session->raw())))
      return olm_failure("removing the used one-time key", last_error());
    return ok_status();
  }

  Result<std::string> pickle(std::string_view key) override {
    std::string out(olm_pickle_account_length(account_), '\0');
    const std::size_t n = olm_pickle_account(account_, key.data(), key.size(), out.data(), out.size());
    if (failed(n)) return olm_failure("pickling the account", last_error());
    out.resize(n);
    return out;
  }

 private:
  void* memory_;
  ::OlmAccount* account_ = nullptr;
};

class LibolmBackend final : public CryptoBackend {
 public:
  std::string name() const override {
    std::uint8_t major = 0, minor = 0, patch = 0;
    olm_get_library_version(&major, &minor, &patch);
    return "libolm " + std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
  }

  Result<std::unique_ptr<OlmAccount>> create_account() override {
    auto account = std::make_unique<LibolmAccount>();
    if (auto created = account->create(); !created) return std::move(created).error();
    return std::unique_ptr<OlmAccount>(std::move(account));
  }

  Result<std::unique_ptr<OlmAccount>> unpickle_account(std::string_view pickle, std::string_view key) override {
    auto account = std::make_unique<LibolmAccount>();
    SecureBuffer input(pickle);  // decoded in place
    if (failed(olm_unpickle_account(account->raw(), key.data(), key.size(), input.data(), input.size())))
      return unpickle_failure("opening the stored olm account", account->last_error());
    return std::unique_ptr<OlmAccount>(std::move(account));
  }

  Result<std::unique_ptr<OlmSession>> unpickle_session(std::string_view pickle, std::string_view key) override {
    auto session = std::make_unique<LibolmSession>();
    SecureBuffer input(pickle);
    if (failed(olm_unpickle_session(session->raw(), key.data(), key.size(), input.data(), input.size())))
      return unpickle_failure("opening a stored olm session", session->last_error());
    return std::unique_ptr<OlmSession>(std::move(session));
  }

  bool ed25519_verify(std::string_view public_key, std::string_view message, std::string_view signature) override {
    std::vector<std::uint8_t> memory(olm_utility_size());
    ::OlmUtility* utility = olm_utility(memory.data());
    SecureBuffer sig(signature);  // decoded in place
    const bool ok = !failed(olm_ed25519_verify(utility, public_key.data(), public_key.size(), message.data(),
                                               message.size(), sig.data(), sig.size()));
    olm_clear_utility(utility);
    return ok;
  }
};

}  // namespace

std::shared_ptr<CryptoBackend> make_libolm_backend() { return std::make_shared<LibolmBackend>(); }

}  // namespace mxcall::crypto
