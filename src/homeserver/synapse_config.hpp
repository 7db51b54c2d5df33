// Synapse's homeserver.yaml as mxcall generates it (JSON, which is valid YAML), the random
// secrets it holds and the signing key file next to it. Pure functions where possible so the
// unit tests can check them without a Synapse.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "mxcall/error.hpp"
#include "mxcall/homeserver.hpp"

namespace mxcall::homeserver::detail {

inline constexpr const char* kServerName = "localhost";
inline constexpr const char* kConfigFile = "homeserver.yaml";
inline constexpr const char* kSigningKeyFile = "localhost.signing.key";

// The secrets a config keeps across regenerations (restarts must not invalidate sessions).
struct ConfigSecrets {
  std::string registration_shared_secret;
  std::string macaroon_secret_key;
  std::string form_secret;
};

// n random characters from [A-Za-z0-9] (OpenSSL RAND_bytes).
std::string random_alnum(std::size_t n);
// Base64 of data without '=' padding (Synapse's and signedjson's encoding).
std::string unpadded_base64(const unsigned char* data, std::size_t size);

ConfigSecrets random_secrets();
// The secrets of a previously generated config; any missing one is generated afresh.
ConfigSecrets secrets_from(const nlohmann::json& existing);
// The port of the first listener of a previously generated config, if any.
std::optional<std::uint16_t> port_from(const nlohmann::json& existing);

struct ConfigInputs {
  std::filesystem::path dir;  // absolute
  std::uint16_t port = 0;
  ConfigSecrets secrets;
  std::optional<TurnConfig> turn;
  nlohmann::json overrides = nlohmann::json::object();
};

// The full config: mxcall's defaults for a local test server, then the overrides merged
// over them (RFC 7386 JSON merge-patch).
nlohmann::json make_synapse_config(const ConfigInputs& in);

// Reads dir/homeserver.yaml; nullopt when it does not exist. A file that is not JSON
// (hand-written YAML) is an error: mxcall only manages configs it wrote.
Result<std::optional<nlohmann::json>> read_config(const std::filesystem::path& file);
// Writes atomically (temp file + rename) with mode 0600 since it holds secrets.
Status write_text_file(const std::filesystem::path& file, const std::string& text);

// "ed25519 a_XXXX <unpadded base64 of a 32-byte seed>" followed by a newline.
std::string make_signing_key_line();
// Creates the signing key file unless it exists. Returns true when it was created.
Result<bool> ensure_signing_key(const std::filesystem::path& file);

}  // namespace mxcall::homeserver::detail
