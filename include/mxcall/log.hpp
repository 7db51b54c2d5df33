// Logging: one spdlog logger named "mxcall" shared by every layer.
#pragma once

#include <memory>
#include <string_view>

namespace spdlog { class logger; }

namespace mxcall::log {

enum class Level { Trace, Debug, Info, Warn, Error, Off };

// Sets the level of the "mxcall" logger (creating it on stderr if needed).
void set_level(Level level);
Level level_from_flags(bool verbose, bool quiet);

// The shared logger; never null.
std::shared_ptr<spdlog::logger> get();

}  // namespace mxcall::log
