// The simulator's only source of randomness. One 64-bit seed makes the root; every component
// takes its own stream with split(label), so adding a draw in one component does not shift the
// draws of the others (TigerBeetle's VOPR does the same with its PRNG).
#pragma once

#include <cstdint>
#include <random>
#include <string_view>
#include <vector>

namespace mxcall::sim {

class Rng {
 public:
  explicit Rng(std::uint64_t seed) : state_(seed) {}

  // SplitMix64: tiny, fast, and good enough for choosing faults and delays.
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }

  // An independent stream for one component, named so a trace can say which one it is.
  Rng split(std::string_view label) {
    std::uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a of the label
    for (char c : label) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ull;
    return Rng(next() ^ h);
  }

  // Uniform in [lo, hi] (inclusive); lo when hi <= lo.
  std::int64_t between(std::int64_t lo, std::int64_t hi) {
    if (hi <= lo) return lo;
    const auto span = static_cast<std::uint64_t>(hi - lo) + 1;
    return lo + static_cast<std::int64_t>(next() % span);
  }
  double unit() { return static_cast<double>(next() >> 11) * (1.0 / 9007199254740992.0); }
  bool chance(double p) { return p > 0 && unit() < p; }
  std::size_t index(std::size_t n) { return n == 0 ? 0 : static_cast<std::size_t>(next() % n); }
  template <typename T>
  const T& pick(const std::vector<T>& v) { return v[index(v.size())]; }

  // A standard engine for code that wants one (the transport's retry jitter).
  std::mt19937_64 engine() { return std::mt19937_64(next()); }

 private:
  std::uint64_t state_;
};

// FoundationDB's BUGGIFY: a fault site is armed for the whole run with some probability, and
// an armed site then fires on a fraction of its passes. Most runs thus have few kinds of
// faults, some have many, which finds more than a uniform sprinkling.
struct FaultSite {
  bool armed = false;
  double rate = 0;
  bool fire(Rng& rng) const { return armed && rng.chance(rate); }
  static FaultSite arm(Rng& rng, double arm_probability, double lo, double hi) {
    FaultSite f;
    f.armed = rng.chance(arm_probability);
    f.rate = lo + (hi - lo) * rng.unit();
    return f;
  }
};

}  // namespace mxcall::sim
