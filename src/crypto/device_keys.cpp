#include "crypto/device_keys.hpp"

#include "crypto/olm_errors.hpp"
#include "crypto/signed_json.hpp"
#include "util/json_guard.hpp"

namespace mxcall::crypto {

namespace {

Error invalid(std::string_view user_id, std::string_view device_id, std::string why) {
  return crypto_error(reason::kMalformed,
                      "device " + std::string(user_id) + " " + std::string(device_id) + ": " + std::move(why));
}

bool lists_olm(const Json& object) {
  const auto* algorithms = util::get_array(object, "algorithms");
  if (algorithms == nullptr) return false;
  for (const auto& a : *algorithms)
    if (a.is_string() && a.get_ref<const std::string&>() == kOlmAlgorithm) return true;
  return false;
}

}  // namespace

Result<Json> make_device_keys(OlmAccount& account, const std::string& user_id, const std::string& device_id) {
  const IdentityKeys keys = account.identity_keys();
  Json object = {
      {"user_id", user_id},
      {"device_id", device_id},
      {"algorithms", Json::array({std::string(kOlmAlgorithm)})},
      {"keys", {{"curve25519:" + device_id, keys.curve25519}, {"ed25519:" + device_id, keys.ed25519}}},
  };
  return sign_json(account, user_id, device_id, std::move(object));
}

Result<DeviceKeys> verify_device_keys(CryptoBackend& backend, const Json& object, std::string_view user_id,
                                      std::string_view device_id) {
  if (!object.is_object()) return invalid(user_id, device_id, "not an object");
  const auto* inner_user = util::get_string(object, "user_id");
  const auto* inner_device = util::get_string(object, "device_id");
  if (inner_user == nullptr || *inner_user != user_id)
    return invalid(user_id, device_id, "its user_id does not match the user it was listed under");
  if (inner_device == nullptr || *inner_device != device_id)
    return invalid(user_id, device_id, "its device_id does not match the device it was listed under");
  const auto* keys = util::get_object(object, "keys");
  const std::string device(device_id);
  const auto* curve = keys != nullptr ? util::get_string(*keys, ("curve25519:" + device).c_str()) : nullptr;
  const auto* ed = keys != nullptr ? util::get_string(*keys, ("ed25519:" + device).c_str()) : nullptr;
  if (curve == nullptr || !is_public_key(*curve)) return invalid(user_id, device_id, "no valid curve25519 key");
  if (ed == nullptr || !is_public_key(*ed)) return invalid(user_id, device_id, "no valid ed25519 key");
  if (!lists_olm(object)) return invalid(user_id, device_id, "it does not support " + std::string(kOlmAlgorithm));

  const std::string user(user_id);
  if (auto verified = verify_json_signature(backend, object, user, "ed25519:" + device, *ed); !verified) {
    return crypto_error(reason::kBadSignature,
                        "device " + user + " " + device + ": " + verified.error().message);
  }
  DeviceKeys out{user, device, *curve, *ed, object};
  out.object.erase("unsigned");
  return out;
}

}  // namespace mxcall::crypto
