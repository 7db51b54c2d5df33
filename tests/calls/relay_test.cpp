// A relay-only call: both Clients take TURN credentials from Synapse's /voip/turnServer and
// may use only relay candidates, so every media packet goes through a real coturn.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "calls/call_fixture.hpp"

namespace mxcall::testing {

namespace {
constexpr int kTurnPort = 3478;  // the test runs in its own network namespace
constexpr const char* kTurnSecret = "mxcall-relay-test";
constexpr int kTurnLifetimeS = 15;
}  // namespace

nlohmann::json synapse_overrides() {
  return {{"turn_uris", {"turn:127.0.0.1:" + std::to_string(kTurnPort) + "?transport=udp"}},
          {"turn_shared_secret", kTurnSecret},
          // Short, so the refresh test sees the first credentials expire.
          {"turn_user_lifetime", std::to_string(kTurnLifetimeS) + "s"}};
}

namespace {

using Kind = CallUpdate::Kind;

// coturn on 127.0.0.1, killed with the test process.
class Coturn {
 public:
  Coturn() {
    log_ = std::filesystem::temp_directory_path() / ("mxcall-coturn-" + std::to_string(::getpid()) + ".log");
    pid_ = ::fork();
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      const std::string port = "--listening-port=" + std::to_string(kTurnPort);
      const std::string secret = std::string("--static-auth-secret=") + kTurnSecret;
      const std::string log = "--log-file=" + log_.string();
      ::execlp("turnserver", "turnserver", "-n", "--listening-ip=127.0.0.1", "--relay-ip=127.0.0.1", port.c_str(),
               "--use-auth-secret", secret.c_str(), "--realm=localhost", "--no-tls", "--no-dtls", "--no-cli",
               "--allow-loopback-peers", "--no-stdout-log", log.c_str(), "--simple-log", "--verbose",
               "--min-port=49152", "--max-port=49300", static_cast<char*>(nullptr));
      ::_exit(127);
    }
  }
  ~Coturn() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    std::error_code ec;
    std::filesystem::remove(log_, ec);
  }
  // Waits until coturn listens on its UDP port (read from /proc/net/udp).
  bool wait_listening(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    char hex[8];
    std::snprintf(hex, sizeof hex, ":%04X", kTurnPort);
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < until) {
      std::ifstream udp("/proc/net/udp");
      std::string line;
      while (std::getline(udp, line))
        if (line.find(std::string("0100007F") + hex) != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));  // polling a file, no event to wait on
    }
    return false;
  }
  std::string log() const {
    std::ifstream in(log_);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

 private:
  pid_t pid_ = -1;
  std::filesystem::path log_;
};

std::size_t count(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1)) ++n;
  return n;
}

TEST(Relay, RelayOnlyCallFlowsThroughCoturnWithCredentialsFromTheHomeserver) {
  Coturn turn;
  ASSERT_TRUE(turn.wait_listening()) << "coturn did not start (is the coturn package installed?)";
  auto relay = [](ClientOptions& o) { o.relay_only = true; };
  Party alice("alice", false, relay);
  Party bob("bob", true, relay);
  auto id = alice.client().place_call(bob.user_id(), false);
  ASSERT_TRUE(id.ok()) << id.error();
  ASSERT_TRUE(bob.wait_call(*id, Kind::Incoming));
  ASSERT_TRUE(bob.client().answer(*id).ok());
  ASSERT_TRUE(alice.wait_call(*id, Kind::Connected)) << "no relayed connection; coturn log:\n" << turn.log();
  ASSERT_TRUE(bob.wait_call(*id, Kind::Connected));
  EXPECT_TRUE(alice.wait_audio(*id, 50));
  EXPECT_TRUE(bob.wait_audio(*id, 50));
  const std::string log = turn.log();
  // Both sides allocated a relay with the homeserver's credentials, and media went through it.
  EXPECT_GE(count(log, "ALLOCATE processed, success"), 2u) << log;
  EXPECT_GE(count(log, "CHANNEL_BIND processed, success") + count(log, "CREATE_PERMISSION processed, success"), 1u) << log;
  ASSERT_TRUE(alice.client().hangup(*id).ok());
  EXPECT_TRUE(bob.wait_call(*id, Kind::Ended));
}

// coturn names each credential "<expiry unix seconds>:<user id>"; the expiries it saw in
// successful allocations, in log order.
std::vector<long long> allocation_expiries(const std::string& log) {
  std::vector<long long> out;
  std::istringstream in(log);
  for (std::string line; std::getline(in, line);) {
    if (line.find("ALLOCATE processed, success") == std::string::npos) continue;
    const auto user = line.find("user <");
    if (user == std::string::npos) continue;
    out.push_back(std::atoll(line.c_str() + user + 6));
  }
  return out;
}

// Credentials from /voip/turnServer expire after kTurnLifetimeS; the Client fetches new ones
// before that, so a relay-only call placed after the first ones expired still connects
// (coturn refuses an expired username, so with stale credentials it could not).
TEST(Relay, CredentialsAreRefreshedBeforeTheyExpire) {
  Coturn turn;
  ASSERT_TRUE(turn.wait_listening());
  auto relay = [](ClientOptions& o) { o.relay_only = true; };
  Party alice("alice", false, relay);
  Party bob("bob", true, relay);
  const auto started = std::chrono::steady_clock::now();

  auto first = alice.client().place_call(bob.user_id(), false);
  ASSERT_TRUE(first.ok()) << first.error();
  ASSERT_TRUE(bob.wait_call(*first, Kind::Incoming));
  ASSERT_TRUE(bob.client().answer(*first).ok());
  ASSERT_TRUE(alice.wait_call(*first, Kind::Connected)) << turn.log();
  ASSERT_TRUE(alice.client().hangup(*first).ok());
  ASSERT_TRUE(bob.wait_call(*first, Kind::Ended));

  // Let the first credentials run out (not a timing assertion: the point is that time passes).
  std::this_thread::sleep_until(started + std::chrono::seconds(kTurnLifetimeS + 2));

  auto second = alice.client().place_call(bob.user_id(), false);
  ASSERT_TRUE(second.ok()) << second.error();
  ASSERT_TRUE(bob.wait_call(*second, Kind::Incoming));
  ASSERT_TRUE(bob.client().answer(*second).ok());
  ASSERT_TRUE(alice.wait_call(*second, Kind::Connected)) << "no relay with refreshed credentials:\n" << turn.log();
  EXPECT_TRUE(bob.wait_audio(*second, 20));
  EXPECT_TRUE(alice.wait_audio(*second, 20));

  // The second call's allocations used credentials that expire later than the first ones.
  const auto expiries = allocation_expiries(turn.log());
  ASSERT_GE(expiries.size(), 4u) << turn.log();
  EXPECT_GT(expiries.back(), expiries.front()) << turn.log();
  ASSERT_TRUE(alice.client().hangup(*second).ok());
}

}  // namespace
}  // namespace mxcall::testing
