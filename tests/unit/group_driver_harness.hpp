// GroupDrivers (the client's group-call glue) wired through an in-memory homeserver: state
// events reach every node in one order with increasing origin_server_ts, to-device messages
// reach their device (as if Olm-verified), each node's media is a FakeMediaEngine and its store
// an in-memory Store. Time is virtual and moves in steps of `step`.
#pragma once

#include <gtest/gtest.h>

#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "client/group_driver.hpp"
#include "media/fake_engine.hpp"

namespace mxcall::testing {

struct DriverNode {
  std::string user;
  std::string device;
  std::shared_ptr<store::Store> store;
  std::unique_ptr<media::FakeMediaEngine> engine;
  std::unique_ptr<client::GroupDriver> driver;
  std::deque<media::MediaEvent> media_inbox;
  std::vector<client::OutgoingToDevice> outbox;
  std::vector<std::vector<client::OutgoingToDevice>> deliveries;  // what each flush carried
  std::vector<GroupUpdate> updates;
  // Every prefetch_keys call: (devices, claim).
  std::vector<std::pair<std::vector<core::DeviceKey>, std::vector<core::DeviceKey>>> prefetches;
  // Every put_state, in order: (type, state key, content).
  std::vector<std::tuple<std::string, std::string, nlohmann::json>> puts;
  std::vector<std::string> log;  // "put <type>", "prefetch", "flush", in the order they happened
  bool online = true;

  std::set<std::string> connected_in(const std::string& conf) const {
    std::set<std::string> out;
    for (const auto& u : updates)
      if (u.kind == GroupUpdate::Kind::PeerConnected && u.conf_id == conf) out.insert(u.user_id + "|" + u.device_id);
    return out;
  }
};

class DriverHub {
 public:
  static constexpr std::int64_t kStartUnixMs = 1'767'225'600'000;
  static constexpr const char* kRoom = "!room:x";
  core::TimePoint now = core::TimePoint{} + std::chrono::hours(1);
  std::int64_t unix_ms = kStartUnixMs;
  std::chrono::milliseconds step{10};
  std::set<std::string> joined{};
  std::vector<std::unique_ptr<DriverNode>> nodes;
  std::vector<matrix::RoomEvent> history;  // every state event, in the homeserver's order

  // A node whose user is in the room; it learns the current room state (as a sync would).
  // `store` may be shared with an earlier node of the same device (a restart).
  DriverNode& add(const std::string& user, const std::string& device, std::shared_ptr<store::Store> store = {}) {
    auto n = std::make_unique<DriverNode>();
    n->user = user;
    n->device = device;
    if (!store) store = std::shared_ptr<store::Store>(store::Store::open_in_memory().value().release());
    n->store = store;
    n->engine = std::make_unique<media::FakeMediaEngine>();
    DriverNode* node = n.get();
    n->engine->set_event_sink([node](media::MediaEvent ev) { node->media_inbox.push_back(std::move(ev)); });
    client::GroupDriver::Settings s;
    s.own_user_id = user;
    s.own_device_id = device;
    s.call.own_user_id = user;
    s.call.own_party_id = device;
    client::GroupDriver::Ports p;
    p.put_state = [this, node](const std::string& room, const std::string& type, const std::string& key,
                               const nlohmann::json& content, std::function<void(const Status&)> done) {
      node->puts.emplace_back(type, key, content);
      node->log.push_back("put " + type);
      matrix::RoomEvent ev;
      ev.room_id = room;
      ev.type = type;
      ev.sender = node->user;
      ev.state_key = key;
      ev.origin_server_ts = ++unix_ms;  // the homeserver's clock: every event its own ms
      ev.content = content;
      pending_state_.push_back(ev);
      done(ok_status());
    };
    p.send_to_device = [node](client::OutgoingToDevice m) { node->outbox.push_back(std::move(m)); };
    p.flush_to_device = [this, node] {
      if (node->outbox.empty()) return;
      node->log.push_back("flush");
      node->deliveries.push_back(node->outbox);
      for (auto& m : node->outbox) pending_wire_.push_back({node->user, node->device, std::move(m)});
      node->outbox.clear();
    };
    p.joined_members = [this](const std::string&) { return joined; };
    p.unix_ms = [this] { return unix_ms; };
    p.engine = n->engine.get();
    p.store = store.get();
    p.notify = [node](const GroupUpdate& u) { node->updates.push_back(u); };
    p.prefetch_keys = [node](std::vector<core::DeviceKey> d, std::vector<core::DeviceKey> c) {
      node->log.push_back("prefetch");
      node->prefetches.emplace_back(std::move(d), std::move(c));
    };
    n->driver = std::make_unique<client::GroupDriver>(s, std::move(p));
    joined.insert(user);
    nodes.push_back(std::move(n));
    for (const auto& ev : history) node->driver->on_room_event(ev, now);
    for (auto& other : nodes) other->driver->on_members_changed(kRoom, now);
    return *node;
  }

  // The node stops as a crash would: nothing it had queued leaves.
  void crash(DriverNode& n) {
    n.online = false;
    n.outbox.clear();
  }

  // Delivers everything that is ready, then moves time on in steps until `d` has passed.
  void run(std::chrono::milliseconds d) {
    const auto until = now + d;
    for (;;) {
      settle();
      if (now >= until) return;
      now += step;
      unix_ms += step.count();
      for (auto& n : nodes)
        if (n->online) n->engine->advance(step);
    }
  }

  void settle() {
    for (int round = 0; round < 1000; ++round) {
      bool moved = false;
      for (auto& n : nodes) {
        if (!n->online) continue;
        n->engine->deliver();
        while (!n->media_inbox.empty()) {
          auto ev = std::move(n->media_inbox.front());
          n->media_inbox.pop_front();
          n->driver->on_media_event(ev, now);
          moved = true;
        }
        n->driver->turn(now);
        if (n->engine->pending_events() > 0) moved = true;
      }
      while (!pending_state_.empty()) {
        auto ev = std::move(pending_state_.front());
        pending_state_.pop_front();
        history.push_back(ev);
        for (auto& n : nodes)
          if (n->online) n->driver->on_room_event(ev, now);
        moved = true;
      }
      while (!pending_wire_.empty()) {
        auto w = std::move(pending_wire_.front());
        pending_wire_.pop_front();
        for (auto& n : nodes)
          if (n->online && n->user == w.message.user_id && n->device == w.message.device_id)
            n->driver->on_to_device({w.from_user, w.from_device, true, w.message.type, w.message.content}, now);
        moved = true;
      }
      if (!moved) return;
    }
    ADD_FAILURE() << "the hub did not settle";
  }

 private:
  struct Wire {
    std::string from_user;
    std::string from_device;
    client::OutgoingToDevice message;
  };
  std::deque<matrix::RoomEvent> pending_state_;
  std::deque<Wire> pending_wire_;
};

}  // namespace mxcall::testing
