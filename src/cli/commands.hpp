// Each mxcall subcommand registers itself on the root CLI::App.
#pragma once

#include <functional>

namespace CLI { class App; }

namespace mxcall::cli {

// Flags every command shares (set before any command runs).
struct GlobalFlags {
  bool verbose = false;
  bool quiet = false;
};

// A command's action; returns the process exit code.
using Action = std::function<int()>;

void add_homeserver_command(CLI::App& app, Action& action);
void add_demo_command(CLI::App& app, Action& action);
void add_call_commands(CLI::App& app, Action& action);
void add_group_command(CLI::App& app, Action& action);

}  // namespace mxcall::cli
