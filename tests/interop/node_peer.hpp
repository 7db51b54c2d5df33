// A matrix-js-sdk peer (tests/interop/jsdk_peer.mjs) run by node as a child process and driven
// over pipes: one JSON command per line in, one JSON event per line out. Tests wait for events
// with a predicate and a timeout, never with fixed sleeps. The child dies with the test process
// (PR_SET_PDEATHSIG) and is killed when the NodePeer is destroyed.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#ifndef MXCALL_INTEROP_DIR
#error "MXCALL_INTEROP_DIR (the tests/interop directory) must be defined"
#endif

namespace mxcall::testing {

class NodePeer {
 public:
  using Json = nlohmann::json;
  using Pred = std::function<bool(const Json&)>;

  // Spawns the peer and waits for its "ready" event (throws if it never comes). extra_args go
  // to the script after the login arguments (e.g. {"--e2e", "1"}).
  NodePeer(const std::string& homeserver, const std::string& user, const std::string& password,
           std::chrono::milliseconds ready_timeout = std::chrono::seconds(30),
           const std::vector<std::string>& extra_args = {}) {
    ::signal(SIGPIPE, SIG_IGN);  // a dead child must not kill the test on the next write
    int in[2], out[2];
    if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
    const std::string dir = MXCALL_INTEROP_DIR;
    const std::string script = dir + "/jsdk_peer.mjs";
    std::vector<std::string> argv_s{"node", script, "--homeserver", homeserver, "--user", user, "--password", password};
    argv_s.insert(argv_s.end(), extra_args.begin(), extra_args.end());
    std::vector<char*> argv;
    for (auto& a : argv_s) argv.push_back(a.data());
    argv.push_back(nullptr);
    const pid_t parent = ::getpid();
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(127);
      ::dup2(in[0], 0);
      ::dup2(out[1], 1);
      if (::chdir(dir.c_str()) != 0) ::_exit(126);
      ::execvp("node", argv.data());
      ::_exit(127);
    }
    ::close(in[0]);
    ::close(out[1]);
    stdin_ = in[1];
    stdout_ = out[0];
    reader_ = std::thread([this] { read_loop(); });
    auto ready = wait_event([](const Json& e) { return e.value("event", "") == "ready"; }, ready_timeout);
    if (!ready) {
      const std::string why = describe_errors();
      kill_now();
      throw std::runtime_error("the js-sdk peer never became ready" + why);
    }
    user_id_ = ready->value("user_id", "");
    device_id_ = ready->value("device_id", "");
  }

  ~NodePeer() {
    if (pid_ > 0 && !exited()) {
      send({{"cmd", "quit"}});
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, std::chrono::seconds(3), [&] { return eof_; });
    }
    kill_now();
  }
  NodePeer(const NodePeer&) = delete;
  NodePeer& operator=(const NodePeer&) = delete;

  const std::string& user_id() const { return user_id_; }
  const std::string& device_id() const { return device_id_; }

  void send(const Json& command) {
    const std::string line = command.dump() + "\n";
    std::lock_guard lock(write_mu_);
    std::size_t off = 0;
    while (off < line.size()) {
      const ssize_t n = ::write(stdin_, line.data() + off, line.size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;  // the child is gone; waits will time out and say so
      off += static_cast<std::size_t>(n);
    }
  }

  // Index of the next event to arrive: pass it to wait_event to ignore everything before.
  std::size_t mark() {
    std::lock_guard lock(mu_);
    return events_.size();
  }

  // The first event at or after `since` matching pred.
  std::optional<Json> wait_event(const Pred& pred, std::chrono::milliseconds timeout = std::chrono::seconds(30),
                                 std::size_t since = 0) {
    std::unique_lock lock(mu_);
    std::optional<Json> found;
    cv_.wait_for(lock, timeout, [&] {
      for (std::size_t i = since; i < events_.size(); ++i)
        if (pred(events_[i])) {
          found = events_[i];
          return true;
        }
      return eof_;
    });
    return found;
  }
  // The first event named `name` (optionally for call_id) at or after `since`.
  std::optional<Json> wait_named(const std::string& name, std::size_t since, const std::string& call_id = {},
                                 std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    return wait_event(
        [&](const Json& e) {
          return e.value("event", "") == name && (call_id.empty() || e.value("call_id", "") == call_id);
        },
        timeout, since);
  }

  // Sends a command and waits for its "ok" (returned) or "error" (nullopt, recorded).
  std::optional<Json> command(const Json& cmd, std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    const std::size_t since = mark();
    const std::string name = cmd.value("cmd", "");
    send(cmd);
    auto reply = wait_event(
        [&](const Json& e) {
          const std::string ev = e.value("event", "");
          return (ev == "ok" || ev == "error") && e.value("cmd", "") == name;
        },
        timeout, since);
    if (!reply || reply->value("event", "") != "ok") {
      last_error_ = reply ? reply->dump() : "no reply to " + cmd.dump() + describe_errors();
      return std::nullopt;
    }
    return reply;
  }
  const std::string& last_error() const { return last_error_; }

  // {"event":"stats",...} of the current call.
  std::optional<Json> stats(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    const std::size_t since = mark();
    send({{"cmd", "stats"}});
    return wait_named("stats", since, {}, timeout);
  }
  // Polls stats until pred holds; returns the last stats seen.
  std::optional<Json> wait_stats(const Pred& pred, std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    std::optional<Json> last;
    while (std::chrono::steady_clock::now() < until) {
      last = stats();
      if (last && pred(*last)) return last;
      std::unique_lock lock(mu_);
      if (eof_) break;
      cv_.wait_for(lock, std::chrono::milliseconds(100));
    }
    return last;
  }

  std::vector<Json> events() {
    std::lock_guard lock(mu_);
    return events_;
  }
  bool exited() {
    std::lock_guard lock(mu_);
    return eof_;
  }

 private:
  void read_loop() {
    std::string buf;
    char chunk[4096];
    for (;;) {
      const ssize_t n = ::read(stdout_, chunk, sizeof chunk);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      buf.append(chunk, static_cast<std::size_t>(n));
      std::size_t nl;
      while ((nl = buf.find('\n')) != std::string::npos) {
        std::string line = buf.substr(0, nl);
        buf.erase(0, nl + 1);
        if (line.empty()) continue;
        Json j = Json::parse(line, nullptr, false);
        if (j.is_discarded()) j = Json{{"event", "garbage"}, {"line", line}};
        std::lock_guard lock(mu_);
        events_.push_back(std::move(j));
        cv_.notify_all();
      }
    }
    std::lock_guard lock(mu_);
    eof_ = true;
    cv_.notify_all();
  }

  std::string describe_errors() {
    std::lock_guard lock(mu_);
    std::string s;
    for (const auto& e : events_)
      if (e.value("event", "") == "error") s += "\n  " + e.dump();
    if (eof_) s += "\n  (the node process exited: is node on PATH, and did scripts/setup install tests/interop/node_modules?)";
    return s;
  }

  void kill_now() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
      pid_ = -1;
    }
    if (stdin_ >= 0) {
      ::close(stdin_);
      stdin_ = -1;
    }
    if (reader_.joinable()) reader_.join();
    if (stdout_ >= 0) {
      ::close(stdout_);
      stdout_ = -1;
    }
  }

  pid_t pid_ = -1;
  int stdin_ = -1;
  int stdout_ = -1;
  std::thread reader_;
  std::mutex write_mu_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Json> events_;
  bool eof_ = false;
  std::string user_id_, device_id_, last_error_;
};

}  // namespace mxcall::testing
