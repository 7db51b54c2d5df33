#include "client/call_driver.hpp"

#include "client/call_updates.hpp"

#include "util/logging.hpp"
#include "util/overloaded.hpp"

namespace mxcall::client {

using util::overloaded;

namespace {

std::chrono::milliseconds between(const std::optional<core::TimePoint>& a, const std::optional<core::TimePoint>& b) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(*b - *a);
}

}  // namespace

CallDriver::CallDriver(core::RegistryConfig config, Ports ports)
    : registry_(std::move(config)), ports_(std::move(ports)), peers_(ports_.engine) {}

void CallDriver::set_ice_servers(std::vector<media::IceServer> servers) { registry_.set_ice_servers(std::move(servers)); }

void CallDriver::on_room_event(const matrix::RoomEvent& ev, core::TimePoint now) {
  if (!events::is_call_event_type(ev.type)) return;
  auto parsed = events::parse_call_event(ev.type, ev.content);
  if (!parsed.ok()) {
    MXLOG_WARN("calls: dropped {} {} from {} in {}: {}", ev.type, ev.event_id, ev.sender, ev.room_id,
               parsed.error().message);
    return;
  }
  registry_.handle_room_event(ev.room_id, ev.sender, ev.event_id, *parsed, ev.age, now);
}

void CallDriver::on_media_event(const media::MediaEvent& ev, core::TimePoint now) {
  auto call_id = peers_.call_of(media::peer_of(ev));
  if (!call_id) return;  // a late event of a closed peer
  MXLOG_TRACE("calls: media event {} for call {} (peer {})", ev.index(), *call_id, media::peer_of(ev));
  registry_.handle(*call_id, ev, now);
}

void CallDriver::place(const std::string& room_id, const std::string& call_id, const std::string& invitee, bool video,
                       core::TimePoint now) {
  registry_.place(room_id, call_id, invitee, video, now);
  CallSummary& s = summaries_[call_id];
  s.call_id = call_id;
  s.room_id = room_id;
  s.peer = invitee;
  s.outbound = true;
}

Status CallDriver::command(const std::string& call_id, const core::CallInput& input, core::TimePoint now) {
  const core::Call* call = registry_.find(call_id);
  if (!call || call->ended()) return Error::make(ErrorKind::InvalidArgument, "no live call " + call_id);
  registry_.handle(call_id, input, now);
  return ok_status();
}

std::optional<core::TimePoint> CallDriver::turn(core::TimePoint now) {
  now_ = now;
  registry_.tick(now);
  while (auto out = registry_.poll()) perform(out->call_id, out->item, now);
  registry_.collect();
  return registry_.next_deadline();
}

void CallDriver::perform(const std::string& call_id, const core::CallOutput& out, core::TimePoint now) {
  MXLOG_TRACE("calls: call {} output {}", call_id, out.index());
  const core::Call* call = registry_.find(call_id);
  CallSummary& sum = summaries_[call_id];
  sum.call_id = call_id;
  if (call) {
    sum.room_id = call->room_id();
    if (call->opponent()) sum.peer = call->opponent()->user_id;
  }
  if (const auto* s = std::get_if<core::SendSignal>(&out)) {
    const std::string type(events::event_type(s->event));
    ports_.send_room_event(s->room_id, type, events::to_content(s->event), [this, call_id, type](const Status& st) {
      if (!st.ok()) registry_.handle(call_id, core::SendFailed{type, st.error()}, now_);
    });
  } else if (PeerTable::is_media_op(out)) {
    if (std::holds_alternative<core::op::ClosePeer>(out))
      if (auto st = peers_.stats(call_id)) sum.stats = *st;
    if (auto failed = peers_.apply(call_id, out)) registry_.handle(call_id, *failed, now);
  } else {
    record(sum, out);
    CallUpdate base;
    base.call_id = call_id;
    base.room_id = sum.room_id;
    base.peer = sum.peer;
    if (auto u = to_update(out, std::move(base))) update(*u);
  }
  if (call) {
    const auto& t = call->timings();
    if (t.started && t.answered) sum.invite_to_answer = between(t.started, t.answered);
    if (t.started && t.connected) sum.invite_to_ice_connected = between(t.started, t.connected);
    if (t.started && t.first_audio) sum.invite_to_first_audio = between(t.started, t.first_audio);
  }
}

// What the summary keeps of a note.
void CallDriver::record(CallSummary& sum, const core::CallOutput& out) {
  std::visit(overloaded{
                 [&](const core::note::Incoming& in) {
                   sum.outbound = false;
                   sum.peer = in.caller;
                 },
                 [&](const core::note::StateChanged& s) { sum.state = core::to_string(s.state); },
                 [&](const core::note::Connected&) { sum.connected = true; },
                 [&](const core::note::Ended& e) { sum.end_reason = e.reason; },
                 [](const auto&) {},
             },
             out);
}

std::optional<CallSummary> CallDriver::summary(const std::string& call_id) const {
  auto it = summaries_.find(call_id);
  if (it == summaries_.end()) return std::nullopt;
  CallSummary s = it->second;
  if (peers_.peer_of(call_id)) s.stats = *peers_.stats(call_id);
  return s;
}

std::vector<std::string> CallDriver::live_call_ids() const { return peers_.call_ids(); }

}  // namespace mxcall::client
