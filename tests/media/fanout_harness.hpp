// A "hub" WebrtcbinEngine whose peers send (typically from shared sources, as a group call's
// participant does) and a "leaf" engine with one peer per hub peer, wired back to back by the
// harness: descriptions and candidates routed on the caller's thread, as CallHarness does for
// one pair. Two engines, so each side's pipelines (and encoders) can be counted apart. Used by
// tests/media/fanout_test.cpp and bench/media_fanout.cpp (no gtest here).
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <variant>
#include <mutex>
#include <set>
#include <utility>
#include <vector>

#include "media/webrtcbin_engine.hpp"
#include "mxcall/media.hpp"

namespace mxcall::media::test {

class FanoutHarness {
 public:
  using Clock = std::chrono::steady_clock;

  struct Link {
    PeerId hub = 0, leaf = 0;
    bool hub_up = false, leaf_up = false;  // ICE connected/completed
    int hub_applied = 0, leaf_applied = 0;  // remote descriptions applied
    std::set<MediaKind> leaf_decoded, hub_decoded;
    std::vector<RemoteTrackRemoved> leaf_removed;
    std::vector<OperationFailed> failures;
    bool closed = false;
  };

  explicit FanoutHarness(PeerConfig config) : config_(std::move(config)) {
    hub_.set_event_sink([this](MediaEvent ev) { push(true, std::move(ev)); });
    leaf_.set_event_sink([this](MediaEvent ev) { push(false, std::move(ev)); });
    hub_.warm_up();
    leaf_.warm_up();
  }
  ~FanoutHarness() {
    for (auto& l : links_) close(l);
    hub_.set_event_sink({});  // no more pushes into this harness once these return
    leaf_.set_event_sink({});
  }

  WebrtcbinEngine& hub() { return hub_; }
  WebrtcbinEngine& leaf() { return leaf_; }
  Link& link(std::size_t i) { return *links_.at(i); }
  std::size_t size() const { return links_.size(); }

  // A new pair of peers with these tracks; not negotiated yet.
  std::size_t add_link(const std::vector<TrackSpec>& hub_tracks, const std::vector<TrackSpec>& leaf_tracks = {}) {
    auto l = std::make_unique<Link>();
    auto h = hub_.create_peer(config_);
    auto f = leaf_.create_peer(config_);
    if (!h.ok() || !f.ok()) throw std::runtime_error("create_peer failed");
    l->hub = h.value();
    l->leaf = f.value();
    for (const auto& t : hub_tracks)
      if (!hub_.add_track(l->hub, t).ok()) throw std::runtime_error("hub add_track failed");
    for (const auto& t : leaf_tracks)
      if (!leaf_.add_track(l->leaf, t).ok()) throw std::runtime_error("leaf add_track failed");
    by_peer_[{true, l->hub}] = l.get();
    by_peer_[{false, l->leaf}] = l.get();
    links_.push_back(std::move(l));
    return links_.size() - 1;
  }

  // The hub side offers (ICE restart if asked); true once both sides applied both descriptions.
  bool negotiate(std::size_t i, OfferOptions options = {}, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    Link& l = link(i);
    const int h0 = l.hub_applied, f0 = l.leaf_applied;
    hub_.create_offer(l.hub, options);
    return wait([&] { return l.hub_applied > h0 && l.leaf_applied > f0; }, timeout);
  }

  bool connect(std::size_t i, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    Link& l = link(i);
    return negotiate(i, {}, timeout) && wait([&] { return l.hub_up && l.leaf_up; }, timeout);
  }

  void close(std::size_t i) { close(links_.at(i)); }

  // Handles events until pred() holds or the timeout passes; returns pred().
  bool wait(const std::function<bool()>& pred, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    const auto deadline = Clock::now() + timeout;
    while (!pred()) {
      std::optional<std::pair<bool, MediaEvent>> ev;
      {
        std::unique_lock lock(mu_);
        const auto tick = std::min(deadline, Clock::now() + std::chrono::milliseconds(10));
        if (!cv_.wait_until(lock, tick, [this] { return !queue_.empty(); })) {
          if (Clock::now() >= deadline) return pred();
          continue;
        }
        ev = std::move(queue_.front());
        queue_.pop_front();
      }
      handle(ev->first, ev->second);
    }
    return true;
  }

  void observe(std::chrono::milliseconds d) {
    const auto until = Clock::now() + d;
    wait([until] { return Clock::now() >= until; }, d + std::chrono::milliseconds(50));
  }

 private:
  void close(std::unique_ptr<Link>& l) {
    if (l->closed) return;
    l->closed = true;
    hub_.close_peer(l->hub);
    leaf_.close_peer(l->leaf);
  }

  void push(bool from_hub, MediaEvent ev) {
    std::lock_guard lock(mu_);
    queue_.emplace_back(from_hub, std::move(ev));
    cv_.notify_all();
  }

  void handle(bool from_hub, const MediaEvent& event) {
    auto it = by_peer_.find({from_hub, peer_of(event)});
    if (it == by_peer_.end() || it->second->closed) return;
    Link& l = *it->second;
    WebrtcbinEngine& self = from_hub ? hub_ : leaf_;
    WebrtcbinEngine& other = from_hub ? leaf_ : hub_;
    const PeerId partner = from_hub ? l.leaf : l.hub;
    std::visit(
        [&](const auto& ev) {
          using T = std::decay_t<decltype(ev)>;
          if constexpr (std::is_same_v<T, LocalDescriptionReady>) {
            other.set_remote_description(partner, ev.description);
          } else if constexpr (std::is_same_v<T, RemoteDescriptionApplied>) {
            ++(from_hub ? l.hub_applied : l.leaf_applied);
            if (ev.type == SdpType::Offer) self.create_answer(ev.peer);
          } else if constexpr (std::is_same_v<T, LocalCandidate>) {
            other.add_remote_candidate(partner, ev.candidate);
          } else if constexpr (std::is_same_v<T, IceStateChanged>) {
            const bool up = ev.state == IceState::Connected || ev.state == IceState::Completed;
            (from_hub ? l.hub_up : l.leaf_up) = up;
          } else if constexpr (std::is_same_v<T, FirstMediaDecoded>) {
            (from_hub ? l.hub_decoded : l.leaf_decoded).insert(ev.kind);
          } else if constexpr (std::is_same_v<T, RemoteTrackRemoved>) {
            if (!from_hub) l.leaf_removed.push_back(ev);
          } else if constexpr (std::is_same_v<T, OperationFailed>) {
            std::cerr << (from_hub ? "hub" : "leaf") << " peer " << ev.peer << " " << ev.operation
                      << " failed: " << ev.message << "\n";
            l.failures.push_back(ev);
          }
        },
        event);
  }

  const PeerConfig config_;
  WebrtcbinEngine hub_, leaf_;
  std::vector<std::unique_ptr<Link>> links_;
  std::map<std::pair<bool, PeerId>, Link*> by_peer_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<bool, MediaEvent>> queue_;
};

}  // namespace mxcall::media::test
