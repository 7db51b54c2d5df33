// A real Synapse on this machine, managed by mxcall: `mxcall homeserver ...` and the test
// fixtures both use this. Synapse comes from the project's venv (scripts/setup).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "mxcall/error.hpp"

namespace mxcall::homeserver {

struct TurnConfig {
  std::vector<std::string> uris;  // e.g. "turn:127.0.0.1:3478?transport=udp"
  std::string shared_secret;
  int user_lifetime_s = 86400;
};

struct SynapseOptions {
  std::filesystem::path dir;  // config, database, signing key, log, pid; created if missing
  std::uint16_t port = 0;     // 0: a free port is picked (kept in the config for restarts)
  // Python of a venv with matrix-synapse; empty: find_synapse_python().
  std::filesystem::path python;
  std::optional<TurnConfig> turn;
  // Merged (JSON merge-patch) over the generated config, e.g. tight rate limits in a test.
  nlohmann::json overrides = nlohmann::json::object();
  // The child gets SIGKILL when the starting thread's process dies (test fixtures).
  bool kill_with_parent = false;
  std::chrono::milliseconds start_timeout{60'000};
};

// Where `mxcall homeserver` keeps its state unless told otherwise:
// $XDG_DATA_HOME/mxcall/homeserver or ~/.local/share/mxcall/homeserver.
std::filesystem::path default_dir();

// $MXCALL_SYNAPSE_PYTHON, else the source tree's .venv, else ~/.local/share/mxcall/venv.
Result<std::filesystem::path> find_synapse_python();

struct SynapseStatus {
  bool running = false;
  pid_t pid = 0;
  std::uint16_t port = 0;
  std::string base_url;  // http://127.0.0.1:PORT
};

class LocalSynapse {
 public:
  // Generates the config on first use, starts Synapse in the background and waits until
  // /_matrix/client/versions answers. If a Synapse from this dir is already running and
  // answering, attaches to it instead (reused() is then true).
  static Result<LocalSynapse> start(const SynapseOptions& options);
  // Attaches to the Synapse running from dir, if any.
  static Result<LocalSynapse> attach(const std::filesystem::path& dir);
  static Result<SynapseStatus> status(const std::filesystem::path& dir);
  // Stops the Synapse running from dir (SIGTERM, then SIGKILL after a grace period).
  static Status stop(const std::filesystem::path& dir);

  const std::string& base_url() const { return base_url_; }
  std::uint16_t port() const { return port_; }
  pid_t pid() const { return pid_; }
  bool reused() const { return reused_; }
  const std::filesystem::path& dir() const { return options_.dir; }
  const std::string& server_name() const { return server_name_; }  // "localhost"

  Status stop();                  // graceful
  Status kill();                  // SIGKILL, waits until gone (tests: a crash)
  Status restart();               // start again on the same port with the same database
  bool alive() const;

  // Registers through the shared-secret admin API; returns "@localpart:localhost".
  Result<std::string> register_user(const std::string& localpart, const std::string& password,
                                    bool admin = false) const;

 private:
  SynapseOptions options_;
  std::string base_url_;
  std::string server_name_ = "localhost";
  std::string shared_secret_;
  std::uint16_t port_ = 0;
  pid_t pid_ = 0;
  bool reused_ = false;
};

}  // namespace mxcall::homeserver
