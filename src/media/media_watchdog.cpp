#include "media/media_watchdog.hpp"

#include <algorithm>

namespace mxcall::media {

std::chrono::milliseconds MediaWatchdog::period() const {
  using std::chrono::milliseconds;
  return std::clamp(timeout_ / 4, milliseconds(50), milliseconds(250));
}

MediaWatchdog::Change MediaWatchdog::update(Clock::time_point now, const Inputs& in) {
  if (timeout_.count() <= 0) return Change::None;
  if (!started_ || in.generation != generation_) {  // first look, or a fresh ICE agent
    settling_ = started_;
    started_ = true;
    generation_ = in.generation;
    dead_ = false;
    last_packets_ = in.packets;
    last_progress_ = now;
    return Change::None;
  }
  const bool progressed = in.packets != last_packets_;
  last_packets_ = in.packets;
  if (!in.ice_up) {  // the agent's own state is reported as it is; the clock starts when it is up
    dead_ = false;
    last_progress_ = now;
    return Change::None;
  }
  if (progressed) settling_ = false;
  if (progressed || in.quiet_expected) {
    last_progress_ = now;
    if (!dead_) return Change::None;
    dead_ = false;
    return Change::Alive;
  }
  if (!dead_ && now - last_progress_ >= (settling_ ? settle() : timeout_)) {
    dead_ = true;
    return Change::Dead;
  }
  return Change::None;
}

}  // namespace mxcall::media
