// SimClient's group-call half: the real client::GroupDriver (over core::GroupCall) wired to the
// simulated homeserver as client_group.cpp wires it to Synapse — state events through the
// FIFO sender, one signalling round as one delivery (split one message per device per
// request, as ToDeviceOutbox does), the store keeping the calls we are in and rejoining them
// after a restart. Olm is stood in for by the homeserver (sim_homeserver_group.cpp).
//
// Invariants checked here, continuously (see invariants_group.cpp for the global ones):
//  - every message on the wire carries the next seq of its call (none skipped or repeated);
//  - a peer call that ended sends and reports nothing more, and keeps no timer;
//  - a live peer call is never stuck (a deadline, a media event on its way, or connected);
//  - a to-device message from a non-member, a forged device or in plaintext changes nothing;
//  - a crash never finds a joined call missing from the store.
#include <algorithm>
#include <sstream>

#include "client/to_device_outbox.hpp"
#include "events/group_events.hpp"
#include "sim.hpp"
#include "sim_client.hpp"
#include "sim_client_process.hpp"

namespace mxcall::sim {

namespace {

std::string key_name(const core::DeviceKey& k) { return k.first.substr(1, k.first.find(':') - 1) + "/" + k.second; }

}  // namespace

client::GroupDriver::Ports SimClient::group_ports() {
  client::GroupDriver::Ports ports;
  ports.put_state = [this](const std::string& room, const std::string& type, const std::string& key,
                           const nlohmann::json& content, std::function<void(const Status&)> done) {
    put_state(room, type, key, content, std::move(done));
  };
  ports.send_to_device = [this](client::OutgoingToDevice m) { outgoing_to_device(std::move(m)); };
  ports.flush_to_device = [this] { flush_to_device(); };
  ports.joined_members = [this](const std::string& room) { return proc_->rooms.joined_members(room); };
  ports.unix_ms = [this] { return clock_.unix_ms(sim_.world.now()); };
  ports.engine = &proc_->engine;
  ports.store = store_.get();
  ports.notify = [this](const mxcall::GroupUpdate& u) { on_group_update(u); };
  return ports;
}

// ---- the user ----------------------------------------------------------------------------

bool SimClient::group_join(const std::string& room_id, bool create, bool video) {
  if (!proc_ || !proc_->group) return false;
  GroupCallOptions o;
  o.create_if_missing = create;
  o.video = video;
  auto r = proc_->group->join(room_id, o, local_now());
  sim_.world.log(name(), "user joins the group call in " + room_id + ": " + (r.ok() ? *r : r.error().describe()));
  if (r.ok()) sim_.count("command: group join");
  turn();
  return r.ok();
}

bool SimClient::group_leave(const std::string& room_id) {
  if (!proc_ || !proc_->group) return false;
  const Status st = proc_->group->leave(room_id, local_now());
  sim_.world.log(name(), "user leaves the group call in " + room_id + (st.ok() ? "" : ": " + st.error().describe()));
  if (st.ok()) sim_.count("command: group leave");
  turn();
  return st.ok();
}

bool SimClient::group_mute(const std::string& room_id, bool muted) {
  if (!proc_ || !proc_->group) return false;
  const Status st = proc_->group->set_muted(room_id, media::MediaKind::Audio, muted, local_now());
  turn();
  return st.ok();
}

const core::GroupCall* SimClient::group(const std::string& room_id) const {
  return proc_ && proc_->group ? proc_->group->group_call(room_id) : nullptr;
}

std::vector<std::string> SimClient::group_rooms() const {
  return proc_ && proc_->group ? proc_->group->rooms_in_call() : std::vector<std::string>{};
}

std::vector<std::string> SimClient::stored_group_calls() const {
  std::vector<std::string> out;
  if (!store_) return out;
  auto calls = store_->load_group_calls();
  if (calls.ok())
    for (const auto& c : *calls) out.push_back(c.room_id);
  return out;
}

void SimClient::rejoin_from_store() {
  proc_->rejoin_pending = false;
  auto calls = store_->load_group_calls();
  if (!calls.ok()) return sim_.fail(name(), "the store cannot list its group calls: " + calls.error().describe());
  for (const auto& c : *calls) {
    GroupCallOptions o;
    o.video = c.video;
    o.audio_muted = c.audio_muted;
    o.create_if_missing = false;
    auto joined = proc_->group->join(c.room_id, o, local_now());
    sim_.world.log(name(), "rejoins " + c.room_id + " from the store: " + (joined.ok() ? *joined : joined.error().describe()));
    sim_.count(joined.ok() ? "group: rejoined from the store" : "group: stored call gone at restart");
    if (!joined.ok()) (void)store_->remove_group_call(c.room_id);
  }
}

// ---- transport ---------------------------------------------------------------------------

void SimClient::put_state(const std::string& room_id, const std::string& type, const std::string& state_key,
                          const nlohmann::json& content, std::function<void(const Status&)> done) {
  sim_.count("sent: " + type);
  // As the real Sender does: a queued write of the same state is superseded by this one (sent
  // late, its older content would overwrite newer entries). The one in flight or retrying at
  // the front is not recalled (the Sender's Api retries it to the end).
  for (std::size_t i = proc_->sending ? 1 : 0; i < proc_->sends.size(); ++i)
    if (auto* put = std::get_if<req::PutState>(&proc_->sends[i].request);
        put && put->room_id == room_id && put->type == type && put->state_key == state_key)
      proc_->sends[i].superseded = true;
  proc_->sends.push_back(SendJob{req::PutState{room_id, type, state_key, txn_id(), content}, std::move(done), {}});
  pump_sends();
}

void SimClient::outgoing_to_device(client::OutgoingToDevice m) {
  const std::string call_id = m.content.value("call_id", std::string());
  const std::int64_t seq = m.content.value("seq", std::int64_t{-1});
  PeerCallRecord* rec = peer_record(call_id);
  if (!rec) {
    PeerCallRecord r;
    r.call_id = call_id;
    r.incarnation = incarnation_;
    r.peer = key_name({m.user_id, m.device_id});
    peer_records_.push_back(std::move(r));
    rec = &peer_records_.back();
  }
  sim_.count("sent: " + m.type + " (to-device)");
  sim_.world.log(name(), "to-device " + m.type + " call " + call_id + " seq " + std::to_string(seq) + " -> " + rec->peer);
  if (rec->ended) sim_.fail(name(), "peer call " + call_id + " sent " + m.type + " after it ended (" + rec->reason + ")");
  if (seq != rec->next_seq)
    sim_.fail(name(), "peer call " + call_id + " sent " + m.type + " with seq " + std::to_string(seq) + ", expected " +
                          std::to_string(rec->next_seq));
  rec->next_seq = seq + 1;
  proc_->outbox.push_back(std::move(m));
}

void SimClient::flush_to_device() {
  if (proc_->outbox.empty()) return;
  for (auto& layer : client::split_one_per_device(std::move(proc_->outbox))) {
    req::SendToDevice r;
    r.type = "m.room.encrypted";
    r.txn_id = txn_id();
    for (auto& m : layer) r.messages[m.user_id][m.device_id] = nlohmann::json{{"type", m.type}, {"content", m.content}};
    proc_->sends.push_back(SendJob{std::move(r), {}, {}});
  }
  proc_->outbox.clear();
  pump_sends();
}

// ---- inbound -----------------------------------------------------------------------------

void SimClient::group_batch(const matrix::SyncBatch& batch) {
  const auto now = local_now();
  client::GroupDriver& g = *proc_->group;
  for (const auto& room : batch.joined) {
    for (const auto& ev : room.state) g.on_room_event(ev, now);
    for (const auto& ev : room.timeline) g.on_room_event(ev, now);
    g.on_members_changed(room.room_id, now);
  }
  for (const auto& ev : batch.to_device) group_to_device(ev);
}

void SimClient::group_to_device(const matrix::ToDeviceEvent& ev) {
  client::InboundSignal s;
  s.sender = ev.sender;
  bool forged = false;
  if (ev.type == "m.room.encrypted") {
    if (!ev.content.is_object() || !ev.content.contains("content")) return;
    s.encrypted = true;
    s.type = ev.content.value("type", std::string());
    s.content = ev.content["content"];
    s.sender_device = ev.content.value("sender_device", std::string());
    forged = ev.content.value("forged", false);
  } else if (ev.type.rfind("m.call.", 0) == 0) {
    s.type = ev.type;
    s.content = ev.content;
    forged = true;  // our clients only send encrypted
  } else {
    return;
  }
  const auto now = local_now();
  if (!forged) {
    proc_->group->on_to_device(s, now);
    return;
  }
  sim_.count("delivered: forged to-device");
  proc_->group->turn(now);  // what is due now happens first, so only the forgery could change things
  const std::string before = group_fingerprint();
  proc_->group->on_to_device(s, now);
  if (group_fingerprint() != before)
    sim_.fail(name(), "accepted a forged to-device " + s.type + " from " + s.sender + " (olm device '" + s.sender_device +
                          "', " + (s.encrypted ? "encrypted" : "plaintext") + ")");
}

// ---- observations ------------------------------------------------------------------------

PeerCallRecord* SimClient::peer_record(const std::string& call_id) {
  for (auto it = peer_records_.rbegin(); it != peer_records_.rend(); ++it)
    if (it->incarnation == incarnation_ && it->call_id == call_id) return &*it;
  return nullptr;
}

void SimClient::on_group_update(const mxcall::GroupUpdate& u) {
  std::string what = std::string("group ") + mxcall::to_string(u.kind);
  if (!u.device_id.empty()) what += " " + key_name({u.user_id, u.device_id});
  if (!u.call_id.empty()) what += " call " + u.call_id;
  if (!u.reason.empty()) what += " (" + u.reason + ")";
  sim_.world.log(name(), what);
  sim_.note(std::hash<std::string>{}(name() + what) ^ static_cast<std::uint64_t>(sim_.world.now()));
  sim_.count(std::string("group update: ") + mxcall::to_string(u.kind));
  if (!u.call_id.empty()) {
    PeerCallRecord* rec = peer_record(u.call_id);
    if (!rec) {
      PeerCallRecord r;
      r.call_id = u.call_id;
      r.incarnation = incarnation_;
      r.peer = key_name({u.user_id, u.device_id});
      peer_records_.push_back(std::move(r));
      rec = &peer_records_.back();
    }
    rec->room_id = u.room_id;
    if (rec->ended) sim_.fail(name(), "peer call " + u.call_id + " reported " + what + " after it ended");
    if (u.kind == mxcall::GroupUpdate::Kind::PeerConnected && ++rec->connected > 1)
      sim_.fail(name(), "peer call " + u.call_id + " connected twice");
    if (u.kind == mxcall::GroupUpdate::Kind::PeerEnded) {
      rec->ended = true;
      rec->reason = u.reason;
      sim_.count("group ended: " + u.reason);
    }
  }
  sim_.world.after(0, guard([this, u] { sim_.on_group_update(*this, u); }));
}

void SimClient::check_group() {
  if (!proc_ || !proc_->group) return;
  for (const auto& room : group_rooms()) {
    const core::GroupCall* g = group(room);
    if (!g) continue;
    for (const auto& key : g->participants()) {
      const core::Call* c = g->peer_call(key);
      if (!c) continue;
      if (c->ended()) {
        if (c->next_deadline())
          sim_.fail(name(), "ended peer call " + c->call_id() + " to " + key_name(key) + " has timer " +
                                core::to_string(c->next_deadline()->timer) + " armed");
        continue;
      }
      if (c->next_deadline() || media_busy()) continue;
      if (c->state() == core::CallState::Connected && c->link() == core::LinkState::Up &&
          c->signaling() == core::Signaling::Stable)
        continue;
      sim_.fail(name(), "peer call " + c->call_id() + " to " + key_name(key) + " is stuck in " +
                            core::to_string(c->state()) + " with no deadline and no media event on its way");
    }
  }
}

std::string SimClient::group_fingerprint() const {
  std::ostringstream f;
  for (const auto& room : group_rooms()) {
    const core::GroupCall* g = group(room);
    if (!g) continue;
    f << room << ":" << g->joined() << g->has_output() << "," << g->live_calls() << ",";
    if (auto d = g->next_deadline()) f << d->time_since_epoch().count();
    for (const auto& key : g->participants()) {
      const core::PeerLink* l = g->link(key);
      f << "|" << key_name(key) << " " << l->session_id() << " " << core::to_string(l->state()) << " " << l->retries();
      if (const core::Call* c = l->call())
        f << " " << c->call_id() << " " << core::to_string(c->state()) << " " << core::to_string(c->signaling());
    }
    f << ";";
  }
  return f.str();
}

}  // namespace mxcall::sim
