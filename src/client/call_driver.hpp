// Drives the call core on the loop thread: m.call.* room events and media events in, the
// core's outputs carried out (signalling through a send port, media operations on the engine,
// updates to the app). No transport of its own: an app with its own Matrix client can feed
// its events here and do the sends itself.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>

#include "client/peer_table.hpp"
#include "core/call_registry.hpp"
#include "mxcall/client.hpp"
#include "mxcall/matrix/sync.hpp"

namespace mxcall::client {

class CallDriver {
 public:
  struct Ports {
    // Sends a room event; `done` reports the final result (after the transport's retries).
    std::function<void(const std::string& room_id, const std::string& type, const nlohmann::json& content,
                       std::function<void(const Status&)> done)>
        send_room_event;
    media::MediaEngine* engine = nullptr;
    std::function<void(const CallUpdate&)> notify;
  };

  CallDriver(core::RegistryConfig config, Ports ports);

  // A room timeline event (any type: non-call events are ignored).
  void on_room_event(const matrix::RoomEvent& ev, core::TimePoint now);
  void on_media_event(const media::MediaEvent& ev, core::TimePoint now);
  void place(const std::string& room_id, const std::string& call_id, const std::string& invitee, bool video,
             core::TimePoint now);
  Status command(const std::string& call_id, const core::CallInput& input, core::TimePoint now);
  void set_ice_servers(std::vector<media::IceServer> servers);

  // Ends the turn: fires due timers, carries out every output, returns the next deadline.
  std::optional<core::TimePoint> turn(core::TimePoint now);

  std::optional<CallSummary> summary(const std::string& call_id) const;
  std::size_t live_calls() const { return registry_.live_calls(); }
  std::vector<std::string> live_call_ids() const;
  // The core's own state, read-only (tests/sim checks its invariants against it).
  const core::CallRegistry& registry() const { return registry_; }

 private:
  void perform(const std::string& call_id, const core::CallOutput& out, core::TimePoint now);
  static void record(CallSummary& sum, const core::CallOutput& out);
  void update(CallUpdate u) { if (ports_.notify) ports_.notify(u); }

  core::CallRegistry registry_;
  Ports ports_;
  PeerTable peers_;
  std::map<std::string, CallSummary> summaries_;   // kept after a call ends
  core::TimePoint now_{};
};

}  // namespace mxcall::client
