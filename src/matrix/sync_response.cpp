#include <algorithm>

#include "mxcall/matrix/sync.hpp"
#include "util/json_guard.hpp"
#include "util/logging.hpp"

namespace mxcall::matrix {

using util::get_array;
using util::get_int;
using util::get_object;
using util::get_string;

namespace {

constexpr std::size_t kMaxIdLength = 255;

bool sigil_id(std::string_view s, char sigil, bool need_colon) {
  if (s.size() < 2 || s.size() > kMaxIdLength || s.front() != sigil) return false;
  if (need_colon && s.find(':') == std::string_view::npos) return false;
  return std::none_of(s.begin(), s.end(),
                      [](char c) { return static_cast<unsigned char>(c) < 0x20; });
}

struct Parser {
  std::size_t dropped = 0;

  void drop(std::string_view where, std::string_view why) {
    ++dropped;
    MXLOG_WARN("sync: dropped a malformed event in {}: {}", where, why);
  }

  // Fills the fields every full room event has; false (and a log line) when one is missing.
  bool room_event(const Json& raw, const std::string& room_id, std::string_view where, RoomEvent& out) {
    if (!raw.is_object()) { drop(where, "not an object"); return false; }
    const auto* type = get_string(raw, "type");
    const auto* sender = get_string(raw, "sender");
    const auto* event_id = get_string(raw, "event_id");
    const auto* content = get_object(raw, "content");
    if (!type || type->empty()) { drop(where, "no string type"); return false; }
    if (!sender || !is_valid_user_id(*sender)) { drop(where, "sender is not a user id"); return false; }
    if (!event_id || !is_valid_event_id(*event_id)) { drop(where, "no valid event_id"); return false; }
    if (!content) { drop(where, "content is not an object"); return false; }
    out.room_id = room_id;
    out.type = *type;
    out.sender = *sender;
    out.event_id = *event_id;
    out.content = *content;
    if (raw.contains("state_key")) {
      const auto* key = get_string(raw, "state_key");
      if (!key) { drop(where, "state_key is not a string"); return false; }
      out.state_key = *key;
    }
    out.origin_server_ts = get_int(raw, "origin_server_ts").value_or(0);
    if (const auto* u = get_object(raw, "unsigned")) {
      out.unsigned_data = *u;
      out.age = get_int(*u, "age");
    }
    return true;
  }

  std::vector<RoomEvent> room_events(const Json* array, const std::string& room_id,
                                     std::string_view where, bool state_only) {
    std::vector<RoomEvent> out;
    if (!array) return out;
    out.reserve(array->size());
    for (const auto& raw : *array) {
      RoomEvent ev;
      if (!room_event(raw, room_id, where, ev)) continue;
      if (state_only && !ev.state_key) { drop(where, "state event without state_key"); continue; }
      out.push_back(std::move(ev));
    }
    return out;
  }

  void joined(const Json& rooms, SyncBatch& batch) {
    for (const auto& [room_id, room] : rooms.items()) {
      if (!is_valid_room_id(room_id) || !room.is_object()) { drop("rooms.join", "bad room entry"); continue; }
      JoinedRoom jr;
      jr.room_id = room_id;
      if (const auto* state = get_object(room, "state"))
        jr.state = room_events(get_array(*state, "events"), room_id, "state", true);
      if (const auto* tl = get_object(room, "timeline")) {
        jr.timeline = room_events(get_array(*tl, "events"), room_id, "timeline", false);
        if (auto it = tl->find("limited"); it != tl->end() && it->is_boolean()) jr.limited = it->get<bool>();
        if (const auto* pb = get_string(*tl, "prev_batch")) jr.prev_batch = *pb;
      }
      batch.joined.push_back(std::move(jr));
    }
  }

  void invited(const Json& rooms, SyncBatch& batch) {
    for (const auto& [room_id, room] : rooms.items()) {
      if (!is_valid_room_id(room_id) || !room.is_object()) { drop("rooms.invite", "bad room entry"); continue; }
      InvitedRoom ir;
      ir.room_id = room_id;
      const auto* st = get_object(room, "invite_state");
      const auto* events = st ? get_array(*st, "events") : nullptr;
      for (const auto& raw : events ? *events : Json::array()) {
        const auto* type = get_string(raw, "type");
        const auto* sender = get_string(raw, "sender");
        const auto* key = get_string(raw, "state_key");
        const auto* content = get_object(raw, "content");
        if (!type || !sender || !is_valid_user_id(*sender) || !key || !content) {
          drop("invite_state", "missing type, sender, state_key or content");
          continue;
        }
        const auto* membership = get_string(*content, "membership");
        if (*type == "m.room.member" && membership && *membership == "invite") {
          ir.inviter = *sender;
          if (auto it = content->find("is_direct"); it != content->end() && it->is_boolean())
            ir.is_direct = it->get<bool>();
        }
        ir.invite_state.push_back({*type, *sender, *key, *content});
      }
      batch.invited.push_back(std::move(ir));
    }
  }

  void to_device(const Json& td, SyncBatch& batch) {
    const auto* events = get_array(td, "events");
    if (!events) return;
    for (const auto& raw : *events) {
      const auto* type = get_string(raw, "type");
      const auto* sender = get_string(raw, "sender");
      const auto* content = get_object(raw, "content");
      if (!type || type->empty() || !sender || !is_valid_user_id(*sender) || !content) {
        drop("to_device", "missing type, sender or content");
        continue;
      }
      batch.to_device.push_back({*type, *sender, *content});
    }
  }

  static std::vector<std::string> user_list(const Json* array) {
    std::vector<std::string> out;
    if (!array) return out;
    for (const auto& v : *array)
      if (v.is_string() && is_valid_user_id(v.get_ref<const std::string&>())) out.push_back(v.get<std::string>());
    return out;
  }
};

}  // namespace

bool is_valid_user_id(std::string_view s) { return sigil_id(s, '@', true); }
bool is_valid_room_id(std::string_view s) { return sigil_id(s, '!', false); }
bool is_valid_event_id(std::string_view s) { return sigil_id(s, '$', false); }

Result<SyncBatch> parse_sync_response(std::string_view body) {
  auto parsed = util::parse_untrusted_json(body);
  if (!parsed.ok()) return Error::make(ErrorKind::InvalidResponse, "sync: " + parsed.error().message);
  const Json& root = *parsed;
  if (!root.is_object()) return Error::make(ErrorKind::InvalidResponse, "sync: body is not an object");
  const auto* next = get_string(root, "next_batch");
  if (!next || next->empty())
    return Error::make(ErrorKind::InvalidResponse, "sync: no string next_batch");

  SyncBatch batch;
  batch.next_batch = *next;
  Parser p;
  if (const auto* td = get_object(root, "to_device")) p.to_device(*td, batch);
  if (const auto* rooms = get_object(root, "rooms")) {
    if (const auto* join = get_object(*rooms, "join")) p.joined(*join, batch);
    if (const auto* inv = get_object(*rooms, "invite")) p.invited(*inv, batch);
    if (const auto* leave = get_object(*rooms, "leave"))
      for (const auto& [room_id, room] : leave->items())
        if (is_valid_room_id(room_id)) batch.left.push_back(room_id);
  }
  if (const auto* dl = get_object(root, "device_lists")) {
    batch.device_lists.changed = Parser::user_list(get_array(*dl, "changed"));
    batch.device_lists.left = Parser::user_list(get_array(*dl, "left"));
  }
  if (const auto* otk = get_object(root, "device_one_time_keys_count")) {
    for (const auto& [alg, count] : otk->items())
      if (count.is_number_integer() && count.get<std::int64_t>() >= 0)
        batch.one_time_keys_count[alg] = count.get<std::int64_t>();
  }
  if (const auto* fb = get_array(root, "device_unused_fallback_key_types")) {
    std::vector<std::string> types;
    for (const auto& v : *fb)
      if (v.is_string()) types.push_back(v.get<std::string>());
    batch.unused_fallback_key_types = std::move(types);
  }
  batch.dropped = p.dropped;
  return batch;
}

}  // namespace mxcall::matrix
