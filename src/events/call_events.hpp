// The m.call.* events of the 1:1 VoIP module (spec, MSC2746, MSC3077, MSC3291) as typed,
// validated values. Parsing never trusts its input: every field is type-checked and bounded,
// unknown keys are ignored, and a bad event gives an Error saying what is wrong.
// The same types travel in MSC3401 to-device messages (see group_events.hpp).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "mxcall/error.hpp"
#include "mxcall/media.hpp"

namespace mxcall::events {

using Json = nlohmann::json;

namespace type {
inline constexpr std::string_view kInvite = "m.call.invite";
inline constexpr std::string_view kCandidates = "m.call.candidates";
inline constexpr std::string_view kAnswer = "m.call.answer";
inline constexpr std::string_view kSelectAnswer = "m.call.select_answer";
inline constexpr std::string_view kReject = "m.call.reject";
inline constexpr std::string_view kNegotiate = "m.call.negotiate";
inline constexpr std::string_view kHangup = "m.call.hangup";
inline constexpr std::string_view kMetadataChanged = "m.call.sdp_stream_metadata_changed";
inline constexpr std::string_view kMetadataChangedUnstable = "org.matrix.call.sdp_stream_metadata_changed";
}  // namespace type

// Bounds applied while parsing (an event is at most 64 KiB on the wire anyway).
inline constexpr std::size_t kMaxSdpBytes = 64 * 1024;
inline constexpr std::size_t kMaxCandidatesPerEvent = 256;
inline constexpr std::size_t kMaxCandidateBytes = 1024;
inline constexpr std::size_t kMaxStreamsInMetadata = 32;

enum class CallVersion { V0, V1 };

// The opaque-identifier grammar of call_id and party_id: 1-255 chars of [0-9A-Za-z._~-].
bool is_valid_call_id(std::string_view s);

struct StreamMetadata {
  media::StreamPurpose purpose = media::StreamPurpose::UserMedia;
  bool audio_muted = false;
  bool video_muted = false;
  bool operator==(const StreamMetadata&) const = default;
};
// msid stream id -> metadata. Streams with an unknown purpose are left out when parsing.
using SdpStreamMetadata = std::map<std::string, StreamMetadata>;

struct CallCommon {
  std::string call_id;
  std::optional<std::string> party_id;  // absent in version 0
  CallVersion version = CallVersion::V1;
};

struct Capabilities {
  bool transferee = false;
  bool dtmf = false;
};

struct CallInvite {
  CallCommon common;
  media::SessionDescription offer;  // type is always Offer
  std::int64_t lifetime_ms = 60'000;
  std::optional<std::string> invitee;
  std::optional<SdpStreamMetadata> metadata;
  Capabilities capabilities;
};

struct CallCandidates {
  CallCommon common;
  std::vector<media::IceCandidate> candidates;  // an empty candidate string = end-of-candidates
};

struct CallAnswer {
  CallCommon common;
  media::SessionDescription answer;  // type is always Answer
  std::optional<SdpStreamMetadata> metadata;
  Capabilities capabilities;
};

struct CallSelectAnswer {
  CallCommon common;
  std::string selected_party_id;
};

struct CallReject {
  CallCommon common;
};

struct CallNegotiate {
  CallCommon common;
  media::SessionDescription description;  // offer or answer
  std::int64_t lifetime_ms = 60'000;
  std::optional<SdpStreamMetadata> metadata;
};

struct CallHangup {
  CallCommon common;
  std::string reason = "user_hangup";  // any string is accepted on receipt
};

struct CallMetadataChanged {
  CallCommon common;
  SdpStreamMetadata metadata;
};

using CallEvent = std::variant<CallInvite, CallCandidates, CallAnswer, CallSelectAnswer, CallReject,
                               CallNegotiate, CallHangup, CallMetadataChanged>;

const CallCommon& common_of(const CallEvent& e);
// The type sent on the wire (the stable name for metadata changes).
std::string_view event_type(const CallEvent& e);

bool is_call_event_type(std::string_view type);

// Parses the content of a room event or to-device message of the given type. Errors
// (ErrorKind::InvalidArgument) name the event type and the offending field.
Result<CallEvent> parse_call_event(std::string_view type, const Json& content);

// The content to send. Always version "1"; metadata is written under the stable key and the
// unstable org.matrix.msc3077.sdp_stream_metadata key (Hydrogen reads only that one).
Json to_content(const CallEvent& e);

// Hangup reasons mxcall sends (receivers accept any string).
namespace reason {
inline constexpr std::string_view kUserHangup = "user_hangup";
inline constexpr std::string_view kIceFailed = "ice_failed";
inline constexpr std::string_view kIceTimeout = "ice_timeout";
inline constexpr std::string_view kInviteTimeout = "invite_timeout";
inline constexpr std::string_view kUserMediaFailed = "user_media_failed";
inline constexpr std::string_view kUserBusy = "user_busy";
inline constexpr std::string_view kUnknownError = "unknown_error";
inline constexpr std::string_view kReplaced = "replaced";
inline constexpr std::string_view kAnsweredElsewhere = "answered_elsewhere";
inline constexpr std::string_view kSignallingTimeout = "signalling_timeout";
}  // namespace reason

}  // namespace mxcall::events
