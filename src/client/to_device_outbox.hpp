// The to-device messages of one loop turn, delivered together: the group core emits a
// message per peer and per signal; the driver adds them all here during a turn and flushes
// once at its end, so one signalling round is one delivery job on the sender thread — with
// olm that is ONE sendToDevice request (every message is m.room.encrypted), in plaintext
// (opt-in) one request per event type.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "client/olm_to_device.hpp"  // OutgoingToDevice
#include "mxcall/error.hpp"
#include "mxcall/matrix/api.hpp"
#include "mxcall/matrix/sender.hpp"

namespace mxcall::client {

// Where a delivery failed: the messages that did not go out (after the transport's retries).
struct DeliveryReport {
  std::vector<OutgoingToDevice> failed;
  Status status = ok_status();  // the last error, if any
};

class ToDeviceOutbox {
 public:
  // Runs on the sender thread with everything of one flush. Must send and report failures.
  using Deliver = std::function<DeliveryReport(matrix::Api&, std::vector<OutgoingToDevice>)>;
  // Runs on the sender thread when the delivery is over (post it to your loop).
  using Done = std::function<void(DeliveryReport)>;

  ToDeviceOutbox(matrix::Sender& sender, Deliver deliver) : sender_(sender), deliver_(std::move(deliver)) {}

  void add(OutgoingToDevice message) { pending_.push_back(std::move(message)); }
  bool empty() const { return pending_.empty(); }
  const std::vector<OutgoingToDevice>& pending() const { return pending_; }
  // One delivery job for everything added since the last flush; nothing when empty.
  void flush(Done done = {});

 private:
  matrix::Sender& sender_;
  Deliver deliver_;
  std::vector<OutgoingToDevice> pending_;
};

// A sendToDevice request carries at most one message per device: splits messages into
// layers (the first message of each device, then the second...), keeping each device's order.
// A signalling round that sends one message per peer is one layer.
std::vector<std::vector<OutgoingToDevice>> split_one_per_device(std::vector<OutgoingToDevice> messages);
// How many layers split_one_per_device makes: the most messages any one device has.
std::size_t most_per_device(const std::vector<OutgoingToDevice>& messages);

// The plaintext delivery: one sendToDevice request per event type (each with its own txn id,
// reused by the Api's retries). For peers that cannot do olm, and only when allowed.
DeliveryReport deliver_plaintext(matrix::Api& api, std::vector<OutgoingToDevice> messages);

}  // namespace mxcall::client
