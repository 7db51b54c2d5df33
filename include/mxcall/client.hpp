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
#include <vector>

#include "mxcall/error.hpp"
#include "mxcall/group_call.hpp"
#include "mxcall/media.hpp"

namespace mxcall {

struct CallUpdate;

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

  // Group calls. Their signalling is olm-encrypted to-device messages; plaintext is refused
  // unless this is set (needed for peers that cannot encrypt, e.g. js-sdk without crypto):
  // then we send plaintext and accept both. Logged when used.
  bool allow_plaintext_to_device = false;
  // Encrypts the olm account and sessions in the store; empty: a random key kept in a file
  // beside the store (<store>.key, owner-only).
  std::string pickle_key;
  // Rejoin the group calls we were in when the client last ran (crashed or killed), from the
  // store, without reading room history.
  bool rejoin_group_calls = true;
  // On stop(): leave group calls (hang up peers, remove our member entry). Off: stop like a
  // crash would, leaving the entry to expire or to a restart to rejoin.
  bool leave_group_calls_on_stop = true;
  // Our member entry's expires_ts is now + this (re-put at 3/4 of it, or 15 min before expiry).
  // Others drop a device that stops refreshing (crashed, killed) once it expires.
  std::chrono::milliseconds group_member_lifetime{3'600'000};
  // Callbacks in place before anything runs: a group call rejoined from the store, or a call
  // ringing in the first sync, reports before start() returns (on_update()/on_group_update()
  // set later only see what comes after). Same threads and rules as those setters.
  std::function<void(const CallUpdate&)> on_update;
  std::function<void(const GroupUpdate&)> on_group_update;
};

// Transport counters, for tests and benchmarks.
struct ClientStats {
  std::uint64_t to_device_requests = 0;  // sendToDevice requests (every attempt)
  std::uint64_t to_device_messages = 0;  // messages they carried
  // Signalling rounds: loop turns that had to-device messages to send (each is one delivery;
  // one request unless a device gets two messages in that turn, see to_device_outbox.hpp).
  std::uint64_t to_device_rounds = 0;
  std::uint64_t keys_requests = 0;       // /keys/upload, query, claim
  // The requests those rounds need: a request holds one message per device, so a round with
  // k messages for one device needs k (to_device_requests equals this when nothing failed or
  // was retried).
  std::uint64_t to_device_round_layers = 0;
  std::uint64_t keys_queries = 0;        // of those, /keys/query
  std::uint64_t keys_claims = 0;         // of those, /keys/claim
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

  // ---- group calls (MSC3401 full mesh; types in group_call.hpp) ----
  void on_group_update(std::function<void(const GroupUpdate&)> callback);
  // A room for group calls: members may write call member events (power level 0 for the call
  // event types, as Element does), the given users invited. Returns the room id.
  Result<std::string> create_group_room(const std::vector<std::string>& invite, const std::string& name = {});
  // Joins the room's group call (or starts one); returns its conf id. The room must be joined.
  Result<std::string> join_group_call(const std::string& room_id, GroupCallOptions options = {});
  Status leave_group_call(const std::string& room_id);
  Status set_group_muted(const std::string& room_id, media::MediaKind kind, bool muted);
  Status set_group_video(const std::string& room_id, bool enabled);
  std::optional<GroupCallSummary> group_summary(const std::string& room_id);
  std::vector<std::string> group_calls();  // rooms whose call we are in
  // The conf id of the call running in a room (the newest call event not terminated), as far
  // as our /sync has seen; nullopt when none.
  std::optional<std::string> live_group_call(const std::string& room_id);
  // Waits until we are a joined member of the room (an invite was auto-joined, say).
  bool wait_joined(const std::string& room_id, std::chrono::milliseconds timeout);

  ClientStats stats() const;

  // Hangs up live calls (waiting briefly for the hangups to be sent) and stops everything.
  void stop();

 private:
  struct Impl;
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace mxcall
