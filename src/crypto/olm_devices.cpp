// OlmMachine: other devices' keys from /keys/query, validated and pinned (VOIP_PROTOCOL 2.3).
#include <set>
#include <utility>

#include "crypto/olm_errors.hpp"
#include "crypto/olm_machine_impl.hpp"
#include "util/json_guard.hpp"
#include "util/logging.hpp"

namespace mxcall::crypto {

namespace {

// A user with more devices than this in one answer is not believed (and not stored).
constexpr std::size_t kMaxDevicesPerUser = 1000;

store::DeviceKeysRecord record_of(const KnownDevice& d) {
  std::string json;
  try {
    json = d.keys.object.dump();
  } catch (const nlohmann::json::exception&) {
    json = "{}";  // validated objects are canonical JSON, so this does not happen
  }
  return {d.keys.user_id, d.keys.device_id, d.keys.curve25519, d.keys.ed25519, std::move(json), d.deleted};
}

std::string server_of(const std::string& user_id) {
  const auto colon = user_id.find(':');
  return colon == std::string::npos ? std::string() : user_id.substr(colon + 1);
}

}  // namespace

const KnownDevice* OlmMachine::Impl::find_device(const DeviceRef& ref) const {
  auto it = devices.find(ref);
  return it == devices.end() || it->second.deleted ? nullptr : &it->second;
}

const KnownDevice* OlmMachine::Impl::find_device_by_key(const std::string& user_id,
                                                         const std::string& curve25519) const {
  for (auto it = devices.lower_bound({user_id, ""}); it != devices.end() && it->first.user_id == user_id; ++it)
    if (!it->second.deleted && it->second.keys.curve25519 == curve25519) return &it->second;
  return nullptr;
}

std::vector<std::string> OlmMachine::users_needing_query(const std::vector<std::string>& users) const {
  std::lock_guard lock(impl_->mutex);
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (const auto& user : users) {
    if (!seen.insert(user).second) continue;
    auto it = impl_->tracked_users.find(user);
    if (it == impl_->tracked_users.end() || it->second) out.push_back(user);
  }
  return out;
}

KeysQueryOutcome OlmMachine::apply_keys_query(const nlohmann::json& response,
                                              const std::vector<std::string>& queried_users) {
  std::lock_guard lock(impl_->mutex);
  Impl& m = *impl_;
  KeysQueryOutcome out;
  const auto* all = util::get_object(response, "device_keys");
  const auto* failures = util::get_object(response, "failures");
  std::vector<store::DeviceKeysRecord> changed;
  std::vector<std::string> answered;

  const auto reject = [&](const DeviceRef& ref, Error error) {
    MXLOG_WARN("olm: ignoring device {} {}: {}", ref.user_id, ref.device_id, error.message);
    out.rejected.push_back({ref, std::move(error)});
  };

  for (const auto& user : std::set<std::string>(queried_users.begin(), queried_users.end())) {
    const auto* listed = all != nullptr ? util::get_object(*all, user.c_str()) : nullptr;
    if (listed == nullptr) {
      const bool failed = failures != nullptr && failures->contains(server_of(user));
      MXLOG_INFO("olm: /keys/query gave no device list for {}{}", user, failed ? " (its server failed)" : "");
      continue;  // stays outdated; nothing is deleted on a missing answer
    }
    if (listed->size() > kMaxDevicesPerUser) {
      MXLOG_WARN("olm: /keys/query listed {} devices for {}; ignoring the list", listed->size(), user);
      continue;
    }
    std::set<std::string> present;
    for (const auto& [device_id, object] : listed->items()) {
      present.insert(device_id);
      const DeviceRef ref{user, device_id};
      auto keys = verify_device_keys(*m.backend, object, user, device_id);
      if (!keys) {
        reject(ref, std::move(keys).error());
        continue;
      }
      const bool ours = user == m.options.user_id && device_id == m.options.device_id;
      if (ours && (keys->curve25519 != m.own.curve25519 || keys->ed25519 != m.own.ed25519)) {
        reject(ref, crypto_error(reason::kDeviceKeysChanged, "the server lists other keys for this very device"));
        continue;
      }
      auto known = m.devices.find(ref);
      if (known != m.devices.end() && (known->second.keys.ed25519 != keys->ed25519 ||
                                       known->second.keys.curve25519 != keys->curve25519)) {
        reject(ref, crypto_error(reason::kDeviceKeysChanged,
                                 "its keys changed since it was first seen (ed25519 " + known->second.keys.ed25519 +
                                     " is pinned); keeping the old ones"));
        continue;
      }
      ++out.accepted;
      if (known == m.devices.end() || known->second.deleted) {
        KnownDevice& d = m.devices[ref] = KnownDevice{std::move(keys).value(), false};
        changed.push_back(record_of(d));
      }
    }
    for (auto it = m.devices.lower_bound({user, ""}); it != m.devices.end() && it->first.user_id == user; ++it) {
      if (it->second.deleted || present.count(it->first.device_id) != 0) continue;
      MXLOG_INFO("olm: device {} {} is gone from the server's list", user, it->first.device_id);
      it->second.deleted = true;
      changed.push_back(record_of(it->second));
    }
    m.tracked_users[user] = false;
    answered.push_back(user);
  }
  if (auto saved = m.store->save_device_keys(changed, answered); !saved) {
    // Memory stays ahead of the store; the next query of these users writes them again.
    MXLOG_ERROR("olm: saving device keys failed: {}", saved.error().describe());
    for (const auto& user : answered) m.tracked_users[user] = true;
  }
  return out;
}

Status OlmMachine::mark_users_outdated(const std::vector<std::string>& users) {
  std::lock_guard lock(impl_->mutex);
  std::vector<std::string> tracked;
  for (const auto& user : users) {
    auto it = impl_->tracked_users.find(user);
    if (it == impl_->tracked_users.end()) continue;
    it->second = true;
    tracked.push_back(user);
  }
  if (tracked.empty()) return ok_status();
  return impl_->store->mark_users_outdated(tracked);
}

std::optional<DeviceKeys> OlmMachine::device(const DeviceRef& ref) const {
  std::lock_guard lock(impl_->mutex);
  const KnownDevice* d = impl_->find_device(ref);
  return d != nullptr ? std::optional<DeviceKeys>(d->keys) : std::nullopt;
}

std::vector<DeviceKeys> OlmMachine::devices_of(const std::string& user_id) const {
  std::lock_guard lock(impl_->mutex);
  std::vector<DeviceKeys> out;
  for (auto it = impl_->devices.lower_bound({user_id, ""}); it != impl_->devices.end() && it->first.user_id == user_id;
       ++it)
    if (!it->second.deleted) out.push_back(it->second.keys);
  return out;
}

}  // namespace mxcall::crypto
