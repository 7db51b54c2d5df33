#include "cli/cli_common.hpp"

#include <cctype>

#include <CLI/CLI.hpp>

#include "mxcall/homeserver.hpp"

namespace mxcall::cli {

namespace {

bool is_local(const std::string& url) {
  return url.find("://127.0.0.1") != std::string::npos || url.find("://localhost") != std::string::npos;
}

std::string default_store(const ClientArgs& a) {
  std::string name;
  for (char c : a.user + "@" + a.homeserver)
    name.push_back(std::isalnum(static_cast<unsigned char>(c)) ? c : '_');
  return (homeserver::default_dir().parent_path() / "clients" / (name + ".db")).string();
}

}  // namespace

void add_client_options(CLI::App* cmd, ClientArgs& a) {
  cmd->add_option("--homeserver", a.homeserver, "Homeserver base URL")->required();
  cmd->add_option("--user", a.user, "User (localpart or full id)")->required();
  cmd->add_option("--password", a.password, "Password")->required();
  cmd->add_option("--store", a.store, "SQLite store for the session and sync token");
  cmd->add_flag("--loopback", a.loopback, "Gather ICE candidates on 127.0.0.1 (on by default for a local homeserver)");
}

Result<std::unique_ptr<Client>> start_client(const ClientArgs& a, bool auto_join,
                                             const std::function<void(ClientOptions&)>& tweak) {
  ClientOptions o;
  o.homeserver = a.homeserver;
  o.user = a.user;
  o.password = a.password;
  o.store = a.store.empty() ? default_store(a) : a.store;
  o.auto_join_invites = auto_join;
  o.include_loopback_candidates = a.loopback || is_local(a.homeserver);
  if (tweak) tweak(o);
  return Client::start(o);
}

Json stats_json(const media::KindStats& k) {
  return {{"packets_sent", k.packets_sent}, {"packets_received", k.packets_received},
          {"bytes_sent", k.bytes_sent}, {"bytes_received", k.bytes_received}};
}

Json ice_json(const media::PeerStats& s) {
  return {{"ice_generation", s.ice_generation},
          {"local_candidates", s.local_candidates},
          {"media_timeouts", s.media_timeouts}};
}

}  // namespace mxcall::cli
