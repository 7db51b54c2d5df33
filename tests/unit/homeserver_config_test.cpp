// Config generation and shared-secret MAC of the local Synapse (no Synapse needed).
#include <unistd.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>

#include <gtest/gtest.h>

#include "homeserver/process.hpp"
#include "homeserver/shared_secret_register.hpp"
#include "homeserver/synapse_config.hpp"

namespace hs = mxcall::homeserver;
namespace d = mxcall::homeserver::detail;
using nlohmann::json;

namespace {

d::ConfigInputs inputs() {
  d::ConfigInputs in;
  in.dir = "/tmp/mxcall-unit-hs";
  in.port = 18008;
  in.secrets = d::ConfigSecrets{"reg-secret", "macaroon", "form"};
  return in;
}

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/mxcall-unit-XXXXXX";
    if (::mkdtemp(tmpl) != nullptr) path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace

TEST(HomeserverConfig, ListensOnlyOnLoopback) {
  const json c = d::make_synapse_config(inputs());
  ASSERT_TRUE(c["listeners"].is_array());
  ASSERT_EQ(c["listeners"].size(), 1u);
  const json& l = c["listeners"][0];
  EXPECT_EQ(l["port"], 18008);
  EXPECT_EQ(l["bind_addresses"], json::array({"127.0.0.1"}));
  EXPECT_EQ(l["type"], "http");
  EXPECT_EQ(l["tls"], false);
  EXPECT_EQ(l["x_forwarded"], false);
  EXPECT_EQ(c["public_baseurl"], "http://127.0.0.1:18008/");
  EXPECT_EQ(c["server_name"], "localhost");
}

TEST(HomeserverConfig, LocalDefaults) {
  const json c = d::make_synapse_config(inputs());
  EXPECT_EQ(c["database"]["name"], "sqlite3");
  EXPECT_EQ(c["database"]["args"]["database"], "/tmp/mxcall-unit-hs/homeserver.db");
  EXPECT_EQ(c["media_store_path"], "/tmp/mxcall-unit-hs/media_store");
  EXPECT_EQ(c["signing_key_path"], "/tmp/mxcall-unit-hs/localhost.signing.key");
  EXPECT_EQ(c["registration_shared_secret"], "reg-secret");
  EXPECT_EQ(c["enable_registration"], false);
  EXPECT_EQ(c["report_stats"], false);
  EXPECT_EQ(c["trusted_key_servers"], json::array());
  EXPECT_EQ(c["bcrypt_rounds"], 4);
  EXPECT_EQ(c["max_event_delay_duration"], "24h");
  EXPECT_EQ(c["experimental_features"]["msc4143_enabled"], true);
  EXPECT_EQ(c["rc_message"]["per_second"], 100);
  EXPECT_EQ(c["rc_message"]["burst_count"], 500);
  for (const char* k : {"address", "account", "failed_attempts"}) {
    EXPECT_EQ(c["rc_login"][k]["burst_count"], 1000) << k;
  }
  EXPECT_TRUE(c.contains("rc_delayed_event_mgmt"));
  EXPECT_FALSE(c.contains("log_config"));
}

TEST(HomeserverConfig, TurnOnlyWhenSet) {
  json c = d::make_synapse_config(inputs());
  for (const char* k : {"turn_uris", "turn_shared_secret", "turn_user_lifetime", "turn_allow_guests"}) {
    EXPECT_FALSE(c.contains(k)) << k;
  }
  auto in = inputs();
  in.turn = hs::TurnConfig{{"turn:127.0.0.1:3478?transport=udp", "turn:127.0.0.1:3478?transport=tcp"},
                           "coturn-secret", 600};
  c = d::make_synapse_config(in);
  EXPECT_EQ(c["turn_uris"].size(), 2u);
  EXPECT_EQ(c["turn_uris"][0], "turn:127.0.0.1:3478?transport=udp");
  EXPECT_EQ(c["turn_shared_secret"], "coturn-secret");
  EXPECT_EQ(c["turn_user_lifetime"], "600s");
  EXPECT_EQ(c["turn_allow_guests"], true);
}

TEST(HomeserverConfig, OverridesAreMergePatched) {
  auto in = inputs();
  in.overrides = json::parse(R"({
    "rc_message": {"per_second": 0.5},
    "experimental_features": {"msc3266_enabled": true},
    "bcrypt_rounds": null,
    "presence": {"enabled": false}
  })");
  const json c = d::make_synapse_config(in);
  EXPECT_EQ(c["rc_message"]["per_second"], 0.5);
  EXPECT_EQ(c["rc_message"]["burst_count"], 500);  // siblings survive
  EXPECT_EQ(c["experimental_features"]["msc4143_enabled"], true);
  EXPECT_EQ(c["experimental_features"]["msc3266_enabled"], true);
  EXPECT_FALSE(c.contains("bcrypt_rounds"));  // null deletes
  EXPECT_EQ(c["presence"]["enabled"], false);
}

TEST(HomeserverConfig, SecretsAndPortSurviveRegeneration) {
  auto in = inputs();
  in.secrets = d::random_secrets();
  const json first = d::make_synapse_config(in);
  const auto again = d::secrets_from(first);
  EXPECT_EQ(again.registration_shared_secret, in.secrets.registration_shared_secret);
  EXPECT_EQ(again.macaroon_secret_key, in.secrets.macaroon_secret_key);
  EXPECT_EQ(again.form_secret, in.secrets.form_secret);
  EXPECT_EQ(d::port_from(first), std::optional<std::uint16_t>(18008));

  auto in2 = in;
  in2.secrets = again;
  in2.overrides = json{{"rc_message", {{"per_second", 1}}}};
  const json second = d::make_synapse_config(in2);
  EXPECT_EQ(second["registration_shared_secret"], first["registration_shared_secret"]);
  EXPECT_EQ(second["macaroon_secret_key"], first["macaroon_secret_key"]);
  EXPECT_EQ(second["rc_message"]["per_second"], 1);

  // Missing secrets are generated, and differ from each other.
  const auto fresh = d::secrets_from(json::object());
  EXPECT_EQ(fresh.registration_shared_secret.size(), 48u);
  EXPECT_NE(fresh.registration_shared_secret, fresh.macaroon_secret_key);
  EXPECT_EQ(d::port_from(json::object()), std::nullopt);
}

TEST(HomeserverConfig, RandomSecretsAreAlnumAndDistinct) {
  std::set<std::string> seen;
  for (int i = 0; i < 50; ++i) {
    const std::string s = d::random_alnum(32);
    ASSERT_EQ(s.size(), 32u);
    for (char ch : s) ASSERT_TRUE(std::isalnum(static_cast<unsigned char>(ch))) << s;
    seen.insert(s);
  }
  EXPECT_EQ(seen.size(), 50u);
}

TEST(HomeserverConfig, UnpaddedBase64) {
  unsigned char bytes[32];
  for (unsigned i = 0; i < 32; ++i) bytes[i] = static_cast<unsigned char>(i);
  // Python: base64.b64encode(bytes(range(32))).rstrip(b'=')
  EXPECT_EQ(d::unpadded_base64(bytes, 32), "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8");
  const unsigned char ab[] = {'a', 'b'};
  EXPECT_EQ(d::unpadded_base64(ab, 2), "YWI");
}

TEST(HomeserverConfig, SigningKeyFormat) {
  const std::string line = d::make_signing_key_line();
  EXPECT_TRUE(std::regex_match(line, std::regex("ed25519 a_[A-Za-z0-9]{4} [A-Za-z0-9+/]{43}\n")))
      << line;
  EXPECT_NE(line, d::make_signing_key_line());
}

TEST(HomeserverConfig, FilesRoundTrip) {
  TempDir tmp;
  ASSERT_FALSE(tmp.path().empty());
  const auto file = tmp.path() / "homeserver.yaml";
  auto missing = d::read_config(file);
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());

  const json c = d::make_synapse_config(inputs());
  ASSERT_TRUE(d::write_text_file(file, c.dump(2)).ok());
  EXPECT_EQ(std::filesystem::status(file).permissions() & std::filesystem::perms::others_read,
            std::filesystem::perms::none);
  auto back = d::read_config(file);
  ASSERT_TRUE(back.ok());
  ASSERT_TRUE(back->has_value());
  EXPECT_EQ(**back, c);

  std::ofstream(file) << "server_name: localhost\n";  // YAML written by hand
  auto yaml = d::read_config(file);
  ASSERT_FALSE(yaml.ok());
  EXPECT_EQ(yaml.error().kind, mxcall::ErrorKind::Process);

  const auto key = tmp.path() / "k.key";
  auto created = d::ensure_signing_key(key);
  ASSERT_TRUE(created.ok());
  EXPECT_TRUE(*created);
  auto again = d::ensure_signing_key(key);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(*again);

  ASSERT_TRUE(d::write_pid_file(tmp.path() / "x.pid", 4242).ok());
  EXPECT_EQ(d::read_pid_file(tmp.path() / "x.pid"), std::optional<pid_t>(4242));
  EXPECT_EQ(d::read_pid_file(tmp.path() / "nope.pid"), std::nullopt);
}

TEST(HomeserverConfig, TailFile) {
  TempDir tmp;
  const auto file = tmp.path() / "log";
  {
    std::ofstream out(file);
    for (int i = 1; i <= 30; ++i) out << "line " << i << "\n";
  }
  EXPECT_EQ(d::tail_file(file, 3), "line 28\nline 29\nline 30");
  EXPECT_EQ(d::tail_file(tmp.path() / "none", 3), "");
}

// Expected values from Python: hmac.new(key, msg, hashlib.sha1).hexdigest().
TEST(HomeserverMac, MatchesPythonHmac) {
  EXPECT_EQ(d::registration_mac("shared-secret-for-tests", "abc123nonce", "alice", "s3cret pw", false),
            "5a435aff0f74f34b18dfa9521598f0539a2ece83");
  EXPECT_EQ(d::registration_mac("shared-secret-for-tests", "abc123nonce", "alice", "s3cret pw", true),
            "aa4e6b1b298615be651c3a536a366713fe7ea267");
}

TEST(HomeserverMac, ErrorsFromAnswers) {
  mxcall::matrix::HttpResponse r;
  r.status = 400;
  r.body = R"({"errcode":"M_USER_IN_USE","error":"User ID already taken."})";
  auto e = d::error_from_response(r, "registering bob");
  EXPECT_EQ(e.kind, mxcall::ErrorKind::Matrix);
  EXPECT_EQ(e.errcode, "M_USER_IN_USE");
  EXPECT_EQ(e.http_status, 400);

  for (const char* body : {"", "<html>502</html>", "{\"errcode\": 5}", "[1,2", "null"}) {
    r.status = 502;
    r.body = body;
    e = d::error_from_response(r, "x");
    EXPECT_EQ(e.kind, mxcall::ErrorKind::InvalidResponse) << body;
    EXPECT_EQ(e.http_status, 502);
  }

  r = {};
  r.outcome = mxcall::matrix::HttpOutcome::ConnectFailed;
  r.error_text = "Couldn't connect to server";
  EXPECT_EQ(d::error_from_response(r, "x").kind, mxcall::ErrorKind::Network);
}
