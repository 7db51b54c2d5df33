#include "matrix/responses.hpp"

#include <algorithm>

#include "mxcall/matrix/sync.hpp"
#include "util/json_guard.hpp"

namespace mxcall::matrix {

namespace {

constexpr std::size_t kMaxDeviceId = 255;
constexpr std::size_t kMaxToken = 4096;
constexpr std::size_t kMaxTurnField = 1024;

// Visible ASCII and UTF-8 bytes only: no controls, no spaces (header and URI safe).
bool printable(const std::string& s, std::size_t max) {
  return !s.empty() && s.size() <= max && std::none_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u <= 0x20 || u == 0x7f;
  });
}

Error invalid(const std::string& what) { return Error::make(ErrorKind::InvalidResponse, what); }

}  // namespace

Result<LoginResponse> parse_login_response(const Json& body) {
  if (!body.is_object()) return invalid("login: the answer is not an object");
  const auto* uid = util::get_string(body, "user_id");
  const auto* dev = util::get_string(body, "device_id");
  const auto* tok = util::get_string(body, "access_token");
  if (!uid || !is_valid_user_id(*uid)) return invalid("login: answer has no valid user_id");
  if (!dev || !printable(*dev, kMaxDeviceId)) return invalid("login: answer has no usable device_id");
  if (!tok || !printable(*tok, kMaxToken)) return invalid("login: answer has no usable access_token");
  return LoginResponse{*uid, *dev, *tok};
}

Result<std::optional<TurnServer>> parse_turn_server(const Json& body) {
  if (!body.is_object()) return invalid("voip/turnServer: the answer is not an object");
  const auto* uris = util::get_array(body, "uris");
  if (!uris || uris->empty()) return std::optional<TurnServer>{};
  TurnServer t;
  for (const auto& u : *uris)
    if (u.is_string() && printable(u.get_ref<const std::string&>(), kMaxTurnField)) t.uris.push_back(u.get<std::string>());
  const auto* user = util::get_string(body, "username");
  const auto* pass = util::get_string(body, "password");
  const auto ttl = util::get_int(body, "ttl");
  if (!user || !pass || !ttl || *ttl <= 0 || t.uris.empty() || user->size() > kMaxTurnField || pass->size() > kMaxTurnField)
    return invalid("voip/turnServer: answer lacks usable username, password, uris or ttl");
  t.username = *user;
  t.password = *pass;
  t.ttl_s = *ttl;
  return std::optional<TurnServer>(std::move(t));
}

}  // namespace mxcall::matrix
