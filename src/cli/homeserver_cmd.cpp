// `mxcall homeserver start|register|stop|status`: the local Synapse for trying mxcall out.
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli/commands.hpp"
#include "mxcall/homeserver.hpp"

namespace mxcall::cli {

namespace {

namespace hs = mxcall::homeserver;

struct HomeserverArgs {
  std::string dir = hs::default_dir().string();
  std::uint16_t port = 0;
  std::vector<std::string> turn_uris;
  std::string turn_secret;
  int turn_lifetime_s = 86400;
  std::string user;
  std::string password = "password";
  bool admin = false;
};

int fail(const Error& e) {
  std::cerr << "mxcall: " << e.describe() << "\n";
  return 1;
}

void add_dir_option(CLI::App* cmd, HomeserverArgs& args) {
  cmd->add_option("--dir", args.dir, "Homeserver state directory (config, database, log, pid)")
      ->capture_default_str();
}

// "alice", "@alice" and "@alice:localhost" all mean the localpart "alice".
std::string localpart_of(std::string user) {
  if (!user.empty() && user.front() == '@') user.erase(0, 1);
  if (const auto colon = user.find(':'); colon != std::string::npos) user.resize(colon);
  return user;
}

int run_start(const HomeserverArgs& args) {
  hs::SynapseOptions options;
  options.dir = args.dir;
  options.port = args.port;
  if (!args.turn_uris.empty()) {
    if (args.turn_secret.empty()) {
      std::cerr << "mxcall: --turn-uri needs --turn-secret (coturn's static-auth-secret)\n";
      return 2;
    }
    options.turn = hs::TurnConfig{args.turn_uris, args.turn_secret, args.turn_lifetime_s};
  }
  auto synapse = hs::LocalSynapse::start(options);
  if (!synapse) return fail(synapse.error());
  std::cout << synapse->base_url() << std::endl;
  return 0;
}

int run_register(const HomeserverArgs& args) {
  auto synapse = hs::LocalSynapse::attach(args.dir);
  if (!synapse) return fail(synapse.error());
  auto user = synapse->register_user(localpart_of(args.user), args.password, args.admin);
  if (!user) return fail(user.error());
  std::cout << *user << std::endl;
  return 0;
}

int run_stop(const HomeserverArgs& args) {
  auto stopped = hs::LocalSynapse::stop(args.dir);
  return stopped ? 0 : fail(stopped.error());
}

int run_status(const HomeserverArgs& args) {
  auto st = hs::LocalSynapse::status(args.dir);
  if (!st) return fail(st.error());
  if (!st->running) {
    std::cout << "not running" << std::endl;
    return 3;
  }
  std::cout << "running: pid " << st->pid << ", " << st->base_url << std::endl;
  return 0;
}

}  // namespace

void add_homeserver_command(CLI::App& app, Action& action) {
  auto args = std::make_shared<HomeserverArgs>();
  auto* hs_cmd = app.add_subcommand("homeserver", "Run a local Synapse for trying mxcall out");
  hs_cmd->require_subcommand(1);

  auto* start = hs_cmd->add_subcommand(
      "start", "Start Synapse in the background (or reuse the running one); prints its URL");
  add_dir_option(start, *args);
  start->add_option("--port", args->port, "Port on 127.0.0.1 (default: a free one, then kept)");
  start->add_option("--turn-uri", args->turn_uris,
                    "TURN URI handed to clients, e.g. turn:127.0.0.1:3478?transport=udp (repeatable)");
  start->add_option("--turn-secret", args->turn_secret, "TURN REST shared secret (coturn static-auth-secret)");
  start->add_option("--turn-lifetime", args->turn_lifetime_s, "Lifetime of TURN credentials in seconds")
      ->capture_default_str();
  start->callback([&action, args] { action = [args] { return run_start(*args); }; });

  auto* reg = hs_cmd->add_subcommand(
      "register", "Register a user through the shared-secret admin API; prints the user id");
  reg->add_option("user", args->user, "Localpart (alice) or full id (@alice:localhost)")->required();
  reg->add_option("--password", args->password, "Password of the new user")->capture_default_str();
  reg->add_flag("--admin", args->admin, "Make the user a server admin");
  add_dir_option(reg, *args);
  reg->callback([&action, args] { action = [args] { return run_register(*args); }; });

  auto* stop = hs_cmd->add_subcommand("stop", "Stop the Synapse running from --dir");
  add_dir_option(stop, *args);
  stop->callback([&action, args] { action = [args] { return run_stop(*args); }; });

  auto* status = hs_cmd->add_subcommand(
      "status", "Print whether Synapse runs (exit code 0) or not (exit code 3)");
  add_dir_option(status, *args);
  status->callback([&action, args] { action = [args] { return run_status(*args); }; });
}

}  // namespace mxcall::cli
