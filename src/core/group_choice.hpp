// Which of a room's org.matrix.msc3401.call events is the room's call. Clients that join a room
// without a call at the same instant each create one; they converge by this rule (the driver
// moves us from a losing call to the winner, group_driver_converge.cpp).
//
// The winner is the live (not terminated, not redacted) call event with the newest
// origin_server_ts, as matrix-js-sdk's GroupCallEventHandler picks when it loads a room; equal
// timestamps: the smaller conf id (js-sdk leaves that to its state map's order). Newest rather
// than earliest so that a losing call nobody terminated (its last participants switched
// together) is older than the winner and loses for js-sdk clients that load the room later too.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace mxcall::core {

struct CallCandidate {
  std::string conf_id;
  std::int64_t origin_server_ts = 0;  // 0: unknown (restored from the store's state cache)
  bool terminated = false;
};

struct CallChoice {
  std::optional<std::string> winner;  // nullopt: no live call
  // Every live candidate's timestamp is known: the winner may be acted on (leaving another
  // call for it). Otherwise it is only a guess (joining picks it; nobody switches on it).
  bool settled = true;
};

CallChoice choose_call(const std::vector<CallCandidate>& candidates);

}  // namespace mxcall::core
