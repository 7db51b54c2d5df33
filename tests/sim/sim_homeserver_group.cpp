// The homeserver's parts for group calls: state events (the MSC3401 call and member events),
// to-device messages with the simulated olm layer, and the to-device faults (a message
// overtaking the one before it, a message queued twice).
//
// Olm is not simulated byte for byte: a client sends its signalling as m.room.encrypted whose
// content is {"type", "content"}; the server stamps "sender_device" with the device that really
// sent the request, standing in for the device olm verifies. A forged device id therefore
// shows up as a mismatch the core must refuse, exactly as with real olm.
#include <algorithm>

#include "sim_homeserver.hpp"

namespace mxcall::sim {

namespace {

matrix::HttpResponse ok(Json body) {
  matrix::HttpResponse r;
  r.status = 200;
  r.body = body.dump();
  return r;
}

matrix::HttpResponse forbidden() {
  matrix::HttpResponse r;
  r.status = 403;
  r.body = Json{{"errcode", "M_FORBIDDEN"}, {"error", "not in the room"}}.dump();
  return r;
}

}  // namespace

matrix::HttpResponse SimHomeserver::send_to_device(const DeviceRef& from, const req::SendToDevice& s) {
  const std::string key = from.user_id + "|" + from.device_id + "|todevice|" + s.type + "|" + s.txn_id;
  if (txns_.count(key)) return ok(Json::object());
  if (auto limited = rate_limited(from.user_id)) return *limited;
  txns_[key] = "";
  for (const auto& [user, per_device] : s.messages) {
    for (const auto& [device, content] : per_device) {
      Json c = content;
      if (s.type == "m.room.encrypted" && c.is_object()) {
        c["sender_device"] = from.device_id;
        if (c.contains("content")) check_wire_seq(from, c["content"]);
      }
      for (auto& [ref, state] : devices_) {
        if (ref.user_id != user || (device != "*" && device != ref.device_id)) continue;
        queue_to_device(ref, ToDevice{s.type, from.user_id, c});
      }
    }
  }
  return ok(Json::object());
}

void SimHomeserver::check_wire_seq(const DeviceRef& from, const Json& inner) {
  if (!inner.is_object() || !inner.contains("seq") || !inner["seq"].is_number_integer() || !inner.contains("call_id"))
    return;
  const std::string key = from.name() + " " + inner["call_id"].dump();
  const std::int64_t seq = inner["seq"].get<std::int64_t>();
  auto [it, fresh] = wire_seq_.try_emplace(key, seq);
  if (fresh) return;
  if (seq <= it->second && on_violation)
    on_violation(from.name(), "seq " + std::to_string(seq) + " on call " + inner["call_id"].dump() +
                                  " reached the server after seq " + std::to_string(it->second) + " (repeated or reordered)");
  it->second = std::max(it->second, seq);
}

void SimHomeserver::queue_to_device(const DeviceRef& to, ToDevice message) {
  DeviceState& s = devices_[to];
  const bool dup = config_.fire(config_.hs.td_duplicate, rng_);
  // Overtaking: only messages no response has carried yet can be passed.
  std::size_t at = s.to_device.size();
  if (config_.fire(config_.hs.td_reorder, rng_) && s.td_base + at > s.td_handed && at > 0) {
    at -= 1;
    world_.log("homeserver", "to-device for " + to.name() + " overtakes the one queued before it");
  }
  s.to_device.insert(s.to_device.begin() + static_cast<std::ptrdiff_t>(at), message);
  if (dup) {
    world_.log("homeserver", "to-device for " + to.name() + " queued twice");
    s.to_device.push_back(std::move(message));
  }
  wake(to);
}

void SimHomeserver::inject_to_device(const DeviceRef& to, const std::string& sender, const std::string& type,
                                     const Json& content, const std::string& encrypted_by) {
  ToDevice m;
  m.sender = sender;
  if (encrypted_by.empty()) {
    m.type = type;
    m.content = content;
  } else {
    m.type = "m.room.encrypted";
    m.content = Json{{"type", type}, {"content", content}, {"sender_device", encrypted_by}, {"forged", true}};
  }
  world_.log("homeserver", "injected to-device " + type + " from " + sender + " to " + to.name() +
                               (encrypted_by.empty() ? " (plaintext)" : " (olm device " + encrypted_by + ")"));
  devices_[to].to_device.push_back(std::move(m));
  wake(to);
}

matrix::HttpResponse SimHomeserver::put_state(const DeviceRef& from, const req::PutState& s) {
  if (!is_member(s.room_id, from.user_id)) return forbidden();
  if (auto limited = rate_limited(from.user_id)) return *limited;
  // PUT /state is idempotent: a retry stores the same content again (Synapse answers with the
  // existing event when nothing changed; a new event is harmless here).
  if (const Json* cur = state(s.room_id, s.type, s.state_key); cur && *cur == s.content) {
    for (auto it = room_events_[s.room_id].rbegin(); it != room_events_[s.room_id].rend(); ++it) {
      const Event& e = events_[*it];
      if (e.type == s.type && e.state_key == s.state_key) return ok(Json{{"event_id", e.event_id}});
    }
  }
  Event e{"", s.room_id, from.user_id, s.type, s.state_key, s.content, world_.now()};
  const std::size_t index = persist(std::move(e));
  world_.log("homeserver", "stored state " + events_[index].event_id + " " + s.type + " [" + s.state_key + "] from " + from.name());
  deliver_later(index);
  return ok(Json{{"event_id", events_[index].event_id}});
}

const Json* SimHomeserver::state(const std::string& room_id, const std::string& type, const std::string& state_key) const {
  auto r = room_events_.find(room_id);
  if (r == room_events_.end()) return nullptr;
  for (auto it = r->second.rbegin(); it != r->second.rend(); ++it) {
    const Event& e = events_[*it];
    if (e.type == type && e.state_key == state_key) return &e.content;
  }
  return nullptr;
}

}  // namespace mxcall::sim
