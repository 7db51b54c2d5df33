// MSC3401 full-mesh group calls as js-sdk GroupCall and Hydrogen send them: the call state
// event, the per-user member state event, and the to-device envelope that carries the m.call.*
// events of call_events.hpp between two devices. Parsing never trusts its input: malformed
// parts (one device entry, a bad seq) are logged and left out, the rest is kept; unknown keys
// of state contents are kept so a read-modify-write does not destroy what others wrote.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "events/call_events.hpp"

namespace mxcall::events {

namespace type {
inline constexpr std::string_view kGroupCall = "org.matrix.msc3401.call";
inline constexpr std::string_view kGroupCallMember = "org.matrix.msc3401.call.member";
}  // namespace type

inline constexpr std::size_t kMaxGroupIdBytes = 255;    // conf ids, device ids, session ids
inline constexpr std::size_t kMaxGroupNameBytes = 1024;
inline constexpr std::size_t kMaxMemberCalls = 32;
inline constexpr std::size_t kMaxMemberDevices = 256;   // per call entry
inline constexpr std::size_t kMaxMemberFeeds = 16;      // per device
inline constexpr std::int64_t kMaxSafeInteger = 9'007'199'254'740'991;  // 2^53 - 1 (JavaScript)

// A bounded printable identifier (device, session, conf id): 1-255 bytes of valid UTF-8 without
// control characters. Looser than the opaque-id grammar, since device ids are not held to it.
bool is_valid_group_id(std::string_view s);

// ---- org.matrix.msc3401.call (state key = conf id) ----

enum class GroupCallIntent { Ring, Prompt, Room };
enum class GroupCallType { Voice, Video };
const char* to_string(GroupCallIntent i);
const char* to_string(GroupCallType t);

struct GroupCallState {
  std::optional<GroupCallIntent> intent;  // absent or a value we do not know
  std::optional<GroupCallType> call_type;
  bool terminated = false;                // m.terminated of any truthy form ("call_ended", true, ...)
  std::optional<std::string> name;
  Json extra = Json::object();            // every other key, written back unchanged
};

// Errors only when the content is not an object; bad fields read as absent.
Result<GroupCallState> parse_group_call_state(const Json& content);
// Writes m.terminated as "call_ended" (js-sdk's value; Hydrogen tests truthiness).
Json to_content(const GroupCallState& state);

// ---- org.matrix.msc3401.call.member (state key = the member's user id) ----

struct MemberFeed {
  std::string purpose;  // m.usermedia, m.screenshare, or what the sender wrote
  Json extra = Json::object();
};

struct MemberDevice {
  std::string device_id;
  std::string session_id;
  std::int64_t expires_ts = 0;  // absolute wall-clock ms
  std::vector<MemberFeed> feeds;
  // A non-empty m.foci.active: this device publishes to an SFU, so it cannot take part in the
  // mesh (Hydrogen refuses such calls too).
  bool sfu = false;
  Json extra = Json::object();  // m.foci.active and anything else, written back unchanged

  bool expired(std::int64_t now_unix_ms) const { return expires_ts <= now_unix_ms; }
};

struct MemberCall {
  std::string call_id;  // m.call_id = the conf id
  std::vector<MemberDevice> devices;
  Json extra = Json::object();  // m.foci and anything else
};

struct GroupCallMemberContent {
  std::vector<MemberCall> calls;
  // Keys other than m.calls: e.g. the MatrixRTC "memberships" shape that shares this type.
  Json extra = Json::object();
};

// Errors only when the content is not an object. A call entry without a usable m.call_id and
// a device entry without string device_id/session_id, a safe-integer expires_ts, or with
// feeds that are not an array, are dropped one by one with a log line. Entries of one call id
// that appear twice are merged; a device listed twice keeps its later expiry.
Result<GroupCallMemberContent> parse_group_call_member(const Json& content);
Json to_content(const GroupCallMemberContent& content);

const MemberCall* find_call(const GroupCallMemberContent& content, std::string_view conf_id);
const MemberDevice* find_device(const MemberCall& call, std::string_view device_id);

// Read-modify-write of one user's member content for one device: our entry in `conf_id` is
// replaced by `own` (or removed when nullopt), expired entries of every call are dropped
// (malformed ones never survive parsing), calls left without devices are dropped; other
// calls and unknown keys stay as they were.
GroupCallMemberContent updated_member_content(const GroupCallMemberContent& current, std::string_view conf_id,
                                              std::string_view own_device_id,
                                              const std::optional<MemberDevice>& own, std::int64_t now_unix_ms);

// ---- to-device m.call.* (one device to one device) ----

struct ToDeviceCallEnvelope {
  CallEvent event;
  std::string conf_id;            // the group call (state key of the call event)
  std::string device_id;          // the sender's device
  std::string sender_session_id;
  std::string dest_session_id;
  std::optional<std::int64_t> seq;  // absent (or unusable): the message bypasses ordering
};

// `type` is the to-device event type (an m.call.* name). Errors name the missing field; a
// seq that is not an integer in [0, 2^53) is logged and treated as absent.
Result<ToDeviceCallEnvelope> parse_to_device_call(std::string_view type, const Json& content);
Json to_content(const ToDeviceCallEnvelope& envelope);

}  // namespace mxcall::events
