// Two peers of one WebrtcbinEngine wired back to back by test code: descriptions and
// candidates are routed from one to the other as the engine reports them, on the test thread
// (the owner thread), so each test only states what it waits for.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <condition_variable>
#include <deque>
#include <functional>
#include <iostream>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "mxcall/media.hpp"
#include "mxcall/media_webrtcbin.hpp"

namespace mxcall::media::test {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

inline PeerConfig loopback_config() {
  PeerConfig c;
  c.include_loopback = true;  // the test runs in a loopback-only network namespace
  c.jitterbuffer_latency = 20ms;
  c.stun_pacing = 5ms;
  return c;
}

inline TrackSpec test_track(MediaKind kind, const std::string& stream, const std::string& track_id,
                            const std::string& shared_source = {}) {
  TrackSpec t;
  t.kind = kind;
  t.stream_id = stream;
  t.track_id = track_id;
  t.shared_source = shared_source;
  return t;
}
inline TrackSpec audio_track(const std::string& stream) { return test_track(MediaKind::Audio, stream, stream + "-audio"); }
inline TrackSpec video_track(const std::string& stream) { return test_track(MediaKind::Video, stream, stream + "-video"); }

struct Side {
  PeerId id = 0;
  std::optional<Clock::time_point> ice_up, first_audio;
  std::vector<std::pair<Clock::time_point, IceState>> ice_states;  // every IceStateChanged
  std::set<MediaKind> decoded;
  std::vector<RemoteTrackAdded> tracks;
  std::vector<RemoteTrackRemoved> removed;
  std::vector<OperationFailed> failures;
  std::vector<SessionDescription> sent;  // every local description
  int remote_applied = 0;
  int negotiation_needed = 0;
  bool gathered = false;
  std::string dtmf;
  bool has_track(MediaKind k) const {
    for (const auto& t : tracks)
      if (t.kind == k) return true;
    return false;
  }
};

class CallHarness {
 public:
  // Routing switches.
  bool route = true;                // forward descriptions/candidates automatically
  bool candidates_first = false;    // hold an offer until its end-of-candidates, send candidates first
  bool strip_end_of_candidates = false;  // forward the end marker without sdpMid/index (Element)
  // Edits a description on its way to the other side (to make it look like another stack's).
  std::function<void(PeerId from, SessionDescription&)> rewrite;

  explicit CallHarness(MediaEngine& engine, const PeerConfig& config = loopback_config()) : engine_(engine) {
    engine_.set_event_sink([this](MediaEvent ev) {
      std::lock_guard lock(mu_);
      queue_.push_back(std::move(ev));
      cv_.notify_all();
    });
    auto a = engine_.create_peer(config);
    auto b = engine_.create_peer(config);
    EXPECT_TRUE(a.ok() && b.ok());
    A.id = a.value_or(0);
    B.id = b.value_or(0);
  }
  ~CallHarness() {
    engine_.close_peer(A.id);
    engine_.close_peer(B.id);
  }

  Side A, B;

  Side& side(PeerId p) { return p == A.id ? A : B; }
  PeerId other(PeerId p) const { return p == A.id ? B.id : A.id; }

  // Handles events until pred() holds or the timeout passes; returns pred().
  bool wait(const std::function<bool()>& pred, std::chrono::milliseconds timeout = 10s) {
    const auto deadline = Clock::now() + timeout;
    while (!pred()) {
      std::optional<MediaEvent> ev;
      {
        std::unique_lock lock(mu_);
        // Stats predicates change without an event: look again every 10 ms.
        const auto tick = std::min(deadline, Clock::now() + 10ms);
        if (!cv_.wait_until(lock, tick, [this] { return !queue_.empty(); })) {
          if (Clock::now() >= deadline) return pred();
          continue;
        }
        ev = std::move(queue_.front());
        queue_.pop_front();
      }
      handle(*ev);
    }
    return true;
  }

  // Handles every event that arrives during `d` (for checks that something does NOT happen).
  void observe(std::chrono::milliseconds d) {
    const auto until = Clock::now() + d;
    wait([until] { return Clock::now() >= until; }, d + 50ms);
  }

  bool connected() const { return A.ice_up && B.ice_up; }
  bool audio_both_ways() const {
    return A.decoded.count(MediaKind::Audio) > 0 && B.decoded.count(MediaKind::Audio) > 0;
  }

  // Offer from `offerer`, answer from the other side, until both applied both descriptions.
  bool negotiate(PeerId offerer, OfferOptions options = {}, std::chrono::milliseconds timeout = 10s) {
    const int a0 = side(offerer).remote_applied, b0 = side(other(offerer)).remote_applied;
    engine_.create_offer(offerer, options);
    return wait([&] {
      return side(offerer).remote_applied > a0 && side(other(offerer)).remote_applied > b0;
    }, timeout);
  }

  std::uint64_t audio_received(PeerId p) const { return engine_.stats(p).audio.packets_received; }
  std::uint64_t video_received(PeerId p) const { return engine_.stats(p).video.packets_received; }

  void handle(const MediaEvent& event) {
    if (std::getenv("MXCALL_MEDIA_TRACE") != nullptr)
      std::cerr << "[" << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - created_).count()
                << " ms] peer " << peer_of(event) << " event #" << event.index() << "\n";
    std::visit([this](const auto& ev) { on(ev); }, event);
  }

 private:
  void on(const LocalDescriptionReady& ev) {
    side(ev.peer).sent.push_back(ev.description);
    if (!route) return;
    SessionDescription d = ev.description;
    if (rewrite) rewrite(ev.peer, d);
    if (candidates_first && d.type == SdpType::Offer) {
      held_offer_ = {ev.peer, d};
      return;
    }
    engine_.set_remote_description(other(ev.peer), d);
  }
  void on(const RemoteDescriptionApplied& ev) {
    ++side(ev.peer).remote_applied;
    if (route && ev.type == SdpType::Offer) engine_.create_answer(ev.peer);
  }
  void on(const LocalCandidate& ev) {
    IceCandidate c = ev.candidate;
    if (c.is_end_of_candidates()) {
      side(ev.peer).gathered = true;
      if (strip_end_of_candidates) {
        c.sdp_mid.reset();
        c.sdp_mline_index.reset();
      }
    }
    if (!route) return;
    engine_.add_remote_candidate(other(ev.peer), c);
    if (c.is_end_of_candidates() && held_offer_ && held_offer_->first == ev.peer) {
      engine_.set_remote_description(other(ev.peer), held_offer_->second);  // after its candidates
      held_offer_.reset();
    }
  }
  void on(const IceStateChanged& ev) {
    side(ev.peer).ice_states.emplace_back(Clock::now(), ev.state);
    if ((ev.state == IceState::Connected || ev.state == IceState::Completed) && !side(ev.peer).ice_up)
      side(ev.peer).ice_up = Clock::now();
  }
  void on(const GatheringStateChanged&) {}
  void on(const NegotiationNeeded& ev) { ++side(ev.peer).negotiation_needed; }
  void on(const RemoteTrackAdded& ev) { side(ev.peer).tracks.push_back(ev); }
  void on(const RemoteTrackRemoved& ev) { side(ev.peer).removed.push_back(ev); }
  void on(const FirstMediaDecoded& ev) {
    side(ev.peer).decoded.insert(ev.kind);
    if (ev.kind == MediaKind::Audio && !side(ev.peer).first_audio) side(ev.peer).first_audio = Clock::now();
  }
  void on(const DtmfReceived& ev) { side(ev.peer).dtmf += ev.digit; }
  void on(const OperationFailed& ev) {
    std::cerr << "peer " << ev.peer << " " << ev.operation << " failed: " << ev.message << "\n";
    side(ev.peer).failures.push_back(ev);
  }

  MediaEngine& engine_;
  const Clock::time_point created_ = Clock::now();
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<MediaEvent> queue_;
  std::optional<std::pair<PeerId, SessionDescription>> held_offer_;
};

// The engine every test of a suite shares (its DTLS certificate and plugins warm), and the
// helpers most tests start with.
class WebrtcbinTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    engine_ = make_webrtcbin_engine().release();
    engine_->warm_up();
  }
  static void TearDownTestSuite() {
    delete engine_;
    engine_ = nullptr;
  }
  MediaEngine& engine() { return *engine_; }

  // An audio call from `offerer_is_a`'s side, up and decoding both ways.
  void start_audio_call(CallHarness& h, bool offerer_is_a = true) {
    ASSERT_TRUE(engine().add_track(h.A.id, audio_track("streamA")).ok());
    ASSERT_TRUE(engine().add_track(h.B.id, audio_track("streamB")).ok());
    ASSERT_TRUE(h.negotiate(offerer_is_a ? h.A.id : h.B.id));
    ASSERT_TRUE(h.wait([&] { return h.connected() && h.audio_both_ways(); })) << "no audio both ways";
  }

  static inline MediaEngine* engine_ = nullptr;
};

inline void expect_audio_flows(CallHarness& h, PeerId p, std::uint64_t packets = 25) {
  const auto start = h.audio_received(p);
  EXPECT_TRUE(h.wait([&] { return h.audio_received(p) >= start + packets; }, 5s))
      << "peer " << p << " received " << h.audio_received(p) - start << " audio packets";
}

inline void expect_video_flows(CallHarness& h, PeerId p, std::uint64_t packets = 15) {
  const auto start = h.video_received(p);
  EXPECT_TRUE(h.wait([&] { return h.video_received(p) >= start + packets; }, 10s))
      << "peer " << p << " received " << h.video_received(p) - start << " video packets";
}

}  // namespace mxcall::media::test
