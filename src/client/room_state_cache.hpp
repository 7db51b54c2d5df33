// The room state a client acts on — memberships and MSC3401 call/member events — taken from
// each /sync batch and kept in the store, so a client restarted from its sync token (which
// only gets what happened since) still knows who is in which room and which calls run,
// without an initial sync or a scan of room history.
#pragma once

#include <string>
#include <vector>

#include "mxcall/matrix/sync.hpp"
#include "mxcall/store.hpp"

namespace mxcall::client {

// Whether events of this type are kept.
bool is_tracked_state_type(const std::string& type);

// The tracked state events of a batch (state section and timeline, in order), as entries to
// upsert; a joined room also gets our own membership as "join" (the room being in `join`
// says so even when our member event is older than the batch).
std::vector<store::StateEntry> tracked_state(const matrix::SyncBatch& batch, const std::string& own_user_id);

// Stored entries back as state events of joined rooms (one JoinedRoom per room), for the same
// code that reads /sync batches. Entries whose content is not a JSON object are skipped.
std::vector<matrix::JoinedRoom> rooms_from_state(const std::vector<store::StateEntry>& entries);

}  // namespace mxcall::client
