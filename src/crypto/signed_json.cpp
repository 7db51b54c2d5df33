#include "crypto/signed_json.hpp"

#include <algorithm>
#include <cstdint>

#include "crypto/olm_errors.hpp"

namespace mxcall::crypto {

namespace {

constexpr std::int64_t kMaxCanonicalInt = (std::int64_t{1} << 53) - 1;

// Integers must lie within the interoperable range; a float is allowed only when it is an
// integer in disguise (1e10, 2.0), which canonical JSON writes as that integer. Others have no
// canonical form.
bool normalize_numbers(Json& value, std::string& why) {
  switch (value.type()) {
    case Json::value_t::number_float: {
      const double d = value.get<double>();
      if (!(d >= -static_cast<double>(kMaxCanonicalInt) && d <= static_cast<double>(kMaxCanonicalInt)) ||
          d != static_cast<double>(static_cast<std::int64_t>(d))) {
        why = "a non-integer number (floats are not allowed)";
        return false;
      }
      value = static_cast<std::int64_t>(d);
      return true;
    }
    case Json::value_t::number_integer: {
      const auto v = value.get<std::int64_t>();
      if (v > kMaxCanonicalInt || v < -kMaxCanonicalInt) { why = "an integer is outside +-(2^53 - 1)"; return false; }
      return true;
    }
    case Json::value_t::number_unsigned:
      if (value.get<std::uint64_t>() > static_cast<std::uint64_t>(kMaxCanonicalInt)) {
        why = "an integer is outside +-(2^53 - 1)";
        return false;
      }
      return true;
    case Json::value_t::object:
    case Json::value_t::array:
      for (auto& child : value)
        if (!normalize_numbers(child, why)) return false;
      return true;
    default: return true;
  }
}

bool is_base64_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
}

Error bad_signature(std::string message) { return crypto_error(reason::kBadSignature, std::move(message)); }

}  // namespace

Result<std::string> canonical_json(const Json& value) {
  Json normalized = value;
  std::string why;
  if (!normalize_numbers(normalized, why)) {
    return crypto_error(reason::kMalformed, "not canonical JSON: " + why);
  }
  // nlohmann's objects are std::maps ordered by bytes, which for UTF-8 is code point order;
  // dump() without indent has no whitespace and, without ensure_ascii, leaves UTF-8 as is.
  try {
    return normalized.dump(-1, ' ', false, Json::error_handler_t::strict);
  } catch (const Json::exception&) {
    return crypto_error(reason::kMalformed, "not canonical JSON: a string is not valid UTF-8");
  }
}

Result<std::string> signing_text(const Json& object) {
  if (!object.is_object()) return crypto_error(reason::kMalformed, "only JSON objects can be signed");
  Json stripped = object;
  stripped.erase("signatures");
  stripped.erase("unsigned");
  return canonical_json(stripped);
}

Result<Json> sign_json(OlmAccount& account, const std::string& user_id, const std::string& device_id, Json object) {
  auto text = signing_text(object);
  if (!text) return std::move(text).error();
  auto signature = account.sign(*text);
  if (!signature) return std::move(signature).error();
  Json signatures = object.contains("signatures") && object["signatures"].is_object() ? object["signatures"] : Json::object();
  if (!signatures.contains(user_id) || !signatures[user_id].is_object()) signatures[user_id] = Json::object();
  signatures[user_id]["ed25519:" + device_id] = *signature;
  object["signatures"] = std::move(signatures);
  return object;
}

Status verify_json_signature(CryptoBackend& backend, const Json& object, const std::string& user_id,
                             const std::string& key_id, const std::string& ed25519_key) {
  if (!object.is_object()) return bad_signature("the signed value is not an object");
  const auto signatures = object.find("signatures");
  if (signatures == object.end() || !signatures->is_object()) return bad_signature("it carries no signatures");
  const auto by_user = signatures->find(user_id);
  if (by_user == signatures->end() || !by_user->is_object()) return bad_signature("no signature by " + user_id);
  const auto signature = by_user->find(key_id);
  if (signature == by_user->end() || !signature->is_string()) return bad_signature("no signature by " + key_id);
  auto text = signing_text(object);
  if (!text) return bad_signature(text.error().message);
  if (!backend.ed25519_verify(ed25519_key, *text, signature->get_ref<const std::string&>()))
    return bad_signature("the " + key_id + " signature of " + user_id + " does not verify");
  return ok_status();
}

bool is_public_key(std::string_view s) {
  return s.size() == 43 && std::all_of(s.begin(), s.end(), is_base64_char);
}

}  // namespace mxcall::crypto
