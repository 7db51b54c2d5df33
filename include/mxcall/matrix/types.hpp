// Values exchanged with the Matrix client-server API (requests and validated answers).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace mxcall::matrix {

using Json = nlohmann::json;

struct LoginResponse {
  std::string user_id;
  std::string device_id;
  std::string access_token;
};

struct CreateRoomRequest {
  std::vector<std::string> invite;
  bool is_direct = false;
  std::string preset = "private_chat";  // private_chat | trusted_private_chat | public_chat
  std::optional<std::string> name;
  std::optional<std::string> room_alias_name;
  Json initial_state = Json::array();
  Json power_level_content_override;  // null: server default
};

// user id -> device id ("*" for all devices) -> content. One request carries all of them.
using ToDeviceMessages = std::map<std::string, std::map<std::string, Json>>;

struct ToDeviceBatch {
  std::string event_type;  // e.g. m.room.encrypted, m.call.invite
  ToDeviceMessages messages;
  std::string txn_id;  // the same txn id for every retry of this batch
  std::size_t device_count() const;
};

struct TurnServer {
  std::string username;
  std::string password;
  std::vector<std::string> uris;
  std::int64_t ttl_s = 0;
};

}  // namespace mxcall::matrix
