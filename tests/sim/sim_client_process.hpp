// SimClient's process state (private to sim_client*.cpp): what dies with a crash.
#pragma once

#include <deque>
#include <random>

#include "matrix/retry_decision.hpp"
#include "sim_client.hpp"

namespace mxcall::sim {

struct SimClient::SendJob {
  HsRequest request;
  std::function<void(const Status&)> done;
  matrix::AttemptCounts counts;
  bool superseded = false;  // a newer write of the same state is queued: this one is not sent again
};

struct SimClient::Process {
  Process(MediaNet& net, int index, int inc, const std::string& user) : incarnation(inc), rooms(user), engine(net, index) {}
  int incarnation;
  client::RoomTracker rooms;
  SimEngine engine;
  std::unique_ptr<client::CallDriver> driver;  // destroyed before the engine
  std::unique_ptr<client::GroupDriver> group;  // only in group scenarios
  std::vector<client::OutgoingToDevice> outbox;  // this turn's to-device messages
  bool rejoin_pending = false;                  // the store's calls are rejoined after the first batch
  std::string since;
  bool first_sync = true;
  matrix::AttemptCounts sync_counts;
  std::deque<SendJob> sends;
  bool sending = false;
  std::uint64_t wake_gen = 0;
  std::mt19937_64 jitter;
};

}  // namespace mxcall::sim
