#include "sim_world.hpp"

#include <algorithm>
#include <cstdio>

namespace mxcall::sim {

std::string format_time(SimTime t) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%lld.%03llds", static_cast<long long>(t / 1000), static_cast<long long>(t % 1000));
  return buf;
}

void Trace::line(SimTime t, std::string_view who, std::string_view what) const {
  if (!enabled_) return;
  std::fprintf(stderr, "[%10s] %-14.*s %.*s\n", format_time(t).c_str(), static_cast<int>(who.size()), who.data(),
              static_cast<int>(what.size()), what.data());
}

void World::at(SimTime t, std::function<void()> fn) {
  queue_.push_back(Item{t < now_ ? now_ : t, seq_++, std::move(fn)});
  std::push_heap(queue_.begin(), queue_.end(), Later{});
}

bool World::run_one() {
  if (queue_.empty()) return false;
  std::pop_heap(queue_.begin(), queue_.end(), Later{});
  Item item = std::move(queue_.back());
  queue_.pop_back();
  now_ = item.at;
  ++items_run_;
  item.fn();
  return true;
}

void World::run_until(SimTime t) {
  while (!queue_.empty() && queue_.front().at <= t) run_one();
  if (t > now_) now_ = t;
}

}  // namespace mxcall::sim
