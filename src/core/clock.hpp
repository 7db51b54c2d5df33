// Time as the core sees it: instants handed in by the driver (real or virtual), never read.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <optional>

namespace mxcall::core {

using TimePoint = std::chrono::steady_clock::time_point;
using Duration = std::chrono::milliseconds;

template <typename TimerEnum>
struct Deadline {
  TimePoint at;
  TimerEnum timer;  // why the driver must wake us
};

// One optional deadline per timer kind (quinn-proto's TimerTable): arming replaces, and
// expire() stops and returns the earliest due timer so handle(Tick) can dispatch each once.
template <typename TimerEnum, std::size_t Count>
class TimerTable {
 public:
  void arm(TimerEnum t, TimePoint at) { slots_[index(t)] = at; }
  void stop(TimerEnum t) { slots_[index(t)].reset(); }
  void stop_all() { slots_.fill(std::nullopt); }
  bool armed(TimerEnum t) const { return slots_[index(t)].has_value(); }
  std::optional<TimePoint> when(TimerEnum t) const { return slots_[index(t)]; }

  std::optional<Deadline<TimerEnum>> next() const {
    std::optional<Deadline<TimerEnum>> best;
    for (std::size_t i = 0; i < Count; ++i)
      if (slots_[i] && (!best || *slots_[i] < best->at)) best = Deadline<TimerEnum>{*slots_[i], static_cast<TimerEnum>(i)};
    return best;
  }

  // The earliest timer due at `now`, stopped; nullopt when none is due.
  std::optional<TimerEnum> expire(TimePoint now) {
    auto n = next();
    if (!n || n->at > now) return std::nullopt;
    stop(n->timer);
    return n->timer;
  }

 private:
  static std::size_t index(TimerEnum t) { return static_cast<std::size_t>(t); }
  std::array<std::optional<TimePoint>, Count> slots_{};
};

}  // namespace mxcall::core
