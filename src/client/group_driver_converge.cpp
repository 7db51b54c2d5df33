// Concurrent first joins: clients that join a room without a call at the same instant each
// write their own call event. Every device sees the same events and picks the same winner
// (core::choose_call); a participant of a losing call leaves it — terminating it when nobody
// else is listed there, so later joiners (js-sdk too) find one live call — and joins the winner.
#include "client/group_driver.hpp"
#include "util/logging.hpp"

namespace mxcall::client {

core::CallChoice GroupDriver::choice(const std::string& room_id) const {
  std::vector<core::CallCandidate> candidates;
  if (auto r = rooms_.find(room_id); r != rooms_.end())
    for (const auto& [conf, entry] : r->second.calls)
      candidates.push_back({conf, entry.first, entry.second.terminated});
  return core::choose_call(candidates);
}

std::optional<std::string> GroupDriver::live_conf_id(const std::string& room_id) const {
  return choice(room_id).winner;
}

void GroupDriver::check_convergence(const std::string& room_id) {
  auto it = active_.find(room_id);
  if (it == active_.end()) return;
  Active& a = it->second;
  const std::string& ours = a.call->config().conf_id;
  const auto& calls = rooms_[room_id].calls;
  auto own = calls.find(ours);
  // Our call event must be known (a call we just created: its echo) and live (a terminated
  // call is left by the core itself); the choice needs every live call's timestamp.
  if (own == calls.end() || own->second.second.terminated || !a.call->joined()) return;
  const core::CallChoice c = choice(room_id);
  if (!c.settled || !c.winner) return;
  if (*c.winner == ours) {
    a.move_to.reset();
    return;
  }
  if (a.move_to == c.winner) return;
  MXLOG_INFO("group: {} in {} lost to the newer call {}; moving there", ours, room_id, *c.winner);
  a.move_to = c.winner;
}

void GroupDriver::move_calls(core::TimePoint now) {
  std::vector<std::string> moving;
  for (const auto& [room_id, a] : active_)
    if (a.move_to) moving.push_back(room_id);
  for (const auto& room_id : moving) {
    Active& a = active_.at(room_id);
    const std::string target = *a.move_to;
    const GroupCallOptions options = a.options;
    // Alone in the losing call: end it, so it is not found live later.
    const bool terminate = a.call->participants().empty();
    core::gcmd::Leave leave;
    leave.terminate = terminate;
    leave.reason = "moved";
    a.call->handle(leave, now, ports_.unix_ms());
    while (auto out = a.call->poll()) perform(room_id, a, *out, now);
    MXLOG_INFO("group: left {} in {}{}; joining {}", a.call->config().conf_id, room_id,
               terminate ? " (terminated: nobody else was in it)" : "", target);
    if (ports_.store)
      if (auto st = ports_.store->remove_group_call(room_id); !st.ok())
        MXLOG_WARN("group: forgetting the call in {} in the store failed: {}", room_id, st.error().describe());
    active_.erase(room_id);
    if (auto joined = join_conf(room_id, options, target, now); !joined.ok())
      MXLOG_WARN("group: joining {} in {} failed: {}", target, room_id, joined.error().describe());
  }
}

}  // namespace mxcall::client
