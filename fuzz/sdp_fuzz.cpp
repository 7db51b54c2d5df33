// The SDP helpers applied to a peer's SDP: the core's (hold, ICE ufrag, candidates into SDP)
// and the webrtcbin engine's rewrites (media/sdp_rewrite.hpp). Nothing may crash; rewrites
// are stable when applied twice, and no helper invents a line break inside a value.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "core/call.hpp"
#include "media/sdp_rewrite.hpp"

namespace {

void require_at(bool condition, const char* what, int line) {
  if (condition) return;
  std::fprintf(stderr, "sdp_fuzz.cpp:%d: property failed: %s\n", line, what);
  std::abort();
}
#define require(c) require_at((c), #c, __LINE__)

bool one_line(const std::string& s) { return s.find_first_of("\r\n") == std::string::npos; }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace mxcall;
  namespace sdp = media::sdp;
  const std::string text(reinterpret_cast<const char*>(data), size);

  // core/sdp_text.cpp
  (void)core::sdp_holds_peer(text);
  if (auto u = core::sdp_ice_ufrag(text)) require(one_line(*u));
  const std::vector<media::IceCandidate> candidates{
      {"candidate:1 1 udp 2130706431 10.0.0.1 5000 typ host", std::string("0"), 0},
      {"candidate:2 1 udp 1694498815 192.0.2.1 5001 typ srflx", std::nullopt, 1},
      {"candidate:3 1 udp 1 10.0.0.3 5002 typ host", std::string("nomatch"), std::nullopt},
      {"", std::nullopt, std::nullopt}};
  std::vector<media::IceCandidate> left;
  const std::string with = core::sdp_with_candidates(text, candidates, left);
  require(left.size() <= candidates.size());
  std::vector<media::IceCandidate> none;
  require(core::sdp_with_candidates(with, {}, none) == with);  // a second pass changes nothing

  // media/sdp_rewrite.cpp
  (void)sdp::looks_like_sdp(text);
  for (const auto& s : sdp::media_sections(text)) require(one_line(s.kind) && one_line(s.mid) && one_line(s.stream_id));
  const auto norm = sdp::normalise_directions(text);
  require(sdp::normalise_directions(norm.sdp).sdp == norm.sdp);
  if (auto role = sdp::setup_role(text)) require(one_line(*role));
  const std::string active = sdp::force_setup_active(text);
  require(sdp::force_setup_active(active) == active);
  const std::string replaced = sdp::replace_setup(text, "active");
  require(sdp::replace_setup(replaced, "active") == replaced);
  const std::string fp = "sha-256 00:11:22:33";
  const std::string fingerprinted = sdp::replace_fingerprint(text, fp);
  require(sdp::replace_fingerprint(fingerprinted, fp) == fingerprinted);
  const std::string dtmf = sdp::add_telephone_event(text, 101, 48000);
  require(sdp::add_telephone_event(dtmf, 101, 48000) == dtmf);
  for (const auto& s : sdp::media_sections(dtmf)) (void)sdp::telephone_event_pt(s, 48000);
  const std::string held = sdp::rewrite_directions(text, [](const sdp::MediaSection&, sdp::Direction d) {
    return sdp::intersect(d, sdp::Direction::SendOnly);
  });
  (void)core::sdp_holds_peer(held);
  if (auto u = sdp::ice_ufrag(text)) require(one_line(*u));
  const std::size_t half = text.size() / 2;
  (void)sdp::is_ice_restart(text.substr(0, half), text.substr(half));
  return 0;
}
