// One simulated device: a process running the real call core (client::CallDriver over
// core::CallRegistry + core::Call) with a SimEngine, fed by a sync loop and sending through a
// FIFO sender, both over the SimNetwork. The glue mirrors the real client (matrix::SyncLoop,
// matrix::Sender, Client::on_batch): the since token is saved only after a batch was handled,
// sends keep their txn id across retries, and matrix::decide_retry decides every retry.
//
// The process can crash (its calls, queued sends and media vanish; the saved token survives,
// unless the store is lost too) and boot again. Its clock runs with its own offset and drift.
// Everything it saw of each call is kept in CallRecords for the invariants.
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "client/call_driver.hpp"
#include "client/group_driver.hpp"
#include "client/room_tracker.hpp"
#include "core/call_io.hpp"
#include "mxcall/client.hpp"
#include "mxcall/store.hpp"
#include "sim_homeserver.hpp"
#include "sim_media.hpp"
#include "sim_world.hpp"

namespace mxcall::sim {

class Sim;

// Local time = offset + global time, scaled by (1 + ppm / 10^6).
struct SkewedClock {
  std::int64_t offset_ms = 0;
  std::int64_t ppm = 0;
  std::int64_t wall_skew_ms = 0;  // the wall clock's error (member expiry), set by group scenarios
  // Wall clocks are NTP-disciplined: a fixed error, no drift (the monotonic clock drifts).
  std::int64_t unix_ms(SimTime g) const { return 1'700'000'000'000 + wall_skew_ms + g; }
  core::TimePoint local(SimTime g) const {
    return core::TimePoint{} + std::chrono::milliseconds(offset_ms + g + g * ppm / 1'000'000);
  }
  // The earliest global time, not before `now`, at which the local clock reads `t` or later.
  SimTime global_for(core::TimePoint t, SimTime now) const;
};

// What one process of one device saw of one call.
struct CallRecord {
  std::string call_id;
  std::string room_id;
  int incarnation = 0;
  bool outbound = false;
  std::string peer_user;
  std::vector<std::string> states;
  int connected = 0;       // Connected notes (at most one per call)
  bool rang = false;       // announced as Incoming
  bool ended = false;
  bool lost = false;       // the process died while the call was live
  std::string reason;
  bool by_remote = false;
  SimTime ended_at = 0;
  SimTime hangup_at = -1;  // the user hung up (or rejected) here
  std::vector<std::string> sent;  // event types, in order
  std::vector<char> dtmf;
  bool live() const { return !ended && !lost; }
  const std::string& state() const { static const std::string none; return states.empty() ? none : states.back(); }
};

// What one process of one device saw of one peer call of a group call (group invariants).
struct PeerCallRecord {
  std::string call_id;
  std::string room_id;
  int incarnation = 0;
  std::string peer;           // "user/device"
  std::int64_t next_seq = 0;  // the seq the next message on the wire must carry
  int connected = 0;
  bool ended = false;
  std::string reason;
};

class SimClient {
 public:
  SimClient(Sim& sim, int index, DeviceRef device, Rng rng, SkewedClock clock);
  ~SimClient();
  SimClient(const SimClient&) = delete;
  SimClient& operator=(const SimClient&) = delete;

  const DeviceRef& device() const { return device_; }
  std::string name() const { return device_.name(); }
  int index() const { return index_; }
  core::TimePoint local_now() const;

  // ---- the process ----
  void boot(bool lost_store);
  void crash();
  bool alive() const { return proc_ != nullptr; }
  int incarnation() const { return incarnation_; }
  void set_offline(bool offline) { offline_ = offline; }
  bool offline() const { return offline_; }
  bool synced() const;  // this process handled its first /sync batch
  void set_wall_skew(std::int64_t ms) { clock_.wall_skew_ms = ms; }

  // ---- the user ----
  std::optional<std::string> place(const std::string& room_id, const std::string& invitee, bool video);
  bool command(const std::string& call_id, const core::CallInput& input);

  // ---- group calls (sim_client_group.cpp) ----
  bool group_join(const std::string& room_id, bool create, bool video);
  bool group_leave(const std::string& room_id);
  bool group_mute(const std::string& room_id, bool muted);
  const core::GroupCall* group(const std::string& room_id) const;
  std::vector<std::string> group_rooms() const;  // rooms whose call this process is in
  const std::vector<PeerCallRecord>& peer_records() const { return peer_records_; }
  PeerCallRecord* peer_record(const std::string& call_id);  // of the current process
  // The store (survives a crash unless it is lost too): the rooms whose call it keeps.
  std::vector<std::string> stored_group_calls() const;

  // ---- what happened ----
  const std::vector<CallRecord>& records() const { return records_; }
  CallRecord* record(const std::string& call_id);  // of the current process
  std::vector<std::string> live_calls() const;      // call ids of the current process
  const core::Call* call(const std::string& call_id) const;  // the core's own view
  bool media_busy() const;
  std::size_t core_live_calls() const;  // the core's own count
  std::size_t batches() const { return batches_; }

 private:
  struct Process;
  struct SendJob;

  // Runs f only if this process is still the one that scheduled it.
  template <typename F>
  std::function<void()> guard(F f) {
    return [this, inc = incarnation_, f = std::move(f)] {
      if (proc_ && incarnation_ == inc) f();
    };
  }
  const core::CallRegistry& registry() const;  // of the live process
  void sync_once();
  void on_sync(const matrix::HttpResponse& response);
  void handle_batch(const matrix::SyncBatch& batch);
  void send_room_event(const std::string& room_id, const std::string& type, const nlohmann::json& content,
                       std::function<void(const Status&)> done);
  void pump_sends();
  void attempt_send();
  void on_send_response(const matrix::HttpResponse& response);
  void turn();
  void on_update(const mxcall::CallUpdate& u);
  void check_calls();
  // sim_client_group.cpp
  client::GroupDriver::Ports group_ports();
  void group_batch(const matrix::SyncBatch& batch);
  void group_to_device(const matrix::ToDeviceEvent& ev);
  void put_state(const std::string& room_id, const std::string& type, const std::string& state_key,
                 const nlohmann::json& content, std::function<void(const Status&)> done);
  void outgoing_to_device(client::OutgoingToDevice m);
  void flush_to_device();
  void on_group_update(const mxcall::GroupUpdate& u);
  void check_group();
  void rejoin_from_store();
  std::string group_fingerprint() const;
  std::string txn_id();
  std::string fingerprint(const std::string& extra_call) const;
  CallRecord& record_for(const std::string& call_id);

  Sim& sim_;
  int index_;
  DeviceRef device_;
  Rng rng_;
  SkewedClock clock_;
  std::unique_ptr<Process> proc_;
  int incarnation_ = 0;
  bool offline_ = false;
  std::string saved_token_;  // the store: survives crashes
  std::vector<CallRecord> records_;
  std::size_t batches_ = 0;
  std::uint64_t txn_counter_ = 0;
  std::unique_ptr<store::Store> store_;  // the device's disk: group calls it is in
  std::vector<PeerCallRecord> peer_records_;
};

}  // namespace mxcall::sim
