#include "client/to_device_outbox.hpp"

#include <algorithm>
#include <map>

#include "util/logging.hpp"

namespace mxcall::client {

void ToDeviceOutbox::flush(Done done) {
  if (pending_.empty()) return;
  sender_.submit([deliver = deliver_, batch = std::move(pending_), done = std::move(done)](matrix::Api& api) mutable {
    DeliveryReport report = deliver(api, std::move(batch));
    if (done) done(std::move(report));
  });
  pending_.clear();
}

std::vector<std::vector<OutgoingToDevice>> split_one_per_device(std::vector<OutgoingToDevice> messages) {
  std::vector<std::vector<OutgoingToDevice>> layers;
  std::map<std::pair<std::string, std::string>, std::size_t> next_layer;  // device -> its next layer
  for (auto& m : messages) {
    std::size_t& k = next_layer[{m.user_id, m.device_id}];
    if (k == layers.size()) layers.emplace_back();
    layers[k++].push_back(std::move(m));
  }
  return layers;
}

std::size_t most_per_device(const std::vector<OutgoingToDevice>& messages) {
  std::map<std::pair<std::string, std::string>, std::size_t> per_device;
  std::size_t most = 0;
  for (const auto& m : messages) most = std::max(most, ++per_device[{m.user_id, m.device_id}]);
  return most;
}

DeliveryReport deliver_plaintext(matrix::Api& api, std::vector<OutgoingToDevice> messages) {
  std::map<std::string, std::vector<OutgoingToDevice>> by_type;
  for (auto& m : messages) by_type[m.type].push_back(std::move(m));
  DeliveryReport report;
  for (auto& [type, list] : by_type) {
    for (auto& layer : split_one_per_device(std::move(list))) {
      matrix::ToDeviceBatch batch;
      batch.event_type = type;
      batch.txn_id = matrix::new_txn_id();
      for (const auto& m : layer) batch.messages[m.user_id][m.device_id] = m.content;
      if (auto st = api.send_to_device(batch); !st.ok()) {
        MXLOG_WARN("to-device: {} to {} devices failed: {}", type, batch.device_count(), st.error().describe());
        report.status = st;
        for (auto& m : layer) report.failed.push_back(std::move(m));
      }
    }
  }
  return report;
}

}  // namespace mxcall::client
