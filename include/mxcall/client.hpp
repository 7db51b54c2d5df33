// The façade apps use: a logged-in Matrix device that places and answers 1:1 calls with real
// media. Everything runs on one internal loop thread; methods may be called from any thread,
// the update callback included (updates arrive on the loop thread: keep the callback short).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "mxcall/error.hpp"
#include "mxcall/media.hpp"

namespace mxcall {

struct ClientOptions {
  std::string homeserver;  // base URL, e.g. http://127.0.0.1:8008
  std::string user;        // localpart or full user id
  std::string password;
  std::filesystem::path store;  // SQLite file: session, sync token (created if missing)
  bool auto_join_invites = false;           // bots: join every room we are invited to
  bool include_loopback_candidates = false;  // gather on 127.0.0.1 (loopback-only networks)
  std::chrono::milliseconds jitterbuffer_latency{50};
  // Only relay (TURN) candidates: media always goes through the homeserver's TURN server.
  bool relay_only = false;
  // How long our invites ring (js-sdk and Hydrogen send 60 s; the spec recommends 90 s or more).
  std::chrono::milliseconds invite_lifetime{60'000};
  // Recovery of a dead media path: after `media_timeout` without a packet from the peer the
  // path counts as disconnected, after `ice_grace` more (twice that on the answering side)
  // ICE restarts, and a call still not recovered `ice_recovery` after the restart ends with
  // ice_failed.
  std::chrono::milliseconds media_timeout{3'000};
  std::chrono::milliseconds ice_grace{2'000};
  std::chrono::milliseconds ice_recovery{15'000};
  // The media engine; null: GStreamer webrtcbin.
  std::shared_ptr<media::MediaEngine> engine;
};

// Something that happened to a call, flattened for apps.
struct CallUpdate {
  enum class Kind {
    Incoming,        // peer, video
    State,           // state
    Connected,       // setup
    FirstMedia,      // media_kind, setup
    RemoteMetadata,  // audio_muted, video_muted of the peer's user media
    RemoteHold,      // on_hold
    RemoteTrack,     // media_kind, screenshare
    RemoteTrackRemoved,  // media_kind, screenshare: the peer stopped sending that track
    Dtmf,            // digit
    Link,            // link ("up", "disconnected", "restarting")
    Ended,           // reason, by_remote
  };
  Kind kind;
  std::string call_id;
  std::string room_id;
  std::string peer;
  std::string state;
  std::string link;
  std::string reason;
  bool by_remote = false;
  bool video = false;
  bool on_hold = false;
  bool audio_muted = false;
  bool video_muted = false;
  bool screenshare = false;
  char digit = 0;
  media::MediaKind media_kind = media::MediaKind::Audio;
  std::chrono::milliseconds setup{0};
};
const char* to_string(CallUpdate::Kind k);

struct CallSummary {
  std::string call_id;
  std::string room_id;
  std::string peer;
  bool outbound = false;
  bool connected = false;  // reached the connected state at some point
  std::string state;
  std::string end_reason;
  std::optional<std::chrono::milliseconds> invite_to_answer;
  std::optional<std::chrono::milliseconds> invite_to_ice_connected;
  std::optional<std::chrono::milliseconds> invite_to_first_audio;
  media::PeerStats stats;
};

class Client {
 public:
  // Logs in (or restores the stored session), starts the sync loop and the call loop.
  static Result<std::unique_ptr<Client>> start(ClientOptions options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  const std::string& user_id() const;
  const std::string& device_id() const;

  void on_update(std::function<void(const CallUpdate&)> callback);

  // Calls user_id in the DM with them (created, and waited for until they join, if needed).
  Result<std::string> place_call(const std::string& user_id, bool video,
                                 std::chrono::milliseconds join_timeout = std::chrono::seconds(30));
  Status answer(const std::string& call_id, bool video = false);
  Status reject(const std::string& call_id);
  Status hangup(const std::string& call_id, const std::string& reason = "user_hangup");
  Status set_muted(const std::string& call_id, media::MediaKind kind, bool muted);
  Status set_hold(const std::string& call_id, bool on_hold);
  Status set_video(const std::string& call_id, bool enabled);
  // A second video stream with purpose m.screenshare (a test pattern unless a device is set up).
  Status set_screenshare(const std::string& call_id, bool enabled);
  Status send_dtmf(const std::string& call_id, const std::string& digits);
  // Restarts ICE now (a fresh ICE agent on both sides), as a dead path does after ice_grace.
  Status restart_ice(const std::string& call_id);

  std::optional<CallSummary> summary(const std::string& call_id);
  std::size_t live_calls();

  // Hangs up live calls (waiting briefly for the hangups to be sent) and stops everything.
  void stop();

 private:
  struct Impl;
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace mxcall
