// `mxcall group` joins (or creates) a room's MSC3401 mesh call, stays for --duration, leaves.
#include <CLI/CLI.hpp>

#include "cli/cli_common.hpp"
#include "cli/commands.hpp"

namespace mxcall::cli {

namespace {

struct GroupArgs : ClientArgs {
  std::string room;
  bool create = false;
  std::vector<std::string> invite;
  bool video = false;
  bool json = false;
  bool plaintext = false;
  double member_lifetime_s = 3600;
};

std::string describe(const GroupUpdate& u) {
  const std::string who = u.user_id + " (" + u.device_id + ")";
  switch (u.kind) {
    case GroupUpdate::Kind::Joined: return "joined call " + u.conf_id;
    case GroupUpdate::Kind::ParticipantJoined: return who + " is in the call";
    case GroupUpdate::Kind::ParticipantLeft: return who + " left (" + u.reason + ")";
    case GroupUpdate::Kind::PeerConnected: return "connected to " + who + " in " + std::to_string(u.setup.count()) + " ms";
    case GroupUpdate::Kind::PeerFirstMedia:
      return std::string("first ") + media::to_string(u.media_kind) + " from " + who + " after " +
             std::to_string(u.setup.count()) + " ms";
    case GroupUpdate::Kind::PeerEnded: return "call with " + who + " ended: " + u.reason;
    case GroupUpdate::Kind::Left: return "left the call (" + u.reason + ")";
  }
  return "?";
}

Json update_json(const GroupUpdate& u) {
  Json j = {{"event", to_string(u.kind)}, {"room_id", u.room_id}, {"conf_id", u.conf_id}};
  if (!u.user_id.empty()) j["user_id"] = u.user_id;
  if (!u.device_id.empty()) j["device_id"] = u.device_id;
  if (!u.call_id.empty()) j["call_id"] = u.call_id;
  if (!u.reason.empty()) j["reason"] = u.reason;
  if (u.kind == GroupUpdate::Kind::PeerConnected || u.kind == GroupUpdate::Kind::PeerFirstMedia)
    j["setup_ms"] = u.setup.count();
  return j;
}

Json summary_json(const GroupCallSummary& s, const ClientStats& st) {
  Json peers = Json::array();
  auto ms = [](const std::optional<std::chrono::milliseconds>& v) { return v ? Json(v->count()) : Json(nullptr); };
  for (const auto& p : s.peers)
    peers.push_back({{"user_id", p.user_id}, {"device_id", p.device_id}, {"call_id", p.call_id},
                     {"connected", p.connected}, {"setup_ms", ms(p.setup)}, {"first_audio_ms", ms(p.first_audio)},
                     {"audio", stats_json(p.stats.audio)}, {"video", stats_json(p.stats.video)},
                     {"ice", ice_json(p.stats)}});
  return {{"event", "summary"}, {"room_id", s.room_id}, {"conf_id", s.conf_id}, {"peers", peers},
          {"to_device_requests", st.to_device_requests}, {"to_device_messages", st.to_device_messages},
          {"to_device_rounds", st.to_device_rounds}};
}

int run_group(const GroupArgs& a) {
  Signals signals;
  Printer out(a.json);
  ClientArgs ca = a;
  auto client = start_client(ca, true, [&](ClientOptions& o) {
    o.allow_plaintext_to_device = a.plaintext;
    o.group_member_lifetime = std::chrono::milliseconds(static_cast<long>(a.member_lifetime_s * 1000));
  });
  if (!client.ok()) {
    std::cerr << "mxcall: " << client.error().describe() << "\n";
    return 1;
  }
  Client& c = **client;
  c.on_group_update([&](const GroupUpdate& u) { out.line(describe(u), update_json(u)); });
  std::string room = a.room;
  if (a.create) {
    auto created = c.create_group_room(a.invite, "mxcall group call");
    if (!created.ok()) {
      out.line("FAILED: " + created.error().describe(), {{"event", "error"}, {"error", created.error().describe()}});
      return 1;
    }
    room = *created;
    out.line("created room " + room, {{"event", "room_created"}, {"room_id", room}});
  } else if (!c.wait_joined(room, std::chrono::seconds(30))) {
    out.line("not a member of " + room, {{"event", "error"}, {"error", "not joined to " + room}});
    return 1;
  }
  GroupCallOptions o;
  o.video = a.video;
  auto conf = c.join_group_call(room, o);
  if (!conf.ok()) {
    out.line("FAILED: " + conf.error().describe(), {{"event", "error"}, {"error", conf.error().describe()}});
    return 1;
  }
  const auto until = Clock::now() + std::chrono::milliseconds(static_cast<long>(a.duration_s * 1000));
  while (Clock::now() < until) {
    if (signals.wait(std::chrono::milliseconds(1000))) break;
    if (auto s = c.group_summary(room)) {
      std::string line = "peers:";
      Json peers = Json::array();
      for (const auto& p : s->peers) {
        line += " " + p.user_id + " rx " + std::to_string(p.stats.audio.packets_received);
        peers.push_back({{"user_id", p.user_id}, {"device_id", p.device_id}, {"audio", stats_json(p.stats.audio)}});
      }
      out.line(line, {{"event", "stats"}, {"peers", peers}});
    }
  }
  auto s = c.group_summary(room);
  const auto st = c.stats();
  (void)c.leave_group_call(room);
  c.stop();
  if (!s) return 1;
  out.line("summary: " + std::to_string(s->peers.size()) + " peers, " + std::to_string(st.to_device_requests) +
               " sendToDevice requests",
           summary_json(*s, st));
  bool all = !s->peers.empty();
  for (const auto& p : s->peers) all = all && p.connected;
  return all ? 0 : 1;
}

}  // namespace

void add_group_command(CLI::App& app, Action& action) {
  auto args = std::make_shared<GroupArgs>();
  auto* cmd = app.add_subcommand("group", "Join (or create) a room's group call (MSC3401 mesh), stay, leave");
  add_client_options(cmd, *args);
  auto* room = cmd->add_option("--room", args->room, "The room whose call to join");
  auto* create = cmd->add_flag("--create", args->create, "Create a room for the call");
  room->excludes(create);
  cmd->add_option("--invite", args->invite, "Users to invite to a created room");
  cmd->add_flag("--video", args->video, "Send video too");
  cmd->add_flag("--json", args->json, "One JSON object per line");
  cmd->add_flag("--plaintext", args->plaintext, "Allow plaintext to-device signalling (for peers without olm)");
  cmd->add_option("--duration", args->duration_s, "Seconds to stay in the call")->capture_default_str();
  cmd->add_option("--member-lifetime", args->member_lifetime_s,
                  "Seconds our member entry stays valid without a refresh (others drop us that long after a crash)")
      ->check(CLI::Range(1.0, 7 * 24 * 3600.0))
      ->capture_default_str();
  cmd->callback([&action, args] {
    if (args->room.empty() && !args->create) throw CLI::ValidationError("--room or --create is required");
    action = [args] { return run_group(*args); };
  });
}

}  // namespace mxcall::cli
