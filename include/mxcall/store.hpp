// Persistent client state in SQLite (WAL): the login session, the /sync token, the olm state
// (account, sessions, known device keys), the room state the client acts on, and the group
// calls it is in.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mxcall/error.hpp"

namespace mxcall::store {

struct Session {
  std::string homeserver;  // base URL, e.g. http://127.0.0.1:8008
  std::string user_id;
  std::string device_id;
  std::string access_token;
};

// One state event the client keeps (content as JSON text).
struct StateEntry {
  std::string room_id;
  std::string event_type;
  std::string state_key;
  std::string content;
  bool operator==(const StateEntry&) const = default;
};

// A group call this device is in (rejoined when the client starts again).
struct OngoingGroupCall {
  std::string room_id;
  std::string conf_id;
  std::string session_id;
  bool video = false;
  bool audio_muted = false;
  bool video_muted = false;
  std::int64_t joined_at_ms = 0;
  bool operator==(const OngoingGroupCall&) const = default;
};

// One peer call of a group call, as the wire knows it.
struct GroupPeerCall {
  std::string call_id;
  std::string user_id;
  std::string device_id;
  std::string peer_session_id;
  std::int64_t next_seq = 0;  // the seq our next message on this call would carry
  bool operator==(const GroupPeerCall&) const = default;
};

// The olm account of this device. `pickle` is libolm's (or another backend's) pickle,
// encrypted with the pickle key; the store never sees the key.
struct OlmAccountRecord {
  std::string user_id;
  std::string device_id;
  std::string pickle;
  bool device_keys_published = false;
};

struct OlmSessionRecord {
  std::string sender_key;  // the other device's curve25519
  std::string session_id;
  std::string pickle;      // encrypted with the pickle key
  std::int64_t created_ms = 0;
  std::int64_t last_received_ms = 0;  // the last decryption; created_ms until then
};

// A device's keys as validated from /keys/query (public data, stored in the clear).
struct DeviceKeysRecord {
  std::string user_id;
  std::string device_id;
  std::string curve25519;
  std::string ed25519;
  std::string keys_json;  // the signed device_keys object
  bool deleted = false;   // no longer listed by the server; kept so the id cannot change keys
};

// The key that encrypts the olm pickles of the store at `store_path`: 32 random bytes in the
// file `<store_path>.key`, created owner-only (0600) beside the database on first use. A key
// file of another size is an ErrorKind::Store error, never silently replaced.
Result<std::string> load_or_create_pickle_key(const std::filesystem::path& store_path);

// Thread-safe: every method may be called from any thread (one internal mutex).
class Store {
 public:
  // Opens or creates the database and applies pending migrations, each in one transaction.
  // A file that is not a database, or one written by a newer mxcall (a schema version this
  // build does not know), gives ErrorKind::Store with a message saying so; nothing is changed.
  static Result<std::unique_ptr<Store>> open(const std::filesystem::path& path);
  static Result<std::unique_ptr<Store>> open_in_memory();
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  static int latest_schema_version();
  int schema_version() const;

  Result<std::optional<Session>> load_session() const;
  Status save_session(const Session& session);
  // Forgets the session and everything tied to it (sync token, olm state). Saving a session
  // of another user or device forgets them too.
  Status clear_session();

  Result<std::optional<std::string>> load_sync_token() const;
  Status save_sync_token(const std::string& next_batch);

  // Room state cache (memberships, group call and member events): upserts in one transaction.
  Status save_room_state(const std::vector<StateEntry>& entries);
  Result<std::vector<StateEntry>> load_room_state() const;
  // Forgets a room's state (we left it).
  Status forget_room(const std::string& room_id);

  // Ongoing group calls, one per room.
  Status save_group_call(const OngoingGroupCall& call);
  Status remove_group_call(const std::string& room_id);  // and its peer calls
  Result<std::vector<OngoingGroupCall>> load_group_calls() const;
  // Replaces the peer calls kept for the group call in `room_id` (which must be saved).
  Status save_group_peer_calls(const std::string& room_id, const std::vector<GroupPeerCall>& calls);
  Result<std::vector<GroupPeerCall>> load_group_peer_calls(const std::string& room_id) const;
  // ---- olm (src/store/store_olm.cpp) ----
  Result<std::optional<OlmAccountRecord>> load_olm_account() const;
  // The account and, with it, sessions in one transaction: a pre-key message consumes a
  // one-time key of the account and creates a session, both or neither.
  Status save_olm_account(const OlmAccountRecord& account, const std::vector<OlmSessionRecord>& sessions = {});
  Result<std::vector<OlmSessionRecord>> load_olm_sessions() const;
  Status save_olm_session(const OlmSessionRecord& session);
  Status delete_olm_session(const std::string& sender_key, const std::string& session_id);

  Result<std::vector<DeviceKeysRecord>> load_device_keys() const;
  // user id -> outdated (true until the next /keys/query for them).
  Result<std::map<std::string, bool>> load_tracked_users() const;
  // After a /keys/query: upserts `devices` and marks `queried_users` tracked and up to date.
  Status save_device_keys(const std::vector<DeviceKeysRecord>& devices, const std::vector<std::string>& queried_users);
  // Their device lists changed: tracked users become outdated (untracked ones stay untracked).
  Status mark_users_outdated(const std::vector<std::string>& users);

 private:
  struct Impl;
  explicit Store(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace mxcall::store
