// Helpers for group-call tests over the real stack: a room everyone joined, joining the call
// in turn once its event reached each party, waiting for a full mesh with audio, and a log
// sink that tests wait on (the drop paths log a line and change nothing else).
#pragma once

#include <gtest/gtest.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "calls/call_fixture.hpp"
#include "mxcall/log.hpp"

namespace mxcall::testing {

// Everyone joins the room first (auto-join bots), then the call.
inline std::string make_call_room(Party& creator, const std::vector<Party*>& others,
                                  const std::vector<std::string>& extra_invites = {}) {
  std::vector<std::string> invite = extra_invites;
  for (auto* p : others) invite.push_back(p->user_id());
  auto room = creator.client().create_group_room(invite, "group call test");
  if (!room.ok()) throw std::runtime_error(room.error().describe());
  for (auto* p : others)
    if (!p->client().wait_joined(*room, std::chrono::seconds(30))) throw std::runtime_error(p->user_id() + " did not join");
  return *room;
}

// Waits until `p` has seen the room's call `conf` (its /sync brought the call event).
inline bool wait_sees_call(Party& p, const std::string& room, const std::string& conf) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (p.client().live_group_call(room) != conf && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  return p.client().live_group_call(room) == conf;
}

// The device id a party's updates name for `user` (from ParticipantJoined), or "".
inline std::string device_of(Party& observer, const std::string& user) {
  for (const auto& u : observer.group_updates())
    if (u.kind == GroupUpdate::Kind::ParticipantJoined && u.user_id == user) return u.device_id;
  return {};
}

// Waits until `p` has a connected peer call with `peers` distinct devices.
inline bool wait_connected_to(Party& p, std::size_t peers) {
  return p.wait_group([peers](const std::vector<GroupUpdate>& us) {
    std::set<std::string> devices;
    for (const auto& u : us)
      if (u.kind == GroupUpdate::Kind::PeerConnected) devices.insert(u.user_id + "|" + u.device_id);
    return devices.size() >= peers;
  });
}

// Waits until p's peer call with (user, device) is `call_id` (or any call when empty) and has
// received and sent at least `more` audio packets beyond `base` both ways.
inline bool wait_peer_audio(Party& p, const std::string& room, const std::string& user, const std::string& device,
                            std::uint64_t base, std::uint64_t more, const std::string& call_id = {},
                            std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    if (auto s = p.client().group_summary(room))
      for (const auto& peer : s->peers)
        if (peer.user_id == user && peer.device_id == device && (call_id.empty() || peer.call_id == call_id) &&
            peer.stats.audio.packets_received >= base + more && peer.stats.audio.packets_sent >= more)
          return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

// Audio packets p received so far on each peer call of the room, by "user|device".
inline std::map<std::string, std::uint64_t> received_by_peer(Party& p, const std::string& room) {
  std::map<std::string, std::uint64_t> out;
  if (auto s = p.client().group_summary(room))
    for (const auto& peer : s->peers) out[peer.user_id + "|" + peer.device_id] = peer.stats.audio.packets_received;
  return out;
}

// The stats once no delivery is in flight (every round flushed so far has had its requests
// answered): the baseline of the next phase. The loop round trip first lets a turn that just
// notified the test finish (and flush).
inline ClientStats settled(Party& p) {
  (void)p.client().group_calls();
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  ClientStats s = p.client().stats();
  while (s.to_device_requests < s.to_device_round_layers && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    s = p.client().stats();
  }
  return s;
}

// Collects the "mxcall" logger's lines containing any of the watched texts; tests wait for
// them. Install before any client starts (spdlog's sink list is not synchronised), remove
// after every client stopped.
class LogWatch : public spdlog::sinks::base_sink<std::mutex> {
 public:
  static std::shared_ptr<LogWatch> install(std::vector<std::string> texts) {
    auto w = std::make_shared<LogWatch>(std::move(texts));
    mxcall::log::get()->sinks().push_back(w);
    return w;
  }
  static void uninstall(const std::shared_ptr<LogWatch>& w) {
    auto& sinks = mxcall::log::get()->sinks();
    sinks.erase(std::remove(sinks.begin(), sinks.end(), w), sinks.end());
  }
  explicit LogWatch(std::vector<std::string> texts) : texts_(std::move(texts)) {}

  // Lines seen so far containing every one of `parts`.
  std::size_t count(const std::vector<std::string>& parts) {
    std::lock_guard lock(lines_mutex_);
    return count_locked(parts);
  }
  // Waits until more than `already` lines contain every one of `parts`.
  bool wait(const std::vector<std::string>& parts, std::size_t already = 0,
            std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    std::unique_lock lock(lines_mutex_);
    return cv_.wait_for(lock, timeout, [&] { return count_locked(parts) > already; });
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    std::string line(msg.payload.data(), msg.payload.size());
    if (std::none_of(texts_.begin(), texts_.end(), [&](const std::string& t) { return line.find(t) != std::string::npos; }))
      return;
    {
      std::lock_guard lock(lines_mutex_);
      lines_.push_back(std::move(line));
    }
    cv_.notify_all();
  }
  void flush_() override {}

 private:
  std::size_t count_locked(const std::vector<std::string>& parts) const {
    return static_cast<std::size_t>(std::count_if(lines_.begin(), lines_.end(), [&](const std::string& l) {
      return std::all_of(parts.begin(), parts.end(), [&](const std::string& p) { return l.find(p) != std::string::npos; });
    }));
  }

  std::vector<std::string> texts_;
  std::mutex lines_mutex_;
  std::condition_variable cv_;
  std::vector<std::string> lines_;
};

}  // namespace mxcall::testing
