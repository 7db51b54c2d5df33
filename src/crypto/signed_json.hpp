// Matrix's signed JSON (spec appendix "Signing JSON"): canonical JSON (object keys sorted by
// code point, no insignificant whitespace, UTF-8 unescaped, integers within +-(2^53 - 1), no
// floats: 1e10 or 2.0 are written as integers, 1.5 is refused) of the object without
// "signatures" and "unsigned", signed with ed25519.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "crypto/olm_backend.hpp"
#include "mxcall/error.hpp"

namespace mxcall::crypto {

using Json = nlohmann::json;

// Canonical JSON text of `value`; an error for floats, out-of-range integers or invalid UTF-8.
Result<std::string> canonical_json(const Json& value);

// The text a signature covers: `object` (which must be a JSON object) without its
// "signatures" and "unsigned" members, in canonical form.
Result<std::string> signing_text(const Json& object);

// `object` with signatures[user_id]["ed25519:<device_id>"] added (other signatures kept).
Result<Json> sign_json(OlmAccount& account, const std::string& user_id, const std::string& device_id, Json object);

// Checks signatures[user_id][key_id] of `object` against `ed25519_key`. Errors (ErrorKind::Crypto,
// reason kBadSignature) say whether the signature was missing, malformed or wrong.
Status verify_json_signature(CryptoBackend& backend, const Json& object, const std::string& user_id,
                             const std::string& key_id, const std::string& ed25519_key);

// Unpadded base64 of 32 bytes (a curve25519 or ed25519 public key): 43 characters.
bool is_public_key(std::string_view s);

}  // namespace mxcall::crypto
