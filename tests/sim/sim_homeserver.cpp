#include "sim_homeserver.hpp"

#include <algorithm>
#include <cstdio>

#include "util/overloaded.hpp"

namespace mxcall::sim {

namespace {

constexpr std::size_t kInitialTimeline = 20;  // events per initial /sync (limited timeline)
constexpr std::size_t kToDevicePerBatch = 100;

matrix::HttpResponse ok(Json body) {
  matrix::HttpResponse r;
  r.status = 200;
  r.body = body.dump();
  return r;
}

matrix::HttpResponse error(int status, const char* errcode, const char* message) {
  matrix::HttpResponse r;
  r.status = status;
  r.body = Json{{"errcode", errcode}, {"error", message}}.dump();
  return r;
}

bool parse_token(const std::string& token, std::size_t& a, std::size_t& b) {
  unsigned long long x = 0, y = 0;
  if (std::sscanf(token.c_str(), "s%llu_%llu", &x, &y) != 2) return false;
  a = static_cast<std::size_t>(x);
  b = static_cast<std::size_t>(y);
  return true;
}

std::string token(std::size_t a, std::size_t b) { return "s" + std::to_string(a) + "_" + std::to_string(b); }

}  // namespace

std::string describe(const HsRequest& r) {
  return std::visit(util::overloaded{
                        [](const req::SendEvent& s) { return "send " + s.type + " txn " + s.txn_id; },
                        [](const req::SendToDevice& s) { return "sendToDevice " + s.type + " txn " + s.txn_id; },
                        [](const req::PutState& s) { return "put " + s.type + " " + s.state_key + " txn " + s.txn_id; },
                        [](const req::Sync& s) { return "sync since '" + s.since + "'" + (s.full_state ? " full_state" : ""); },
                    },
                    r);
}

std::string SimHomeserver::create_room(const std::vector<std::string>& users) {
  const std::string room_id = "!r" + std::to_string(rooms_.size() + 1) + ":sim";
  rooms_[room_id] = users;
  for (const auto& u : users) {
    Event e{"", room_id, u, "m.room.member", u, Json{{"membership", "join"}}, world_.now()};
    deliver_later(persist(std::move(e)));
  }
  return room_id;
}

bool SimHomeserver::is_member(const std::string& room_id, const std::string& user_id) const {
  auto it = rooms_.find(room_id);
  return it != rooms_.end() && std::find(it->second.begin(), it->second.end(), user_id) != it->second.end();
}

std::vector<std::string> SimHomeserver::members(const std::string& room_id) const {
  auto it = rooms_.find(room_id);
  return it == rooms_.end() ? std::vector<std::string>{} : it->second;
}

std::vector<std::string> SimHomeserver::rooms() const {
  std::vector<std::string> out;
  for (const auto& [id, members] : rooms_) out.push_back(id);
  return out;
}

void SimHomeserver::handle(const DeviceRef& from, const HsRequest& request, Reply reply) {
  if (!up_) {
    matrix::HttpResponse r;
    r.outcome = matrix::HttpOutcome::ConnectFailed;
    r.error_text = "connection refused (homeserver restarting)";
    reply(std::move(r));
    return;
  }
  std::visit(util::overloaded{
                 [&](const req::SendEvent& s) { reply(send_event(from, s)); },
                 [&](const req::SendToDevice& s) { reply(send_to_device(from, s)); },
                 [&](const req::PutState& s) { reply(put_state(from, s)); },
                 [&](const req::Sync& s) { sync(from, s, std::move(reply)); },
             },
             request);
}

std::optional<matrix::HttpResponse> SimHomeserver::rate_limited(const std::string& user) {
  if (!config_.active || !config_.hs.rate_limit.armed) return std::nullopt;
  Bucket& b = buckets_.try_emplace(user, Bucket{static_cast<double>(config_.hs.burst), world_.now()}).first->second;
  b.tokens = std::min<double>(config_.hs.burst, b.tokens + static_cast<double>(world_.now() - b.at) / static_cast<double>(config_.hs.refill));
  b.at = world_.now();
  if (b.tokens >= 1) {
    b.tokens -= 1;
    return std::nullopt;
  }
  const auto wait = static_cast<std::int64_t>((1 - b.tokens) * static_cast<double>(config_.hs.refill)) + 1;
  matrix::HttpResponse r;
  r.status = 429;
  r.body = Json{{"errcode", "M_LIMIT_EXCEEDED"}, {"error", "Too Many Requests"}, {"retry_after_ms", wait}}.dump();
  if (rng_.chance(0.3)) r.retry_after = std::to_string((wait + 999) / 1000);  // the newer header, in seconds
  return r;
}

matrix::HttpResponse SimHomeserver::send_event(const DeviceRef& from, const req::SendEvent& s) {
  const std::string key = from.user_id + "|" + from.device_id + "|send|" + s.room_id + "|" + s.type + "|" + s.txn_id;
  if (auto it = txns_.find(key); it != txns_.end()) {
    world_.log("homeserver", "txn " + s.txn_id + " seen before: answering " + it->second + " again");
    return ok(Json{{"event_id", it->second}});
  }
  if (!is_member(s.room_id, from.user_id)) return error(403, "M_FORBIDDEN", "not in the room");
  if (auto limited = rate_limited(from.user_id)) return *limited;
  Event e{"", s.room_id, from.user_id, s.type, std::nullopt, s.content, world_.now()};
  const std::size_t index = persist(std::move(e));
  txns_[key] = events_[index].event_id;
  world_.log("homeserver", "stored " + events_[index].event_id + " " + s.type + " from " + from.name());
  deliver_later(index);
  return ok(Json{{"event_id", events_[index].event_id}});
}

void SimHomeserver::inject(const std::string& room_id, const std::string& sender, const std::string& type,
                           const Json& content) {
  Event e{"", room_id, sender, type, std::nullopt, content, world_.now()};
  const std::size_t index = persist(std::move(e));
  world_.log("homeserver", "injected " + events_[index].event_id + " " + type + " from non-member " + sender);
  deliver_later(index);
}

std::size_t SimHomeserver::persist(Event e) {
  e.event_id = "$ev" + std::to_string(events_.size() + 1);
  room_events_[e.room_id].push_back(events_.size());
  events_.push_back(std::move(e));
  return events_.size() - 1;
}

void SimHomeserver::deliver_later(std::size_t index) {
  const Event& e = events_[index];
  for (auto& [ref, state] : devices_) {
    if (!is_member(e.room_id, ref.user_id)) continue;
    SimTime at = world_.now();
    // Other users' servers see an event later, and not all equally late.
    if (ref.user_id != e.sender && config_.fire(config_.hs.federation, rng_)) at += rng_.between(1, config_.hs.federation_max);
    SimTime& last = state.last_from[e.sender];
    at = std::max(at, last);
    last = at;
    const DeviceRef d = ref;
    world_.at(at, [this, d, index] { make_visible(d, index); });
    // A state event delivered again after newer ones would roll the room's state back (a
    // state reset, which Synapse avoids): group-call state events are never duplicated.
    if (config_.fire(config_.hs.duplicate, rng_) && e.type.rfind("org.matrix.msc3401.", 0) != 0)
      world_.at(at + rng_.between(1, 5'000), [this, d, index] { make_visible(d, index); });
  }
}

void SimHomeserver::make_visible(const DeviceRef& d, std::size_t index) {
  devices_[d].stream.push_back(index);
  wake(d);
}

bool SimHomeserver::has_news(const DeviceState& s, const req::Sync& r) const {
  std::size_t a = 0, b = 0;
  if (r.since.empty() || r.full_state || !parse_token(r.since, a, b)) return true;
  return s.stream.size() > a || s.td_base + s.to_device.size() > b;
}

void SimHomeserver::sync(const DeviceRef& from, const req::Sync& r, Reply reply) {
  DeviceState& s = devices_[from];
  if (has_news(s, r) || r.timeout <= 0) {
    matrix::HttpResponse resp;
    resp.status = 200;
    resp.body = respond(from, r);
    reply(std::move(resp));
    return;
  }
  const std::uint64_t id = next_parked_++;
  s.parked.push_back(Parked{id, r, std::move(reply), world_.now() + r.timeout});
  world_.at(world_.now() + r.timeout, [this, from, id] { flush(from, id); });
}

void SimHomeserver::wake(const DeviceRef& d) {
  DeviceState& s = devices_[d];
  for (auto& p : s.parked) {
    if (p.flushing || !has_news(s, p.request)) continue;
    p.flushing = true;  // wait a little so several events share the batch
    const std::uint64_t id = p.id;
    world_.after(rng_.between(0, config_.hs.batch_window), [this, d, id] { flush(d, id); });
  }
}

void SimHomeserver::flush(const DeviceRef& d, std::uint64_t parked_id) {
  DeviceState& s = devices_[d];
  auto it = std::find_if(s.parked.begin(), s.parked.end(), [&](const Parked& p) { return p.id == parked_id; });
  if (it == s.parked.end()) return;  // answered already, or dropped by a restart
  Parked p = std::move(*it);
  s.parked.erase(it);
  matrix::HttpResponse resp;
  resp.status = 200;
  resp.body = respond(d, p.request);
  p.reply(std::move(resp));
}

Json SimHomeserver::event_json(const Event& e) const {
  Json j{{"type", e.type},           {"sender", e.sender}, {"event_id", e.event_id},
         {"origin_server_ts", e.ts}, {"content", e.content}, {"unsigned", {{"age", world_.now() - e.ts}}}};
  if (e.state_key) j["state_key"] = *e.state_key;
  return j;
}

std::string SimHomeserver::respond(const DeviceRef& d, const req::Sync& r) {
  DeviceState& s = devices_[d];
  std::size_t a = 0, b = s.td_base;
  const bool initial = r.since.empty() || !parse_token(r.since, a, b);
  if (initial) {
    a = s.stream.size() > kInitialTimeline ? s.stream.size() - kInitialTimeline : 0;
    b = s.td_base;
  }
  // A token acknowledges the to-device messages before it: they are deleted now.
  while (s.td_base < b && !s.to_device.empty()) {
    s.to_device.pop_front();
    ++s.td_base;
  }
  b = std::max(b, s.td_base);
  const std::size_t end = initial ? s.stream.size() : std::min(s.stream.size(), a + static_cast<std::size_t>(config_.hs.batch_limit));
  Json join = Json::object();
  std::set<std::string> rooms_with_state;
  auto room_entry = [&](const std::string& room_id) -> Json& {
    Json& room = join[room_id];
    if (!room.contains("timeline")) {
      room["timeline"] = Json{{"events", Json::array()}, {"limited", initial}, {"prev_batch", "p" + std::to_string(a)}};
      room["state"] = Json{{"events", Json::array()}};
    }
    return room;
  };
  if (initial || r.full_state) {
    for (const auto& [room_id, members] : rooms_) {
      if (!is_member(room_id, d.user_id)) continue;
      Json& room = room_entry(room_id);
      for (std::size_t i : room_events_[room_id])
        if (events_[i].state_key) room["state"]["events"].push_back(event_json(events_[i]));
    }
  }
  for (std::size_t i = a; i < end; ++i) {
    const Event& e = events_[s.stream[i]];
    room_entry(e.room_id)["timeline"]["events"].push_back(event_json(e));
  }
  Json td = Json::array();
  for (std::size_t i = b - s.td_base; i < s.to_device.size() && td.size() < kToDevicePerBatch; ++i)
    td.push_back(Json{{"type", s.to_device[i].type}, {"sender", s.to_device[i].sender}, {"content", s.to_device[i].content}});
  const std::size_t next_b = b + td.size();
  s.td_handed = std::max(s.td_handed, next_b);
  Json body{{"next_batch", token(end, next_b)}, {"rooms", {{"join", join}}}, {"to_device", {{"events", td}}}};
  world_.log("homeserver", "sync " + d.name() + " '" + r.since + "' -> " + token(end, next_b) + " (" +
                               std::to_string(end - a) + " events, " + std::to_string(td.size()) + " to-device)");
  return body.dump();
}

void SimHomeserver::restart(SimTime down_for) {
  world_.log("homeserver", "restarting (down " + std::to_string(down_for) + " ms)");
  up_ = false;
  ++generation_;
  buckets_.clear();
  for (auto& [ref, state] : devices_) {
    auto parked = std::move(state.parked);
    state.parked.clear();
    for (auto& p : parked) {
      matrix::HttpResponse r;
      r.outcome = matrix::HttpOutcome::ConnectFailed;
      r.error_text = "connection reset (homeserver restarting)";
      p.reply(std::move(r));
    }
  }
  world_.after(down_for, [this] {
    up_ = true;
    world_.log("homeserver", "up again");
  });
}

}  // namespace mxcall::sim
