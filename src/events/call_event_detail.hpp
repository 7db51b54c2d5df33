// Internal to src/events: the field readers shared by the m.call.* parsers and serialisers.
// Nothing here throws; JSON null counts as "absent" for optional fields.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "events/call_events.hpp"

namespace mxcall::events::detail {

// Keys of the stream metadata (stable, and the unstable one that Hydrogen uses exclusively).
inline constexpr const char* kMetadataKey = "sdp_stream_metadata";
inline constexpr const char* kMetadataKeyUnstable = "org.matrix.msc3077.sdp_stream_metadata";

inline constexpr std::int64_t kMaxLifetimeMs = 24LL * 60 * 60 * 1000;
inline constexpr std::size_t kMaxReasonBytes = 255;
inline constexpr std::size_t kMaxStreamIdBytes = 255;
inline constexpr std::size_t kMaxSdpMidBytes = 255;
inline constexpr int kMaxSdpMLineIndex = 255;

// An InvalidArgument error "<event type>: <what>".
Error field_error(std::string_view type, std::string_view what);

// The member `key` of an object, or nullptr when absent, null, or `obj` is not an object.
const Json* find_field(const Json& obj, const char* key);

bool is_valid_utf8(std::string_view s);
bool has_control_chars(std::string_view s);  // any byte < 0x20 or 0x7f
// Cuts s to at most max_bytes without splitting a UTF-8 sequence.
std::string truncate_utf8(std::string_view s, std::size_t max_bytes);
// A Matrix user id of the shape @localpart:server.
bool is_user_id(std::string_view s);

// call_id, party_id and version.
Result<CallCommon> parse_common(std::string_view type, const Json& content);

// A lifetime value that is present: a positive integer (or numeric string), clamped to 24 h.
Result<std::int64_t> parse_lifetime(std::string_view type, const Json& value);

// The session description in content[field]. With `expected`, a present `type` must equal it
// and an absent one defaults to it; without, `type` is required ("offer" or "answer").
Result<media::SessionDescription> parse_description(std::string_view type, const Json& content,
                                                    const char* field,
                                                    std::optional<media::SdpType> expected);

// The optional `capabilities` object (wrong types read as false).
Capabilities parse_capabilities(const Json& content);

// sdp_stream_metadata (stable key first, else the unstable key); nullopt when neither is there.
Result<std::optional<SdpStreamMetadata>> parse_stream_metadata(std::string_view type,
                                                               const Json& content);
Json stream_metadata_to_json(const SdpStreamMetadata& metadata);

}  // namespace mxcall::events::detail
