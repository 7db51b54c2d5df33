// What the client commands (call, bot, group) share: connection flags, output, signals.
#pragma once

#include <signal.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>

#include <nlohmann/json.hpp>

#include "mxcall/client.hpp"

namespace CLI { class App; }

namespace mxcall::cli {

using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;

struct ClientArgs {
  std::string homeserver;
  std::string user;
  std::string password;
  std::string store;
  bool loopback = false;
  double duration_s = 10;
};

// --homeserver --user --password --store --loopback
void add_client_options(CLI::App* cmd, ClientArgs& a);
Result<std::unique_ptr<Client>> start_client(const ClientArgs& a, bool auto_join,
                                             const std::function<void(ClientOptions&)>& tweak = {});

// Output: human lines or one JSON object per line; thread-safe (updates come from the loop).
class Printer {
 public:
  explicit Printer(bool json) : json_(json), start_(Clock::now()) {}
  void line(const std::string& human, Json j) {
    std::lock_guard lock(mutex_);
    if (json_) {
      j["t_ms"] = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start_).count();
      std::cout << j.dump() << std::endl;
    } else {
      std::printf("[%7.2fs] %s\n", std::chrono::duration<double>(Clock::now() - start_).count(), human.c_str());
      std::fflush(stdout);
    }
  }

 private:
  std::mutex mutex_;
  bool json_;
  Clock::time_point start_;
};

// SIGINT/SIGTERM end calls cleanly: blocked here and waited for with a timeout.
struct Signals {
  sigset_t set;
  Signals() {
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);  // before any thread starts: all inherit it
  }
  bool wait(std::chrono::milliseconds d) {
    timespec ts{static_cast<time_t>(d.count() / 1000), static_cast<long>((d.count() % 1000) * 1'000'000)};
    return sigtimedwait(&set, nullptr, &ts) > 0;
  }
};

Json stats_json(const media::KindStats& k);
// The path's recovery history: ICE agents used (1 + restarts), the current agent's candidates,
// and how often the media watchdog found the path dead.
Json ice_json(const media::PeerStats& s);

}  // namespace mxcall::cli
