// `mxcall demo`: the README's main job. Starts (or reuses) the local Synapse, registers two
// users, logs both in (each its own device, store and sync loop) and has them talk: alice
// calls bob in their DM, bob answers, audio flows both ways with live packet counts, alice
// hangs up; then N bots form an MSC3401 mesh group call. Ends with a summary (human lines, or JSON lines with --json).
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <iostream>
#include <memory>
#include <mutex>
#include <thread>
#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "cli/demo_mesh.hpp"
#include "mxcall/client.hpp"
#include "mxcall/homeserver.hpp"

namespace mxcall::cli {

namespace {

using Clock = std::chrono::steady_clock;
using Json = nlohmann::json;

struct DemoArgs {
  std::string dir = homeserver::default_dir().string();
  bool keep = false;
  bool json = false;
  bool video = false;
  double duration_s = 5;
  int participants = 4;  // the mesh after the 1:1 call (0: no mesh)
};

class Progress {
 public:
  explicit Progress(bool json) : json_(json) {}
  void say(const std::string& line, Json j = Json::object()) {
    std::lock_guard lock(mutex_);
    const double s = std::chrono::duration<double>(Clock::now() - start_).count();
    if (json_) {
      j["t_ms"] = static_cast<long long>(s * 1000);
      if (!j.contains("event")) j["event"] = "progress";
      j["message"] = line;
      std::cout << j.dump() << std::endl;
    } else {
      std::printf("[%6.2fs] %s\n", s, line.c_str());
      std::fflush(stdout);
    }
  }

 private:
  std::mutex mutex_;
  bool json_;
  Clock::time_point start_ = Clock::now();
};

long long ms(std::chrono::milliseconds d) { return static_cast<long long>(d.count()); }
Json opt_ms(const std::optional<std::chrono::milliseconds>& d) { return d ? Json(d->count()) : Json(nullptr); }

// Everything one demo user saw, for waiting on.
struct Watch {
  std::mutex m;
  std::condition_variable cv;
  std::vector<CallUpdate> seen;
  bool has(CallUpdate::Kind k) {
    for (const auto& u : seen)
      if (u.kind == k) return true;
    return false;
  }
  bool wait(CallUpdate::Kind k, std::chrono::seconds timeout) {
    std::unique_lock lock(m);
    return cv.wait_for(lock, timeout, [&] { return has(k); });
  }
};

int fail(Progress& p, const std::string& what, const Error& e) {
  p.say("FAILED: " + what + ": " + e.describe(), {{"event", "error"}});
  return 1;
}

int run_demo(const DemoArgs& args) {
  Progress p(args.json);
  homeserver::SynapseOptions options;
  options.dir = args.dir;
  auto t0 = Clock::now();
  auto synapse = homeserver::LocalSynapse::start(options);
  if (!synapse.ok()) return fail(p, "starting the homeserver", synapse.error());
  p.say("homeserver " + synapse->base_url() + (synapse->reused() ? " (already running)" : " started") + " in " +
        std::to_string(ms(std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0))) + " ms");

  const std::string password = "mxcall-demo";
  for (const char* name : {"alice", "bob"}) {
    auto user = synapse->register_user(name, password);
    if (user.ok()) p.say("registered " + *user);
    else if (user.error().errcode == "M_USER_IN_USE") p.say(std::string("@") + name + ":localhost exists already");
    else return fail(p, std::string("registering ") + name, user.error());
  }

  std::unique_ptr<Client> clients[2];
  Watch watch[2];
  const char* names[2] = {"alice", "bob"};
  for (int i = 0; i < 2; ++i) {
    ClientOptions o;
    o.homeserver = synapse->base_url();
    o.user = names[i];
    o.password = password;
    o.store = std::filesystem::path(args.dir) / "clients" / (std::string(names[i]) + ".db");
    o.auto_join_invites = i == 1;  // bob joins the DM alice creates
    o.include_loopback_candidates = true;
    t0 = Clock::now();
    auto c = Client::start(o);
    if (!c.ok()) return fail(p, std::string("starting ") + names[i], c.error());
    clients[i] = std::move(c).value();
    p.say(clients[i]->user_id() + " logged in as device " + clients[i]->device_id() + " and syncing (" +
          std::to_string(ms(std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0))) + " ms)");
  }
  Client& alice = *clients[0];
  Client& bob = *clients[1];
  for (int i = 0; i < 2; ++i) {
    Client* self = clients[i].get();
    Watch* w = &watch[i];
    const std::string who = names[i];
    self->on_update([&p, self, w, who, i, &args](const CallUpdate& u) {
      if (u.kind == CallUpdate::Kind::Incoming) {
        p.say("bob's device rings: " + std::string(u.video ? "video" : "voice") + " call from " + u.peer + "; answering",
              {{"event", "incoming"}, {"call_id", u.call_id}});
        (void)self->answer(u.call_id, args.video);
      } else if (u.kind == CallUpdate::Kind::Connected) {
        p.say(who + " connected " + std::to_string(ms(u.setup)) + " ms after the invite", {{"event", "connected"}, {"who", who}, {"setup_ms", ms(u.setup)}});
      } else if (u.kind == CallUpdate::Kind::FirstMedia) {
        p.say(who + " hears " + std::string(media::to_string(u.media_kind)) + " " + std::to_string(ms(u.setup)) + " ms after the invite",
              {{"event", "first_media"}, {"who", who}, {"setup_ms", ms(u.setup)}});
      } else if (u.kind == CallUpdate::Kind::Ended) {
        p.say(who + "'s call ended: " + u.reason + (u.by_remote ? " (by the peer)" : ""), {{"event", "ended"}, {"who", who}, {"reason", u.reason}});
      }
      (void)i;
      std::lock_guard lock(w->m);
      w->seen.push_back(u);
      w->cv.notify_all();
    });
  }

  p.say("alice calls bob");
  auto call_id = alice.place_call(bob.user_id(), args.video);
  if (!call_id.ok()) return fail(p, "placing the call", call_id.error());
  if (!watch[0].wait(CallUpdate::Kind::Connected, std::chrono::seconds(60)) ||
      !watch[1].wait(CallUpdate::Kind::Connected, std::chrono::seconds(10)))
    return fail(p, "connecting", Error::make(ErrorKind::Timeout, "the call did not connect"));

  const auto until = Clock::now() + std::chrono::milliseconds(static_cast<long>(args.duration_s * 1000));
  while (Clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::seconds(1));
    auto a = alice.summary(*call_id);
    auto b = bob.summary(*call_id);
    if (!a || !b) break;
    p.say("audio packets alice -> bob: " + std::to_string(a->stats.audio.packets_sent) + " sent / " +
              std::to_string(b->stats.audio.packets_received) + " received; bob -> alice: " +
              std::to_string(b->stats.audio.packets_sent) + " / " + std::to_string(a->stats.audio.packets_received),
          {{"event", "stats"}, {"alice_audio_received", a->stats.audio.packets_received}, {"bob_audio_received", b->stats.audio.packets_received}});
  }
  (void)alice.hangup(*call_id);
  watch[1].wait(CallUpdate::Kind::Ended, std::chrono::seconds(10));
  auto a = alice.summary(*call_id);
  auto b = bob.summary(*call_id);
  for (auto& c : clients) c->stop();

  Json mesh = nullptr;
  if (args.participants > 0) {
    p.say("now a group call: a full mesh of " + std::to_string(args.participants) + " (MSC3401, olm-encrypted signalling)");
    MeshDemo md;
    md.participants = args.participants;
    md.duration_s = args.duration_s;
    md.dir = args.dir;
    md.say = [&p](const std::string& line, Json j) { p.say(line, std::move(j)); };
    mesh = run_mesh_demo(*synapse, md);
  }

  bool ok = a && b && a->connected && b->connected && a->stats.audio.packets_received > 0 && b->stats.audio.packets_received > 0;
  if (!mesh.is_null()) ok = ok && mesh.value("ok", false);
  if (a && b) {
    Json summary = {{"event", "summary"},
                    {"calls", Json::array({{{"call_id", a->call_id},
                                            {"connected", a->connected && b->connected},
                                            {"end_reason", a->end_reason},
                                            {"setup_ms",
                                             {{"invite_to_answer", opt_ms(a->invite_to_answer)},
                                              {"invite_to_ice_connected", opt_ms(a->invite_to_ice_connected)},
                                              {"invite_to_first_audio", opt_ms(a->invite_to_first_audio)}}},
                                            {"audio_packets_received", {{"alice", a->stats.audio.packets_received}, {"bob", b->stats.audio.packets_received}}}}})},
                    {"mesh", mesh},
                    {"ok", ok}};
    p.say(std::string("summary: ") + (ok ? "calls connected, audio flowed on every pair" : "a call did not work") +
              "; invite to first audio " + (a->invite_to_first_audio ? std::to_string(ms(*a->invite_to_first_audio)) + " ms" : "n/a"),
          summary);
  }

  if (!synapse->reused() && !args.keep) {
    if (auto st = synapse->stop(); !st.ok()) return fail(p, "stopping the homeserver", st.error());
    p.say("homeserver stopped (pass --keep to leave it running)");
  } else {
    p.say("homeserver left running at " + synapse->base_url() + " (mxcall homeserver stop --dir " + args.dir + ")");
  }
  p.say(ok ? "demo finished" : "demo FAILED", {{"event", "done"}, {"ok", ok}});
  return ok ? 0 : 1;
}

}  // namespace

void add_demo_command(CLI::App& app, Action& action) {
  auto args = std::make_shared<DemoArgs>();
  auto* cmd = app.add_subcommand("demo", "Local homeserver: a real 1:1 call, then an N-party mesh group call");
  cmd->add_option("--dir", args->dir, "Homeserver state directory")->capture_default_str();
  cmd->add_flag("--keep", args->keep, "Leave a homeserver the demo started running afterwards");
  cmd->add_flag("--json", args->json, "One JSON object per line; the last holds the summary");
  cmd->add_flag("--video", args->video, "A video call (VP8 test pattern) instead of voice");
  cmd->add_option("--duration", args->duration_s, "Seconds each call stays up")->capture_default_str();
  cmd->add_option("--participants", args->participants, "Size of the group-call mesh after the 1:1 call (0: none, max 8)")
      ->capture_default_str();
  cmd->callback([&action, args] { action = [args] { return run_demo(*args); }; });
}

}  // namespace mxcall::cli
