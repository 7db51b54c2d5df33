// Virtual time and the one event queue of a simulation run. Nothing in the simulator reads a
// clock or starts a thread: every delivery, response, media event and client wake-up is an item
// in this queue, and time jumps to the earliest one. Ties run in the order they were scheduled,
// so a run is a pure function of its seed.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "sim_rng.hpp"

namespace mxcall::sim {

// Milliseconds since the start of the run, on the homeserver's clock (clients skew theirs).
using SimTime = std::int64_t;

std::string format_time(SimTime t);  // "12.345s"

// The full trace (--trace): one line per thing that happened, prefixed with the virtual time.
class Trace {
 public:
  explicit Trace(bool enabled) : enabled_(enabled) {}
  bool enabled() const { return enabled_; }
  void line(SimTime t, std::string_view who, std::string_view what) const;

 private:
  bool enabled_;
};

class World {
 public:
  World(std::uint64_t seed, bool trace) : rng_(seed), trace_(trace) {}

  SimTime now() const { return now_; }
  // Runs fn at time t (never earlier than now).
  void at(SimTime t, std::function<void()> fn);
  void after(SimTime delay, std::function<void()> fn) { at(now_ + (delay > 0 ? delay : 0), std::move(fn)); }

  // Runs the earliest item; false when the queue is empty.
  bool run_one();
  // Runs every item due at or before t, then moves time to t.
  void run_until(SimTime t);
  std::size_t pending() const { return queue_.size(); }
  // When the earliest item is due (only meaningful while pending() > 0).
  SimTime next_at() const { return queue_.front().at; }
  std::uint64_t items_run() const { return items_run_; }

  Rng& rng() { return rng_; }
  const Trace& trace() const { return trace_; }
  void log(std::string_view who, std::string_view what) const {
    if (trace_.enabled()) trace_.line(now_, who, what);
  }

 private:
  struct Item {
    SimTime at;
    std::uint64_t seq;
    std::function<void()> fn;
  };
  struct Later {
    bool operator()(const Item& a, const Item& b) const { return a.at != b.at ? a.at > b.at : a.seq > b.seq; }
  };

  SimTime now_ = 0;
  std::uint64_t seq_ = 0;
  std::uint64_t items_run_ = 0;
  std::vector<Item> queue_;  // a heap ordered by Later (a vector, so items can be moved out)
  Rng rng_;
  Trace trace_;
};

}  // namespace mxcall::sim
