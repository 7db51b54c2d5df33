// Olm-encrypted to-device messaging over the network: the requests around an OlmMachine.
// Synchronous; meant for the client's sender thread (one Api, one thread at a time). The
// machine itself may be shared with other threads.
//
// Request budget: prefetch() makes at most one /keys/query and one /keys/claim;
// send() makes at most one /keys/query, at most one /keys/claim and one
// sendToDevice (one more per extra message to the same device in the same call); receive()
// makes at most one /keys/query (plus one /keys/claim and one sendToDevice when a wedged
// session has to be replaced, VOIP_PROTOCOL 2.7).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "crypto/olm_machine.hpp"
#include "mxcall/error.hpp"
#include "mxcall/matrix/api.hpp"
#include "mxcall/matrix/sync.hpp"

namespace mxcall::client {

struct OutgoingToDevice {
  std::string user_id;
  std::string device_id;
  std::string type;  // the inner event type, e.g. m.call.invite
  nlohmann::json content;
};

struct SendReport {
  std::size_t sent = 0;      // messages the homeserver accepted
  std::size_t requests = 0;  // sendToDevice requests made (1 unless a device got several messages)
  std::vector<crypto::DeviceProblem> failed;  // devices skipped (no keys, no one-time key...), with why
};

struct OlmToDeviceOptions {
  // Also return unencrypted to-device messages (js-sdk mesh calls send m.call.* in plaintext,
  // VOIP_PROTOCOL 2.8). Off: they are refused with reason MXCALL_PLAINTEXT_TO_DEVICE_REJECTED.
  bool accept_plaintext = false;
  // An unknown device or sender key of a user whose list is up to date triggers at most one
  // /keys/query for that user per interval (a stranger cannot make us query on every message).
  std::chrono::milliseconds requery_interval{60'000};
  // The federation timeout given to /keys/query and /keys/claim.
  std::chrono::milliseconds keys_timeout{10'000};
};

class OlmToDevice {
 public:
  OlmToDevice(matrix::Api& api, crypto::OlmMachine& machine, OlmToDeviceOptions options = {});

  // Uploads our device keys once, and one-time keys while fewer than half of what the account
  // holds are on the server. otk_count: signed_curve25519 of /sync's
  // device_one_time_keys_count; nullopt: use the count of our last upload.
  Status ensure_keys_uploaded(std::optional<std::int64_t> otk_count_from_sync);
  // The server's signed_curve25519 count from our last upload, if any.
  std::optional<std::int64_t> published_one_time_keys() const { return published_count_; }

  // Encrypts every message for its device and sends them all as m.room.encrypted in one
  // request. Devices without keys or one-time keys are skipped, logged and listed in
  // SendReport::failed; the rest are still sent. An Error only when a sendToDevice failed.
  Result<SendReport> send(const std::vector<OutgoingToDevice>& messages);

  // What send() would fetch for these devices, ahead of it (a group call's join): one
  // /keys/query for the users never fetched, outdated or with a device we do not know, and one
  // /keys/claim for the `claim_for` devices that are known and have no session. Devices that
  // will message us first need no claim (their pre-key message brings the session). Whatever
  // fails is tried again by send(); the first error is returned.
  Status prefetch(const std::vector<crypto::DeviceRef>& devices, const std::vector<crypto::DeviceRef>& claim_for);

  // An inbound to-device event: m.room.encrypted is decrypted and checked (the sender's keys
  // are fetched first when unknown); anything else is refused unless accept_plaintext.
  Result<crypto::Decrypted> receive(const matrix::ToDeviceEvent& event);

  // device_lists from /sync: changed (and left) users' device keys are fetched again on next use.
  Status on_device_lists(const matrix::DeviceLists& lists);

 private:
  Status query(const std::vector<std::string>& users);
  // One /keys/query for what `devices` lack (nothing when all are known): its error, if any.
  std::optional<Error> query_missing(const std::vector<crypto::DeviceRef>& devices);
  // One /keys/claim for `devices` (none when empty): the devices that got no session.
  std::vector<crypto::DeviceProblem> claim(const std::vector<crypto::DeviceRef>& devices);
  bool may_requery(const std::string& user) const;
  void unwedge();

  matrix::Api& api_;
  crypto::OlmMachine& machine_;
  OlmToDeviceOptions options_;
  std::optional<std::int64_t> published_count_;
  std::map<std::string, std::chrono::steady_clock::time_point> last_query_;
  bool plaintext_warned_ = false;
};

}  // namespace mxcall::client
