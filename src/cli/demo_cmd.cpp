#include <CLI/CLI.hpp>

#include "cli/commands.hpp"

namespace mxcall::cli {

void add_demo_command(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("demo", "Start the local homeserver and show two users syncing");
  cmd->callback([&action] { action = [] { return 0; }; });
}

}  // namespace mxcall::cli
