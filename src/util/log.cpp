#include "mxcall/log.hpp"

#include <cstdlib>
#include <mutex>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace mxcall::log {

std::shared_ptr<spdlog::logger> get() {
  static std::once_flag once;
  static std::shared_ptr<spdlog::logger> logger;
  std::call_once(once, [] {
    logger = spdlog::get("mxcall");
    if (!logger) {
      logger = spdlog::stderr_color_mt("mxcall");
      logger->set_pattern("%H:%M:%S.%e %^%-5l%$ [%n] %v");
      logger->set_level(spdlog::level::info);
      // MXCALL_LOG=trace|debug|info|warn|error|off overrides the default (tests, debugging).
      if (const char* env = std::getenv("MXCALL_LOG")) logger->set_level(spdlog::level::from_str(env));
    }
  });
  return logger;
}

void set_level(Level level) {
  static constexpr spdlog::level::level_enum map[] = {
      spdlog::level::trace, spdlog::level::debug, spdlog::level::info,
      spdlog::level::warn,  spdlog::level::err,   spdlog::level::off};
  get()->set_level(map[static_cast<int>(level)]);
}

Level level_from_flags(bool verbose, bool quiet) {
  if (quiet) return Level::Warn;
  if (verbose) return Level::Debug;
  return Level::Info;
}

}  // namespace mxcall::log
