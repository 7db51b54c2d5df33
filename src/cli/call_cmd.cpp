// `mxcall call` places a 1:1 call; `mxcall bot` answers calls until stopped.
#include <csignal>
#include <condition_variable>
#include <cstdio>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "cli/cli_common.hpp"
#include "cli/commands.hpp"
#include "mxcall/client.hpp"
#include "mxcall/homeserver.hpp"

namespace mxcall::cli {

namespace {


struct CallArgs : ClientArgs {
  std::string to;
  bool video = false;
  bool json = false;
  bool answer = false;
  int max_calls = 0;  // bot: exit after this many calls ended (0: run until a signal)
};



Json summary_json(const CallSummary& s) {
  auto ms = [](const std::optional<std::chrono::milliseconds>& v) { return v ? Json(v->count()) : Json(nullptr); };
  return {{"event", "summary"},
          {"call_id", s.call_id},
          {"room_id", s.room_id},
          {"peer", s.peer},
          {"connected", s.connected},
          {"end_reason", s.end_reason},
          {"setup_ms",
           {{"invite_to_answer", ms(s.invite_to_answer)},
            {"invite_to_ice_connected", ms(s.invite_to_ice_connected)},
            {"invite_to_first_audio", ms(s.invite_to_first_audio)}}},
          {"audio", stats_json(s.stats.audio)},
          {"video", stats_json(s.stats.video)},
          {"ice", ice_json(s.stats)}};
}

std::string describe(const CallUpdate& u) {
  switch (u.kind) {
    case CallUpdate::Kind::Incoming: return "incoming " + std::string(u.video ? "video" : "voice") + " call from " + u.peer;
    case CallUpdate::Kind::State: return "call " + u.state;
    case CallUpdate::Kind::Connected: return "connected in " + std::to_string(u.setup.count()) + " ms";
    case CallUpdate::Kind::FirstMedia:
      return std::string("first ") + media::to_string(u.media_kind) + " decoded " + std::to_string(u.setup.count()) + " ms after the invite";
    case CallUpdate::Kind::RemoteMetadata:
      return std::string("peer's microphone ") + (u.audio_muted ? "muted" : "on") + ", camera " + (u.video_muted ? "off" : "on");
    case CallUpdate::Kind::RemoteHold: return std::string("peer ") + (u.on_hold ? "holds the call" : "resumed");
    case CallUpdate::Kind::RemoteTrack: return std::string("receiving ") + media::to_string(u.media_kind);
    case CallUpdate::Kind::RemoteTrackRemoved:
      return std::string("peer stopped sending ") + (u.screenshare ? "its screen share" : media::to_string(u.media_kind));
    case CallUpdate::Kind::Dtmf: return std::string("DTMF digit ") + u.digit;
    case CallUpdate::Kind::Link: return "media path " + u.link;
    case CallUpdate::Kind::Ended: return "ended: " + u.reason + (u.by_remote ? " (by the peer)" : "");
  }
  return "?";
}

Json update_json(const CallUpdate& u) {
  Json j = {{"event", to_string(u.kind)}, {"call_id", u.call_id}};
  switch (u.kind) {
    case CallUpdate::Kind::Incoming: j["peer"] = u.peer; j["video"] = u.video; break;
    case CallUpdate::Kind::State: j["state"] = u.state; break;
    case CallUpdate::Kind::Connected: j["setup_ms"] = u.setup.count(); break;
    case CallUpdate::Kind::FirstMedia: j["kind"] = media::to_string(u.media_kind); j["setup_ms"] = u.setup.count(); break;
    case CallUpdate::Kind::RemoteMetadata: j["audio_muted"] = u.audio_muted; j["video_muted"] = u.video_muted; break;
    case CallUpdate::Kind::RemoteHold: j["on_hold"] = u.on_hold; break;
    case CallUpdate::Kind::RemoteTrack:
    case CallUpdate::Kind::RemoteTrackRemoved: j["kind"] = media::to_string(u.media_kind); j["screenshare"] = u.screenshare; break;
    case CallUpdate::Kind::Dtmf: j["digit"] = std::string(1, u.digit); break;
    case CallUpdate::Kind::Link: j["link"] = u.link; break;
    case CallUpdate::Kind::Ended: j["reason"] = u.reason; j["by_remote"] = u.by_remote; break;
  }
  return j;
}





int run_call(const CallArgs& a) {
  Signals signals;
  Printer out(a.json);
  auto client = start_client(a, false);
  if (!client.ok()) {
    std::cerr << "mxcall: " << client.error().describe() << "\n";
    return 1;
  }
  std::mutex m;
  std::condition_variable cv;
  bool connected = false, ended = false;
  (*client)->on_update([&](const CallUpdate& u) {
    if (u.kind != CallUpdate::Kind::State) out.line(describe(u), update_json(u));
    std::lock_guard lock(m);
    connected = connected || u.kind == CallUpdate::Kind::Connected;
    ended = ended || u.kind == CallUpdate::Kind::Ended;
    cv.notify_all();
  });
  out.line("calling " + a.to + " as " + (*client)->user_id(), {{"event", "calling"}, {"to", a.to}});
  auto call_id = (*client)->place_call(a.to, a.video);
  if (!call_id.ok()) {
    out.line("FAILED: " + call_id.error().describe(), {{"event", "error"}, {"error", call_id.error().describe()}});
    return 1;
  }
  {
    std::unique_lock lock(m);
    cv.wait_for(lock, std::chrono::seconds(90), [&] { return connected || ended; });
  }
  const auto until = Clock::now() + std::chrono::milliseconds(static_cast<long>(a.duration_s * 1000));
  bool interrupted = false;
  while (Clock::now() < until && !interrupted) {
    {
      std::lock_guard lock(m);
      if (ended) break;
    }
    interrupted = signals.wait(std::chrono::milliseconds(1000));
    if (auto s = (*client)->summary(*call_id); s && connected) {
      out.line("audio packets sent " + std::to_string(s->stats.audio.packets_sent) + ", received " +
                   std::to_string(s->stats.audio.packets_received),
               {{"event", "stats"}, {"audio", stats_json(s->stats.audio)}, {"video", stats_json(s->stats.video)}});
    }
  }
  (void)(*client)->hangup(*call_id);
  {
    std::unique_lock lock(m);
    cv.wait_for(lock, std::chrono::seconds(5), [&] { return ended; });
  }
  auto s = (*client)->summary(*call_id);
  (*client)->stop();
  if (!s) return 1;
  out.line("summary: " + std::string(s->connected ? "connected" : "never connected") + ", ended: " + s->end_reason,
           summary_json(*s));
  return s->connected ? 0 : 1;
}

int run_bot(const CallArgs& a) {
  Signals signals;
  Printer out(a.json);
  auto client = start_client(a, true);
  if (!client.ok()) {
    std::cerr << "mxcall: " << client.error().describe() << "\n";
    return 1;
  }
  Client* c = client->get();
  std::mutex m;
  int ended_calls = 0;
  c->on_update([&](const CallUpdate& u) {
    if (u.kind != CallUpdate::Kind::State) out.line(describe(u), update_json(u));
    // Commands may be issued from inside the update callback: answer without a round trip.
    if (u.kind == CallUpdate::Kind::Incoming) (void)(a.answer ? c->answer(u.call_id, a.video) : c->reject(u.call_id));
    std::lock_guard lock(m);
    if (u.kind == CallUpdate::Kind::Ended) ++ended_calls;
  });
  out.line("bot " + c->user_id() + " (" + c->device_id() + ") " + (a.answer ? "answering" : "rejecting") + " calls",
           {{"event", "ready"}, {"user_id", c->user_id()}, {"device_id", c->device_id()}});
  while (!signals.wait(std::chrono::milliseconds(100))) {
    std::lock_guard lock(m);
    if (a.max_calls > 0 && ended_calls >= a.max_calls) break;
  }
  out.line("stopping", {{"event", "stopping"}});
  c->stop();
  return 0;
}

void add_common(CLI::App* cmd, CallArgs& a) {
  add_client_options(cmd, a);
  cmd->add_flag("--video", a.video, "Send video too");
  cmd->add_flag("--json", a.json, "One JSON object per line");
}

}  // namespace

void add_call_commands(CLI::App& app, Action& action) {
  auto args = std::make_shared<CallArgs>();
  auto* call = app.add_subcommand("call", "Place a 1:1 call, stay connected for --duration, hang up");
  add_common(call, *args);
  call->add_option("--to", args->to, "Who to call (@user:server)")->required();
  call->add_option("--duration", args->duration_s, "Seconds to stay connected")->capture_default_str();
  call->callback([&action, args] { action = [args] { return run_call(*args); }; });

  auto bot_args = std::make_shared<CallArgs>();
  auto* bot = app.add_subcommand("bot", "Answer (or reject) every incoming call until SIGINT/SIGTERM");
  add_common(bot, *bot_args);
  bot->add_flag("--answer", bot_args->answer, "Answer calls (otherwise reject them)");
  bot->add_option("--max-calls", bot_args->max_calls, "Exit after this many calls ended");
  bot->callback([&action, bot_args] { action = [bot_args] { return run_bot(*bot_args); }; });
}

}  // namespace mxcall::cli
