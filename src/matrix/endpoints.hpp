// Request building for every client-server endpoint mxcall uses: pure functions from typed
// arguments to HttpRequest values (unit-tested without a server).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "mxcall/matrix/http.hpp"
#include "mxcall/matrix/types.hpp"

namespace mxcall::matrix::endpoints {

// Percent-encodes one path segment or query value (RFC 3986 unreserved kept as is).
std::string encode_component(std::string_view s);

struct Target {
  std::string base_url;      // "http://127.0.0.1:8008" (a trailing slash is tolerated)
  std::string access_token;  // empty: unauthenticated
};

HttpRequest versions(const Target& t);
HttpRequest login_password(const Target& t, const std::string& user, const std::string& password,
                           const std::optional<std::string>& device_id,
                           const std::optional<std::string>& display_name);
HttpRequest whoami(const Target& t);
HttpRequest logout(const Target& t);
HttpRequest create_room(const Target& t, const CreateRoomRequest& r);
HttpRequest join_room(const Target& t, const std::string& room_id_or_alias);
HttpRequest invite(const Target& t, const std::string& room_id, const std::string& user_id);
HttpRequest send_event(const Target& t, const std::string& room_id, const std::string& type,
                       const std::string& txn_id, const Json& content);
HttpRequest send_state(const Target& t, const std::string& room_id, const std::string& type,
                       const std::string& state_key, const Json& content);
HttpRequest get_state(const Target& t, const std::string& room_id, const std::string& type,
                      const std::string& state_key);
HttpRequest send_to_device(const Target& t, const ToDeviceBatch& batch);
HttpRequest turn_server(const Target& t);
HttpRequest keys_upload(const Target& t, const Json& body);
HttpRequest keys_query(const Target& t, const Json& body);
HttpRequest keys_claim(const Target& t, const Json& body);

struct SyncParams {
  std::string since;  // empty: initial sync
  std::chrono::milliseconds timeout{30'000};
  Json filter;  // inline filter (null: none); or a filter id as a JSON string
  bool full_state = false;
  std::string set_presence = "offline";
};
// The HTTP timeout is the long-poll timeout plus a margin, so a slow server is not cut off.
HttpRequest sync(const Target& t, const SyncParams& p);

}  // namespace mxcall::matrix::endpoints
