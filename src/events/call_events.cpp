// The m.call.* event types: identifiers, type names and access to the common fields.
// Parsing is in call_event_parse.cpp, serialisation in call_event_serialize.cpp.
#include "events/call_events.hpp"

#include <type_traits>

namespace mxcall::events {

bool is_valid_call_id(std::string_view s) {
  if (s.empty() || s.size() > 255) return false;
  for (char c : s) {
    const bool ok = (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                    c == '.' || c == '_' || c == '~' || c == '-';
    if (!ok) return false;
  }
  return true;
}

const CallCommon& common_of(const CallEvent& e) {
  return std::visit([](const auto& ev) -> const CallCommon& { return ev.common; }, e);
}

std::string_view event_type(const CallEvent& e) {
  return std::visit(
      [](const auto& ev) -> std::string_view {
        using T = std::decay_t<decltype(ev)>;
        if constexpr (std::is_same_v<T, CallInvite>) return type::kInvite;
        else if constexpr (std::is_same_v<T, CallCandidates>) return type::kCandidates;
        else if constexpr (std::is_same_v<T, CallAnswer>) return type::kAnswer;
        else if constexpr (std::is_same_v<T, CallSelectAnswer>) return type::kSelectAnswer;
        else if constexpr (std::is_same_v<T, CallReject>) return type::kReject;
        else if constexpr (std::is_same_v<T, CallNegotiate>) return type::kNegotiate;
        else if constexpr (std::is_same_v<T, CallHangup>) return type::kHangup;
        else return type::kMetadataChanged;
      },
      e);
}

bool is_call_event_type(std::string_view t) {
  return t == type::kInvite || t == type::kCandidates || t == type::kAnswer ||
         t == type::kSelectAnswer || t == type::kReject || t == type::kNegotiate ||
         t == type::kHangup || t == type::kMetadataChanged || t == type::kMetadataChangedUnstable;
}

}  // namespace mxcall::events
