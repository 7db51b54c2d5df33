// GET /voip/turnServer answers, followed all the way to the URLs webrtcbin gets: no control
// character or space may reach them, and every URL keeps its scheme.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "matrix/responses.hpp"
#include "media/ice_servers.hpp"
#include "util/json_guard.hpp"

namespace {

void require(bool condition) {
  if (!condition) std::abort();
}

bool uri_safe(const std::string& s) {
  return std::none_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f; });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace mxcall;
  auto json = util::parse_untrusted_json(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!json.ok()) return 0;
  auto turn = matrix::parse_turn_server(*json);
  if (!turn.ok() || !*turn) return 0;
  const matrix::TurnServer& t = **turn;
  require(!t.uris.empty() && t.ttl_s > 0);
  const auto gst = media::to_gst_ice_servers({media::IceServer{t.uris, t.username, t.password}});
  if (gst.stun) require(gst.stun->rfind("stun://", 0) == 0 && uri_safe(*gst.stun));
  for (const auto& url : gst.turn) {
    require(url.rfind("turn://", 0) == 0 || url.rfind("turns://", 0) == 0);
    require(uri_safe(url));
  }
  return 0;
}
