// POST /login answers: whatever parses is a usable identity (a user id, and a device id and
// access token that are safe in a header and in call events).
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "matrix/responses.hpp"
#include "mxcall/matrix/sync.hpp"
#include "util/json_guard.hpp"

namespace {

void require(bool condition) {
  if (!condition) std::abort();
}

bool header_safe(const std::string& s) {
  return std::none_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f; });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace mxcall;
  auto json = util::parse_untrusted_json(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!json.ok()) return 0;
  auto login = matrix::parse_login_response(*json);
  if (!login.ok()) return 0;
  require(matrix::is_valid_user_id(login->user_id));
  require(!login->device_id.empty() && header_safe(login->device_id));
  require(!login->access_token.empty() && header_safe(login->access_token));
  return 0;
}
