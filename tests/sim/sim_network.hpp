// The HTTP path between one client and the homeserver: latency both ways, slow requests,
// connection resets, requests or responses that vanish (the client's own timeout fires), a
// client that is offline, and a server restart that cuts the responses in flight. A request
// can reach the server although the client sees a failure: the retry then carries the same
// txn id and the server answers with the event it stored the first time.
#pragma once

#include <functional>

#include "mxcall/matrix/http.hpp"
#include "sim_config.hpp"
#include "sim_homeserver.hpp"
#include "sim_world.hpp"

namespace mxcall::sim {

class SimNetwork {
 public:
  SimNetwork(World& world, const SimConfig& config, SimHomeserver& hs, Rng rng)
      : world_(world), config_(config), hs_(hs), rng_(rng) {}

  // One attempt. `done` is called exactly once: with the server's answer, or with the failure
  // the client would see (ConnectFailed, Timeout after `timeout`).
  void perform(const DeviceRef& from, const bool& offline, HsRequest request, SimTime timeout,
               std::function<void(matrix::HttpResponse)> done);

 private:
  SimTime latency();

  World& world_;
  const SimConfig& config_;
  SimHomeserver& hs_;
  Rng rng_;
};

}  // namespace mxcall::sim
