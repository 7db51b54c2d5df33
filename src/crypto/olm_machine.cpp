// OlmMachine: opening (account, sessions, devices from the store) and our own keys.
#include <algorithm>
#include <chrono>
#include <tuple>
#include <utility>

#include <openssl/crypto.h>

#include "crypto/libolm_backend.hpp"
#include "crypto/olm_errors.hpp"
#include "crypto/olm_machine_impl.hpp"
#include "crypto/signed_json.hpp"
#include "mxcall/matrix/sync.hpp"
#include "util/logging.hpp"

namespace mxcall::crypto {

namespace {

Status unpickle_sessions(OlmMachine::Impl& m, std::vector<store::OlmSessionRecord> records,
                         std::map<std::string, std::vector<SessionEntry>>& out) {
  // Oldest first, so recency numbers follow the stored order of use.
  std::sort(records.begin(), records.end(), [](const auto& a, const auto& b) {
    return std::tie(a.last_received_ms, a.created_ms) < std::tie(b.last_received_ms, b.created_ms);
  });
  for (auto& r : records) {
    auto session = m.backend->unpickle_session(r.pickle, m.options.pickle_key);
    if (!session) {
      if (session.error().kind == ErrorKind::WrongPickleKey) return std::move(session).error();
      MXLOG_WARN("olm: dropping stored session {} with {}: {}", r.session_id, r.sender_key, session.error().describe());
      continue;
    }
    out[r.sender_key].push_back(
        SessionEntry{std::move(session).value(), r.session_id, r.created_ms, r.last_received_ms, m.next_recency++});
  }
  return ok_status();
}

Status load_devices(OlmMachine::Impl& m) {
  auto devices = m.store->load_device_keys();
  if (!devices) return std::move(devices).error();
  for (auto& d : *devices) {
    DeviceKeys keys{d.user_id, d.device_id, d.curve25519, d.ed25519,
                    nlohmann::json::parse(d.keys_json, nullptr, false)};
    if (keys.object.is_discarded()) keys.object = nlohmann::json::object();
    m.devices[{d.user_id, d.device_id}] = KnownDevice{std::move(keys), d.deleted};
  }
  auto tracked = m.store->load_tracked_users();
  if (!tracked) return std::move(tracked).error();
  m.tracked_users = std::move(tracked).value();
  return ok_status();
}

Status check_options(const OlmMachineOptions& o) {
  if (!matrix::is_valid_user_id(o.user_id))
    return Error::make(ErrorKind::InvalidArgument, "olm: '" + o.user_id + "' is not a user id");
  if (o.device_id.empty()) return Error::make(ErrorKind::InvalidArgument, "olm: the device id is empty");
  if (o.pickle_key.empty()) return Error::make(ErrorKind::InvalidArgument, "olm: the pickle key is empty");
  return ok_status();
}

}  // namespace

// ---- Impl helpers shared by the machine's files -------------------------------------------

OlmMachine::Impl::~Impl() {
  if (!options.pickle_key.empty()) OPENSSL_cleanse(options.pickle_key.data(), options.pickle_key.size());
}

std::int64_t OlmMachine::Impl::now() const {
  if (options.now_ms) return options.now_ms();
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Status OlmMachine::Impl::save_account(const std::vector<store::OlmSessionRecord>& with_sessions) {
  auto pickle = account->pickle(options.pickle_key);
  if (!pickle) return std::move(pickle).error();
  return store->save_olm_account({options.user_id, options.device_id, *pickle, device_keys_published}, with_sessions);
}

Result<store::OlmSessionRecord> OlmMachine::Impl::record_of(const std::string& peer_key, SessionEntry& entry) {
  auto pickle = entry.session->pickle(options.pickle_key);
  if (!pickle) return std::move(pickle).error();
  return store::OlmSessionRecord{peer_key, entry.id, *pickle, entry.created_ms, entry.last_received_ms};
}

Status OlmMachine::Impl::save_session(const std::string& peer_key, SessionEntry& entry) {
  auto record = record_of(peer_key, entry);
  if (!record) return std::move(record).error();
  return store->save_olm_session(*record);
}

// ---- OlmMachine ---------------------------------------------------------------------------

OlmMachine::OlmMachine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
OlmMachine::~OlmMachine() = default;

Result<std::unique_ptr<OlmMachine>> OlmMachine::open(std::shared_ptr<store::Store> store, OlmMachineOptions options) {
  if (!store) return Error::make(ErrorKind::InvalidArgument, "olm: no store");
  if (auto valid = check_options(options); !valid) return std::move(valid).error();
  auto m = std::make_unique<Impl>();
  m->store = std::move(store);
  m->options = std::move(options);
  m->backend = m->options.backend ? m->options.backend : make_libolm_backend();
  const std::string who = m->options.user_id + " " + m->options.device_id;

  auto stored = m->store->load_olm_account();
  if (!stored) return std::move(stored).error();
  if (*stored) {
    const auto& record = **stored;
    if (record.user_id != m->options.user_id || record.device_id != m->options.device_id) {
      return Error::make(ErrorKind::InvalidArgument, "olm: the store holds the olm account of " + record.user_id + " " +
                                                         record.device_id + ", not of " + who);
    }
    auto account = m->backend->unpickle_account(record.pickle, m->options.pickle_key);
    if (!account) {
      Error e = std::move(account).error();
      e.message = "olm account of " + who + ": " + e.message;
      return e;
    }
    m->account = std::move(account).value();
    m->device_keys_published = record.device_keys_published;
  } else {
    auto account = m->backend->create_account();
    if (!account) return std::move(account).error();
    m->account = std::move(account).value();
    if (auto saved = m->save_account(); !saved) return std::move(saved).error();
    MXLOG_INFO("olm: created a new account for {} ({})", who, m->backend->name());
  }
  m->own = m->account->identity_keys();
  auto device_keys = make_device_keys(*m->account, m->options.user_id, m->options.device_id);
  if (!device_keys) return std::move(device_keys).error();
  m->own_device_keys = std::move(device_keys).value();

  auto records = m->store->load_olm_sessions();
  if (!records) return std::move(records).error();
  if (auto loaded = unpickle_sessions(*m, std::move(records).value(), m->sessions); !loaded) {
    Error e = std::move(loaded).error();
    e.message = "olm sessions of " + who + ": " + e.message;
    return e;
  }
  if (auto loaded = load_devices(*m); !loaded) return std::move(loaded).error();
  return std::unique_ptr<OlmMachine>(new OlmMachine(std::move(m)));
}

const std::string& OlmMachine::user_id() const { return impl_->options.user_id; }
const std::string& OlmMachine::device_id() const { return impl_->options.device_id; }

IdentityKeys OlmMachine::identity_keys() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->own;
}

std::string OlmMachine::backend_name() const { return impl_->backend->name(); }

nlohmann::json OlmMachine::device_keys() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->own_device_keys;
}

bool OlmMachine::device_keys_published() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->device_keys_published;
}

std::size_t OlmMachine::one_time_keys_wanted(std::int64_t published) const {
  std::lock_guard lock(impl_->mutex);
  // Half: the account also holds keys claimed but not yet used by a pre-key message, and
  // generating beyond its capacity would discard keys the server still hands out.
  const auto target = static_cast<std::int64_t>(impl_->account->max_one_time_keys() / 2);
  return published >= target ? 0 : static_cast<std::size_t>(target - std::max<std::int64_t>(published, 0));
}

Result<nlohmann::json> OlmMachine::one_time_keys_for_upload(std::size_t count) {
  std::lock_guard lock(impl_->mutex);
  Impl& m = *impl_;
  auto pending = m.account->unpublished_one_time_keys();
  if (!pending) return std::move(pending).error();
  if (pending->size() < count) {
    if (auto made = m.account->generate_one_time_keys(count - pending->size()); !made) return std::move(made).error();
    if (auto saved = m.save_account(); !saved) return std::move(saved).error();
    pending = m.account->unpublished_one_time_keys();
    if (!pending) return std::move(pending).error();
  }
  nlohmann::json out = nlohmann::json::object();
  for (const auto& key : *pending) {
    auto signed_key = sign_json(*m.account, m.options.user_id, m.options.device_id, {{"key", key.public_key}});
    if (!signed_key) return std::move(signed_key).error();
    out["signed_curve25519:" + key.key_id] = std::move(signed_key).value();
  }
  return out;
}

Status OlmMachine::mark_published(bool device_keys_sent) {
  std::lock_guard lock(impl_->mutex);
  impl_->account->mark_keys_as_published();
  if (device_keys_sent) impl_->device_keys_published = true;
  return impl_->save_account();
}

}  // namespace mxcall::crypto
