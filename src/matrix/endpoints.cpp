#include "matrix/endpoints.hpp"

namespace mxcall::matrix::endpoints {

namespace {

constexpr std::string_view kClientV3 = "/_matrix/client/v3";
constexpr std::chrono::milliseconds kDefaultTimeout{30'000};
constexpr std::chrono::milliseconds kSyncMargin{30'000};

std::string base(const Target& t) {
  std::string b = t.base_url;
  while (!b.empty() && b.back() == '/') b.pop_back();
  return b;
}

HttpRequest make(const Target& t, HttpMethod method, std::string path, std::string body = {}) {
  HttpRequest r;
  r.method = method;
  r.url = base(t) + std::string(kClientV3) + path;
  r.body = std::move(body);
  r.timeout = kDefaultTimeout;
  if (!t.access_token.empty()) r.headers.emplace_back("Authorization", "Bearer " + t.access_token);
  return r;
}

std::string seg(std::string_view s) { return "/" + encode_component(s); }

}  // namespace

std::string encode_component(std::string_view s) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size() * 3);
  for (unsigned char c : s) {
    const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 0xF]);
    }
  }
  return out;
}

HttpRequest versions(const Target& t) {
  HttpRequest r;
  r.url = base(t) + "/_matrix/client/versions";
  r.timeout = std::chrono::milliseconds(10'000);
  return r;
}

HttpRequest login_password(const Target& t, const std::string& user, const std::string& password,
                           const std::optional<std::string>& device_id,
                           const std::optional<std::string>& display_name) {
  Json body = {{"type", "m.login.password"},
               {"identifier", {{"type", "m.id.user"}, {"user", user}}},
               {"password", password}};
  if (device_id) body["device_id"] = *device_id;
  if (display_name) body["initial_device_display_name"] = *display_name;
  Target anon{t.base_url, {}};
  return make(anon, HttpMethod::Post, "/login", body.dump());
}

HttpRequest whoami(const Target& t) { return make(t, HttpMethod::Get, "/account/whoami"); }

HttpRequest logout(const Target& t) { return make(t, HttpMethod::Post, "/logout", "{}"); }

HttpRequest create_room(const Target& t, const CreateRoomRequest& r) {
  Json body = {{"preset", r.preset}, {"is_direct", r.is_direct}, {"invite", r.invite}};
  if (r.name) body["name"] = *r.name;
  if (r.room_alias_name) body["room_alias_name"] = *r.room_alias_name;
  if (r.initial_state.is_array() && !r.initial_state.empty()) body["initial_state"] = r.initial_state;
  if (!r.power_level_content_override.is_null())
    body["power_level_content_override"] = r.power_level_content_override;
  return make(t, HttpMethod::Post, "/createRoom", body.dump());
}

HttpRequest join_room(const Target& t, const std::string& room_id_or_alias) {
  return make(t, HttpMethod::Post, "/join" + seg(room_id_or_alias), "{}");
}

HttpRequest invite(const Target& t, const std::string& room_id, const std::string& user_id) {
  return make(t, HttpMethod::Post, "/rooms" + seg(room_id) + "/invite",
              Json{{"user_id", user_id}}.dump());
}

HttpRequest send_event(const Target& t, const std::string& room_id, const std::string& type,
                       const std::string& txn_id, const Json& content) {
  return make(t, HttpMethod::Put, "/rooms" + seg(room_id) + "/send" + seg(type) + seg(txn_id),
              content.dump());
}

HttpRequest send_state(const Target& t, const std::string& room_id, const std::string& type,
                       const std::string& state_key, const Json& content) {
  // An empty state key is a valid key: the path then ends with "/state/{type}/".
  return make(t, HttpMethod::Put,
              "/rooms" + seg(room_id) + "/state" + seg(type) + "/" + encode_component(state_key),
              content.dump());
}

HttpRequest get_state(const Target& t, const std::string& room_id, const std::string& type,
                      const std::string& state_key) {
  return make(t, HttpMethod::Get,
              "/rooms" + seg(room_id) + "/state" + seg(type) + "/" + encode_component(state_key));
}

HttpRequest send_to_device(const Target& t, const ToDeviceBatch& batch) {
  Json messages = Json::object();
  for (const auto& [user, devices] : batch.messages) {
    Json& per_user = messages[user];
    per_user = Json::object();
    for (const auto& [device, content] : devices) per_user[device] = content;
  }
  return make(t, HttpMethod::Put, "/sendToDevice" + seg(batch.event_type) + seg(batch.txn_id),
              Json{{"messages", std::move(messages)}}.dump());
}

HttpRequest turn_server(const Target& t) { return make(t, HttpMethod::Get, "/voip/turnServer"); }

HttpRequest keys_upload(const Target& t, const Json& body) {
  return make(t, HttpMethod::Post, "/keys/upload", body.dump());
}

HttpRequest keys_query(const Target& t, const Json& body) {
  return make(t, HttpMethod::Post, "/keys/query", body.dump());
}

HttpRequest keys_claim(const Target& t, const Json& body) {
  return make(t, HttpMethod::Post, "/keys/claim", body.dump());
}

HttpRequest sync(const Target& t, const SyncParams& p) {
  std::string query = "?timeout=" + std::to_string(p.timeout.count());
  if (!p.since.empty()) query += "&since=" + encode_component(p.since);
  if (p.filter.is_string()) query += "&filter=" + encode_component(p.filter.get<std::string>());
  else if (!p.filter.is_null()) query += "&filter=" + encode_component(p.filter.dump());
  if (p.full_state) query += "&full_state=true";
  if (!p.set_presence.empty()) query += "&set_presence=" + encode_component(p.set_presence);
  HttpRequest r = make(t, HttpMethod::Get, "/sync" + query);
  r.timeout = p.timeout + kSyncMargin;
  return r;
}

}  // namespace mxcall::matrix::endpoints
