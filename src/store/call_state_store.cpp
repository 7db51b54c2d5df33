// The Store's room state cache and ongoing group calls (schema 2).
#include <utility>

#include "mxcall/store.hpp"
#include "store/store_impl.hpp"

namespace mxcall::store {

Status Store::save_room_state(const std::vector<StateEntry>& entries) {
  if (entries.empty()) return ok_status();
  std::lock_guard lock(impl_->mutex);
  const sqlite::Database& db = impl_->db;
  constexpr std::string_view what = "saving room state";
  auto tx = sqlite::Transaction::begin(db, what);
  if (!tx) return std::move(tx).error();
  auto upsert = db.prepare(
      "INSERT INTO room_state (room_id, event_type, state_key, content) VALUES (?1, ?2, ?3, ?4) "
      "ON CONFLICT (room_id, event_type, state_key) DO UPDATE SET content = excluded.content",
      what);
  if (!upsert) return std::move(upsert).error();
  for (const auto& e : entries) {
    upsert->reset();
    for (const auto& [index, text] : {std::pair<int, const std::string*>{1, &e.room_id},
                                      {2, &e.event_type},
                                      {3, &e.state_key},
                                      {4, &e.content}})
      if (auto bound = upsert->bind(index, *text); !bound) return bound;
    if (auto ran = upsert->run(); !ran) return ran;
  }
  return tx->commit();
}

Result<std::vector<StateEntry>> Store::load_room_state() const {
  std::lock_guard lock(impl_->mutex);
  auto q = impl_->db.prepare("SELECT room_id, event_type, state_key, content FROM room_state", "loading room state");
  if (!q) return std::move(q).error();
  std::vector<StateEntry> out;
  for (;;) {
    auto row = q->step();
    if (!row) return std::move(row).error();
    if (!*row) break;
    out.push_back({q->column_text(0), q->column_text(1), q->column_text(2), q->column_text(3)});
  }
  return out;
}

Status Store::forget_room(const std::string& room_id) {
  std::lock_guard lock(impl_->mutex);
  auto q = impl_->db.prepare("DELETE FROM room_state WHERE room_id = ?1", "forgetting a room");
  if (!q) return std::move(q).error();
  if (auto bound = q->bind(1, room_id); !bound) return bound;
  return q->run();
}

Status Store::save_group_call(const OngoingGroupCall& c) {
  std::lock_guard lock(impl_->mutex);
  auto q = impl_->db.prepare(
      "INSERT INTO group_calls (room_id, conf_id, session_id, video, audio_muted, video_muted, joined_at) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (room_id) DO UPDATE SET conf_id = excluded.conf_id, "
      "session_id = excluded.session_id, video = excluded.video, audio_muted = excluded.audio_muted, "
      "video_muted = excluded.video_muted, joined_at = excluded.joined_at",
      "saving a group call");
  if (!q) return std::move(q).error();
  Status st = q->bind(1, c.room_id);
  if (st) st = q->bind(2, c.conf_id);
  if (st) st = q->bind(3, c.session_id);
  if (st) st = q->bind(4, std::int64_t{c.video});
  if (st) st = q->bind(5, std::int64_t{c.audio_muted});
  if (st) st = q->bind(6, std::int64_t{c.video_muted});
  if (st) st = q->bind(7, c.joined_at_ms);
  if (!st) return st;
  return q->run();
}

Status Store::remove_group_call(const std::string& room_id) {
  std::lock_guard lock(impl_->mutex);
  // Peer calls go with it (ON DELETE CASCADE; foreign keys are on).
  auto q = impl_->db.prepare("DELETE FROM group_calls WHERE room_id = ?1", "removing a group call");
  if (!q) return std::move(q).error();
  if (auto bound = q->bind(1, room_id); !bound) return bound;
  return q->run();
}

Result<std::vector<OngoingGroupCall>> Store::load_group_calls() const {
  std::lock_guard lock(impl_->mutex);
  auto q = impl_->db.prepare(
      "SELECT room_id, conf_id, session_id, video, audio_muted, video_muted, joined_at FROM group_calls "
      "ORDER BY joined_at",
      "loading group calls");
  if (!q) return std::move(q).error();
  std::vector<OngoingGroupCall> out;
  for (;;) {
    auto row = q->step();
    if (!row) return std::move(row).error();
    if (!*row) break;
    out.push_back({q->column_text(0), q->column_text(1), q->column_text(2), q->column_int(3) != 0,
                   q->column_int(4) != 0, q->column_int(5) != 0, q->column_int(6)});
  }
  return out;
}

Status Store::save_group_peer_calls(const std::string& room_id, const std::vector<GroupPeerCall>& calls) {
  std::lock_guard lock(impl_->mutex);
  const sqlite::Database& db = impl_->db;
  constexpr std::string_view what = "saving group peer calls";
  auto tx = sqlite::Transaction::begin(db, what);
  if (!tx) return std::move(tx).error();
  auto del = db.prepare("DELETE FROM group_peer_calls WHERE room_id = ?1", what);
  if (!del) return std::move(del).error();
  if (auto bound = del->bind(1, room_id); !bound) return bound;
  if (auto ran = del->run(); !ran) return ran;
  auto ins = db.prepare(
      "INSERT INTO group_peer_calls (room_id, call_id, user_id, device_id, peer_session_id, next_seq) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
      what);
  if (!ins) return std::move(ins).error();
  for (const auto& c : calls) {
    ins->reset();
    Status st = ins->bind(1, room_id);
    if (st) st = ins->bind(2, c.call_id);
    if (st) st = ins->bind(3, c.user_id);
    if (st) st = ins->bind(4, c.device_id);
    if (st) st = ins->bind(5, c.peer_session_id);
    if (st) st = ins->bind(6, c.next_seq);
    if (!st) return st;
    // A peer call of a group call that is not saved violates the foreign key: an error.
    if (auto ran = ins->run(); !ran) return ran;
  }
  return tx->commit();
}

Result<std::vector<GroupPeerCall>> Store::load_group_peer_calls(const std::string& room_id) const {
  std::lock_guard lock(impl_->mutex);
  auto q = impl_->db.prepare(
      "SELECT call_id, user_id, device_id, peer_session_id, next_seq FROM group_peer_calls WHERE room_id = ?1 "
      "ORDER BY call_id",
      "loading group peer calls");
  if (!q) return std::move(q).error();
  if (auto bound = q->bind(1, room_id); !bound) return std::move(bound).error();
  std::vector<GroupPeerCall> out;
  for (;;) {
    auto row = q->step();
    if (!row) return std::move(row).error();
    if (!*row) break;
    out.push_back({q->column_text(0), q->column_text(1), q->column_text(2), q->column_text(3), q->column_int(4)});
  }
  return out;
}

}  // namespace mxcall::store
