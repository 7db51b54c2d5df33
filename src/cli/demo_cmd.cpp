// `mxcall demo`: the README's main job. Starts (or reuses) the local Synapse, registers two
// users, logs them in with stores of their own, and shows them syncing: a DM invite, a room
// event and a to-device message, each timed from send to arrival through /sync.
// (Calls join this demo as the call layers land.)
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <functional>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>

#include <CLI/CLI.hpp>

#include "cli/commands.hpp"
#include "mxcall/homeserver.hpp"
#include "mxcall/matrix/api.hpp"
#include "mxcall/matrix/session.hpp"
#include "mxcall/matrix/sync_loop.hpp"
#include "mxcall/store.hpp"

namespace mxcall::cli {

namespace {

using Clock = std::chrono::steady_clock;
using matrix::Json;

struct DemoArgs {
  std::string dir = homeserver::default_dir().string();
  bool keep = false;
};

class Progress {
 public:
  void say(const std::string& line) {
    const double s = std::chrono::duration<double>(Clock::now() - start_).count();
    std::printf("[%6.2fs] %s\n", s, line.c_str());
    std::fflush(stdout);
  }

 private:
  Clock::time_point start_ = Clock::now();
};

double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

// One demo user: a store, an Api and a sync loop whose batches wake waiters.
class DemoUser {
 public:
  DemoUser(std::string name, std::string base_url) : name_(std::move(name)), api_(std::move(base_url)) {}
  ~DemoUser() { stop_sync(); }
  void stop_sync() { if (sync_) sync_->stop(); }

  Status login(const std::filesystem::path& dir, const std::string& password) {
    auto store = store::Store::open(dir / "clients" / (name_ + ".db"));
    if (!store.ok()) return store.error();
    store_ = std::shared_ptr<store::Store>(std::move(store).value().release());
    auto session = matrix::login_or_restore(api_, *store_, name_, password, "mxcall demo");
    if (!session.ok()) return session.error();
    session_ = *session;
    return ok_status();
  }

  Status start_sync() {
    sync_ = std::make_unique<matrix::SyncLoop>(api_.base_url(), session_.access_token, store_,
                                               [this](const matrix::SyncBatch& b) { on_batch(b); });
    return sync_->start();
  }

  // Waits until pred(batch) was true for a batch; false on timeout.
  bool wait_for(const std::function<bool(const matrix::SyncBatch&)>& pred,
                std::chrono::seconds timeout = std::chrono::seconds(30)) {
    std::unique_lock lock(mutex_);
    pred_ = pred;
    matched_ = false;
    const bool ok = cv_.wait_for(lock, timeout, [this] { return matched_; });
    pred_ = nullptr;
    return ok;
  }

  matrix::Api& api() { return api_; }
  const store::Session& session() const { return session_; }
  std::uint64_t batches() const { return sync_ ? sync_->batches() : 0; }

 private:
  void on_batch(const matrix::SyncBatch& b) {
    std::lock_guard lock(mutex_);
    if (pred_ && pred_(b)) {
      matched_ = true;
      cv_.notify_all();
    }
  }

  std::string name_;
  matrix::Api api_;
  std::shared_ptr<store::Store> store_;
  store::Session session_;
  std::unique_ptr<matrix::SyncLoop> sync_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::function<bool(const matrix::SyncBatch&)> pred_;
  bool matched_ = false;
};

int fail(Progress& p, const std::string& what, const Error& e) {
  p.say("FAILED: " + what + ": " + e.describe());
  return 1;
}

int run_demo(const DemoArgs& args) {
  Progress p;
  homeserver::SynapseOptions options;
  options.dir = args.dir;
  auto t0 = Clock::now();
  auto synapse = homeserver::LocalSynapse::start(options);
  if (!synapse.ok()) return fail(p, "starting the homeserver", synapse.error());
  p.say("homeserver " + synapse->base_url() + (synapse->reused() ? " (already running)" : " started") +
        " in " + std::to_string(static_cast<int>(ms_since(t0))) + " ms");

  const std::string password = "mxcall-demo";
  for (const char* name : {"alice", "bob"}) {
    auto user = synapse->register_user(name, password);
    if (user.ok()) p.say("registered " + *user);
    else if (user.error().errcode == "M_USER_IN_USE") p.say(std::string("@") + name + ":localhost exists already");
    else return fail(p, std::string("registering ") + name, user.error());
  }

  DemoUser alice("alice", synapse->base_url());
  DemoUser bob("bob", synapse->base_url());
  for (DemoUser* u : {&alice, &bob}) {
    t0 = Clock::now();
    if (auto st = u->login(args.dir, password); !st.ok()) return fail(p, "logging in", st.error());
    p.say(u->session().user_id + " logged in as device " + u->session().device_id + " in " +
          std::to_string(static_cast<int>(ms_since(t0))) + " ms");
    if (auto st = u->start_sync(); !st.ok()) return fail(p, "starting sync", st.error());
  }

  // 1. A DM invite from alice reaches bob through his /sync.
  matrix::CreateRoomRequest dm;
  dm.invite = {bob.session().user_id};
  dm.is_direct = true;
  dm.preset = "trusted_private_chat";
  t0 = Clock::now();
  auto room = alice.api().create_room(dm);
  if (!room.ok()) return fail(p, "creating the DM", room.error());
  const bool invited = bob.wait_for([&](const matrix::SyncBatch& b) {
    for (const auto& inv : b.invited)
      if (inv.room_id == *room) return true;
    return false;
  });
  if (!invited) return fail(p, "waiting for the invite", Error::make(ErrorKind::Timeout, "bob never saw it"));
  p.say("bob got alice's DM invite to " + *room + " in " + std::to_string(static_cast<int>(ms_since(t0))) + " ms");
  if (auto j = bob.api().join_room(*room); !j.ok()) return fail(p, "joining", j.error());
  p.say("bob joined the DM");

  // 2. A room event from alice, timed until bob's /sync delivers it.
  t0 = Clock::now();
  auto ev = alice.api().send_event(*room, "m.room.message", Json{{"msgtype", "m.text"}, {"body", "hello bob"}},
                                   matrix::new_txn_id());
  if (!ev.ok()) return fail(p, "sending a message", ev.error());
  const bool got = bob.wait_for([&](const matrix::SyncBatch& b) {
    for (const auto& r : b.joined)
      for (const auto& e : r.timeline)
        if (e.event_id == *ev) return true;
    return false;
  });
  if (!got) return fail(p, "waiting for the message", Error::make(ErrorKind::Timeout, "bob never saw it"));
  p.say("bob received \"hello bob\" through /sync " + std::to_string(static_cast<int>(ms_since(t0))) +
        " ms after alice sent it");

  // 3. A to-device message from bob to alice's device.
  matrix::ToDeviceBatch td;
  td.event_type = "org.mxcall.demo.ping";
  td.txn_id = matrix::new_txn_id();
  td.messages[alice.session().user_id][alice.session().device_id] = Json{{"ping", 1}};
  t0 = Clock::now();
  if (auto st = bob.api().send_to_device(td); !st.ok()) return fail(p, "sending to-device", st.error());
  const bool pinged = alice.wait_for([&](const matrix::SyncBatch& b) {
    for (const auto& t : b.to_device)
      if (t.type == "org.mxcall.demo.ping" && t.sender == bob.session().user_id) return true;
    return false;
  });
  if (!pinged) return fail(p, "waiting for the to-device message", Error::make(ErrorKind::Timeout, "alice never saw it"));
  p.say("alice's device received bob's to-device message in " + std::to_string(static_cast<int>(ms_since(t0))) + " ms");
  p.say("both users logged in and syncing (alice " + std::to_string(alice.batches()) + " sync batches, bob " +
        std::to_string(bob.batches()) + ")");

  alice.stop_sync();
  bob.stop_sync();
  if (!synapse->reused() && !args.keep) {
    if (auto st = synapse->stop(); !st.ok()) return fail(p, "stopping the homeserver", st.error());
    p.say("homeserver stopped (pass --keep to leave it running)");
  } else {
    p.say("homeserver left running at " + synapse->base_url() + " (mxcall homeserver stop --dir " + args.dir + ")");
  }
  p.say("demo finished");
  return 0;
}

}  // namespace

void add_demo_command(CLI::App& app, Action& action) {
  auto args = std::make_shared<DemoArgs>();
  auto* cmd = app.add_subcommand("demo", "Start the local homeserver and show two users logged in and syncing");
  cmd->add_option("--dir", args->dir, "Homeserver state directory")->capture_default_str();
  cmd->add_flag("--keep", args->keep, "Leave a homeserver the demo started running afterwards");
  cmd->callback([&action, args] { action = [args] { return run_demo(*args); }; });
}

}  // namespace mxcall::cli
