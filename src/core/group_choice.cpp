#include "core/group_choice.hpp"

namespace mxcall::core {

CallChoice choose_call(const std::vector<CallCandidate>& candidates) {
  CallChoice out;
  const CallCandidate* best = nullptr;
  for (const auto& c : candidates) {
    if (c.terminated) continue;
    if (c.origin_server_ts <= 0) out.settled = false;
    if (!best || c.origin_server_ts > best->origin_server_ts ||
        (c.origin_server_ts == best->origin_server_ts && c.conf_id < best->conf_id))
      best = &c;
  }
  if (best) out.winner = best->conf_id;
  return out;
}

}  // namespace mxcall::core
