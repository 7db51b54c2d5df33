// Where mxcall keeps the homeserver and where it finds Synapse's Python.
#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <system_error>

#include "mxcall/homeserver.hpp"

namespace mxcall::homeserver {

namespace fs = std::filesystem;

namespace {

fs::path home_dir() {
  if (const char* home = std::getenv("HOME"); home && *home) return home;
  if (const passwd* pw = ::getpwuid(::getuid()); pw && pw->pw_dir) return pw->pw_dir;
  return "/tmp";
}

// $XDG_DATA_HOME (when absolute, as the spec demands) or ~/.local/share.
fs::path data_home() {
  if (const char* xdg = std::getenv("XDG_DATA_HOME"); xdg && *xdg == '/') return xdg;
  return home_dir() / ".local" / "share";
}

bool is_executable(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec) && ::access(p.c_str(), X_OK) == 0;
}

}  // namespace

fs::path default_dir() { return data_home() / "mxcall" / "homeserver"; }

Result<fs::path> find_synapse_python() {
  if (const char* env = std::getenv("MXCALL_SYNAPSE_PYTHON"); env && *env) {
    // An explicit choice that does not work is reported, not silently replaced.
    if (is_executable(env)) return fs::path(env);
    return Error::make(ErrorKind::Process,
                       std::string("MXCALL_SYNAPSE_PYTHON=") + env +
                           " is not an executable file; point it at the python of a venv with "
                           "matrix-synapse, or unset it");
  }
  // Not canonicalized: a venv's python only finds its site-packages through the venv path.
  const fs::path candidates[] = {
#ifdef MXCALL_SOURCE_DIR
      fs::path(MXCALL_SOURCE_DIR) / ".venv" / "bin" / "python",
#endif
      home_dir() / ".local" / "share" / "mxcall" / "venv" / "bin" / "python",
      data_home() / "mxcall" / "venv" / "bin" / "python",
  };
  std::string tried;
  for (const auto& c : candidates) {
    if (is_executable(c)) return c;
    if (tried.find(c.string()) == std::string::npos) tried += "\n  " + c.string();
  }
  return Error::make(ErrorKind::Process,
                     "no Python with Synapse found; run scripts/setup (creates .venv in the "
                     "source tree) or set MXCALL_SYNAPSE_PYTHON. Tried:" + tried);
}

}  // namespace mxcall::homeserver
