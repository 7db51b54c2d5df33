// A /sync response, split and validated: only well-formed events survive; the rest are
// dropped with a log line and counted.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mxcall/error.hpp"
#include "mxcall/matrix/types.hpp"

namespace mxcall::matrix {

struct RoomEvent {
  std::string room_id;
  std::string type;
  std::string sender;
  std::string event_id;
  std::optional<std::string> state_key;
  std::int64_t origin_server_ts = 0;
  std::optional<std::int64_t> age;  // unsigned.age, when the server gave one
  Json content;                     // always an object
  Json unsigned_data;               // the "unsigned" object, or null
};

// Events in invite_state carry only these (no event id or timestamp).
struct StrippedStateEvent {
  std::string type;
  std::string sender;
  std::string state_key;
  Json content;
};

struct ToDeviceEvent {
  std::string type;
  std::string sender;
  Json content;
};

struct JoinedRoom {
  std::string room_id;
  std::vector<RoomEvent> state;     // state at the start of the timeline
  std::vector<RoomEvent> timeline;  // in order
  bool limited = false;
  std::string prev_batch;
};

struct InvitedRoom {
  std::string room_id;
  std::vector<StrippedStateEvent> invite_state;
  // The sender of our m.room.member invite, when present.
  std::optional<std::string> inviter;
  bool is_direct = false;
};

struct DeviceLists {
  std::vector<std::string> changed;
  std::vector<std::string> left;
};

struct SyncBatch {
  std::string next_batch;
  std::vector<JoinedRoom> joined;
  std::vector<InvitedRoom> invited;
  std::vector<std::string> left;
  std::vector<ToDeviceEvent> to_device;
  DeviceLists device_lists;
  std::map<std::string, std::int64_t> one_time_keys_count;
  std::optional<std::vector<std::string>> unused_fallback_key_types;
  std::size_t dropped = 0;  // malformed events left out of this batch

  bool empty() const { return joined.empty() && invited.empty() && left.empty() && to_device.empty(); }
};

// Parses an untrusted /sync body. A body that is not a JSON object with a string next_batch is
// an error (the token must not advance); malformed parts inside are dropped and counted.
Result<SyncBatch> parse_sync_response(std::string_view body);

// Grammar checks used on every untrusted identifier (lengths capped at 255 as the spec does).
bool is_valid_user_id(std::string_view s);
bool is_valid_room_id(std::string_view s);
bool is_valid_event_id(std::string_view s);

}  // namespace mxcall::matrix
