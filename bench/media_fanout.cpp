// Media fan-out benchmark (run by scripts/bench in a loopback-only network namespace).
//
// 1. Sender CPU per extra audio peer: this process sends one audio stream to N peers, either
//    from one shared source (TrackSpec::shared_source: one Opus encoder) or with an encoder per
//    peer; the receiving peers run in a child process (this binary re-executed with --leaf) so
//    getrusage(RUSAGE_SELF) over a fixed window is the sender's cost alone.
// 2. An 8-party audio mesh of bots in one process (8 engines, 56 webrtcbins), shared sources,
//    20 ms and 60 ms Opus frames, and an encoder per peer for comparison.
//
// Usage: mxcall_bench_media_fanout [window seconds, default 5]
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "media/webrtcbin_engine.hpp"
#include "mxcall/media.hpp"

using namespace mxcall::media;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

PeerConfig loopback() {
  PeerConfig c;
  c.include_loopback = true;
  c.jitterbuffer_latency = 20ms;
  c.media_timeout = 0ms;
  return c;
}

double cpu_seconds() {
  rusage r{};
  getrusage(RUSAGE_SELF, &r);
  return static_cast<double>(r.ru_utime.tv_sec + r.ru_stime.tv_sec) +
         static_cast<double>(r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e6;
}

// Engines' events, tagged with the engine's index, handled on the bench thread.
class Events {
 public:
  void attach(std::size_t index, MediaEngine& e) {
    e.set_event_sink([this, index](MediaEvent ev) {
      std::lock_guard lock(mu_);
      q_.emplace_back(index, std::move(ev));
      cv_.notify_all();
    });
  }
  // Handles events (and `idle` every 10 ms) until pred() or the timeout.
  bool run(const std::function<void(std::size_t, const MediaEvent&)>& handle, const std::function<bool()>& pred,
           std::chrono::milliseconds timeout, const std::function<void()>& idle = {}) {
    const auto deadline = Clock::now() + timeout;
    while (!pred()) {
      if (Clock::now() >= deadline) return false;
      std::optional<std::pair<std::size_t, MediaEvent>> ev;
      {
        std::unique_lock lock(mu_);
        if (cv_.wait_for(lock, 10ms, [this] { return !q_.empty(); })) {
          ev = std::move(q_.front());
          q_.pop_front();
        }
      }
      if (ev) handle(ev->first, ev->second);
      if (idle) idle();
    }
    return true;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<std::size_t, MediaEvent>> q_;
};

// ---- framing over a socketpair: "T idx len\n" + payload --------------------------------------

struct Wire {
  int fd = -1;
  std::string in;
  void send(char type, std::size_t idx, const std::string& payload) {
    std::string msg = std::string(1, type) + " " + std::to_string(idx) + " " + std::to_string(payload.size()) + "\n" + payload;
    for (std::size_t off = 0; off < msg.size();) {
      ssize_t n = ::write(fd, msg.data() + off, msg.size() - off);
      if (n <= 0) throw std::runtime_error("wire write failed");
      off += static_cast<std::size_t>(n);
    }
  }
  // Messages complete so far (non-blocking).
  std::vector<std::tuple<char, std::size_t, std::string>> poll_messages() {
    pollfd p{fd, POLLIN, 0};
    while (::poll(&p, 1, 0) > 0 && (p.revents & POLLIN) != 0) {
      char buf[65536];
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n <= 0) break;
      in.append(buf, static_cast<std::size_t>(n));
    }
    std::vector<std::tuple<char, std::size_t, std::string>> out;
    for (;;) {
      auto nl = in.find('\n');
      if (nl == std::string::npos) break;
      char type = 0;
      std::size_t idx = 0, len = 0;
      if (std::sscanf(in.c_str(), "%c %zu %zu", &type, &idx, &len) != 3) throw std::runtime_error("bad frame");
      if (in.size() < nl + 1 + len) break;
      out.emplace_back(type, idx, in.substr(nl + 1, len));
      in.erase(0, nl + 1 + len);
    }
    return out;
  }
};

std::string encode_candidate(const IceCandidate& c) {
  return std::to_string(c.sdp_mline_index.value_or(0)) + "\n" + c.sdp_mid.value_or("") + "\n" + c.candidate;
}
IceCandidate decode_candidate(const std::string& s) {
  IceCandidate c;
  auto a = s.find('\n'), b = s.find('\n', a + 1);
  c.sdp_mline_index = std::stoi(s.substr(0, a));
  std::string mid = s.substr(a + 1, b - a - 1);
  if (!mid.empty()) c.sdp_mid = mid;
  c.candidate = s.substr(b + 1);
  return c;
}

// ---- the receiving side (child process) -------------------------------------------------------

int run_leaf(int fd) {
  Wire wire{fd, {}};
  WebrtcbinEngine engine;
  Events events;
  events.attach(0, engine);
  std::map<std::size_t, PeerId> peers;
  std::map<PeerId, std::size_t> index;
  bool quit = false;
  auto handle = [&](std::size_t, const MediaEvent& ev) {
    std::visit([&](const auto& e) {
      using T = std::decay_t<decltype(e)>;
      if constexpr (std::is_same_v<T, LocalDescriptionReady>) wire.send('A', index[e.peer], e.description.sdp);
      else if constexpr (std::is_same_v<T, RemoteDescriptionApplied>) engine.create_answer(e.peer);
      else if constexpr (std::is_same_v<T, LocalCandidate>) wire.send('C', index[e.peer], encode_candidate(e.candidate));
      else if constexpr (std::is_same_v<T, FirstMediaDecoded>) wire.send('D', index[e.peer], "");
    }, ev);
  };
  auto idle = [&] {
    for (auto& [type, idx, payload] : wire.poll_messages()) {
      if (type == 'Q') quit = true;
      if (type == 'O') {
        auto p = engine.create_peer(loopback());
        if (!p.ok()) return;
        peers[idx] = p.value();
        index[p.value()] = idx;
        engine.set_remote_description(p.value(), SessionDescription{SdpType::Offer, payload});
      }
      if (type == 'C' && peers.count(idx) > 0) engine.add_remote_candidate(peers[idx], decode_candidate(payload));
    }
  };
  events.run(handle, [&] { return quit; }, std::chrono::hours(1), idle);
  for (auto& [idx, p] : peers) engine.close_peer(p);
  return 0;
}

// ---- 1. sender CPU for N peers ----------------------------------------------------------------

double sender_cpu(const char* self, std::size_t n, bool shared, int window_s) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) throw std::runtime_error("socketpair");
  pid_t child = ::fork();
  if (child == 0) {
    ::close(sv[0]);
    std::string fd = std::to_string(sv[1]);
    ::execl(self, self, "--leaf", fd.c_str(), static_cast<char*>(nullptr));
    std::_Exit(127);
  }
  ::close(sv[1]);
  Wire wire{sv[0], {}};
  double pct = -1;
  {
    WebrtcbinEngine engine;
    Events events;
    events.attach(0, engine);
    std::vector<PeerId> peers;
    std::map<PeerId, std::size_t> index;
    std::set<std::size_t> decoded;
    for (std::size_t i = 0; i < n; ++i) {
      auto p = engine.create_peer(loopback());
      if (!p.ok()) throw std::runtime_error(p.error().message);
      TrackSpec t;
      t.stream_id = "bench";
      t.track_id = "audio";
      if (shared) t.shared_source = "bench";
      (void)engine.add_track(p.value(), t);
      peers.push_back(p.value());
      index[p.value()] = i;
      engine.create_offer(p.value());
    }
    auto handle = [&](std::size_t, const MediaEvent& ev) {
      std::visit([&](const auto& e) {
        using T = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<T, LocalDescriptionReady>) wire.send('O', index[e.peer], e.description.sdp);
        else if constexpr (std::is_same_v<T, LocalCandidate>) wire.send('C', index[e.peer], encode_candidate(e.candidate));
        else if constexpr (std::is_same_v<T, OperationFailed>) std::fprintf(stderr, "%s: %s\n", e.operation.c_str(), e.message.c_str());
      }, ev);
    };
    auto idle = [&] {
      for (auto& [type, idx, payload] : wire.poll_messages()) {
        if (type == 'A') engine.set_remote_description(peers.at(idx), SessionDescription{SdpType::Answer, payload});
        if (type == 'C') engine.add_remote_candidate(peers.at(idx), decode_candidate(payload));
        if (type == 'D') decoded.insert(idx);
      }
    };
    if (!events.run(handle, [&] { return decoded.size() == n; }, 30s, idle)) {
      std::fprintf(stderr, "only %zu of %zu peers decoded audio\n", decoded.size(), n);
    } else {
      const auto settle = Clock::now() + 2s;
      events.run(handle, [&] { return Clock::now() >= settle; }, 3s, idle);
      const double c0 = cpu_seconds();
      const auto t0 = Clock::now();
      const auto end = t0 + std::chrono::seconds(window_s);
      events.run(handle, [&] { return Clock::now() >= end; }, std::chrono::seconds(window_s + 1), idle);
      const double wall = std::chrono::duration<double>(Clock::now() - t0).count();
      pct = 100.0 * (cpu_seconds() - c0) / wall;
      if (shared && engine.count_elements("opusenc") != 1) std::fprintf(stderr, "shared mode has %zu encoders!\n", engine.count_elements("opusenc"));
    }
    wire.send('Q', 0, "");
    for (auto p : peers) engine.close_peer(p);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  ::close(sv[0]);
  return pct;
}

// ---- 2. N-party mesh in one process -------------------------------------------------------------

struct MeshResult { double pct = -1; std::size_t encoders = 0; std::size_t decoding = 0; };

MeshResult mesh_cpu(std::size_t parties, bool shared, int frame_ms, int window_s) {
  std::vector<std::unique_ptr<WebrtcbinEngine>> engines;
  Events events;
  for (std::size_t p = 0; p < parties; ++p) {
    engines.push_back(std::make_unique<WebrtcbinEngine>());
    events.attach(p, *engines.back());
  }
  // Peer (engine, id) → its partner.
  std::map<std::pair<std::size_t, PeerId>, std::pair<std::size_t, PeerId>> partner;
  std::set<std::pair<std::size_t, PeerId>> decoded;
  std::vector<std::pair<std::size_t, PeerId>> all;
  for (std::size_t a = 0; a < parties; ++a)
    for (std::size_t b = a + 1; b < parties; ++b) {
      PeerId pa = engines[a]->create_peer(loopback()).value();
      PeerId pb = engines[b]->create_peer(loopback()).value();
      partner[{a, pa}] = {b, pb};
      partner[{b, pb}] = {a, pa};
      all.push_back({a, pa});
      all.push_back({b, pb});
      for (auto [e, p] : {std::pair{a, pa}, std::pair{b, pb}}) {
        TrackSpec t;
        t.stream_id = "party" + std::to_string(e);
        t.track_id = "audio";
        if (shared) t.shared_source = "mesh";
        t.audio_frame_ms = frame_ms;
        (void)engines[e]->add_track(p, t);
      }
      engines[a]->create_offer(pa);
    }
  auto handle = [&](std::size_t e, const MediaEvent& ev) {
    const auto from = std::pair{e, peer_of(ev)};
    auto it = partner.find(from);
    if (it == partner.end()) return;
    auto [oe, op] = it->second;
    std::visit([&](const auto& x) {
      using T = std::decay_t<decltype(x)>;
      if constexpr (std::is_same_v<T, LocalDescriptionReady>) engines[oe]->set_remote_description(op, x.description);
      else if constexpr (std::is_same_v<T, RemoteDescriptionApplied>) {
        if (x.type == SdpType::Offer) engines[e]->create_answer(x.peer);
      } else if constexpr (std::is_same_v<T, LocalCandidate>) engines[oe]->add_remote_candidate(op, x.candidate);
      else if constexpr (std::is_same_v<T, FirstMediaDecoded>) decoded.insert(from);
    }, ev);
  };
  MeshResult r;
  events.run(handle, [&] { return decoded.size() == all.size(); }, 60s);
  r.decoding = decoded.size();
  const auto settle = Clock::now() + 2s;
  events.run(handle, [&] { return Clock::now() >= settle; }, 3s);
  const double c0 = cpu_seconds();
  const auto t0 = Clock::now();
  const auto end = t0 + std::chrono::seconds(window_s);
  events.run(handle, [&] { return Clock::now() >= end; }, std::chrono::seconds(window_s + 1));
  r.pct = 100.0 * (cpu_seconds() - c0) / std::chrono::duration<double>(Clock::now() - t0).count();
  for (auto& e : engines) r.encoders += e->count_elements("opusenc");
  for (auto [e, p] : all) engines[e]->close_peer(p);
  for (auto& e : engines) e->set_event_sink({});
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::string(argv[1]) == "--leaf") return run_leaf(std::atoi(argv[2]));
  const int window = argc > 1 ? std::max(1, std::atoi(argv[1])) : 5;
  const char* self = "/proc/self/exe";
  char path[4096];
  ssize_t len = ::readlink(self, path, sizeof path - 1);
  if (len > 0) {
    path[len] = '\0';
    self = path;
  }
  std::printf("media fan-out: sender CPU (%% of one core, %d s windows), receivers in another process\n", window);
  const std::size_t big = 6;
  for (bool shared : {true, false}) {
    const double one = sender_cpu(self, 1, shared, window);
    const double many = sender_cpu(self, big, shared, window);
    std::printf("  %-13s 1 peer %5.1f%%  %zu peers %5.1f%%  per extra peer %.2f%%\n",
                shared ? "shared source" : "own encoders", one, big, many, (many - one) / static_cast<double>(big - 1));
    std::fflush(stdout);
  }
  std::printf("8-party audio mesh in one process (8 engines, 56 webrtcbins), %% of one core:\n");
  struct Case { bool shared; int frame_ms; const char* name; };
  for (const Case c : {Case{true, 20, "shared, 20 ms Opus"}, Case{true, 60, "shared, 60 ms Opus"},
                       Case{false, 20, "own encoders, 20 ms"}}) {
    const MeshResult r = mesh_cpu(8, c.shared, c.frame_ms, window);
    std::printf("  %-20s %5.1f%%  (opusenc elements %zu, peers decoding %zu/56)\n", c.name, r.pct, r.encoders, r.decoding);
    std::fflush(stdout);
  }
  return 0;
}
