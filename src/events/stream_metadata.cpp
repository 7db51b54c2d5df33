// sdp_stream_metadata (MSC3077, MSC3291): msid stream id -> purpose and mute flags.
#include "events/call_event_detail.hpp"

namespace mxcall::events::detail {
namespace {

constexpr const char* kUserMedia = "m.usermedia";
constexpr const char* kScreenShare = "m.screenshare";

bool read_flag(const Json& obj, const char* key) {
  const Json* v = find_field(obj, key);
  return v && v->is_boolean() && v->get<bool>();
}

bool valid_stream_id(const std::string& id) {
  return !id.empty() && id.size() <= kMaxStreamIdBytes && !has_control_chars(id) &&
         is_valid_utf8(id);
}

// nullopt for an entry that is left out (unknown or missing purpose, not an object).
std::optional<StreamMetadata> read_entry(const Json& entry) {
  if (!entry.is_object()) return std::nullopt;
  const Json* purpose = find_field(entry, "purpose");
  if (!purpose || !purpose->is_string()) return std::nullopt;
  const auto& p = purpose->get_ref<const std::string&>();
  StreamMetadata meta;
  if (p == kUserMedia) meta.purpose = media::StreamPurpose::UserMedia;
  else if (p == kScreenShare) meta.purpose = media::StreamPurpose::ScreenShare;
  else return std::nullopt;
  meta.audio_muted = read_flag(entry, "audio_muted");
  meta.video_muted = read_flag(entry, "video_muted");
  return meta;
}

}  // namespace

Result<std::optional<SdpStreamMetadata>> parse_stream_metadata(std::string_view type,
                                                               const Json& content) {
  const char* key = kMetadataKey;
  const Json* raw = find_field(content, kMetadataKey);
  if (!raw) {
    key = kMetadataKeyUnstable;
    raw = find_field(content, kMetadataKeyUnstable);
  }
  if (!raw) return std::optional<SdpStreamMetadata>{};
  if (!raw->is_object()) return field_error(type, std::string(key) + " is not an object");
  if (raw->size() > kMaxStreamsInMetadata) {
    return field_error(type, std::string(key) + " lists more than " +
                                 std::to_string(kMaxStreamsInMetadata) + " streams");
  }
  SdpStreamMetadata out;
  for (const auto& [stream_id, entry] : raw->items()) {
    if (!valid_stream_id(stream_id)) continue;
    if (auto meta = read_entry(entry)) out.emplace(stream_id, *meta);
  }
  return std::optional<SdpStreamMetadata>{std::move(out)};
}

Json stream_metadata_to_json(const SdpStreamMetadata& metadata) {
  Json out = Json::object();
  for (const auto& [stream_id, meta] : metadata) {
    out[stream_id] = Json{
        {"purpose", meta.purpose == media::StreamPurpose::ScreenShare ? kScreenShare : kUserMedia},
        {"audio_muted", meta.audio_muted},
        {"video_muted", meta.video_muted},
    };
  }
  return out;
}

}  // namespace mxcall::events::detail
