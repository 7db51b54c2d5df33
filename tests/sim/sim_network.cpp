#include "sim_network.hpp"

#include <memory>

namespace mxcall::sim {

namespace {

matrix::HttpResponse failure(matrix::HttpOutcome outcome, const char* text) {
  matrix::HttpResponse r;
  r.outcome = outcome;
  r.error_text = text;
  return r;
}

}  // namespace

SimTime SimNetwork::latency() {
  SimTime l = rng_.between(config_.net.latency_min, config_.net.latency_max);
  if (config_.fire(config_.net.slow, rng_)) l += rng_.between(500, 3'000);
  return l;
}

void SimNetwork::perform(const DeviceRef& from, const bool& offline, HsRequest request, SimTime timeout,
                         std::function<void(matrix::HttpResponse)> done) {
  // Whichever comes first (an answer, a failure, the client's timeout) is the outcome.
  auto finished = std::make_shared<bool>(false);
  auto finish = [finished, done = std::move(done)](matrix::HttpResponse r) {
    if (*finished) return;
    *finished = true;
    done(std::move(r));
  };
  world_.after(timeout, [finish] { finish(failure(matrix::HttpOutcome::Timeout, "operation timed out")); });
  if (offline) {
    world_.after(rng_.between(0, 1'000), [finish] { finish(failure(matrix::HttpOutcome::ConnectFailed, "network unreachable")); });
    return;
  }
  // Faults decided up front: where the exchange breaks, if it does.
  const bool reset = config_.fire(config_.net.reset, rng_);
  const bool lost = !reset && config_.fire(config_.net.blackhole, rng_);
  const bool reaches_server = !(reset || lost) || rng_.chance(0.5);
  if (reset)
    world_.after(rng_.between(50, 1'500), [finish] { finish(failure(matrix::HttpOutcome::ConnectFailed, "connection reset by peer")); });
  if (!reaches_server) return;
  const bool answer_lost = reset || lost;
  const bool* offline_flag = &offline;
  world_.after(latency(), [this, from, offline_flag, request = std::move(request), finish, answer_lost] {
    if (*offline_flag) return;  // went offline on the way: the client times out
    hs_.handle(from, request, [this, finish, answer_lost, offline_flag](matrix::HttpResponse r) {
      if (answer_lost) return;
      const std::uint64_t generation = hs_.generation();
      world_.after(latency(), [this, finish, offline_flag, generation, r = std::move(r)]() mutable {
        if (*offline_flag) return;
        // A restart while the answer was on its way closes the connection first.
        if (hs_.generation() != generation) r = failure(matrix::HttpOutcome::ConnectFailed, "connection closed");
        finish(std::move(r));
      });
    });
  });
}

}  // namespace mxcall::sim
