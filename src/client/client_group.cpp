// The Client's group calls: the olm device and its encrypted to-device signalling (decrypted
// on the sync thread, encrypted and sent on the sender thread, one delivery per loop turn),
// the group driver on the loop thread, and the public group-call methods.
#include "client/client_impl.hpp"

namespace mxcall {

const char* to_string(GroupUpdate::Kind k) {
  switch (k) {
    case GroupUpdate::Kind::Joined: return "joined";
    case GroupUpdate::Kind::ParticipantJoined: return "participant_joined";
    case GroupUpdate::Kind::ParticipantLeft: return "participant_left";
    case GroupUpdate::Kind::PeerConnected: return "peer_connected";
    case GroupUpdate::Kind::PeerFirstMedia: return "peer_first_media";
    case GroupUpdate::Kind::PeerEnded: return "peer_ended";
    case GroupUpdate::Kind::Left: return "left";
  }
  return "?";
}

namespace {

bool is_call_type(const std::string& type) { return type.rfind("m.call.", 0) == 0; }

// Counts what the transport did, by endpoint.
struct Counters {
  std::atomic<std::uint64_t>& to_device_requests;
  std::atomic<std::uint64_t>& to_device_messages;
  std::atomic<std::uint64_t>& keys_requests;
  std::atomic<std::uint64_t>& keys_queries;
  std::atomic<std::uint64_t>& keys_claims;
};

void count_request(Counters m, const matrix::HttpRequest& req) {
  if (req.url.find("/sendToDevice/") != std::string::npos) {
    ++m.to_device_requests;
    auto body = matrix::Json::parse(req.body, nullptr, false);
    if (body.is_object() && body.contains("messages") && body["messages"].is_object())
      for (const auto& [user, devices] : body["messages"].items())
        if (devices.is_object()) m.to_device_messages += devices.size();
  } else if (req.url.find("/keys/") != std::string::npos) {
    ++m.keys_requests;
    if (req.url.find("/keys/query") != std::string::npos) ++m.keys_queries;
    if (req.url.find("/keys/claim") != std::string::npos) ++m.keys_claims;
  }
}

}  // namespace

Status Client::Impl::start_group_calls(const core::CallConfig& call) {
  std::string key = options.pickle_key;
  if (key.empty()) {
    auto k = store::load_or_create_pickle_key(options.store);
    if (!k.ok()) return k.error();
    key = *k;
  }
  crypto::OlmMachineOptions oo;
  oo.user_id = session.user_id;
  oo.device_id = session.device_id;
  oo.pickle_key = key;
  auto machine = crypto::OlmMachine::open(store, oo);
  if (!machine.ok()) return machine.error();
  olm = std::move(machine).value();

  client::OlmToDeviceOptions to;
  to.accept_plaintext = options.allow_plaintext_to_device;
  recv_api = std::make_unique<matrix::Api>(options.homeserver);
  recv_api->set_access_token(session.access_token);
  recv_api->set_observer([this](const matrix::HttpRequest& r, const matrix::HttpResponse&) { count_request({to_device_requests, to_device_messages, keys_requests, keys_queries, keys_claims}, r); });
  olm_recv = std::make_unique<client::OlmToDevice>(*recv_api, *olm, to);
  sender->set_observer([this](const matrix::HttpRequest& r, const matrix::HttpResponse&) { count_request({to_device_requests, to_device_messages, keys_requests, keys_queries, keys_claims}, r); });
  outbox = std::make_unique<client::ToDeviceOutbox>(
      *sender, [this](matrix::Api& a, std::vector<client::OutgoingToDevice> messages) {
        return deliver(a, std::move(messages));
      });
  if (options.allow_plaintext_to_device)
    MXLOG_WARN("client: group-call signalling in plaintext is allowed (allow_plaintext_to_device): the homeserver sees it");

  client::GroupDriver::Settings settings;
  settings.own_user_id = session.user_id;
  settings.own_device_id = session.device_id;
  settings.call = call;
  settings.require_encryption = !options.allow_plaintext_to_device;
  settings.member_lifetime = options.group_member_lifetime;
  client::GroupDriver::Ports ports;
  ports.put_state = [this](const std::string& room, const std::string& type, const std::string& state_key,
                           const nlohmann::json& content, std::function<void(const Status&)> done) {
    sender->send_state(room, type, state_key, content, [this, done = std::move(done)](const Result<std::string>& r) {
      Status st = r.ok() ? ok_status() : Status(r.error());
      loop->post([done, st] { done(st); });
    });
  };
  ports.send_to_device = [this](client::OutgoingToDevice m) { outbox->add(std::move(m)); };
  ports.flush_to_device = [this] {
    count_round(outbox->pending());
    outbox->flush([](client::DeliveryReport report) {
      if (!report.failed.empty())
        MXLOG_WARN("client: {} to-device messages were not delivered: {}", report.failed.size(),
                   report.status.ok() ? std::string("devices unreachable") : report.status.error().describe());
    });
  };
  ports.joined_members = [this](const std::string& room) { return rooms->joined_members(room); };
  ports.unix_ms = [] { return unix_ms(); };
  ports.engine = engine.get();
  ports.store = store.get();
  ports.notify = [this](const GroupUpdate& u) { notify_group(u); };
  ports.prefetch_keys = [this](std::vector<core::DeviceKey> devices, std::vector<core::DeviceKey> claim) {
    if (options.allow_plaintext_to_device) return;
    sender->submit([this, devices = std::move(devices), claim = std::move(claim)](matrix::Api& a) {
      ensure_olm_send(a);
      std::vector<crypto::DeviceRef> d, c;
      for (const auto& [user, device] : devices) d.push_back({user, device});
      for (const auto& [user, device] : claim) c.push_back({user, device});
      if (auto st = olm_send->prefetch(d, c); !st.ok())
        MXLOG_INFO("client: fetching keys ahead failed ({}); the send will try again", st.error().describe());
    });
  };
  group = std::make_unique<client::GroupDriver>(std::move(settings), std::move(ports));

  // Device and one-time keys go up before anyone needs to reach us.
  sender->submit([this](matrix::Api& a) {
    ensure_olm_send(a);
    if (auto st = olm_send->ensure_keys_uploaded(std::nullopt); !st.ok())
      MXLOG_WARN("client: uploading our device keys failed: {}", st.error().describe());
  });
  return ok_status();
}

void Client::Impl::ensure_olm_send(matrix::Api& a) {
  if (olm_send) return;
  client::OlmToDeviceOptions to;
  to.accept_plaintext = options.allow_plaintext_to_device;
  olm_send = std::make_unique<client::OlmToDevice>(a, *olm, to);
}

client::DeliveryReport Client::Impl::deliver(matrix::Api& a, std::vector<client::OutgoingToDevice> messages) {
  if (options.allow_plaintext_to_device) return client::deliver_plaintext(a, std::move(messages));
  ensure_olm_send(a);
  client::DeliveryReport report;
  auto sent = olm_send->send(messages);
  if (!sent.ok()) {
    report.status = sent.error();
    report.failed = std::move(messages);
    return report;
  }
  for (const auto& problem : sent->failed) {
    for (const auto& m : messages)
      if (m.user_id == problem.device.user_id && m.device_id == problem.device.device_id) report.failed.push_back(m);
    report.status = problem.error;
  }
  return report;
}

void Client::Impl::count_round(const std::vector<client::OutgoingToDevice>& messages) {
  if (messages.empty()) return;
  ++to_device_rounds;
  if (options.allow_plaintext_to_device) {  // one request per event type and layer
    std::map<std::string, std::vector<client::OutgoingToDevice>> by_type;
    for (const auto& m : messages) by_type[m.type].push_back(m);
    for (const auto& [type, list] : by_type) to_device_round_layers += client::most_per_device(list);
  } else {
    to_device_round_layers += client::most_per_device(messages);  // everything is m.room.encrypted
  }
}

std::vector<client::InboundSignal> Client::Impl::decrypt_to_device(const matrix::SyncBatch& batch) {
  if (!batch.device_lists.changed.empty() || !batch.device_lists.left.empty()) {
    (void)olm_recv->on_device_lists(batch.device_lists);
    sender->submit([this, lists = batch.device_lists](matrix::Api& a) {
      ensure_olm_send(a);
      (void)olm_send->on_device_lists(lists);
    });
  }
  if (auto it = batch.one_time_keys_count.find("signed_curve25519");
      it != batch.one_time_keys_count.end() && it->second != last_otk_count) {
    last_otk_count = it->second;
    sender->submit([this, count = it->second](matrix::Api& a) {
      ensure_olm_send(a);
      if (auto st = olm_send->ensure_keys_uploaded(count); !st.ok())
        MXLOG_WARN("client: replenishing one-time keys failed: {}", st.error().describe());
    });
  }
  std::vector<client::InboundSignal> out;
  for (const auto& ev : batch.to_device) {
    if (ev.type != "m.room.encrypted" && !is_call_type(ev.type)) continue;
    auto d = olm_recv->receive(ev);
    if (!d.ok()) {
      MXLOG_WARN("client: to-device {} from {} dropped: {}", ev.type, ev.sender, d.error().describe());
      continue;
    }
    if (!is_call_type(d->type)) continue;  // m.dummy and the like
    out.push_back({d->sender, d->sender_device, d->encrypted, d->type, d->content});
  }
  return out;
}

void Client::Impl::group_batch(const matrix::SyncBatch& batch, const std::vector<client::InboundSignal>& signals) {
  const auto t = now();
  for (const auto& room : batch.joined) {
    for (const auto& ev : room.state) group->on_room_event(ev, t);
    for (const auto& ev : room.timeline) group->on_room_event(ev, t);
    group->on_members_changed(room.room_id, t);
  }
  for (const auto& s : signals) group->on_to_device(s, t);
}

int Client::Impl::rejoin_group_calls() {
  if (!options.rejoin_group_calls) return 0;
  auto calls = store->load_group_calls();
  if (!calls.ok()) {
    MXLOG_WARN("client: reading our group calls from the store failed: {}", calls.error().describe());
    return 0;
  }
  int rejoined = 0;
  for (const auto& c : *calls) {
    auto peer_calls = store->load_group_peer_calls(c.room_id);
    if (!peer_calls.ok())
      MXLOG_WARN("client: reading the peer calls in {} from the store failed: {}", c.room_id,
                 peer_calls.error().describe());
    const std::vector<store::GroupPeerCall> none;
    auto joined = loop->call([&] { return group->rejoin(c, peer_calls.ok() ? *peer_calls : none, now()); });
    if (joined.ok()) {
      ++rejoined;
      MXLOG_INFO("client: rejoined the group call {} in {} from the store", *joined, c.room_id);
    } else {
      MXLOG_INFO("client: not rejoining {}: {}", c.room_id, joined.error().describe());
    }
  }
  return rejoined;
}

void Client::Impl::leave_group_calls() {
  for (const auto& room : group->rooms_in_call()) (void)group->leave(room, now());
}

void Client::Impl::notify_group(const GroupUpdate& u) {
  std::function<void(const GroupUpdate&)> cb;
  {
    std::lock_guard lock(callback_mutex);
    cb = group_callback;
  }
  if (cb) cb(u);
}

// ---- public ----

void Client::on_group_update(std::function<void(const GroupUpdate&)> callback) {
  std::lock_guard lock(impl_->callback_mutex);
  impl_->group_callback = std::move(callback);
}

Result<std::string> Client::create_group_room(const std::vector<std::string>& invite, const std::string& name) {
  Impl& m = *impl_;
  if (m.stopped) return Error::make(ErrorKind::Cancelled, "client stopped");
  matrix::CreateRoomRequest req;
  req.invite = invite;
  if (!name.empty()) req.name = name;
  // Members must be able to write their call member event (the default state level is 50),
  // as Element does for call rooms. The rest of the events map keeps Synapse's defaults.
  req.power_level_content_override = {
      {"events",
       {{"m.room.name", 50}, {"m.room.power_levels", 100}, {"m.room.history_visibility", 100},
        {"m.room.canonical_alias", 50}, {"m.room.avatar", 50}, {"m.room.tombstone", 100}, {"m.room.server_acl", 100},
        {"m.room.encryption", 100}, {"org.matrix.msc3401.call", 0}, {"org.matrix.msc3401.call.member", 0}}}};
  std::lock_guard lock(m.api_mutex);
  return m.api->create_room(req);
}

Result<std::string> Client::join_group_call(const std::string& room_id, GroupCallOptions options) {
  Impl& m = *impl_;
  if (m.stopped) return Error::make(ErrorKind::Cancelled, "client stopped");
  return m.loop->call([&] { return m.group->join(room_id, options, Impl::now()); });
}

Status Client::leave_group_call(const std::string& room_id) {
  return impl_->on_loop([&] { return impl_->group->leave(room_id, Impl::now()); });
}

Status Client::set_group_muted(const std::string& room_id, media::MediaKind kind, bool muted) {
  return impl_->on_loop([&] { return impl_->group->set_muted(room_id, kind, muted, Impl::now()); });
}

Status Client::set_group_video(const std::string& room_id, bool enabled) {
  return impl_->on_loop([&] { return impl_->group->set_video(room_id, enabled, Impl::now()); });
}

std::optional<GroupCallSummary> Client::group_summary(const std::string& room_id) {
  if (impl_->stopped) return std::nullopt;
  auto s = impl_->loop->call([&] { return impl_->group->summary(room_id); });
  if (s) s->to_device_requests = impl_->to_device_requests.load();
  return s;
}

std::vector<std::string> Client::group_calls() {
  if (impl_->stopped) return {};
  return impl_->loop->call([&] { return impl_->group->rooms_in_call(); });
}

std::optional<std::string> Client::live_group_call(const std::string& room_id) {
  if (impl_->stopped) return std::nullopt;
  return impl_->loop->call([&] { return impl_->group->live_conf_id(room_id); });
}

bool Client::wait_joined(const std::string& room_id, std::chrono::milliseconds timeout) {
  Impl& m = *impl_;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::unique_lock lock(m.batch_mutex);
  while (!m.stopped && !m.loop->call([&] { return m.rooms->is_joined_member(room_id, m.session.user_id); })) {
    if (m.batch_cv.wait_until(lock, deadline) == std::cv_status::timeout) return false;
  }
  return !m.stopped;
}

ClientStats Client::stats() const {
  ClientStats s;
  s.to_device_requests = impl_->to_device_requests.load();
  s.to_device_messages = impl_->to_device_messages.load();
  s.to_device_rounds = impl_->to_device_rounds.load();
  s.to_device_round_layers = impl_->to_device_round_layers.load();
  s.keys_requests = impl_->keys_requests.load();
  s.keys_queries = impl_->keys_queries.load();
  s.keys_claims = impl_->keys_claims.load();
  return s;
}

}  // namespace mxcall
