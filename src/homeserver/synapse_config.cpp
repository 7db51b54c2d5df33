#include "homeserver/synapse_config.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <system_error>

#include <openssl/evp.h>
#include <openssl/rand.h>

namespace mxcall::homeserver::detail {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

Error process_error(std::string msg) { return Error::make(ErrorKind::Process, std::move(msg)); }

// A generous limit: local calls and tests must never be throttled unless they ask for it.
json limit(double per_second, double burst) {
  return json{{"per_second", per_second}, {"burst_count", burst}};
}

}  // namespace

std::string random_alnum(std::size_t n) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  constexpr unsigned kSize = sizeof(kAlphabet) - 1;      // 62
  constexpr unsigned kLimit = 256 - (256 % kSize);       // 248: rejection sampling, no bias
  std::string out;
  out.reserve(n);
  std::array<unsigned char, 64> buf{};
  while (out.size() < n) {
    if (RAND_bytes(buf.data(), static_cast<int>(buf.size())) != 1) {
      // RAND_bytes only fails when the OS has no entropy source at all; there is no sane
      // fallback for secrets, so fail loudly rather than write a weak key.
      throw MxcallError(process_error("OpenSSL RAND_bytes failed: no entropy"));
    }
    for (unsigned char b : buf) {
      if (b < kLimit && out.size() < n) out.push_back(kAlphabet[b % kSize]);
    }
  }
  return out;
}

std::string unpadded_base64(const unsigned char* data, std::size_t size) {
  std::string out(4 * ((size + 2) / 3) + 1, '\0');
  const int len = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data,
                                  static_cast<int>(size));
  out.resize(static_cast<std::size_t>(len));
  while (!out.empty() && out.back() == '=') out.pop_back();
  return out;
}

ConfigSecrets random_secrets() {
  return ConfigSecrets{random_alnum(48), random_alnum(48), random_alnum(48)};
}

ConfigSecrets secrets_from(const json& existing) {
  ConfigSecrets s;
  auto take = [&existing](const char* key, std::string& out) {
    if (existing.is_object()) {
      auto it = existing.find(key);
      if (it != existing.end() && it->is_string() && !it->get<std::string>().empty()) {
        out = it->get<std::string>();
        return;
      }
    }
    out = random_alnum(48);
  };
  take("registration_shared_secret", s.registration_shared_secret);
  take("macaroon_secret_key", s.macaroon_secret_key);
  take("form_secret", s.form_secret);
  return s;
}

std::optional<std::uint16_t> port_from(const json& existing) {
  if (!existing.is_object()) return std::nullopt;
  auto it = existing.find("listeners");
  if (it == existing.end() || !it->is_array()) return std::nullopt;
  for (const auto& l : *it) {
    if (!l.is_object()) continue;
    auto p = l.find("port");
    if (p != l.end() && p->is_number_integer()) {
      const auto v = p->get<std::int64_t>();
      if (v > 0 && v <= 65535) return static_cast<std::uint16_t>(v);
    }
  }
  return std::nullopt;
}

json make_synapse_config(const ConfigInputs& in) {
  const std::string port = std::to_string(in.port);
  const json generous = limit(100, 1000);
  json c = {
      {"server_name", kServerName},
      {"public_baseurl", "http://127.0.0.1:" + port + "/"},
      {"listeners",
       json::array({{{"port", in.port},
                     {"bind_addresses", json::array({"127.0.0.1"})},
                     {"type", "http"},
                     {"tls", false},
                     {"x_forwarded", false},
                     {"resources", json::array({{{"names", json::array({"client"})},
                                                 {"compress", false}}})}}})},
      {"database",
       {{"name", "sqlite3"}, {"args", {{"database", (in.dir / "homeserver.db").string()}}}}},
      {"media_store_path", (in.dir / "media_store").string()},
      {"signing_key_path", (in.dir / kSigningKeyFile).string()},
      {"registration_shared_secret", in.secrets.registration_shared_secret},
      {"macaroon_secret_key", in.secrets.macaroon_secret_key},
      {"form_secret", in.secrets.form_secret},
      {"report_stats", false},
      {"enable_registration", false},
      {"trusted_key_servers", json::array()},
      {"suppress_key_server_warning", true},
      {"bcrypt_rounds", 4},
      // MSC4140 delayed events have no flag: setting a maximum delay turns them on.
      {"max_event_delay_duration", "24h"},
      // MSC4143 /rtc/transports (matrix_rtc.transports).
      {"experimental_features", {{"msc4143_enabled", true}}},
      {"rc_message", limit(100, 500)},
      {"rc_registration", generous},
      {"rc_login", {{"address", generous}, {"account", generous}, {"failed_attempts", generous}}},
      {"rc_joins", {{"local", generous}, {"remote", generous}}},
      {"rc_joins_per_room", generous},
      {"rc_invites", {{"per_room", generous}, {"per_user", generous}, {"per_issuer", generous}}},
      {"rc_room_creation", generous},
      {"rc_key_requests", generous},
      {"rc_delayed_event_mgmt", generous},
  };
  if (in.turn) {
    c["turn_uris"] = in.turn->uris;
    c["turn_shared_secret"] = in.turn->shared_secret;
    c["turn_user_lifetime"] = std::to_string(in.turn->user_lifetime_s) + "s";
    c["turn_allow_guests"] = true;
  }
  if (in.overrides.is_object() && !in.overrides.empty()) c.merge_patch(in.overrides);
  return c;
}

Result<std::optional<json>> read_config(const fs::path& file) {
  std::error_code ec;
  if (!fs::exists(file, ec)) return std::optional<json>{};
  std::ifstream in(file, std::ios::binary);
  if (!in) return process_error("cannot read " + file.string() + ": " + std::strerror(errno));
  std::stringstream ss;
  ss << in.rdbuf();
  json j = json::parse(ss.str(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return process_error(file.string() +
                         " is not a config mxcall wrote (not a JSON object); move it away or "
                         "use another --dir");
  }
  return std::optional<json>{std::move(j)};
}

Status write_text_file(const fs::path& file, const std::string& text) {
  const fs::path tmp = file.string() + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return process_error("cannot write " + tmp.string() + ": " + std::strerror(errno));
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return process_error("cannot write " + tmp.string() + ": " + std::strerror(err));
    }
    done += static_cast<std::size_t>(n);
  }
  ::close(fd);
  if (::rename(tmp.c_str(), file.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return process_error("cannot rename " + tmp.string() + ": " + std::strerror(err));
  }
  return ok_status();
}

std::string make_signing_key_line() {
  std::array<unsigned char, 32> seed{};
  if (RAND_bytes(seed.data(), static_cast<int>(seed.size())) != 1) {
    throw MxcallError(process_error("OpenSSL RAND_bytes failed: no entropy"));
  }
  std::string line = "ed25519 a_" + random_alnum(4) + " " + unpadded_base64(seed.data(), seed.size());
  line += "\n";
  return line;
}

Result<bool> ensure_signing_key(const fs::path& file) {
  std::error_code ec;
  if (fs::exists(file, ec)) return false;
  std::string line;
  try {
    line = make_signing_key_line();
  } catch (const MxcallError& e) {
    return e.error();
  }
  auto st = write_text_file(file, line);
  if (!st) return st.error();
  return true;
}

}  // namespace mxcall::homeserver::detail
