// Two or more real Clients (real Synapse, real webrtcbin) for call tests, with their updates
// collected so tests wait on events, never on fixed sleeps.
#pragma once

#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "integration/synapse_env.hpp"
#include "mxcall/client.hpp"

namespace mxcall::testing {

class Party {
 public:
  // A new user. Options may be adjusted by `tweak` before the client starts.
  Party(const std::string& name, bool auto_join, const std::function<void(ClientOptions&)>& tweak = {})
      : Party(register_unique_user(name, "pw"), "pw", auto_join, tweak) {}

  // Another device of an existing user.
  static std::unique_ptr<Party> second_device(const Party& of, bool auto_join) {
    return std::make_unique<Party>(of.user_id_, of.password_, auto_join, std::function<void(ClientOptions&)>{});
  }

  Party(std::string user_id, std::string password, bool auto_join, const std::function<void(ClientOptions&)>& tweak) {
    user_id_ = std::move(user_id);
    password_ = std::move(password);
    static std::atomic<int> n{0};
    dir_ = std::filesystem::temp_directory_path() /
           ("mxcall-calls-" + std::to_string(::getpid()) + "-" + std::to_string(n.fetch_add(1)));
    std::filesystem::create_directories(dir_);
    ClientOptions o;
    o.homeserver = synapse().base_url();
    o.user = user_id_;
    o.password = password_;
    o.store = dir_ / "store.db";
    o.auto_join_invites = auto_join;
    o.include_loopback_candidates = true;
    if (tweak) tweak(o);
    options_ = o;
    start();
  }

  // Stops the client and starts a new one on the same store: the same device, continuing
  // from its saved sync token (what an app restart does). `while_stopped` runs in between.
  void restart(const std::function<void()>& while_stopped = {}) {
    client_->stop();
    client_.reset();
    if (while_stopped) while_stopped();
    start();
  }
  ~Party() {
    client_->stop();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  Client& client() { return *client_; }
  const std::filesystem::path& store_path() const { return options_.store; }
  const std::string& user_id() const { return user_id_; }

  // How many updates arrived so far: wait_for(..., since = mark()) looks only at later ones.
  std::size_t mark() {
    std::lock_guard lock(mutex_);
    return updates_.size();
  }
  std::vector<CallUpdate> updates() {
    std::lock_guard lock(mutex_);
    return updates_;
  }

  // Waits for an update matching pred (among those from index `since` on); returns it.
  std::optional<CallUpdate> wait_for(const std::function<bool(const CallUpdate&)>& pred,
                                     std::chrono::milliseconds timeout = std::chrono::seconds(30),
                                     std::size_t since = 0) {
    std::unique_lock lock(mutex_);
    std::optional<CallUpdate> found;
    cv_.wait_for(lock, timeout, [&] {
      for (std::size_t i = since; i < updates_.size(); ++i)
        if (const auto& u = updates_[i]; pred(u)) {
          found = u;
          return true;
        }
      return false;
    });
    return found;
  }
  std::optional<CallUpdate> wait_call(const std::string& call_id, CallUpdate::Kind k,
                                      std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    return wait_for([&](const CallUpdate& u) { return u.kind == k && u.call_id == call_id; }, timeout);
  }
  std::optional<CallUpdate> wait_kind(CallUpdate::Kind k, std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    return wait_for([k](const CallUpdate& u) { return u.kind == k; }, timeout);
  }

  // A Link update of the call ("up", "disconnected", "restarting") from index `since` on.
  std::optional<CallUpdate> wait_link(const std::string& call_id, const std::string& link,
                                      std::chrono::milliseconds timeout, std::size_t since = 0) {
    return wait_for([&](const CallUpdate& u) { return u.kind == CallUpdate::Kind::Link && u.call_id == call_id && u.link == link; },
                    timeout, since);
  }

  // ---- group calls ----
  std::vector<GroupUpdate> group_updates() {
    std::lock_guard lock(mutex_);
    return group_updates_;
  }
  // Waits until `pred` holds for the group updates seen so far.
  bool wait_group(const std::function<bool(const std::vector<GroupUpdate>&)>& pred,
                  std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, timeout, [&] { return pred(group_updates_); });
  }
  // Devices we have connected peer calls with (from PeerConnected updates).
  std::set<std::string> connected_devices() {
    std::lock_guard lock(mutex_);
    std::set<std::string> out;
    for (const auto& u : group_updates_)
      if (u.kind == GroupUpdate::Kind::PeerConnected) out.insert(u.user_id + "|" + u.device_id);
    return out;
  }
  // Waits until the group call in `room` receives audio from `peers` devices (each at least
  // `packets` packets both ways).
  bool wait_group_audio(const std::string& room, std::size_t peers, std::uint64_t packets,
                        std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < until) {
      if (auto s = client_->group_summary(room)) {
        std::size_t flowing = 0;
        for (const auto& p : s->peers)
          if (p.stats.audio.packets_received >= packets && p.stats.audio.packets_sent >= packets) ++flowing;
        if (flowing >= peers) return true;
      }
      std::unique_lock lock(mutex_);
      cv_.wait_for(lock, std::chrono::milliseconds(200));
    }
    return false;
  }

  media::PeerStats stats(const std::string& call_id) {
    auto s = client_->summary(call_id);
    return s ? s->stats : media::PeerStats{};
  }

  // Waits until the call's audio counters pass `packets` both ways.
  bool wait_audio(const std::string& call_id, std::uint64_t packets, std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < until) {
      auto s = client_->summary(call_id);
      if (s && s->stats.audio.packets_received >= packets && s->stats.audio.packets_sent >= packets) return true;
      std::unique_lock lock(mutex_);
      cv_.wait_for(lock, std::chrono::milliseconds(100));  // woken early by any update
    }
    return false;
  }

 private:
  void start() {
    ClientOptions o = options_;  // callbacks from the start: a restart may rejoin or ring at once
    o.on_update = [this](const CallUpdate& u) {
      std::lock_guard lock(mutex_);
      updates_.push_back(u);
      cv_.notify_all();
    };
    o.on_group_update = [this](const GroupUpdate& u) {
      std::lock_guard lock(mutex_);
      group_updates_.push_back(u);
      cv_.notify_all();
    };
    auto c = Client::start(o);
    if (!c.ok()) throw std::runtime_error("client start: " + c.error().describe());
    client_ = std::move(c).value();
  }

  std::string user_id_;
  std::string password_;
  std::filesystem::path dir_;
  ClientOptions options_;
  std::unique_ptr<Client> client_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<CallUpdate> updates_;
  std::vector<GroupUpdate> group_updates_;
};

// `caller` calls `callee`, who answers; returns the call id once both are connected and audio
// flows both ways (50 packets), or "" after a test failure.
inline std::string connect_call(Party& caller, Party& callee) {
  auto call_id = caller.client().place_call(callee.user_id(), false);
  EXPECT_TRUE(call_id.ok()) << call_id.error();
  if (!call_id.ok()) return {};
  if (!callee.wait_call(*call_id, CallUpdate::Kind::Incoming)) {
    ADD_FAILURE() << callee.user_id() << " never rang";
    return {};
  }
  EXPECT_TRUE(callee.client().answer(*call_id).ok());
  const bool up = caller.wait_call(*call_id, CallUpdate::Kind::Connected).has_value() &&
                  callee.wait_call(*call_id, CallUpdate::Kind::Connected).has_value();
  const bool audio = up && caller.wait_audio(*call_id, 50) && callee.wait_audio(*call_id, 50);
  EXPECT_TRUE(up) << "the call never connected";
  EXPECT_TRUE(audio) << "no audio both ways";
  return up && audio ? *call_id : std::string();
}

}  // namespace mxcall::testing
