// libFuzzer entry point for the m.call.* event parser.
// Input: the event type on the first line, the JSON content after it. Whatever parses must
// serialise with to_content, survive a trip through JSON text, parse again as the same type,
// and serialise to the same content (to_content is a fixed point after one round).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "events/call_events.hpp"
#include "util/json_guard.hpp"

namespace {

void require(bool condition) {
  if (!condition) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace mxcall;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto newline = input.find('\n');
  std::string_view type = input.substr(0, newline);
  const std::string_view text = newline == std::string_view::npos ? std::string_view() : input.substr(newline + 1);
  if (!type.empty() && type.back() == '\r') type.remove_suffix(1);

  auto json = util::parse_untrusted_json(text, util::JsonLimits{1u << 20, 64});
  if (!json.ok()) return 0;
  auto event = events::parse_call_event(type, *json);
  if (!event.ok()) return 0;

  const events::Json content = events::to_content(*event);
  const std::string wire = content.dump();  // throws (and so crashes) on invalid UTF-8
  auto reread = util::parse_untrusted_json(wire);
  require(reread.ok());
  auto again = events::parse_call_event(events::event_type(*event), *reread);
  require(again.ok());
  require(again->index() == event->index());
  require(events::common_of(*again).call_id == events::common_of(*event).call_id);
  require(events::common_of(*again).party_id == events::common_of(*event).party_id);
  require(events::to_content(*again) == content);
  return 0;
}
