// What one run simulates, drawn from its seed (swarm testing): network delays and faults, the
// homeserver's batching, rate limits and restarts, client clocks and crashes, media delays and
// ICE trouble. Every fault site is armed for the whole run or not at all (see FaultSite); the
// liveness phase turns all of them off at once (`active`).
#pragma once

#include <string>

#include "sim_rng.hpp"
#include "sim_world.hpp"

namespace mxcall::sim {

struct NetConfig {
  SimTime latency_min = 5;   // one way, client <-> homeserver
  SimTime latency_max = 40;
  FaultSite slow;            // a request or response takes 0.5-3 s longer
  FaultSite reset;           // the connection is reset: the client sees a network error
  FaultSite blackhole;       // the request or its response vanishes: the client times out
};

struct HsConfig {
  int batch_limit = 10;             // timeline events per room per /sync response
  SimTime batch_window = 20;        // a parked /sync waits this long for more events
  SimTime federation_max = 0;       // extra per-receiver delay (different senders interleave differently)
  FaultSite federation;             // which events get that delay
  FaultSite duplicate;              // an event is delivered again in a later batch
  FaultSite rate_limit;             // sends are rate limited (token bucket) ...
  int burst = 10;                   // ... with this burst
  SimTime refill = 200;             // ... and one token per this many ms
  FaultSite restart;                // per second: the homeserver restarts
  FaultSite td_reorder;             // a to-device message overtakes the one queued before it
  FaultSite td_duplicate;           // a to-device message is queued twice
};

struct ClientConfig {
  std::int64_t max_drift_ppm = 0;   // clock rate error, both ways
  FaultSite crash;                  // per second and client: the process dies (restarts later)
  FaultSite lost_store;             // a restart comes back without its sync token
  FaultSite offline;                // per second and client: the network goes away for a while
  SimTime max_offline = 10'000;
};

struct MediaConfig {
  SimTime op_delay_max = 30;        // create_offer/answer, set_remote -> event
  SimTime gather_max = 100;         // last candidate after the description (> 150 ms: trickled)
  SimTime connect_max = 200;        // ICE checks -> connected
  SimTime media_timeout = 3'000;    // no packets this long -> Disconnected (the engine's watchdog)
  SimTime check_timeout = 10'000;   // checks that never succeed -> Failed
  FaultSite ice_fail;               // a fresh ICE agent fails its checks
  FaultSite path_cut;               // per second: the path between two clients goes away
  SimTime max_cut = 8'000;
  FaultSite spurious_disconnect;    // per second and peer: Disconnected, then Connected again
};

struct SimConfig {
  NetConfig net;
  HsConfig hs;
  ClientConfig client;
  MediaConfig media;
  bool active = true;  // false: every fault site is off (liveness phase, or --no-faults)

  bool fire(const FaultSite& f, Rng& rng) const { return active && f.fire(rng); }
  // No fault that can legitimately end a call is armed: crashes, offline spells, homeserver
  // restarts, failing ICE agents, cut paths. (Delays, resets, 429s and blips must be ridden out.)
  bool calm() const {
    return !active || (!client.crash.armed && !client.offline.armed && !hs.restart.armed && !media.ice_fail.armed &&
                       !media.path_cut.armed && !net.blackhole.armed);
  }

  static SimConfig draw(Rng& rng);
  std::string describe() const;
};

}  // namespace mxcall::sim
