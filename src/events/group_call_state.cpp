// org.matrix.msc3401.call: the room's group call (state key = conf id).
#include <cmath>

#include "events/call_event_detail.hpp"
#include "events/group_events.hpp"

namespace mxcall::events {
namespace {

constexpr const char* kIntent = "m.intent";
constexpr const char* kType = "m.type";
constexpr const char* kTerminated = "m.terminated";
constexpr const char* kName = "m.name";

// JavaScript truthiness: js-sdk writes "call_ended", Hydrogen writes true.
bool truthy(const Json& v) {
  if (v.is_boolean()) return v.get<bool>();
  if (v.is_string()) return !v.get_ref<const std::string&>().empty();
  if (v.is_number_unsigned()) return v.get<std::uint64_t>() != 0;
  if (v.is_number_integer()) return v.get<std::int64_t>() != 0;
  if (v.is_number_float()) {
    const double d = v.get<double>();
    return d != 0.0 && !std::isnan(d);
  }
  return v.is_object() || v.is_array();
}

const std::string* string_field(const Json& content, const char* key) {
  const Json* v = detail::find_field(content, key);
  return v && v->is_string() ? v->get_ptr<const std::string*>() : nullptr;
}

}  // namespace

const char* to_string(GroupCallIntent i) {
  switch (i) {
    case GroupCallIntent::Ring: return "m.ring";
    case GroupCallIntent::Prompt: return "m.prompt";
    case GroupCallIntent::Room: return "m.room";
  }
  return "?";
}

const char* to_string(GroupCallType t) { return t == GroupCallType::Video ? "m.video" : "m.voice"; }

bool is_valid_group_id(std::string_view s) {
  return !s.empty() && s.size() <= kMaxGroupIdBytes && !detail::has_control_chars(s) && detail::is_valid_utf8(s);
}

Result<GroupCallState> parse_group_call_state(const Json& content) {
  if (!content.is_object()) return detail::field_error(type::kGroupCall, "content is not a JSON object");
  GroupCallState s;
  if (const auto* intent = string_field(content, kIntent)) {
    if (*intent == "m.ring") s.intent = GroupCallIntent::Ring;
    else if (*intent == "m.prompt") s.intent = GroupCallIntent::Prompt;
    else if (*intent == "m.room") s.intent = GroupCallIntent::Room;
  }
  if (const auto* t = string_field(content, kType)) {
    if (*t == "m.voice") s.call_type = GroupCallType::Voice;
    else if (*t == "m.video") s.call_type = GroupCallType::Video;
  }
  if (const Json* term = detail::find_field(content, kTerminated)) s.terminated = truthy(*term);
  if (const auto* name = string_field(content, kName)) {
    std::string n = detail::truncate_utf8(*name, kMaxGroupNameBytes);
    if (detail::is_valid_utf8(n)) s.name = std::move(n);
  }
  for (auto it = content.begin(); it != content.end(); ++it) {
    const std::string& key = it.key();
    if (key == kIntent || key == kType || key == kTerminated || key == kName) continue;
    s.extra[key] = it.value();
  }
  return s;
}

Json to_content(const GroupCallState& s) {
  Json out = s.extra.is_object() ? s.extra : Json::object();
  for (const char* key : {kIntent, kType, kTerminated, kName}) out.erase(key);
  if (s.intent) out[kIntent] = to_string(*s.intent);
  if (s.call_type) out[kType] = to_string(*s.call_type);
  if (s.terminated) out[kTerminated] = "call_ended";
  if (s.name) out[kName] = *s.name;
  return out;
}

}  // namespace mxcall::events
