// After a crash: the peer calls our previous session had (kept in the store's group_peer_calls
// as they went out on the wire) are ended properly. A restarted app is a new session (the
// session id is per launch, VOIP_PROTOCOL 4.3), so the old calls cannot continue: each gets an
// m.call.hangup from the old session with the seq that call's receiver expects next, so it is
// processed at once — js-sdk never times out a seq gap, a hangup with a stale seq would stall.
// Reason new_session when we rejoin (a peer that placed the call does not retry it; our new
// member entry brings the new call), user_hangup when we do not.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/group_io.hpp"

namespace mxcall::core {

// One peer call of the previous session, as the store keeps it.
struct StalePeerCall {
  std::string call_id;
  std::string user_id;
  std::string device_id;
  std::string peer_session_id;
  std::int64_t next_seq = 0;  // the seq our next message on this call carries
};

struct StaleSession {
  std::string conf_id;
  std::string own_device_id;
  std::string session_id;  // ours, before the crash
  std::vector<StalePeerCall> calls;
};

// One hangup per call (calls without a call id or device are skipped).
std::vector<SendToDevice> stale_call_hangups(const StaleSession& stale, bool rejoining);

}  // namespace mxcall::core
