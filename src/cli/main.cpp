// mxcall: Matrix voice and video calls from the command line.
#include <csignal>
#include <exception>
#include <iostream>

#include <CLI/CLI.hpp>

#include "cli/commands.hpp"
#include "mxcall/error.hpp"
#include "mxcall/log.hpp"

int main(int argc, char** argv) {
  CLI::App app{"mxcall: Matrix voice and video calls", "mxcall"};
  app.require_subcommand(1);
  app.fallthrough();  // -v and -q work after the subcommand too
  mxcall::cli::GlobalFlags flags;
  app.add_flag("-v,--verbose", flags.verbose, "Log debug detail");
  app.add_flag("-q,--quiet", flags.quiet, "Log only warnings and errors");

  mxcall::cli::Action action;
  mxcall::cli::add_homeserver_command(app, action);
  mxcall::cli::add_demo_command(app, action);
  mxcall::cli::add_call_commands(app, action);
  mxcall::cli::add_group_command(app, action);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  mxcall::log::set_level(mxcall::log::level_from_flags(flags.verbose, flags.quiet));
  if (!action) return 2;
  try {
    return action();
  } catch (const mxcall::MxcallError& e) {
    std::cerr << "mxcall: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "mxcall: unexpected error: " << e.what() << "\n";
    return 1;
  }
}
