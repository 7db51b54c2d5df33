#include "sim_client.hpp"
#include "sim_client_process.hpp"

#include <algorithm>

#include "events/call_events.hpp"
#include "matrix/retry_decision.hpp"
#include "mxcall/matrix/sync.hpp"
#include "sim.hpp"

namespace mxcall::sim {

namespace {

constexpr SimTime kSendTimeout = 30'000;  // HttpRequest's default timeout
constexpr SimTime kSyncTimeout = 30'000;  // SyncLoop's long-poll
constexpr SimTime kSyncMargin = 30'000;   // endpoints.cpp: the HTTP timeout of a /sync

// Wall-clock time for Retry-After dates; the core never sees it.
std::chrono::system_clock::time_point wall(SimTime t) {
  return std::chrono::system_clock::time_point{} + std::chrono::milliseconds(1'700'000'000'000 + t);
}

std::string call_id_of(const nlohmann::json& content) {
  auto it = content.find("call_id");
  return it != content.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

SimTime SkewedClock::global_for(core::TimePoint t, SimTime now) const {
  if (local(now) >= t) return now;
  SimTime lo = now, hi = now + 1;
  while (local(hi) < t) hi = now + (hi - now) * 2;
  while (hi - lo > 1) {
    const SimTime mid = lo + (hi - lo) / 2;
    (local(mid) >= t ? hi : lo) = mid;
  }
  return hi;
}

SimClient::SimClient(Sim& sim, int index, DeviceRef device, Rng rng, SkewedClock clock)
    : sim_(sim), index_(index), device_(std::move(device)), rng_(rng), clock_(clock) {}

SimClient::~SimClient() = default;

core::TimePoint SimClient::local_now() const { return clock_.local(sim_.world.now()); }

const core::CallRegistry& SimClient::registry() const { return proc_->driver->registry(); }

// ---- the process -------------------------------------------------------------------------

void SimClient::boot(bool lost_store) {
  ++incarnation_;
  proc_ = std::make_unique<Process>(sim_.media, index_, incarnation_, device_.user_id);
  Process* p = proc_.get();
  p->jitter = rng_.engine();
  core::RegistryConfig cfg;
  cfg.call.own_user_id = device_.user_id;
  cfg.call.own_party_id = device_.device_id;
  cfg.is_member = [p](const std::string& room, const std::string& user) { return p->rooms.is_joined_member(room, user); };
  client::CallDriver::Ports ports;
  ports.engine = &p->engine;
  ports.notify = [this](const mxcall::CallUpdate& u) { on_update(u); };
  ports.send_room_event = [this](const std::string& room, const std::string& type, const nlohmann::json& content,
                                 std::function<void(const Status&)> done) {
    send_room_event(room, type, content, std::move(done));
  };
  p->driver = std::make_unique<client::CallDriver>(cfg, std::move(ports));
  if (sim_.group_calls) {
    if (!store_ || lost_store) {
      auto st = store::Store::open_in_memory();
      if (!st.ok()) return sim_.fail(name(), "cannot open a store: " + st.error().describe());
      store_ = std::move(st).value();
    }
    client::GroupDriver::Settings gs;
    gs.own_user_id = device_.user_id;
    gs.own_device_id = device_.device_id;
    gs.call = cfg.call;
    gs.member_lifetime = core::Duration(sim_.member_lifetime);
    gs.member_refresh_margin = core::Duration(sim_.member_lifetime / 3);
    gs.random = [this] { return rng_.next(); };
    p->group = std::make_unique<client::GroupDriver>(gs, group_ports());
    p->rejoin_pending = true;
  }
  p->engine.set_event_sink([this, inc = incarnation_](media::MediaEvent ev) {
    if (!proc_ || incarnation_ != inc) return;
    if (!proc_->group || !proc_->group->on_media_event(ev, local_now())) proc_->driver->on_media_event(ev, local_now());
    turn();
  });
  if (lost_store) saved_token_.clear();
  p->since = saved_token_;
  sim_.world.log(name(), "process #" + std::to_string(incarnation_) + " starts, sync from '" + p->since + "'");
  sync_once();
}

void SimClient::crash() {
  if (!proc_) return;
  sim_.world.log(name(), "CRASH: process #" + std::to_string(incarnation_) + " dies");
  // The store never loses a call the process had joined (it is written at join).
  const auto stored = stored_group_calls();
  for (const auto& room : group_rooms())
    if (std::find(stored.begin(), stored.end(), room) == stored.end())
      sim_.fail(name(), "crashed in the group call in " + room + ", which its store does not keep");
  for (auto& r : peer_records_)
    if (r.incarnation == incarnation_ && !r.ended) r.ended = true, r.reason = "crash";
  for (auto& r : records_)
    if (r.incarnation == incarnation_ && r.live()) {
      r.lost = true;
      r.ended_at = sim_.world.now();
    }
  proc_.reset();
}

// ---- sync --------------------------------------------------------------------------------

void SimClient::sync_once() {
  req::Sync r;
  r.since = proc_->since;
  r.timeout = r.since.empty() ? 0 : kSyncTimeout;  // the first sync answers at once
  r.full_state = proc_->first_sync && !r.since.empty();  // as SyncLoop: a resumed process relearns its rooms
  sim_.net.perform(device_, offline_, r, r.timeout + kSyncMargin, [this, inc = incarnation_](matrix::HttpResponse resp) {
    if (proc_ && incarnation_ == inc) on_sync(resp);
  });
}

void SimClient::on_sync(const matrix::HttpResponse& response) {
  const auto d = matrix::decide_retry(matrix::RetryPolicy::forever(), response, proc_->sync_counts,
                                      wall(sim_.world.now()), proc_->jitter);
  if (d.action == matrix::RetryAction::Retry) {
    sim_.world.log(name(), "sync: " + d.error.describe() + "; again in " + std::to_string(d.delay.count()) + " ms");
    sim_.world.after(d.delay.count(), guard([this] { sync_once(); }));
    return;
  }
  if (d.action == matrix::RetryAction::Fail) return sim_.fail(name(), "the sync loop stopped: " + d.error.describe());
  proc_->sync_counts = {};
  auto batch = matrix::parse_sync_response(response.body);
  if (!batch.ok()) return sim_.fail(name(), "unreadable /sync answer: " + batch.error().describe());
  handle_batch(*batch);
  if (!proc_) return;
  proc_->first_sync = false;
  if (proc_->rejoin_pending) rejoin_from_store();
  // As matrix::SyncLoop: the token is saved only once the batch was handled.
  proc_->since = batch->next_batch;
  saved_token_ = proc_->since;
  sync_once();
}

void SimClient::handle_batch(const matrix::SyncBatch& batch) {
  ++batches_;
  const auto now = local_now();
  proc_->rooms.apply(batch);  // as Client::on_batch: membership first, then the timeline
  for (const auto& room : batch.joined) {
    for (const auto& ev : room.timeline) {
      if (sim_.world.trace().enabled() && events::is_call_event_type(ev.type))
        sim_.world.log(name(), "got " + ev.event_id + " " + ev.type + " from " + ev.sender + " call " +
                                   call_id_of(ev.content) + " age " + std::to_string(ev.age.value_or(-1)));
      if (events::is_call_event_type(ev.type) && !sim_.hs.is_member(ev.room_id, ev.sender)) {
        sim_.count("delivered: forged event from a non-member");
        const std::string before = fingerprint(call_id_of(ev.content));
        proc_->driver->on_room_event(ev, now);
        if (fingerprint(call_id_of(ev.content)) != before)
          sim_.fail(name(), "accepted " + ev.type + " from non-member " + ev.sender);
        continue;
      }
      proc_->driver->on_room_event(ev, now);
    }
  }
  if (proc_->group) group_batch(batch);  // state, memberships and to-device signalling
  turn();
}

// ---- sending -----------------------------------------------------------------------------

void SimClient::send_room_event(const std::string& room_id, const std::string& type, const nlohmann::json& content,
                                std::function<void(const Status&)> done) {
  const std::string call_id = call_id_of(content);
  CallRecord& rec = record_for(call_id);
  rec.sent.push_back(type);
  sim_.count("sent: " + type);
  if (!rec.live()) sim_.fail(name(), "call " + call_id + " sent " + type + " after it ended");
  const std::string txn = txn_id();
  sim_.world.log(name(), "send " + type + " call " + call_id + " txn " + txn);
  proc_->sends.push_back(SendJob{req::SendEvent{room_id, type, txn, content}, std::move(done), {}});
  pump_sends();
}

std::string SimClient::txn_id() {
  char txn[40];
  std::snprintf(txn, sizeof txn, "t%016llx.%llu", static_cast<unsigned long long>(rng_.next()),
                static_cast<unsigned long long>(++txn_counter_));
  return txn;
}

void SimClient::pump_sends() {
  if (proc_->sending || proc_->sends.empty()) return;
  proc_->sending = true;
  attempt_send();
}

void SimClient::attempt_send() {
  if (proc_->sends.front().superseded) {
    sim_.count("transport: state write superseded");
    auto done = std::move(proc_->sends.front().done);
    proc_->sends.pop_front();
    proc_->sending = false;
    if (done) done(Status(Error::make(ErrorKind::Cancelled, "superseded by a newer write of the same state")));
    pump_sends();
    return;
  }
  sim_.net.perform(device_, offline_, proc_->sends.front().request, kSendTimeout,
                   [this, inc = incarnation_](matrix::HttpResponse resp) {
                     if (proc_ && incarnation_ == inc) on_send_response(resp);
                   });
}

void SimClient::on_send_response(const matrix::HttpResponse& response) {
  SendJob& job = proc_->sends.front();
  const auto d = matrix::decide_retry(matrix::RetryPolicy{}, response, job.counts, wall(sim_.world.now()), proc_->jitter);
  if (d.rate_limited) sim_.count("transport: 429 answered");
  if (d.action == matrix::RetryAction::Retry) {
    sim_.count("transport: send retried");
    sim_.world.log(name(), describe(job.request) + ": " + d.error.describe() +
                               "; again in " + std::to_string(d.delay.count()) + " ms");
    sim_.world.after(d.delay.count(), guard([this] { attempt_send(); }));
    return;
  }
  const Status st = d.action == matrix::RetryAction::Done ? ok_status() : Status(d.error);
  if (!st.ok()) {
    sim_.count("transport: send failed for good");
    sim_.world.log(name(), describe(job.request) + " FAILED for good: " + st.error().describe());
  }
  auto done = std::move(job.done);
  proc_->sends.pop_front();
  proc_->sending = false;
  if (done) done(st);
  pump_sends();
  turn();
}

// ---- the core's turn and the user's commands ---------------------------------------------

void SimClient::turn() {
  auto next = proc_->driver->turn(local_now());
  if (proc_->group) {
    const auto g = proc_->group->turn(local_now());
    if (g && (!next || *g < *next)) next = g;
  }
  check_calls();
  check_group();
  if (!next) return;
  const SimTime at = clock_.global_for(*next, sim_.world.now());
  const std::uint64_t gen = ++proc_->wake_gen;
  sim_.world.at(at, guard([this, gen] {
    if (proc_->wake_gen == gen) turn();
  }));
}

std::optional<std::string> SimClient::place(const std::string& room_id, const std::string& invitee, bool video) {
  if (!proc_) return std::nullopt;
  // As the real client: milliseconds since the epoch, then 16 random alphanumerics.
  static constexpr char kAlnum[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  std::string id = std::to_string(1'700'000'000'000 + sim_.world.now());
  for (int i = 0; i < 16; ++i) id += kAlnum[rng_.index(62)];
  sim_.world.log(name(), std::string("user places a ") + (video ? "video" : "voice") + " call " + id + " to " + invitee);
  CallRecord& rec = record_for(id);
  rec.outbound = true;
  rec.room_id = room_id;
  rec.peer_user = invitee;
  sim_.count("command: place");
  proc_->driver->place(room_id, id, invitee, video, local_now());
  turn();
  return id;
}

bool SimClient::command(const std::string& call_id, const core::CallInput& input) {
  if (!proc_) return false;
  CallRecord* rec = record(call_id);
  if (!rec || !rec->live()) return false;
  if (std::holds_alternative<core::cmd::Hangup>(input) || std::holds_alternative<core::cmd::Reject>(input))
    rec->hangup_at = sim_.world.now();
  static const char* kNames[] = {"signal", "media", "answer", "reject", "hangup", "mute", "hold", "video",
                                 "screenshare", "dtmf", "restart_ice", "send_failed", "tick"};
  sim_.count(std::string("command: ") + kNames[input.index()]);
  const Status st = proc_->driver->command(call_id, input, local_now());
  turn();
  return st.ok();
}

// ---- observations ------------------------------------------------------------------------

CallRecord& SimClient::record_for(const std::string& call_id) {
  if (CallRecord* r = record(call_id)) return *r;
  CallRecord r;
  r.call_id = call_id;
  r.incarnation = incarnation_;
  records_.push_back(std::move(r));
  return records_.back();
}

CallRecord* SimClient::record(const std::string& call_id) {
  for (auto it = records_.rbegin(); it != records_.rend(); ++it)
    if (it->incarnation == incarnation_ && it->call_id == call_id) return &*it;
  return nullptr;
}

std::vector<std::string> SimClient::live_calls() const {
  std::vector<std::string> out;
  if (!proc_) return out;
  for (const auto& r : records_)
    if (r.incarnation == incarnation_ && r.live()) out.push_back(r.call_id);
  return out;
}

const core::Call* SimClient::call(const std::string& call_id) const {
  return proc_ ? proc_->driver->registry().find(call_id) : nullptr;
}

std::size_t SimClient::core_live_calls() const { return proc_ ? proc_->driver->live_calls() : 0; }

bool SimClient::synced() const { return proc_ && !proc_->first_sync; }

bool SimClient::media_busy() const { return proc_ && proc_->engine.busy(); }

}  // namespace mxcall::sim
