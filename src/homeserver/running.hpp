// What is running from a homeserver directory: the pid file, whether its process is really
// our Synapse, and whether it answers HTTP yet.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "mxcall/error.hpp"
#include "mxcall/homeserver.hpp"

namespace mxcall::homeserver::detail {

inline constexpr const char* kPidFile = "homeserver.pid";
inline constexpr const char* kLogFile = "homeserver.log";
inline constexpr const char* kLockFile = "homeserver.lock";

std::string base_url_for(std::uint16_t port);  // http://127.0.0.1:PORT

// True when pid runs Synapse with dir's config (not a recycled pid).
bool is_synapse_of(pid_t pid, const std::filesystem::path& dir);

// The pid of the Synapse running with dir's config: the pid file's, or, when that is
// missing or stale (deleted, overwritten), one found in /proc. With repair set, the pid file
// is rewritten to match (or removed when nothing runs).
std::optional<pid_t> live_synapse_pid(const std::filesystem::path& dir, bool repair);

// One GET /_matrix/client/versions; true on 200.
bool versions_ok(std::uint16_t port, std::chrono::milliseconds timeout);

// Polls every 50 ms until Synapse answers. Fails early when pid exits; on timeout, kills pid
// when kill_on_timeout. Errors carry the end of dir's homeserver.log.
Status wait_until_ready(pid_t pid, std::uint16_t port, const std::filesystem::path& dir,
                        std::chrono::milliseconds timeout, bool kill_on_timeout);

// Spawns Synapse on dir's (already written) config, records its pid and waits until it
// answers. The previous homeserver.log is kept as homeserver.log.1.
Result<pid_t> launch_synapse(const SynapseOptions& options, const std::filesystem::path& dir,
                             std::uint16_t port);

}  // namespace mxcall::homeserver::detail
