#include "homeserver/running.hpp"

#include <unistd.h>

#include <system_error>
#include <thread>

#include "homeserver/process.hpp"
#include "mxcall/homeserver.hpp"
#include "homeserver/synapse_config.hpp"
#include "matrix/curl_http_client.hpp"
#include "util/logging.hpp"

namespace mxcall::homeserver::detail {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::string base_url_for(std::uint16_t port) { return "http://127.0.0.1:" + std::to_string(port); }

bool is_synapse_of(pid_t pid, const fs::path& dir) {
  // spawn() passes the absolute config path as an argument.
  return process_alive(pid) && cmdline_has_arg(pid, (dir / kConfigFile).string());
}

std::optional<pid_t> live_synapse_pid(const fs::path& dir, bool repair) {
  const fs::path file = dir / kPidFile;
  const auto recorded = read_pid_file(file);
  if (recorded && is_synapse_of(*recorded, dir)) return recorded;
  std::optional<pid_t> found;
  for (pid_t pid : find_processes_with_arg((dir / kConfigFile).string())) {
    // Only a Synapse counts (not, say, an editor with the config open).
    if (cmdline_has_arg(pid, "synapse.app.homeserver")) {
      found = pid;
      break;
    }
  }
  if (repair) {
    std::error_code ec;
    if (found) {
      MXLOG_WARN("pid file {} was {}; found Synapse pid {} running from {}", file.string(),
                 recorded ? "stale" : "missing", *found, dir.string());
      (void)write_pid_file(file, *found);
    } else if (fs::exists(file, ec)) {
      MXLOG_DEBUG("removing stale pid file {}", file.string());
      fs::remove(file, ec);
    }
  }
  return found;
}

namespace {

bool versions_ok(matrix::CurlHttpClient& http, std::uint16_t port, std::chrono::milliseconds timeout) {
  matrix::HttpRequest req;
  req.url = base_url_for(port) + "/_matrix/client/versions";
  req.timeout = timeout;
  const auto resp = http.perform(req);
  return resp.outcome == matrix::HttpOutcome::Ok && resp.status == 200;
}

Error startup_error(const std::string& what, const fs::path& dir) {
  std::string msg = what;
  const std::string tail = tail_file(dir / kLogFile, 20);
  if (tail.empty()) {
    msg += " (" + (dir / kLogFile).string() + " is empty)";
  } else {
    msg += "; last lines of " + (dir / kLogFile).string() + ":\n" + tail;
  }
  return Error::make(ErrorKind::Process, std::move(msg));
}

void rotate_log(const fs::path& dir) {
  std::error_code ec;
  const fs::path log = dir / kLogFile;
  if (fs::exists(log, ec)) fs::rename(log, dir / (std::string(kLogFile) + ".1"), ec);
}

long long ms_since(Clock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
}

}  // namespace

bool versions_ok(std::uint16_t port, std::chrono::milliseconds timeout) {
  matrix::CurlHttpClient http(1u << 20);
  return versions_ok(http, port, timeout);
}

Status wait_until_ready(pid_t pid, std::uint16_t port, const fs::path& dir,
                        std::chrono::milliseconds timeout, bool kill_on_timeout) {
  matrix::CurlHttpClient http(1u << 20);
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    if (versions_ok(http, port, 2s)) return ok_status();
    if (!process_alive(pid)) {
      return startup_error("Synapse (pid " + std::to_string(pid) + ") exited during startup", dir);
    }
    if (Clock::now() >= deadline) {
      if (kill_on_timeout) kill_now(pid);
      return startup_error("Synapse (pid " + std::to_string(pid) + ") did not answer on port " +
                               std::to_string(port) + " within " +
                               std::to_string(timeout.count()) + " ms",
                           dir);
    }
    std::this_thread::sleep_for(50ms);
  }
}

Result<pid_t> launch_synapse(const SynapseOptions& options, const fs::path& dir, std::uint16_t port) {
  fs::path python = options.python;
  if (python.empty()) {
    auto found = find_synapse_python();
    if (!found) return found.error();
    python = *found;
  }
  const auto t0 = Clock::now();
  rotate_log(dir);
  SpawnOptions child;
  child.program = python;
  child.args = {"-m", "synapse.app.homeserver", "-c", (dir / kConfigFile).string()};
  child.cwd = dir;
  child.output = dir / kLogFile;
  child.kill_with_parent = options.kill_with_parent;
  child.new_session = !options.kill_with_parent;  // the CLI's Synapse outlives mxcall
  auto pid = spawn(child);
  if (!pid) return pid.error();
  auto pid_written = write_pid_file(dir / kPidFile, *pid);
  if (!pid_written) {
    kill_now(*pid);
    return pid_written.error();
  }
  auto ready = wait_until_ready(*pid, port, dir, options.start_timeout, true);
  if (!ready) {
    std::error_code ec;
    fs::remove(dir / kPidFile, ec);
    return ready.error();
  }
  MXLOG_INFO("Synapse started: pid {} on port {} in {} ms", *pid, port, ms_since(t0));
  return pid;
}

}  // namespace mxcall::homeserver::detail
