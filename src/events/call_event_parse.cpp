// parse_call_event: one reader per m.call.* type on top of the shared field readers.
#include "events/call_event_detail.hpp"

namespace mxcall::events {
namespace {

using detail::field_error;
using detail::find_field;

std::optional<std::string> optional_string(const Json& obj, const char* key) {
  const Json* v = find_field(obj, key);
  if (!v || !v->is_string()) return std::nullopt;
  return v->get_ref<const std::string&>();
}

Result<CallEvent> parse_invite(std::string_view t, const Json& c, CallCommon common) {
  CallInvite ev;
  ev.common = std::move(common);
  auto offer = detail::parse_description(t, c, "offer", media::SdpType::Offer);
  if (!offer) return std::move(offer).error();
  ev.offer = std::move(*offer);

  const Json* lifetime = find_field(c, "lifetime");
  if (!lifetime) return field_error(t, "lifetime is missing");
  auto ms = detail::parse_lifetime(t, *lifetime);
  if (!ms) return std::move(ms).error();
  ev.lifetime_ms = *ms;

  if (const Json* invitee = find_field(c, "invitee")) {
    if (!invitee->is_string() || !detail::is_user_id(invitee->get_ref<const std::string&>()))
      return field_error(t, "invitee is not a user id");
    ev.invitee = invitee->get_ref<const std::string&>();
  }
  auto meta = detail::parse_stream_metadata(t, c);
  if (!meta) return std::move(meta).error();
  ev.metadata = std::move(*meta);
  ev.capabilities = detail::parse_capabilities(c);
  return CallEvent{std::move(ev)};
}

// One entry of m.call.candidates, or nullopt when it is malformed (it is then skipped).
std::optional<media::IceCandidate> parse_candidate(const Json& entry) {
  if (!entry.is_object()) return std::nullopt;
  const Json* cand = find_field(entry, "candidate");
  if (!cand || !cand->is_string()) return std::nullopt;
  const auto& text = cand->get_ref<const std::string&>();
  if (text.size() > kMaxCandidateBytes || detail::has_control_chars(text) ||
      !detail::is_valid_utf8(text))
    return std::nullopt;

  media::IceCandidate out;
  out.candidate = text;
  if (const Json* mid = find_field(entry, "sdpMid")) {
    if (!mid->is_string()) return std::nullopt;
    const auto& m = mid->get_ref<const std::string&>();
    if (m.size() > detail::kMaxSdpMidBytes || detail::has_control_chars(m) || !detail::is_valid_utf8(m))
      return std::nullopt;
    out.sdp_mid = m;
  }
  if (const Json* index = find_field(entry, "sdpMLineIndex")) {
    if (!index->is_number_integer()) return std::nullopt;  // also true for unsigned
    if (index->is_number_unsigned()) {
      const auto u = index->get<std::uint64_t>();
      if (u > static_cast<std::uint64_t>(detail::kMaxSdpMLineIndex)) return std::nullopt;
      out.sdp_mline_index = static_cast<int>(u);
    } else {
      const auto i = index->get<std::int64_t>();
      if (i < 0 || i > detail::kMaxSdpMLineIndex) return std::nullopt;
      out.sdp_mline_index = static_cast<int>(i);
    }
  }
  // A real candidate must say which m-line it belongs to; the end marker need not.
  if (!out.is_end_of_candidates() && !out.sdp_mid && !out.sdp_mline_index) return std::nullopt;
  return out;
}

Result<CallEvent> parse_candidates(std::string_view t, const Json& c, CallCommon common) {
  CallCandidates ev;
  ev.common = std::move(common);
  const Json* list = find_field(c, "candidates");
  if (!list) return field_error(t, "candidates is missing");
  if (!list->is_array()) return field_error(t, "candidates is not an array");
  if (list->size() > kMaxCandidatesPerEvent)
    return field_error(t, "candidates has more than " + std::to_string(kMaxCandidatesPerEvent) + " entries");
  ev.candidates.reserve(list->size());
  for (const Json& entry : *list)
    if (auto cand = parse_candidate(entry)) ev.candidates.push_back(std::move(*cand));
  return CallEvent{std::move(ev)};
}

Result<CallEvent> parse_answer(std::string_view t, const Json& c, CallCommon common) {
  CallAnswer ev;
  ev.common = std::move(common);
  auto answer = detail::parse_description(t, c, "answer", media::SdpType::Answer);
  if (!answer) return std::move(answer).error();
  ev.answer = std::move(*answer);
  auto meta = detail::parse_stream_metadata(t, c);
  if (!meta) return std::move(meta).error();
  ev.metadata = std::move(*meta);
  ev.capabilities = detail::parse_capabilities(c);
  return CallEvent{std::move(ev)};
}

Result<CallEvent> parse_select_answer(std::string_view t, const Json& c, CallCommon common) {
  CallSelectAnswer ev;
  ev.common = std::move(common);
  const Json* selected = find_field(c, "selected_party_id");
  if (!selected) return field_error(t, "selected_party_id is missing");
  if (!selected->is_string() || !is_valid_call_id(selected->get_ref<const std::string&>()))
    return field_error(t, "selected_party_id is not 1-255 chars of [0-9A-Za-z._~-]");
  ev.selected_party_id = selected->get_ref<const std::string&>();
  return CallEvent{std::move(ev)};
}

Result<CallEvent> parse_negotiate(std::string_view t, const Json& c, CallCommon common) {
  CallNegotiate ev;
  ev.common = std::move(common);
  auto desc = detail::parse_description(t, c, "description", std::nullopt);
  if (!desc) return std::move(desc).error();
  ev.description = std::move(*desc);
  // Required by the spec, but js-sdk sends its negotiate answers without it: default then.
  if (const Json* lifetime = find_field(c, "lifetime")) {
    auto ms = detail::parse_lifetime(t, *lifetime);
    if (!ms) return std::move(ms).error();
    ev.lifetime_ms = *ms;
  }
  auto meta = detail::parse_stream_metadata(t, c);
  if (!meta) return std::move(meta).error();
  ev.metadata = std::move(*meta);
  return CallEvent{std::move(ev)};
}

Result<CallEvent> parse_hangup(const Json& c, CallCommon common) {
  CallHangup ev;
  ev.common = std::move(common);
  if (auto r = optional_string(c, "reason"))
    ev.reason = detail::truncate_utf8(*r, detail::kMaxReasonBytes);
  return CallEvent{std::move(ev)};
}

Result<CallEvent> parse_metadata_changed(std::string_view t, const Json& c, CallCommon common) {
  CallMetadataChanged ev;
  ev.common = std::move(common);
  auto meta = detail::parse_stream_metadata(t, c);
  if (!meta) return std::move(meta).error();
  if (!meta->has_value()) return field_error(t, "sdp_stream_metadata is missing");
  ev.metadata = std::move(**meta);
  return CallEvent{std::move(ev)};
}

}  // namespace

Result<CallEvent> parse_call_event(std::string_view type, const Json& content) {
  if (!is_call_event_type(type)) {
    // Keep the message printable whatever the caller handed us.
    std::string shown = detail::truncate_utf8(type, 64);
    if (!detail::is_valid_utf8(shown) || detail::has_control_chars(shown)) shown = "?";
    return Error::make(ErrorKind::InvalidArgument, "unknown call event type \"" + shown + "\"");
  }
  auto common = detail::parse_common(type, content);
  if (!common) return std::move(common).error();
  CallCommon& cm = *common;
  if (type == type::kInvite) return parse_invite(type, content, std::move(cm));
  if (type == type::kCandidates) return parse_candidates(type, content, std::move(cm));
  if (type == type::kAnswer) return parse_answer(type, content, std::move(cm));
  if (type == type::kSelectAnswer) return parse_select_answer(type, content, std::move(cm));
  if (type == type::kReject) return CallEvent{CallReject{std::move(cm)}};
  if (type == type::kNegotiate) return parse_negotiate(type, content, std::move(cm));
  if (type == type::kHangup) return parse_hangup(content, std::move(cm));
  return parse_metadata_changed(type, content, std::move(cm));  // either metadata-changed name
}

}  // namespace mxcall::events
