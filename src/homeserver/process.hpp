// Process plumbing for the local Synapse: spawning a detached or parent-bound child, pid
// files, liveness checks that see through zombies, graceful and forced termination, and
// picking a free TCP port.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "mxcall/error.hpp"

namespace mxcall::homeserver::detail {

struct SpawnOptions {
  std::filesystem::path program;
  std::vector<std::string> args;        // argv[1..]
  std::filesystem::path cwd;            // empty: inherit
  std::filesystem::path output;         // stdout and stderr are appended here
  bool new_session = false;             // setsid(): outlives the terminal and the parent
  bool kill_with_parent = false;        // PR_SET_PDEATHSIG = SIGKILL
};

// fork + exec. Returns once exec succeeded (or reports why it failed).
Result<pid_t> spawn(const SpawnOptions& options);

// True while pid runs. Reaps pid if it is an exited child of ours; zombies of other
// parents count as gone.
bool process_alive(pid_t pid);

// True when one of pid's command-line arguments equals arg (guards against pid reuse).
bool cmdline_has_arg(pid_t pid, const std::string& arg);

// Live processes (other than zombies) with arg among their command-line arguments.
std::vector<pid_t> find_processes_with_arg(const std::string& arg);

// Blocks until pid is gone or timeout passes; true when gone.
bool wait_gone(pid_t pid, std::chrono::milliseconds timeout);

// SIGTERM, up to grace for it to exit, then SIGKILL and wait. True when pid is gone.
bool terminate(pid_t pid, std::chrono::milliseconds grace);

// SIGKILL and wait until gone.
bool kill_now(pid_t pid);

// The pid in file, if it holds one.
std::optional<pid_t> read_pid_file(const std::filesystem::path& file);
Status write_pid_file(const std::filesystem::path& file, pid_t pid);

// A TCP port on 127.0.0.1 that nothing listens on right now.
Result<std::uint16_t> pick_free_port();
// True when a listener could bind 127.0.0.1:port now (with SO_REUSEADDR, as Twisted does).
bool port_is_free(std::uint16_t port);

// The last max_lines lines of a text file ("" when unreadable).
std::string tail_file(const std::filesystem::path& file, std::size_t max_lines);

// An exclusive flock on a file, released on destruction (close). Serializes concurrent
// `mxcall homeserver start` runs on one directory.
class FileLock {
 public:
  static Result<FileLock> acquire(const std::filesystem::path& file);
  FileLock(FileLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  FileLock& operator=(FileLock&&) = delete;
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  ~FileLock();

 private:
  explicit FileLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace mxcall::homeserver::detail
