// Parsing of untrusted JSON: bounded size and nesting depth, never an exception.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include <nlohmann/json.hpp>

#include "mxcall/error.hpp"

namespace mxcall::util {

struct JsonLimits {
  std::size_t max_bytes = 64u << 20;
  std::size_t max_depth = 64;  // Matrix events nest a handful of levels; 64 is generous
};

// Cheap pre-scan: false when brackets nest deeper than max_depth (outside strings).
bool json_depth_within(std::string_view text, std::size_t max_depth);

Result<nlohmann::json> parse_untrusted_json(std::string_view text, const JsonLimits& limits = {});

// Typed field access on untrusted objects: nullptr/nullopt when absent or of another type.
const std::string* get_string(const nlohmann::json& obj, const char* key);
const nlohmann::json* get_object(const nlohmann::json& obj, const char* key);
const nlohmann::json* get_array(const nlohmann::json& obj, const char* key);
std::optional<std::int64_t> get_int(const nlohmann::json& obj, const char* key);

}  // namespace mxcall::util
