// Invariants one device can check on its own, after every turn of its core:
//  - states only move forward along the transition table, and ended is final;
//  - a call connects at most once;
//  - an ended call reports and sends nothing more, and has no timer armed;
//  - a live call is never stuck: it has a deadline, or its media engine still owes it an
//    event, or it is connected with nothing in progress (then it waits for the user);
//  - signalling from a non-member changes nothing (checked in handle_batch via fingerprint);
//  - an incoming call is announced once, and only from a member of the room.
#include <sstream>

#include "sim.hpp"
#include "sim_client.hpp"

namespace mxcall::sim {

namespace {

int state_rank(const std::string& s) {
  if (s == "creating_offer" || s == "ringing") return 0;
  if (s == "invite_sent" || s == "creating_answer") return 1;
  if (s == "connecting") return 2;
  if (s == "connected") return 3;
  if (s == "ended") return 4;
  return -1;
}

bool outbound_state(const std::string& s) { return s == "creating_offer" || s == "invite_sent"; }
bool inbound_state(const std::string& s) { return s == "ringing" || s == "creating_answer"; }

std::string describe(const mxcall::CallUpdate& u) {
  std::string s = std::string(mxcall::to_string(u.kind)) + " call " + u.call_id;
  switch (u.kind) {
    case mxcall::CallUpdate::Kind::State: return s + " -> " + u.state;
    case mxcall::CallUpdate::Kind::Incoming: return s + " from " + u.peer;
    case mxcall::CallUpdate::Kind::Ended: return s + " (" + u.reason + (u.by_remote ? ", by the peer)" : ", here)");
    case mxcall::CallUpdate::Kind::Link: return s + " " + u.link;
    case mxcall::CallUpdate::Kind::RemoteHold: return s + (u.on_hold ? " held" : " resumed");
    case mxcall::CallUpdate::Kind::Dtmf: return s + " '" + std::string(1, u.digit) + "'";
    default: return s;
  }
}

}  // namespace

void SimClient::on_update(const mxcall::CallUpdate& u) {
  sim_.note(std::hash<std::string>{}(name() + describe(u)) ^ static_cast<std::uint64_t>(sim_.world.now()));
  sim_.world.log(name(), describe(u));
  sim_.count(std::string("update: ") + mxcall::to_string(u.kind));
  if (u.kind == mxcall::CallUpdate::Kind::Ended) sim_.count("ended: " + u.reason + (u.by_remote ? " (by the peer)" : ""));
  if (u.kind == mxcall::CallUpdate::Kind::Link) sim_.count("link: " + u.link);
  CallRecord& rec = record_for(u.call_id);
  if (!rec.live()) return sim_.fail(name(), "call " + u.call_id + " reported " + describe(u) + " after it ended");
  if (rec.room_id.empty()) rec.room_id = u.room_id;
  switch (u.kind) {
    case mxcall::CallUpdate::Kind::Incoming:
      if (rec.rang) sim_.fail(name(), "call " + u.call_id + " rang twice");
      rec.rang = true;
      rec.peer_user = u.peer;
      if (!sim_.hs.is_member(u.room_id, u.peer)) sim_.fail(name(), "rings for " + u.call_id + " from non-member " + u.peer);
      break;
    case mxcall::CallUpdate::Kind::State: {
      const std::string& prev = rec.state();
      const int from = prev.empty() ? -1 : state_rank(prev), to = state_rank(u.state);
      const bool wrong_side = rec.outbound ? inbound_state(u.state) : outbound_state(u.state);
      if (to < 0 || to <= from || (prev.empty() && to != 0 && u.state != "ended") || wrong_side)
        sim_.fail(name(), "call " + u.call_id + ": illegal transition " + (prev.empty() ? "(none)" : prev) + " -> " + u.state);
      if (prev.empty() && u.state == "ringing") rec.outbound = false;
      rec.states.push_back(u.state);
      break;
    }
    case mxcall::CallUpdate::Kind::Connected:
      if (++rec.connected > 1) sim_.fail(name(), "call " + u.call_id + " connected twice");
      break;
    case mxcall::CallUpdate::Kind::Dtmf: rec.dtmf.push_back(u.digit); break;
    case mxcall::CallUpdate::Kind::Ended:
      rec.ended = true;
      rec.reason = u.reason;
      rec.by_remote = u.by_remote;
      rec.ended_at = sim_.world.now();
      if (u.reason.empty()) sim_.fail(name(), "call " + u.call_id + " ended without a reason");
      if (const core::Call* c = call(u.call_id); c && c->next_deadline())
        sim_.fail(name(), "call " + u.call_id + " ended with timer " + core::to_string(c->next_deadline()->timer) + " armed");
      break;
    default: break;
  }
  // The user reacts later, never inside the core's turn.
  sim_.world.after(0, guard([this, u] { sim_.on_update(*this, u); }));
}

void SimClient::check_calls() {
  if (!proc_) return;
  for (const auto& rec : records_) {
    if (rec.incarnation != incarnation_) continue;
    const core::Call* c = call(rec.call_id);
    if (!rec.live()) {
      if (c && c->next_deadline())
        sim_.fail(name(), "ended call " + rec.call_id + " has timer " + core::to_string(c->next_deadline()->timer) + " armed");
      continue;
    }
    if (!c) {
      if (!rec.states.empty()) sim_.fail(name(), "call " + rec.call_id + " vanished without an Ended note");
      continue;
    }
    if (c->next_deadline() || media_busy()) continue;
    if (c->state() == core::CallState::Connected && c->link() == core::LinkState::Up &&
        c->signaling() == core::Signaling::Stable)
      continue;  // waits for the user
    std::ostringstream why;
    why << "call " << rec.call_id << " is stuck: state " << core::to_string(c->state()) << ", signaling "
        << core::to_string(c->signaling()) << ", link "
        << (c->link() ? (*c->link() == core::LinkState::Up ? "up" : *c->link() == core::LinkState::Disconnected ? "disconnected" : "restarting") : "none")
        << ", no deadline and no media event on its way";
    sim_.fail(name(), why.str());
  }
}

std::string SimClient::fingerprint(const std::string& extra_call) const {
  std::ostringstream f;
  const auto& reg = registry();
  f << reg.live_calls() << "|";
  if (auto d = reg.next_deadline()) f << d->time_since_epoch().count();
  auto add = [&](const std::string& id) {
    const core::Call* c = reg.find(id);
    f << "|" << id << ":";
    if (!c) return;
    f << core::to_string(c->state()) << "," << core::to_string(c->signaling()) << "," << c->has_output() << ","
      << (c->opponent() ? c->opponent()->user_id + "/" + c->opponent()->party_id.value_or("") : "-") << ","
      << c->on_hold() << c->remote_on_hold() << ","
      << (c->next_deadline() ? c->next_deadline()->at.time_since_epoch().count() : 0);
  };
  for (const auto& rec : records_)
    if (rec.incarnation == incarnation_) add(rec.call_id);
  if (!extra_call.empty()) add(extra_call);
  return f.str();
}

}  // namespace mxcall::sim
