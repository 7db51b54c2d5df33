#include "client/olm_to_device.hpp"

#include <algorithm>
#include <set>
#include <utility>

#include "crypto/olm_errors.hpp"
#include "events/olm_events.hpp"
#include "util/json_guard.hpp"
#include "util/logging.hpp"

namespace mxcall::client {

namespace {

using crypto::DeviceProblem;
using crypto::DeviceRef;
using nlohmann::json;

std::string describe(const DeviceRef& ref) { return ref.user_id + " " + ref.device_id; }

}  // namespace

OlmToDevice::OlmToDevice(matrix::Api& api, crypto::OlmMachine& machine, OlmToDeviceOptions options)
    : api_(api), machine_(machine), options_(options) {}

Status OlmToDevice::ensure_keys_uploaded(std::optional<std::int64_t> otk_count_from_sync) {
  std::optional<std::int64_t> published = otk_count_from_sync ? otk_count_from_sync : published_count_;
  const bool send_device_keys = !machine_.device_keys_published();
  // Nothing was ever uploaded by this account: the server holds none of its keys.
  if (!published && send_device_keys) published = 0;
  if (!published) {
    auto counts = api_.keys_upload(json::object());
    if (!counts) return std::move(counts).error();
    const auto* by_algorithm = util::get_object(*counts, "one_time_key_counts");
    published = by_algorithm ? util::get_int(*by_algorithm, "signed_curve25519").value_or(0) : 0;
  }

  json body = json::object();
  if (send_device_keys) body["device_keys"] = machine_.device_keys();
  // Keys generated for an upload that failed are still pending and go out again here.
  auto one_time_keys = machine_.one_time_keys_for_upload(machine_.one_time_keys_wanted(*published));
  if (!one_time_keys) return std::move(one_time_keys).error();
  if (!one_time_keys->empty()) body["one_time_keys"] = std::move(one_time_keys).value();
  if (body.empty()) {
    published_count_ = published;
    return ok_status();
  }

  const std::size_t uploading = body.contains("one_time_keys") ? body["one_time_keys"].size() : 0;
  auto answer = api_.keys_upload(body);
  if (!answer) {
    MXLOG_WARN("olm: uploading keys failed: {}", answer.error().describe());
    return std::move(answer).error();
  }
  if (auto marked = machine_.mark_published(send_device_keys); !marked) return marked;
  const auto* counts = util::get_object(*answer, "one_time_key_counts");
  published_count_ = counts ? util::get_int(*counts, "signed_curve25519") : std::nullopt;
  MXLOG_INFO("olm: uploaded {}{} one-time keys; the server holds {}", send_device_keys ? "device keys and " : "",
             uploading, published_count_ ? std::to_string(*published_count_) : std::string("an unknown number of"));
  return ok_status();
}

bool OlmToDevice::may_requery(const std::string& user) const {
  auto it = last_query_.find(user);
  return it == last_query_.end() || std::chrono::steady_clock::now() - it->second >= options_.requery_interval;
}

Status OlmToDevice::query(const std::vector<std::string>& users) {
  json wanted = json::object();
  for (const auto& user : users) wanted[user] = json::array();
  const auto now = std::chrono::steady_clock::now();
  for (const auto& user : users) last_query_[user] = now;
  auto answer = api_.keys_query(json{{"device_keys", wanted}, {"timeout", options_.keys_timeout.count()}});
  if (!answer) {
    MXLOG_WARN("olm: /keys/query for {} users failed: {}", users.size(), answer.error().describe());
    return std::move(answer).error();
  }
  const auto outcome = machine_.apply_keys_query(*answer, users);
  MXLOG_DEBUG("olm: /keys/query: {} devices accepted, {} rejected", outcome.accepted, outcome.rejected.size());
  return ok_status();
}

std::optional<Error> OlmToDevice::query_missing(const std::vector<DeviceRef>& devices) {
  // One /keys/query: users never fetched or outdated, and users with a device we do not know.
  std::vector<std::string> users;
  for (const auto& ref : devices)
    if (std::find(users.begin(), users.end(), ref.user_id) == users.end()) users.push_back(ref.user_id);
  std::vector<std::string> to_query = machine_.users_needing_query(users);
  for (const auto& ref : devices) {
    if (std::find(to_query.begin(), to_query.end(), ref.user_id) != to_query.end()) continue;
    if (!machine_.device(ref) && may_requery(ref.user_id)) to_query.push_back(ref.user_id);
  }
  if (to_query.empty()) return std::nullopt;
  if (auto queried = query(to_query); !queried) return std::move(queried).error();
  return std::nullopt;
}

std::vector<DeviceProblem> OlmToDevice::claim(const std::vector<DeviceRef>& devices) {
  std::vector<DeviceProblem> failed;
  if (devices.empty()) return failed;
  json wanted = json::object();
  for (const auto& ref : devices) wanted[ref.user_id][ref.device_id] = "signed_curve25519";
  auto answer = api_.keys_claim(json{{"one_time_keys", wanted}, {"timeout", options_.keys_timeout.count()}});
  if (!answer) {
    for (const auto& ref : devices) failed.push_back({ref, answer.error()});
    return failed;
  }
  return machine_.apply_keys_claim(*answer, devices).failed;
}

Status OlmToDevice::prefetch(const std::vector<DeviceRef>& devices, const std::vector<DeviceRef>& claim_for) {
  std::vector<DeviceRef> all = devices;
  for (const auto& ref : claim_for)
    if (std::find(all.begin(), all.end(), ref) == all.end()) all.push_back(ref);
  std::optional<Error> query_error = query_missing(all);
  std::vector<DeviceRef> to_claim;
  for (const auto& ref : claim_for)
    if (machine_.device(ref) && !machine_.has_session(ref)) to_claim.push_back(ref);
  const auto failed = claim(to_claim);
  MXLOG_DEBUG("olm: prefetched keys of {} devices; {} sessions claimed, {} failed", all.size(),
              to_claim.size() - failed.size(), failed.size());
  if (query_error) return *query_error;
  if (!failed.empty()) return failed.front().error;
  return ok_status();
}

Result<SendReport> OlmToDevice::send(const std::vector<OutgoingToDevice>& messages) {
  SendReport report;
  std::set<DeviceRef> failed;
  const auto fail = [&](const DeviceRef& ref, Error error) {
    if (!failed.insert(ref).second) return;
    MXLOG_WARN("olm: not sending to {}: {}", describe(ref), error.message);
    report.failed.push_back({ref, std::move(error)});
  };

  // Messages per device, in the caller's order.
  std::map<DeviceRef, std::vector<const OutgoingToDevice*>> by_device;
  for (const auto& m : messages) {
    const DeviceRef ref{m.user_id, m.device_id};
    if (!matrix::is_valid_user_id(m.user_id) || m.device_id.empty() || m.device_id == "*" || m.type.empty()) {
      fail(ref, Error::make(ErrorKind::InvalidArgument, "a message needs a user id, one device id and a type"));
      continue;
    }
    by_device[ref].push_back(&m);
  }

  std::vector<DeviceRef> devices;
  for (const auto& [ref, _] : by_device) devices.push_back(ref);
  const std::optional<Error> query_error = query_missing(devices);

  // One /keys/claim for every known device without a usable session.
  std::vector<DeviceRef> to_claim;
  for (const auto& ref : devices) {
    if (!machine_.device(ref)) {
      fail(ref, query_error ? *query_error
                            : crypto::crypto_error(crypto::reason::kUnknownDevice, "the server lists no such device"));
    } else if (!machine_.has_session(ref)) {
      to_claim.push_back(ref);
    }
  }
  for (auto& problem : claim(to_claim)) fail(problem.device, std::move(problem.error));

  // The k-th message for a device goes in request k: one content per device per request.
  std::vector<matrix::ToDeviceBatch> rounds;
  for (const auto& [ref, list] : by_device) {
    if (failed.count(ref) != 0) continue;
    for (std::size_t k = 0; k < list.size(); ++k) {
      auto envelope = machine_.encrypt(ref, list[k]->type, list[k]->content);
      if (!envelope) {
        fail(ref, std::move(envelope).error());
        break;
      }
      if (rounds.size() <= k) rounds.resize(k + 1);
      rounds[k].messages[ref.user_id][ref.device_id] = std::move(envelope).value();
    }
  }
  for (auto& batch : rounds) {
    batch.event_type = std::string(events::kRoomEncrypted);
    batch.txn_id = matrix::new_txn_id();  // the Api reuses it for every retry of this request
    const std::size_t count = batch.device_count();
    if (auto sent = api_.send_to_device(batch); !sent) {
      MXLOG_WARN("olm: sendToDevice of {} messages failed: {}", count, sent.error().describe());
      return std::move(sent).error();
    }
    ++report.requests;
    report.sent += count;
  }
  return report;
}

void OlmToDevice::unwedge() {
  const auto wedged = machine_.take_unwedge_requests();
  if (wedged.empty()) return;
  std::vector<OutgoingToDevice> dummies;
  for (const auto& ref : wedged) dummies.push_back({ref.user_id, ref.device_id, "m.dummy", json::object()});
  auto sent = send(dummies);
  if (!sent) {
    MXLOG_WARN("olm: sending m.dummy to replace wedged sessions failed: {}", sent.error().describe());
  } else {
    MXLOG_INFO("olm: new sessions and m.dummy sent to {} of {} devices with wedged sessions", sent->sent,
               wedged.size());
  }
}

Result<crypto::Decrypted> OlmToDevice::receive(const matrix::ToDeviceEvent& event) {
  if (event.type != events::kRoomEncrypted) {
    if (!options_.accept_plaintext) {
      MXLOG_WARN("olm: refused unencrypted to-device {} from {}", event.type, event.sender);
      return crypto::crypto_error(crypto::reason::kPlaintextRejected,
                                  "unencrypted to-device " + event.type + " from " + event.sender +
                                      " refused (only olm-encrypted messages are accepted unless accept_plaintext is set)");
    }
    if (!plaintext_warned_) {
      plaintext_warned_ = true;
      MXLOG_WARN("olm: accepting unencrypted to-device messages (first: {} from {}); their sender device is unverified",
                 event.type, event.sender);
    }
    return crypto::Decrypted{event.sender, {}, {}, event.type, event.content, false};
  }

  // The sender's device must be known before its message can be checked: fetch it once.
  if (const auto* sender_key = util::get_string(event.content, "sender_key")) {
    const auto devices = machine_.devices_of(event.sender);
    const bool known = std::any_of(devices.begin(), devices.end(),
                                   [&](const crypto::DeviceKeys& d) { return d.curve25519 == *sender_key; });
    if (!known && (!machine_.users_needing_query({event.sender}).empty() || may_requery(event.sender)))
      (void)query({event.sender});  // a failure leaves the key unknown: the message is refused below
  }
  auto decrypted = machine_.decrypt(event.sender, event.content);
  unwedge();
  return decrypted;
}

Status OlmToDevice::on_device_lists(const matrix::DeviceLists& lists) {
  std::vector<std::string> users = lists.changed;
  users.insert(users.end(), lists.left.begin(), lists.left.end());
  if (users.empty()) return ok_status();
  return machine_.mark_users_outdated(users);
}

}  // namespace mxcall::client
