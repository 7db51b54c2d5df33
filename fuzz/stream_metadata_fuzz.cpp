// sdp_stream_metadata on its own (MSC3077 / MSC3291, stable and unstable keys): bounded, and
// what parses survives a trip through JSON unchanged.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "events/call_event_detail.hpp"
#include "util/json_guard.hpp"

namespace {

void require(bool condition) {
  if (!condition) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace mxcall;
  auto json = util::parse_untrusted_json(std::string_view(reinterpret_cast<const char*>(data), size),
                                         util::JsonLimits{1u << 20, 64});
  if (!json.ok() || !json->is_object()) return 0;
  auto meta = events::detail::parse_stream_metadata("m.call.invite", *json);
  if (!meta.ok() || !*meta) return 0;
  require((*meta)->size() <= events::kMaxStreamsInMetadata);
  events::Json content = events::Json::object();
  content["sdp_stream_metadata"] = events::detail::stream_metadata_to_json(**meta);
  auto again = events::detail::parse_stream_metadata("m.call.invite", util::parse_untrusted_json(content.dump()).value());
  require(again.ok() && *again && **again == **meta);
  return 0;
}
