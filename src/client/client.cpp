// The Client façade: transport (sync loop + sender), store, media engine and the call core,
// wired around one loop thread.
#include "mxcall/client.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>

#include "client/client_impl.hpp"
#include "client/call_driver.hpp"
#include "client/event_loop.hpp"
#include "client/room_tracker.hpp"
#include "client/room_state_cache.hpp"
#include "client/turn_refresh.hpp"
#include "mxcall/matrix/api.hpp"
#include "mxcall/matrix/sender.hpp"
#include "mxcall/matrix/session.hpp"
#include "mxcall/matrix/sync_loop.hpp"
#include "mxcall/media_webrtcbin.hpp"
#include "mxcall/store.hpp"
#include "util/logging.hpp"

namespace mxcall {

const char* to_string(CallUpdate::Kind k) {
  switch (k) {
    case CallUpdate::Kind::Incoming: return "incoming";
    case CallUpdate::Kind::State: return "state";
    case CallUpdate::Kind::Connected: return "connected";
    case CallUpdate::Kind::FirstMedia: return "first_media";
    case CallUpdate::Kind::RemoteMetadata: return "remote_metadata";
    case CallUpdate::Kind::RemoteHold: return "remote_hold";
    case CallUpdate::Kind::RemoteTrack: return "remote_track";
    case CallUpdate::Kind::RemoteTrackRemoved: return "remote_track_removed";
    case CallUpdate::Kind::Dtmf: return "dtmf";
    case CallUpdate::Kind::Link: return "link";
    case CallUpdate::Kind::Ended: return "ended";
  }
  return "?";
}

namespace {

// The longest a restarted client's first /sync waits for its rejoin requests (see start()).
constexpr std::chrono::milliseconds kRejoinBeforeCatchUp{500};

// Like js-sdk: milliseconds since the epoch, then 16 random alphanumerics.
std::string new_call_id() {
  static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  unsigned char random[16];
  RAND_bytes(random, sizeof random);
  std::string id = std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                      std::chrono::system_clock::now().time_since_epoch()).count());
  for (unsigned char b : random) id.push_back(alphabet[b % (sizeof alphabet - 1)]);
  return id;
}

}  // namespace

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Client::~Client() { stop(); }

Result<std::unique_ptr<Client>> Client::start(ClientOptions options) {
  auto impl = std::make_unique<Impl>();
  Impl& m = *impl;
  m.options = std::move(options);
  m.callback = m.options.on_update;
  m.group_callback = m.options.on_group_update;
  auto store = store::Store::open(m.options.store);
  if (!store.ok()) return store.error();
  m.store = std::shared_ptr<store::Store>(std::move(store).value().release());
  m.api = std::make_unique<matrix::Api>(m.options.homeserver);
  auto session = matrix::login_or_restore(*m.api, *m.store, m.options.user, m.options.password, "mxcall");
  if (!session.ok()) return session.error();
  m.session = *session;

  auto first_turn = m.api->turn_server();

  m.engine = m.options.engine ? m.options.engine : std::shared_ptr<media::MediaEngine>(media::make_webrtcbin_engine());
  m.sender = std::make_unique<matrix::Sender>(m.options.homeserver, m.session.access_token);
  m.rooms = std::make_unique<client::RoomTracker>(m.session.user_id);
  m.loop = std::make_unique<client::EventLoop>([&m] { m.wake(); });

  core::RegistryConfig cfg;
  cfg.call.own_user_id = m.session.user_id;
  cfg.call.own_party_id = m.session.device_id;
  cfg.call.peer.relay_only = m.options.relay_only;
  cfg.call.peer.include_loopback = m.options.include_loopback_candidates;
  cfg.call.peer.jitterbuffer_latency = m.options.jitterbuffer_latency;
  cfg.call.invite_lifetime = m.options.invite_lifetime;
  cfg.call.peer.media_timeout = m.options.media_timeout;
  cfg.call.ice_grace = m.options.ice_grace;
  cfg.call.ice_recovery = m.options.ice_recovery;
  cfg.is_member = [&m](const std::string& room, const std::string& user) { return m.rooms->is_joined_member(room, user); };
  client::CallDriver::Ports ports;
  ports.engine = m.engine.get();
  ports.notify = [&m](const CallUpdate& u) { m.notify(u); };
  ports.send_room_event = [&m](const std::string& room, const std::string& type, const nlohmann::json& content,
                               std::function<void(const Status&)> done) {
    m.sender->send_event(room, type, content, [&m, done = std::move(done)](const Result<std::string>& r) {
      Status st = r.ok() ? ok_status() : Status(r.error());
      m.loop->post([done, st] { done(st); });
    });
  };
  m.driver = std::make_unique<client::CallDriver>(cfg, std::move(ports));
  if (auto st = m.start_group_calls(cfg.call); !st.ok()) return st.error();
  m.restore_state();
  m.engine->set_event_sink([&m](media::MediaEvent ev) {
    m.loop->post([&m, ev = std::move(ev)] {
      if (!m.group->on_media_event(ev, Impl::now())) m.driver->on_media_event(ev, Impl::now());
    });
  });
  m.engine->warm_up();
  m.apply_turn(first_turn);  // before the loop runs: no other thread touches the driver yet
  m.loop->start();

  // Rejoining from the store needs no sync (the room state is cached there), and our new member
  // entry is what the peers wait for. The first /sync after an absence (full state, a limited
  // gap) is the homeserver's heaviest request of the restart: it waits, bounded, until the
  // rejoin's requests are done (bench/mesh restart-pair, one settled run each: peers saw the
  // entry after 96 / 121 ms with 0 / 10,000 events of history instead of 141 / 203 ms).
  matrix::SyncLoopOptions so;
  if (m.rejoin_group_calls() > 0)
    so.before_catch_up = [&m] {
      if (!m.sender->wait_idle(kRejoinBeforeCatchUp))
        MXLOG_INFO("client: the rejoin's requests take longer than {} ms; syncing anyway", kRejoinBeforeCatchUp.count());
    };
  m.sync = std::make_unique<matrix::SyncLoop>(m.options.homeserver, m.session.access_token, m.store,
                                              [&m](const matrix::SyncBatch& b) { m.on_batch(b); }, std::move(so));
  if (auto st = m.sync->start(); !st.ok()) return st.error();
  MXLOG_INFO("client: {} ({}) ready", m.session.user_id, m.session.device_id);
  return std::unique_ptr<Client>(new Client(std::move(impl)));
}

const std::string& Client::user_id() const { return impl_->session.user_id; }
const std::string& Client::device_id() const { return impl_->session.device_id; }

void Client::on_update(std::function<void(const CallUpdate&)> callback) {
  std::lock_guard lock(impl_->callback_mutex);
  impl_->callback = std::move(callback);
}

Result<std::string> Client::place_call(const std::string& user_id, bool video, std::chrono::milliseconds join_timeout) {
  Impl& m = *impl_;
  if (m.stopped) return Error::make(ErrorKind::Cancelled, "client stopped");
  auto room = m.loop->call([&] { return m.rooms->direct_room_with(user_id); });
  if (!room) {
    matrix::CreateRoomRequest req;
    req.invite = {user_id};
    req.is_direct = true;
    req.preset = "trusted_private_chat";
    std::lock_guard lock(m.api_mutex);
    auto created = m.api->create_room(req);
    if (!created.ok()) return created.error();
    room = *created;
    MXLOG_INFO("client: created the DM {} with {}", *room, user_id);
  }
  // The callee must be in the room to see the invite: wait for their join.
  const auto deadline = std::chrono::steady_clock::now() + join_timeout;
  std::unique_lock lock(m.batch_mutex);
  while (!m.loop->call([&] { return m.rooms->is_joined_member(*room, user_id); })) {
    if (m.batch_cv.wait_until(lock, deadline) == std::cv_status::timeout)
      return Error::make(ErrorKind::Timeout, user_id + " did not join " + *room + " in time");
  }
  lock.unlock();
  const std::string call_id = new_call_id();
  m.loop->call([&] { m.driver->place(*room, call_id, user_id, video, Impl::now()); });
  return call_id;
}

Status Client::answer(const std::string& call_id, bool video) {
  return impl_->on_loop([&] { return impl_->driver->command(call_id, core::cmd::Answer{video}, Impl::now()); });
}
Status Client::reject(const std::string& call_id) {
  return impl_->on_loop([&] { return impl_->driver->command(call_id, core::cmd::Reject{}, Impl::now()); });
}
Status Client::hangup(const std::string& call_id, const std::string& reason) {
  return impl_->on_loop([&] { return impl_->driver->command(call_id, core::cmd::Hangup{reason}, Impl::now()); });
}
Status Client::set_muted(const std::string& call_id, media::MediaKind kind, bool muted) {
  return impl_->on_loop([&] { return impl_->driver->command(call_id, core::cmd::SetMuted{kind, muted}, Impl::now()); });
}
Status Client::set_hold(const std::string& call_id, bool on_hold) {
  return impl_->on_loop([&] { return impl_->driver->command(call_id, core::cmd::SetHold{on_hold}, Impl::now()); });
}
Status Client::set_video(const std::string& call_id, bool enabled) {
  return impl_->on_loop([&] { return impl_->driver->command(call_id, core::cmd::SetVideo{enabled}, Impl::now()); });
}
Status Client::set_screenshare(const std::string& call_id, bool enabled) {
  return impl_->on_loop([&] { return impl_->driver->command(call_id, core::cmd::SetScreenShare{enabled}, Impl::now()); });
}
Status Client::send_dtmf(const std::string& call_id, const std::string& digits) {
  return impl_->on_loop([&] { return impl_->driver->command(call_id, core::cmd::SendDtmf{digits}, Impl::now()); });
}
Status Client::restart_ice(const std::string& call_id) {
  return impl_->on_loop([&] { return impl_->driver->command(call_id, core::cmd::RestartIce{}, Impl::now()); });
}

std::optional<CallSummary> Client::summary(const std::string& call_id) {
  if (impl_->stopped) return std::nullopt;
  return impl_->loop->call([&] { return impl_->driver->summary(call_id); });
}

std::size_t Client::live_calls() {
  if (impl_->stopped) return 0;
  return impl_->loop->call([&] { return impl_->driver->live_calls(); });
}

void Client::stop() {
  Impl& m = *impl_;
  if (!m.loop || m.stopped) return;
  m.loop->call([&] {
    for (const auto& id : m.driver->live_call_ids()) (void)m.driver->command(id, core::cmd::Hangup{}, Impl::now());
    if (m.options.leave_group_calls_on_stop) m.leave_group_calls();
    m.wake();  // hand the hangups to the sender before waiting for it
  });
  m.sender->wait_idle(std::chrono::seconds(3));
  m.stopped = true;
  m.sync->stop();
  m.sender->stop();
  m.loop->stop();
  m.engine->set_event_sink({});
  MXLOG_INFO("client: {} stopped", m.session.user_id);
}

}  // namespace mxcall
