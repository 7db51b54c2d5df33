// The floor: two webrtcbin peers of one engine signalled in-process (no Matrix), tuned as
// STACK.md measured (stun pacing 5 ms, jitterbuffer 20 ms). Measures create-offer -> first
// decoded audio at the answerer.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <mutex>
#include <optional>
#include <string>

#include "mxcall/media.hpp"

namespace mxcall::bench {

class FloorPair {
 public:
  using Clock = std::chrono::steady_clock;

  // trace: every engine event to stderr, stamped from create-offer.
  explicit FloorPair(media::MediaEngine& engine, bool trace = false) : engine_(engine), trace_(trace) {
    engine_.set_event_sink([this](media::MediaEvent e) {
      std::lock_guard lock(mutex_);
      events_.push_back(std::move(e));
      cv_.notify_all();
    });
  }
  ~FloorPair() { engine_.set_event_sink({}); }

  // One call: returns create-offer -> first audio decoded at the answerer, or nullopt.
  std::optional<std::chrono::microseconds> run_once(std::chrono::seconds timeout = std::chrono::seconds(10)) {
    media::PeerConfig cfg;
    cfg.include_loopback = true;
    cfg.stun_pacing = std::chrono::milliseconds(5);
    cfg.jitterbuffer_latency = std::chrono::milliseconds(20);
    auto a = engine_.create_peer(cfg);
    auto b = engine_.create_peer(cfg);
    if (!a.ok() || !b.ok()) return std::nullopt;
    (void)engine_.add_track(*a, {media::MediaKind::Audio, media::StreamPurpose::UserMedia, "floora", "a", media::SourceKind::Test, {}, 20});
    (void)engine_.add_track(*b, {media::MediaKind::Audio, media::StreamPurpose::UserMedia, "floorb", "b", media::SourceKind::Test, {}, 20});
    const auto start = Clock::now();
    engine_.create_offer(*a);
    std::optional<std::chrono::microseconds> result;
    const auto until = start + timeout;
    while (!result && Clock::now() < until) {
      std::unique_lock lock(mutex_);
      if (!cv_.wait_until(lock, until, [&] { return !events_.empty(); })) break;
      auto e = std::move(events_.front());
      events_.pop_front();
      lock.unlock();
      const media::PeerId from = media::peer_of(e);
      if (trace_) {  // "floor <ms since create-offer> <0 offerer|1 answerer> <event index>"
        const auto* ice = std::get_if<media::IceStateChanged>(&e);
        std::fprintf(stderr, "floor %8.3f %d %zu%s\n", std::chrono::duration<double, std::milli>(Clock::now() - start).count(),
                     from == *a ? 0 : 1, e.index(), ice ? (" ice " + std::to_string(static_cast<int>(ice->state))).c_str() : "");
      }
      const media::PeerId to = from == *a ? *b : *a;
      if (auto* d = std::get_if<media::LocalDescriptionReady>(&e)) {
        engine_.set_remote_description(to, d->description);
        if (d->description.type == media::SdpType::Offer) engine_.create_answer(to);
      } else if (auto* c = std::get_if<media::LocalCandidate>(&e)) {
        engine_.add_remote_candidate(to, c->candidate);
      } else if (auto* f = std::get_if<media::FirstMediaDecoded>(&e); f && from == *b && f->kind == media::MediaKind::Audio) {
        result = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start);
      }
    }
    engine_.close_peer(*a);
    engine_.close_peer(*b);
    std::lock_guard lock(mutex_);
    events_.clear();
    return result;
  }

 private:
  media::MediaEngine& engine_;
  const bool trace_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<media::MediaEvent> events_;
};

}  // namespace mxcall::bench
