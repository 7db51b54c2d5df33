// The demo's second part: an N-party MSC3401 mesh of bots in this process.
#pragma once

#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "mxcall/homeserver.hpp"

namespace mxcall::cli {

struct MeshDemo {
  int participants = 4;
  double duration_s = 5;
  std::string dir;  // clients' stores go under <dir>/clients
  std::function<void(const std::string& line, nlohmann::json j)> say;
};

// Registers (or reuses) the users, puts them in one room and one group call, waits until every
// pair has connected, shows packets flowing, then everyone leaves. Returns the summary object
// ("ok", "participants", "pairs": [{a, b, connected, setup_ms, audio_packets_received}], ...).
nlohmann::json run_mesh_demo(homeserver::LocalSynapse& synapse, const MeshDemo& demo);

}  // namespace mxcall::cli
