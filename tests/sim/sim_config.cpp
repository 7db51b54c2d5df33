#include "sim_config.hpp"

#include <sstream>

namespace mxcall::sim {

namespace {

void site(std::ostringstream& out, const char* name, const FaultSite& f) {
  if (f.armed) out << " " << name << "=" << static_cast<int>(f.rate * 1000) / 10.0 << "%";
}

}  // namespace

SimConfig SimConfig::draw(Rng& rng) {
  SimConfig c;
  c.net.latency_min = rng.between(1, 30);
  c.net.latency_max = c.net.latency_min + rng.between(0, rng.chance(0.2) ? 800 : 80);
  c.net.slow = FaultSite::arm(rng, 0.25, 0.01, 0.1);
  c.net.reset = FaultSite::arm(rng, 0.25, 0.01, 0.15);
  c.net.blackhole = FaultSite::arm(rng, 0.15, 0.005, 0.03);

  c.hs.batch_limit = static_cast<int>(rng.between(1, 20));
  c.hs.batch_window = rng.between(0, 100);
  c.hs.federation = FaultSite::arm(rng, 0.3, 0.05, 0.5);
  c.hs.federation_max = rng.between(50, 3'000);
  c.hs.duplicate = FaultSite::arm(rng, 0.2, 0.01, 0.1);
  c.hs.rate_limit = FaultSite::arm(rng, 0.25, 1, 1);
  c.hs.burst = static_cast<int>(rng.between(2, 10));
  c.hs.refill = rng.between(50, 1'000);
  c.hs.restart = FaultSite::arm(rng, 0.15, 0.005, 0.03);

  c.client.max_drift_ppm = rng.chance(0.3) ? rng.between(0, 50'000) : rng.between(0, 200);
  c.client.crash = FaultSite::arm(rng, 0.15, 0.002, 0.01);
  c.client.lost_store = FaultSite::arm(rng, 0.3, 0.5, 0.5);
  c.client.offline = FaultSite::arm(rng, 0.15, 0.002, 0.01);
  c.client.max_offline = rng.between(1'000, 70'000);

  c.media.op_delay_max = rng.between(1, rng.chance(0.2) ? 400 : 40);
  c.media.gather_max = rng.between(1, rng.chance(0.3) ? 1'000 : 120);
  c.media.connect_max = rng.between(10, 500);
  c.media.ice_fail = FaultSite::arm(rng, 0.2, 0.1, 0.6);
  c.media.path_cut = FaultSite::arm(rng, 0.2, 0.005, 0.03);
  c.media.max_cut = rng.between(1'000, 30'000);
  c.media.spurious_disconnect = FaultSite::arm(rng, 0.15, 0.002, 0.02);
  // Drawn last: the draws above (and so every older seed) stay as they were.
  c.hs.td_reorder = FaultSite::arm(rng, 0.3, 0.05, 0.3);
  c.hs.td_duplicate = FaultSite::arm(rng, 0.2, 0.02, 0.2);
  return c;
}

std::string SimConfig::describe() const {
  std::ostringstream out;
  out << "net " << net.latency_min << "-" << net.latency_max << "ms";
  site(out, "slow", net.slow);
  site(out, "reset", net.reset);
  site(out, "blackhole", net.blackhole);
  out << "; hs batch<=" << hs.batch_limit << " window=" << hs.batch_window << "ms";
  if (hs.federation.armed) out << " federation<=" << hs.federation_max << "ms";
  site(out, "of-events", hs.federation);
  site(out, "duplicate", hs.duplicate);
  if (hs.rate_limit.armed) out << " ratelimit=" << hs.burst << "/" << hs.refill << "ms";
  site(out, "restart/s", hs.restart);
  site(out, "td-reorder", hs.td_reorder);
  site(out, "td-dup", hs.td_duplicate);
  out << "; clients drift<=" << client.max_drift_ppm << "ppm";
  site(out, "crash/s", client.crash);
  site(out, "lost-store", client.lost_store);
  site(out, "offline/s", client.offline);
  if (client.offline.armed) out << " offline<=" << client.max_offline << "ms";
  out << "; media op<=" << media.op_delay_max << "ms gather<=" << media.gather_max << "ms connect<="
      << media.connect_max << "ms";
  site(out, "ice-fail", media.ice_fail);
  site(out, "cut/s", media.path_cut);
  if (media.path_cut.armed) out << " cut<=" << media.max_cut << "ms";
  site(out, "blip/s", media.spurious_disconnect);
  return out.str();
}

}  // namespace mxcall::sim
