#include "client/room_state_cache.hpp"

#include <map>

#include "util/logging.hpp"

namespace mxcall::client {

bool is_tracked_state_type(const std::string& type) {
  return type == "m.room.member" || type == "org.matrix.msc3401.call" || type == "org.matrix.msc3401.call.member";
}

std::vector<store::StateEntry> tracked_state(const matrix::SyncBatch& batch, const std::string& own_user_id) {
  std::vector<store::StateEntry> out;
  auto take = [&](const matrix::RoomEvent& ev) {
    if (ev.state_key && is_tracked_state_type(ev.type)) out.push_back({ev.room_id, ev.type, *ev.state_key, ev.content.dump()});
  };
  for (const auto& room : batch.joined) {
    for (const auto& ev : room.state) take(ev);
    for (const auto& ev : room.timeline) take(ev);
    // Our own member event in the batch may say "join" with more fields; the room being in
    // `join` is what counts, so our synthetic entry goes last.
    out.push_back({room.room_id, "m.room.member", own_user_id, R"({"membership":"join"})"});
  }
  return out;
}

std::vector<matrix::JoinedRoom> rooms_from_state(const std::vector<store::StateEntry>& entries) {
  std::map<std::string, matrix::JoinedRoom> rooms;
  for (const auto& e : entries) {
    auto content = matrix::Json::parse(e.content, nullptr, false);
    if (content.is_discarded() || !content.is_object()) {
      MXLOG_WARN("store: cached state {} {} in {} is not a JSON object; skipped", e.event_type, e.state_key, e.room_id);
      continue;
    }
    auto& room = rooms[e.room_id];
    room.room_id = e.room_id;
    matrix::RoomEvent ev;
    ev.room_id = e.room_id;
    ev.type = e.event_type;
    ev.state_key = e.state_key;
    ev.sender = e.event_type == "m.room.member" || e.event_type == "org.matrix.msc3401.call.member" ? e.state_key : "";
    ev.content = std::move(content);
    room.state.push_back(std::move(ev));
  }
  std::vector<matrix::JoinedRoom> out;
  for (auto& [id, room] : rooms) out.push_back(std::move(room));
  return out;
}

}  // namespace mxcall::client
