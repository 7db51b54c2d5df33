// /sync bodies straight from the network: parsing must never crash, throw or hang, and every
// event that survives must satisfy the invariants the rest of mxcall relies on. The membership
// tracker the call core trusts for "is this sender in the room" then digests the batch.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "client/room_tracker.hpp"
#include "mxcall/matrix/sync.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  auto batch = mxcall::matrix::parse_sync_response(body);
  if (!batch.ok()) return 0;
  if (batch->next_batch.empty()) std::abort();
  for (const auto& room : batch->joined) {
    if (!mxcall::matrix::is_valid_room_id(room.room_id)) std::abort();
    for (const auto& ev : room.timeline)
      if (!ev.content.is_object() || !mxcall::matrix::is_valid_user_id(ev.sender) || ev.type.empty()) std::abort();
    for (const auto& ev : room.state)
      if (!ev.state_key) std::abort();
  }
  for (const auto& td : batch->to_device)
    if (!td.content.is_object() || !mxcall::matrix::is_valid_user_id(td.sender)) std::abort();
  mxcall::client::RoomTracker rooms("@me:example.org");
  rooms.apply(*batch);
  for (const auto& room : batch->joined) {
    for (const auto& user : rooms.joined_members(room.room_id))
      if (!rooms.is_joined_member(room.room_id, user)) std::abort();
    if (auto dm = rooms.direct_room_with("@peer:example.org"); dm && dm->empty()) std::abort();
  }
  return 0;
}
