// libFuzzer entry point for the MSC3401 parsers: the call state event, the member state event
// (and its read-modify-write), and the to-device call envelope.
// Input: a type on the first line, the JSON content after it. org.matrix.msc3401.call and
// org.matrix.msc3401.call.member select the state parsers; any other type is read as a
// to-device m.call.* message. Whatever parses must serialise, survive a trip through JSON
// text, parse again, and serialise to the same content.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "events/group_events.hpp"
#include "util/json_guard.hpp"

namespace {

using namespace mxcall;

void require(bool condition) {
  if (!condition) std::abort();
}

events::Json reread(const events::Json& content) {
  auto again = util::parse_untrusted_json(content.dump());  // dump throws (crashes) on bad UTF-8
  require(again.ok());
  return *again;
}

void call_state(const events::Json& json) {
  auto state = events::parse_group_call_state(json);
  if (!state.ok()) return;
  const events::Json content = events::to_content(*state);
  auto again = events::parse_group_call_state(reread(content));
  require(again.ok());
  require(again->terminated == state->terminated && again->intent == state->intent &&
          again->call_type == state->call_type && again->name == state->name);
  require(events::to_content(*again) == content);
}

void member(const events::Json& json) {
  auto parsed = events::parse_group_call_member(json);
  if (!parsed.ok()) return;
  const events::Json content = events::to_content(*parsed);
  auto again = events::parse_group_call_member(reread(content));
  require(again.ok());
  require(again->calls.size() == parsed->calls.size());
  require(events::to_content(*again) == content);

  // Read-modify-write for a device at a fixed instant: exactly our entry in our call, nothing
  // expired, no empty call; removing it again leaves no trace of it.
  constexpr std::int64_t now = 1'767'225'600'000;
  const std::string conf = parsed->calls.empty() ? "conf" : parsed->calls.front().call_id;
  events::MemberDevice own{"FUZZDEV", "fuzzsession", now + 3'600'000, {{"m.usermedia", events::Json::object()}}, false,
                           events::Json::object()};
  auto joined = events::updated_member_content(*parsed, conf, own.device_id, own, now);
  auto joined_again = events::parse_group_call_member(reread(events::to_content(joined)));
  require(joined_again.ok());
  const auto* call = events::find_call(*joined_again, conf);
  require(call != nullptr);
  std::size_t mine = 0;
  for (const auto& c : joined_again->calls) {
    require(!c.devices.empty());
    for (const auto& d : c.devices) {
      require(!d.expired(now));
      if (c.call_id == conf && d.device_id == own.device_id) ++mine;
    }
  }
  require(mine == 1);
  auto left = events::updated_member_content(*joined_again, conf, own.device_id, std::nullopt, now);
  if (const auto* c = events::find_call(left, conf)) require(events::find_device(*c, own.device_id) == nullptr);
}

void envelope(std::string_view type, const events::Json& json) {
  auto env = events::parse_to_device_call(type, json);
  if (!env.ok()) return;
  const events::Json content = events::to_content(*env);
  auto again = events::parse_to_device_call(events::event_type(env->event), reread(content));
  require(again.ok());
  require(again->conf_id == env->conf_id && again->device_id == env->device_id &&
          again->sender_session_id == env->sender_session_id && again->dest_session_id == env->dest_session_id &&
          again->seq == env->seq && again->event.index() == env->event.index());
  require(events::to_content(*again) == content);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto newline = input.find('\n');
  std::string_view type = input.substr(0, newline);
  const std::string_view text = newline == std::string_view::npos ? std::string_view() : input.substr(newline + 1);
  if (!type.empty() && type.back() == '\r') type.remove_suffix(1);

  auto json = util::parse_untrusted_json(text, util::JsonLimits{1u << 20, 64});
  if (!json.ok()) return 0;
  if (type == events::type::kGroupCall) call_state(*json);
  else if (type == events::type::kGroupCallMember) member(*json);
  else envelope(type, *json);
  return 0;
}
