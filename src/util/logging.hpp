// Internal logging macros over the shared "mxcall" logger.
#pragma once

#include <spdlog/spdlog.h>

#include "mxcall/log.hpp"

#define MXLOG_TRACE(...) ::mxcall::log::get()->trace(__VA_ARGS__)
#define MXLOG_DEBUG(...) ::mxcall::log::get()->debug(__VA_ARGS__)
#define MXLOG_INFO(...) ::mxcall::log::get()->info(__VA_ARGS__)
#define MXLOG_WARN(...) ::mxcall::log::get()->warn(__VA_ARGS__)
#define MXLOG_ERROR(...) ::mxcall::log::get()->error(__VA_ARGS__)
