#include "core/group_restore.hpp"

namespace mxcall::core {

std::vector<SendToDevice> stale_call_hangups(const StaleSession& stale, bool rejoining) {
  std::vector<SendToDevice> out;
  for (const auto& c : stale.calls) {
    if (c.call_id.empty() || c.user_id.empty() || c.device_id.empty()) continue;
    events::CallHangup h;
    h.common = events::CallCommon{c.call_id, stale.own_device_id, events::CallVersion::V1};
    h.reason = rejoining ? "new_session" : std::string(events::reason::kUserHangup);
    out.push_back(SendToDevice{
        c.user_id, c.device_id,
        events::ToDeviceCallEnvelope{h, stale.conf_id, stale.own_device_id, stale.session_id, c.peer_session_id,
                                     c.next_seq}});
  }
  return out;
}

}  // namespace mxcall::core
