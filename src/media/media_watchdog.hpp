// Media-inactivity watchdog: tells a dead media path from a live one when ICE cannot.
//
// Why: libnice 0.1.21 as webrtcbin 1.22 sets it up (RFC 5245 mode, no consent freshness, and
// keepalives that are binding *indications*, which need no reply) never notices a path that
// stopped carrying packets. Measured here (two webrtcbins in a loopback-only namespace, every
// UDP packet dropped with nftables for 40 s): ice-connection-state stayed `completed` and
// libnice's component state stayed `ready` the whole time; packets stopped at once, and when
// the rule was removed the old path simply carried media again. Consent freshness is a
// construct-only agent option webrtcbin does not set, and libnice's `keepalive-conncheck`
// would only look every 25 s. A connected call always hears its peer, though: Opus goes out
// at 50 packets/s, muted audio included (silence, no DTX), and RTCP besides. So a peer that
// has received nothing for `timeout` while ICE says it is up has a dead path, unless silence
// is expected (we hold, we are held, or the peer's SDP says it sends nothing).
// One window remains: a side that holds (or resumes) changes what it sends at once, while its
// peer learns of it only when the new offer arrives over the homeserver. A signalling delay
// longer than `timeout` there gives a false Disconnected, withdrawn (Connected) as soon as the
// offer is applied, which is before the call's ICE grace runs out unless the delay is longer
// than timeout + grace.
// A fresh ICE agent (an ICE restart) settles first: until its first packet the verdict waits
// `settle` (3 x timeout) instead of `timeout`. Measured with js-sdk/libwebrtc restarting ICE on
// a healthy path: our fresh agent was connected 6.3 s before libwebrtc moved its media (and the
// DTLS handshake) over to it; a 3 s verdict there restarted ICE again in the middle of that
// and the call never recovered (interop IceRestartFromJsdkOnACallMxcallPlaced, 1 run in 5).
// A fresh agent that never carries a packet is still judged dead, 3 x timeout after it is up.
//
// Pure logic, no clock and no threads: the engine feeds it on a timer.
#pragma once

#include <chrono>
#include <cstdint>

namespace mxcall::media {

class MediaWatchdog {
 public:
  using Clock = std::chrono::steady_clock;
  enum class Change { None, Dead, Alive };

  struct Inputs {
    std::uint64_t packets = 0;    // packets received from the peer's transport so far (monotonic)
    bool ice_up = false;          // the ICE agent says connected or completed
    bool quiet_expected = false;  // hold either way, or the peer sends nothing: silence proves nothing
    std::uint32_t generation = 0; // the ICE agent in use (a restart brings a fresh one)
  };

  // timeout <= 0 turns the watchdog off.
  explicit MediaWatchdog(std::chrono::milliseconds timeout) : timeout_(timeout) {}

  // Dead: nothing arrived for `timeout` while ICE was up and silence was not expected (report
  // the path disconnected). Alive: after Dead, packets arrived again or silence became expected
  // (report it connected again). Whatever the ICE agent reports itself overrides the verdict,
  // and a new ICE agent starts with a clean slate; neither produces a Change.
  Change update(Clock::time_point now, const Inputs& in);

  bool dead() const { return dead_; }
  std::chrono::milliseconds timeout() const { return timeout_; }
  // The verdict's wait for an agent that replaced another and has not carried a packet yet.
  std::chrono::milliseconds settle() const { return 3 * timeout_; }
  // How often the engine should call update() for a verdict within timeout + one period.
  std::chrono::milliseconds period() const;

 private:
  std::chrono::milliseconds timeout_;
  bool started_ = false;
  bool dead_ = false;
  bool settling_ = false;  // a fresh agent (not the first) that has not carried a packet yet
  std::uint32_t generation_ = 0;
  std::uint64_t last_packets_ = 0;
  Clock::time_point last_progress_{};
};

}  // namespace mxcall::media
