// Client's private state (client.cpp: start, stop, 1:1 calls; client_group.cpp: group calls
// and their olm-encrypted to-device signalling).
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>

#include "client/call_driver.hpp"
#include "client/event_loop.hpp"
#include "client/group_driver.hpp"
#include "client/olm_to_device.hpp"
#include "client/room_state_cache.hpp"
#include "client/room_tracker.hpp"
#include "client/to_device_outbox.hpp"
#include "client/turn_refresh.hpp"
#include "crypto/olm_machine.hpp"
#include "mxcall/client.hpp"
#include "mxcall/matrix/api.hpp"
#include "mxcall/matrix/sender.hpp"
#include "mxcall/matrix/sync_loop.hpp"
#include "mxcall/store.hpp"
#include "util/logging.hpp"

namespace mxcall {

inline std::vector<media::IceServer> ice_servers_from(const std::optional<matrix::TurnServer>& turn) {
  if (!turn) return {};
  return {media::IceServer{turn->uris, turn->username, turn->password}};
}

struct Client::Impl {
  ClientOptions options;
  std::shared_ptr<store::Store> store;
  store::Session session;
  std::mutex api_mutex;  // the app-thread Api (room creation) is used by one thread at a time
  std::unique_ptr<matrix::Api> api;
  std::unique_ptr<matrix::Sender> sender;
  std::unique_ptr<matrix::SyncLoop> sync;
  std::shared_ptr<media::MediaEngine> engine;
  std::unique_ptr<client::EventLoop> loop;
  std::unique_ptr<client::RoomTracker> rooms;
  std::unique_ptr<client::CallDriver> driver;
  // Group calls: olm for their to-device signalling, the turn's outbox, the driver.
  std::unique_ptr<crypto::OlmMachine> olm;
  std::unique_ptr<client::OlmToDevice> olm_send;  // sender thread only (made by its first job)
  std::unique_ptr<matrix::Api> recv_api;          // sync thread only: /keys/query for decryption
  std::unique_ptr<client::OlmToDevice> olm_recv;  // sync thread only
  std::unique_ptr<client::ToDeviceOutbox> outbox;
  std::unique_ptr<client::GroupDriver> group;
  std::function<void(const GroupUpdate&)> group_callback;  // under callback_mutex
  std::atomic<std::uint64_t> to_device_requests{0};
  std::atomic<std::uint64_t> to_device_messages{0};
  std::atomic<std::uint64_t> to_device_rounds{0};
  std::atomic<std::uint64_t> keys_requests{0};
  std::atomic<std::uint64_t> to_device_round_layers{0};
  std::atomic<std::uint64_t> keys_queries{0};
  std::atomic<std::uint64_t> keys_claims{0};
  std::int64_t last_otk_count = -1;  // sync thread
  std::mutex callback_mutex;
  std::function<void(const CallUpdate&)> callback;
  std::mutex batch_mutex;
  std::condition_variable batch_cv;
  std::uint64_t batches = 0;
  std::atomic<bool> stopped{false};
  // TURN credentials are fetched again before they expire (loop thread only).
  std::optional<core::TimePoint> turn_refresh_at;
  bool turn_fetch_in_flight = false;

  static core::TimePoint now() { return std::chrono::steady_clock::now(); }
  static std::int64_t unix_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  }

  // client_group.cpp
  Status start_group_calls(const core::CallConfig& call);  // olm, outbox, group driver (before the loop starts)
  void ensure_olm_send(matrix::Api& api);  // sender thread
  std::vector<client::InboundSignal> decrypt_to_device(const matrix::SyncBatch& batch);  // sync thread
  void group_batch(const matrix::SyncBatch& batch, const std::vector<client::InboundSignal>& signals);  // loop
  int rejoin_group_calls();  // how many calls were rejoined from the store
  void leave_group_calls();  // loop thread
  void notify_group(const GroupUpdate& u);
  void count_round(const std::vector<client::OutgoingToDevice>& messages);  // loop thread, at a flush
  client::DeliveryReport deliver(matrix::Api& api, std::vector<client::OutgoingToDevice> messages);  // sender thread

  void notify(const CallUpdate& u) {
    std::function<void(const CallUpdate&)> cb;
    {
      std::lock_guard lock(callback_mutex);
      cb = callback;
    }
    if (cb) cb(u);
  }

  // Sync thread: hand the batch to the loop and wait until it was handled, so the token only
  // advances over processed events.
  void on_batch(const matrix::SyncBatch& batch) {
    const auto signals = decrypt_to_device(batch);
    loop->call([&] {
      auto invites = rooms->apply(batch);
      remember_state(batch);
      group_batch(batch, signals);
      for (const auto& room : batch.joined)
        for (const auto& ev : room.timeline) driver->on_room_event(ev, now());
      if (options.auto_join_invites)
        for (const auto& inv : invites) {
          MXLOG_INFO("client: joining {} (invited by {})", inv.room_id, inv.inviter.value_or("?"));
          sender->submit([room = inv.room_id](matrix::Api& a) {
            if (auto r = a.join_room(room); !r.ok()) MXLOG_WARN("client: joining {} failed: {}", room, r.error().describe());
          });
        }
    });
    std::lock_guard lock(batch_mutex);
    ++batches;
    batch_cv.notify_all();
  }

  // Keeps the batch's memberships and call state in the store (before the sync token moves
  // past them), so a restart from that token still knows them.
  void remember_state(const matrix::SyncBatch& batch) {
    if (auto st = store->save_room_state(client::tracked_state(batch, session.user_id)); !st.ok())
      MXLOG_WARN("client: keeping room state in the store failed: {}", st.error().describe());
    for (const auto& room_id : batch.left)
      if (auto st = store->forget_room(room_id); !st.ok())
        MXLOG_WARN("client: forgetting room {} in the store failed: {}", room_id, st.error().describe());
  }

  // The state kept by remember_state() in earlier runs, applied before the first /sync.
  void restore_state() {
    auto entries = store->load_room_state();
    if (!entries.ok()) {
      MXLOG_WARN("client: reading room state from the store failed: {}", entries.error().describe());
      return;
    }
    matrix::SyncBatch cached;
    cached.joined = client::rooms_from_state(*entries);
    rooms->apply(cached);
    for (const auto& room : cached.joined)
      for (const auto& ev : room.state) group->on_room_event(ev, now());
    MXLOG_DEBUG("client: {} rooms restored from the store", cached.joined.size());
  }

  void wake() {
    const auto t = now();
    if (turn_refresh_at && t >= *turn_refresh_at && !turn_fetch_in_flight) refresh_turn();
    auto next = driver->turn(t);
    if (auto g = group->turn(t); g && (!next || *g < *next)) next = g;
    if (turn_refresh_at && !turn_fetch_in_flight && (!next || *turn_refresh_at < *next)) next = turn_refresh_at;
    loop->set_deadline(next);
  }

  void apply_turn(const Result<std::optional<matrix::TurnServer>>& turn) {
    if (!turn.ok()) {
      MXLOG_WARN("client: fetching TURN credentials failed: {}; retrying in 5 minutes", turn.error().describe());
      // 403: this account gets no TURN (e.g. a guest): stop asking, as js-sdk does.
      turn_refresh_at = turn.error().http_status == 403 ? std::nullopt
                                                        : std::optional<core::TimePoint>(now() + std::chrono::minutes(5));
      return;
    }
    driver->set_ice_servers(ice_servers_from(*turn));
    group->set_ice_servers(ice_servers_from(*turn));
    if (*turn) {
      turn_refresh_at = now() + client::turn_refresh_after((*turn)->ttl_s);
      MXLOG_INFO("client: TURN {} (ttl {} s)", (*turn)->uris.empty() ? "" : (*turn)->uris.front(), (*turn)->ttl_s);
    } else {
      turn_refresh_at.reset();
    }
  }

  void refresh_turn() {
    turn_fetch_in_flight = true;
    sender->submit([this](matrix::Api& a) {
      auto turn = a.turn_server();
      loop->post([this, turn = std::move(turn)] {
        turn_fetch_in_flight = false;
        apply_turn(turn);
      });
    });
  }

  template <typename F>
  Status on_loop(F&& f) {
    if (stopped) return Error::make(ErrorKind::Cancelled, "client stopped");
    return loop->call(std::forward<F>(f));
  }
};


}  // namespace mxcall
