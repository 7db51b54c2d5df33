// LocalSynapse: start (or attach to) the Synapse of a directory, stop, kill, restart.
#include <system_error>

#include "homeserver/process.hpp"
#include "homeserver/running.hpp"
#include "homeserver/shared_secret_register.hpp"
#include "homeserver/synapse_config.hpp"
#include "matrix/curl_http_client.hpp"
#include "mxcall/homeserver.hpp"
#include "util/logging.hpp"

namespace mxcall::homeserver {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto kStopGrace = 10s;

Error process_error(std::string msg) { return Error::make(ErrorKind::Process, std::move(msg)); }

long long ms_since(Clock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
}

// The absolute, normalized form of dir, created if missing.
Result<fs::path> prepare_dir(const fs::path& dir) {
  if (dir.empty()) return Error::make(ErrorKind::InvalidArgument, "no homeserver directory given");
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return process_error("cannot create " + dir.string() + ": " + ec.message());
  fs::path abs = fs::weakly_canonical(fs::absolute(dir, ec), ec);
  if (ec) return process_error("cannot resolve " + dir.string() + ": " + ec.message());
  return abs;
}

std::string secret_of(const json& config) {
  auto it = config.find("registration_shared_secret");
  return it != config.end() && it->is_string() ? it->get<std::string>() : std::string{};
}


// The port for a fresh start: the requested one, else the one kept in the old config (unless
// another program took it meanwhile, after a reboot say), else a free one.
Result<std::uint16_t> choose_port(const SynapseOptions& options, const std::optional<json>& old,
                                  const fs::path& dir) {
  std::uint16_t port = options.port;
  if (port == 0 && old) {
    port = detail::port_from(*old).value_or(0);
    if (port != 0 && !detail::port_is_free(port)) {
      MXLOG_WARN("port {} of {} is in use by another program; picking a new one", port,
                 dir.string());
      port = 0;
    }
  }
  if (port == 0) return detail::pick_free_port();
  // Checked up front: otherwise the readiness poll would see the other server answer.
  if (!detail::port_is_free(port)) {
    return process_error("port " + std::to_string(port) +
                         " on 127.0.0.1 is in use by another program; choose another port");
  }
  return port;
}

// Regenerates the config (keeping the old secrets) and writes it when it changed.
Result<json> update_config(const SynapseOptions& options, const std::optional<json>& old,
                           const fs::path& dir, std::uint16_t port) {
  detail::ConfigInputs in;
  in.dir = dir;
  in.port = port;
  in.secrets = old ? detail::secrets_from(*old) : detail::random_secrets();
  in.turn = options.turn;
  in.overrides = options.overrides;
  json config = detail::make_synapse_config(in);
  if (!old || *old != config) {
    const fs::path file = dir / detail::kConfigFile;
    auto written = detail::write_text_file(file, config.dump(2) + "\n");
    if (!written) return written.error();
    MXLOG_INFO("{} Synapse config {} (port {})", old ? "updated" : "wrote new", file.string(), port);
  }
  auto key = detail::ensure_signing_key(dir / detail::kSigningKeyFile);
  if (!key) return key.error();
  return config;
}

}  // namespace

Result<LocalSynapse> LocalSynapse::start(const SynapseOptions& options) {
  // Nothing below should throw; this is the last line of defence for the no-throw API.
  try {
    auto dir = prepare_dir(options.dir);
    if (!dir) return dir.error();
    auto lock = detail::FileLock::acquire(*dir / detail::kLockFile);
    if (!lock) return lock.error();
    auto existing = detail::read_config(*dir / detail::kConfigFile);
    if (!existing) return existing.error();
    const std::optional<json>& old = *existing;

    LocalSynapse s;
    s.options_ = options;
    s.options_.dir = *dir;

    // Already running from this directory: attach.
    if (const auto pid = detail::live_synapse_pid(*dir, true)) {
      const auto port = old ? detail::port_from(*old) : std::nullopt;
      if (!port) {
        return process_error("Synapse pid " + std::to_string(*pid) + " runs from " + dir->string() +
                             " but its config has no listener port; stop it first");
      }
      auto ready = detail::wait_until_ready(*pid, *port, *dir, options.start_timeout, false);
      if (!ready) return ready.error();
      if (options.port != 0 && options.port != *port) {
        MXLOG_WARN("Synapse in {} already runs on port {}, not the requested {}", dir->string(),
                   *port, options.port);
      }
      detail::ConfigInputs wanted{*dir, *port, detail::secrets_from(*old), options.turn,
                                  options.overrides};
      if (detail::make_synapse_config(wanted) != *old) {
        MXLOG_WARN("the running Synapse uses an older config; stop and start it to apply the "
                   "new options");
      }
      s.pid_ = *pid;
      s.port_ = *port;
      s.shared_secret_ = secret_of(*old);
      s.reused_ = true;
    } else {
      auto port = choose_port(options, old, *dir);
      if (!port) return port.error();
      auto config = update_config(options, old, *dir, *port);
      if (!config) return config.error();
      auto launched = detail::launch_synapse(options, *dir, *port);
      if (!launched) return launched.error();
      s.pid_ = *launched;
      s.port_ = *port;
      s.shared_secret_ = secret_of(*config);
    }
    s.options_.port = s.port_;
    s.base_url_ = detail::base_url_for(s.port_);
    if (s.reused_) MXLOG_INFO("reusing Synapse pid {} on {}", s.pid_, s.base_url_);
    return s;
  } catch (const MxcallError& e) {
    return e.error();
  } catch (const std::exception& e) {
    return process_error(std::string("starting Synapse: ") + e.what());
  }
}

Result<LocalSynapse> LocalSynapse::attach(const fs::path& dir) {
  std::error_code ec;
  const fs::path abs = fs::weakly_canonical(fs::absolute(dir, ec), ec);
  auto config = detail::read_config(abs / detail::kConfigFile);
  if (!config) return config.error();
  const auto pid = detail::live_synapse_pid(abs, false);
  const auto port = *config ? detail::port_from(**config) : std::nullopt;
  if (!pid || !port) {
    return process_error("no Synapse is running from " + abs.string() +
                         "; start one with `mxcall homeserver start --dir " + abs.string() + "`");
  }
  auto ready = detail::wait_until_ready(*pid, *port, abs, 10s, false);
  if (!ready) return ready.error();
  LocalSynapse s;
  s.options_.dir = abs;
  s.options_.port = *port;
  s.pid_ = *pid;
  s.port_ = *port;
  s.base_url_ = detail::base_url_for(*port);
  s.shared_secret_ = secret_of(**config);
  s.reused_ = true;
  return s;
}

Result<SynapseStatus> LocalSynapse::status(const fs::path& dir) {
  std::error_code ec;
  const fs::path abs = fs::weakly_canonical(fs::absolute(dir, ec), ec);
  auto config = detail::read_config(abs / detail::kConfigFile);
  if (!config) return config.error();
  SynapseStatus st;
  if (*config) st.port = detail::port_from(**config).value_or(0);
  if (st.port != 0) st.base_url = detail::base_url_for(st.port);
  if (const auto pid = detail::live_synapse_pid(abs, false)) {
    st.running = true;
    st.pid = *pid;
  }
  return st;
}

Status LocalSynapse::stop(const fs::path& dir) {
  std::error_code ec;
  const fs::path abs = fs::weakly_canonical(fs::absolute(dir, ec), ec);
  if (!fs::is_directory(abs, ec)) {
    MXLOG_INFO("no Synapse in {}: nothing to stop", abs.string());
    return ok_status();
  }
  auto lock = detail::FileLock::acquire(abs / detail::kLockFile);
  if (!lock) return lock.error();
  const auto pid = detail::live_synapse_pid(abs, true);
  if (!pid) {
    MXLOG_INFO("Synapse in {} is not running", abs.string());
    return ok_status();
  }
  const auto t0 = Clock::now();
  if (!detail::terminate(*pid, kStopGrace)) {
    return process_error("Synapse pid " + std::to_string(*pid) + " did not exit after SIGKILL");
  }
  fs::remove(abs / detail::kPidFile, ec);
  MXLOG_INFO("Synapse pid {} stopped in {} ms", *pid, ms_since(t0));
  return ok_status();
}

Status LocalSynapse::stop() {
  if (!alive()) {
    // Already gone (killed, crashed, or stopped through another handle).
    if (detail::read_pid_file(dir() / detail::kPidFile) == pid_) {
      std::error_code ec;
      fs::remove(dir() / detail::kPidFile, ec);
    }
    return ok_status();
  }
  const auto t0 = Clock::now();
  if (!detail::terminate(pid_, kStopGrace)) {
    return process_error("Synapse pid " + std::to_string(pid_) + " did not exit after SIGKILL");
  }
  std::error_code ec;
  fs::remove(dir() / detail::kPidFile, ec);
  MXLOG_INFO("Synapse pid {} stopped in {} ms", pid_, ms_since(t0));
  return ok_status();
}

Status LocalSynapse::kill() {
  const bool was_alive = alive();
  if (was_alive && !detail::kill_now(pid_)) {
    return process_error("Synapse pid " + std::to_string(pid_) + " survived SIGKILL");
  }
  std::error_code ec;
  if (detail::read_pid_file(dir() / detail::kPidFile) == pid_) fs::remove(dir() / detail::kPidFile, ec);
  if (was_alive) MXLOG_INFO("Synapse pid {} killed", pid_);
  return ok_status();
}

Status LocalSynapse::restart() {
  auto stopped = stop();
  if (!stopped) return stopped.error();
  SynapseOptions opts = options_;
  opts.port = port_;
  auto started = start(opts);
  if (!started) return started.error();
  *this = std::move(*started);
  return ok_status();
}

bool LocalSynapse::alive() const { return pid_ > 0 && detail::is_synapse_of(pid_, dir()); }

Result<std::string> LocalSynapse::register_user(const std::string& localpart,
                                                const std::string& password, bool admin) const {
  matrix::CurlHttpClient http(1u << 20);
  auto user = detail::register_with_shared_secret(http, base_url_, shared_secret_, localpart,
                                                  password, admin);
  if (user) MXLOG_DEBUG("registered {}{}", *user, admin ? " (admin)" : "");
  return user;
}

}  // namespace mxcall::homeserver
