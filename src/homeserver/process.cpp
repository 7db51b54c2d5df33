#include "homeserver/process.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "homeserver/synapse_config.hpp"

namespace mxcall::homeserver::detail {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

Error process_error(std::string msg) { return Error::make(ErrorKind::Process, std::move(msg)); }
std::string errno_text(int err) { return std::strerror(err); }

// The child side of spawn(): only async-signal-safe calls from here to exec.
[[noreturn]] void exec_child(const SpawnOptions& o, char* const* argv, pid_t parent, int out_fd,
                             int null_fd, int err_fd, long max_fd) {
  if (o.kill_with_parent) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);  // the parent died before prctl took effect
  }
  if (o.new_session) setsid();
  // The parent (a test binary, a CLI) may have blocked or ignored signals; Synapse needs
  // the defaults, SIGTERM above all.
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGPIPE, SIGCHLD, SIGQUIT}) sigaction(sig, &dfl, nullptr);

  if (dup2(null_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(out_fd, 2) < 0) {
    const int e = errno;
    (void)!write(err_fd, &e, sizeof e);
    _exit(127);
  }
  // Sockets and files of the parent (listening test servers...) must not leak into Synapse.
  // err_fd is close-on-exec and has to stay open until exec.
  const auto ufd = static_cast<unsigned>(err_fd);
  if ((ufd > 3 && close_range(3, ufd - 1, 0) != 0) || close_range(ufd + 1, ~0U, 0) != 0) {
    for (long fd = 3; fd < max_fd; ++fd) {
      if (fd != err_fd) close(static_cast<int>(fd));
    }
  }
  if (!o.cwd.empty() && chdir(o.cwd.c_str()) != 0) {
    const int e = errno;
    (void)!write(err_fd, &e, sizeof e);
    _exit(127);
  }
  execv(o.program.c_str(), argv);
  const int e = errno;
  (void)!write(err_fd, &e, sizeof e);
  _exit(127);
}

}  // namespace

Result<pid_t> spawn(const SpawnOptions& o) {
  const int out_fd = ::open(o.output.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (out_fd < 0) return process_error("cannot open " + o.output.string() + ": " + errno_text(errno));
  const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  int pipe_fds[2] = {-1, -1};
  if (null_fd < 0 || ::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    const int e = errno;
    ::close(out_fd);
    if (null_fd >= 0) ::close(null_fd);
    return process_error("cannot prepare the child's files: " + errno_text(e));
  }

  // Everything the child needs is built before fork (no allocation after it).
  std::vector<std::string> args;
  args.push_back(o.program.string());
  args.insert(args.end(), o.args.begin(), o.args.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const long open_max = sysconf(_SC_OPEN_MAX);
  const long max_fd = open_max > 0 && open_max < 65536 ? open_max : 65536;
  const pid_t parent = ::getpid();

  const pid_t pid = ::fork();
  if (pid == 0) exec_child(o, argv.data(), parent, out_fd, null_fd, pipe_fds[1], max_fd);

  const int fork_errno = errno;
  ::close(out_fd);
  ::close(null_fd);
  ::close(pipe_fds[1]);
  if (pid < 0) {
    ::close(pipe_fds[0]);
    return process_error("fork failed: " + errno_text(fork_errno));
  }
  // The pipe closes on a successful exec; otherwise the child writes its errno.
  int child_errno = 0;
  ssize_t n = 0;
  do {
    n = ::read(pipe_fds[0], &child_errno, sizeof child_errno);
  } while (n < 0 && errno == EINTR);
  ::close(pipe_fds[0]);
  if (n == static_cast<ssize_t>(sizeof child_errno)) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    return process_error("cannot run " + o.program.string() + ": " + errno_text(child_errno));
  }
  return pid;
}

bool process_alive(pid_t pid) {
  if (pid <= 0) return false;
  int status = 0;
  const pid_t r = ::waitpid(pid, &status, WNOHANG);
  if (r == pid) return false;  // our child, exited and now reaped
  if (r == 0) return true;     // our child, running
  // Not our child (or already reaped): ask the kernel, then look for a zombie.
  if (::kill(pid, 0) != 0 && errno != EPERM) return false;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return true;  // no /proc: trust kill()
  const auto paren = line.rfind(')');
  if (paren == std::string::npos || paren + 2 >= line.size()) return true;
  const char state = line[paren + 2];
  return state != 'Z' && state != 'X';
}

bool cmdline_has_arg(pid_t pid, const std::string& arg) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline", std::ios::binary);
  if (!in) return false;
  std::string item;
  while (std::getline(in, item, '\0')) {
    if (item == arg) return true;
  }
  return false;
}

std::vector<pid_t> find_processes_with_arg(const std::string& arg) {
  std::vector<pid_t> found;
  std::error_code ec;
  for (fs::directory_iterator it("/proc", ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    const auto pid = static_cast<pid_t>(std::stol(name));
    if (pid != ::getpid() && cmdline_has_arg(pid, arg) && process_alive(pid)) found.push_back(pid);
  }
  return found;
}

bool wait_gone(pid_t pid, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (process_alive(pid)) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

bool terminate(pid_t pid, std::chrono::milliseconds grace) {
  if (!process_alive(pid)) return true;
  if (::kill(pid, SIGTERM) != 0 && errno == ESRCH) return wait_gone(pid, 1s);
  if (wait_gone(pid, grace)) return true;
  return kill_now(pid);
}

bool kill_now(pid_t pid) {
  if (!process_alive(pid)) return true;
  ::kill(pid, SIGKILL);
  return wait_gone(pid, 10s);
}

std::optional<pid_t> read_pid_file(const fs::path& file) {
  std::ifstream in(file);
  long long v = 0;
  if (!(in >> v) || v <= 0 || v > 0x3fffffff) return std::nullopt;
  return static_cast<pid_t>(v);
}

Status write_pid_file(const fs::path& file, pid_t pid) {
  return write_text_file(file, std::to_string(pid) + "\n");
}

Result<std::uint16_t> pick_free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return process_error("socket() failed: " + errno_text(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    const int e = errno;
    ::close(fd);
    return process_error("cannot find a free port on 127.0.0.1: " + errno_text(e));
  }
  ::close(fd);
  return static_cast<std::uint16_t>(ntohs(addr.sin_port));
}

bool port_is_free(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return true;  // cannot tell; let Synapse try
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

std::string tail_file(const fs::path& file, std::size_t max_lines) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return {};
  constexpr std::streamoff kWindow = 64 * 1024;
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  if (size <= 0) return {};
  in.seekg(size > kWindow ? size - kWindow : 0);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  while (!text.empty() && text.back() == '\n') text.pop_back();
  std::size_t pos = text.size();
  for (std::size_t lines = 0; lines < max_lines && pos != std::string::npos && pos > 0; ++lines) {
    pos = text.rfind('\n', pos - 1);
  }
  if (pos == std::string::npos || pos == 0) return text;
  return text.substr(pos + 1);
}

Result<FileLock> FileLock::acquire(const fs::path& file) {
  const int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return process_error("cannot open " + file.string() + ": " + errno_text(errno));
  int r = 0;
  do {
    r = ::flock(fd, LOCK_EX);
  } while (r != 0 && errno == EINTR);
  if (r != 0) {
    const int e = errno;
    ::close(fd);
    return process_error("cannot lock " + file.string() + ": " + errno_text(e));
  }
  return FileLock(fd);
}

FileLock::~FileLock() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace mxcall::homeserver::detail
