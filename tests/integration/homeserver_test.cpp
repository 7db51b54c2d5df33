// The local Synapse: readiness, shared-secret registration, attach, kill/restart, stop.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <string>
#include <system_error>

#include <gtest/gtest.h>

#include "integration/synapse_env.hpp"
#include "matrix/curl_http_client.hpp"

namespace hs = mxcall::homeserver;
using mxcall::testing::synapse;
using nlohmann::json;

namespace {

std::string unique(const std::string& prefix) {
  static int n = 0;
  return prefix + "_" + std::to_string(::getpid()) + "_" + std::to_string(n++);
}

mxcall::matrix::HttpResponse login(const std::string& base_url, const std::string& user,
                                   const std::string& password) {
  mxcall::matrix::CurlHttpClient http;
  mxcall::matrix::HttpRequest req;
  req.method = mxcall::matrix::HttpMethod::Post;
  req.url = base_url + "/_matrix/client/v3/login";
  req.body = json{{"type", "m.login.password"},
                  {"identifier", {{"type", "m.id.user"}, {"user", user}}},
                  {"password", password}}
                 .dump();
  return http.perform(req);
}

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/mxcall-it-hs-XXXXXX";
    if (::mkdtemp(tmpl) != nullptr) path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

bool pid_gone(pid_t pid) { return ::kill(pid, 0) != 0 && errno == ESRCH; }

// Listens on 127.0.0.1:port (as another program would) until destroyed.
class PortSquatter {
 public:
  explicit PortSquatter(std::uint16_t port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    listening_ = fd_ >= 0 && ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
                 ::listen(fd_, 1) == 0;
  }
  ~PortSquatter() {
    if (fd_ >= 0) ::close(fd_);
  }
  PortSquatter(const PortSquatter&) = delete;
  PortSquatter& operator=(const PortSquatter&) = delete;
  bool listening() const { return listening_; }

 private:
  int fd_;
  bool listening_ = false;
};

}  // namespace

TEST(Homeserver, VersionsAnswerOnLoopback) {
  auto& s = synapse();
  EXPECT_EQ(s.base_url(), "http://127.0.0.1:" + std::to_string(s.port()));
  EXPECT_EQ(s.server_name(), "localhost");
  mxcall::matrix::CurlHttpClient http;
  mxcall::matrix::HttpRequest req;
  req.url = s.base_url() + "/_matrix/client/versions";
  const auto resp = http.perform(req);
  ASSERT_EQ(resp.outcome, mxcall::matrix::HttpOutcome::Ok) << resp.error_text;
  EXPECT_EQ(resp.status, 200);
  const json body = json::parse(resp.body, nullptr, false);
  ASSERT_TRUE(body.is_object());
  EXPECT_TRUE(body["versions"].is_array());
}

TEST(Homeserver, RegisterReturnsFullUserId) {
  const std::string name = unique("alice");
  auto user = synapse().register_user(name, "pw");
  ASSERT_TRUE(user.ok()) << user.error();
  EXPECT_EQ(*user, "@" + name + ":localhost");
  const auto resp = login(synapse().base_url(), name, "pw");
  EXPECT_EQ(resp.status, 200) << resp.body;

  const std::string admin = mxcall::testing::register_unique_user("Admin");
  EXPECT_EQ(admin.rfind("@admin_", 0), 0u) << admin;
}

TEST(Homeserver, RegisteringTwiceIsUserInUse) {
  const std::string name = unique("bob");
  ASSERT_TRUE(synapse().register_user(name, "pw").ok());
  auto again = synapse().register_user(name, "pw");
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().kind, mxcall::ErrorKind::Matrix);
  EXPECT_EQ(again.error().errcode, "M_USER_IN_USE");
  EXPECT_EQ(again.error().http_status, 400);
}

TEST(Homeserver, SecondStartAttaches) {
  auto& s = synapse();
  hs::SynapseOptions options;
  options.dir = s.dir();
  options.kill_with_parent = true;
  options.overrides = mxcall::testing::synapse_overrides();
  auto again = hs::LocalSynapse::start(options);
  ASSERT_TRUE(again.ok()) << again.error();
  EXPECT_TRUE(again->reused());
  EXPECT_EQ(again->pid(), s.pid());
  EXPECT_EQ(again->port(), s.port());
  EXPECT_EQ(again->base_url(), s.base_url());

  auto attached = hs::LocalSynapse::attach(s.dir());
  ASSERT_TRUE(attached.ok()) << attached.error();
  EXPECT_EQ(attached->pid(), s.pid());
  // The attached handle knows the shared secret too.
  auto user = attached->register_user(unique("carol"), "pw");
  EXPECT_TRUE(user.ok()) << user.error();
}

TEST(Homeserver, StatusReportsRunning) {
  auto& s = synapse();
  EXPECT_TRUE(s.alive());
  auto st = hs::LocalSynapse::status(s.dir());
  ASSERT_TRUE(st.ok()) << st.error();
  EXPECT_TRUE(st->running);
  EXPECT_EQ(st->pid, s.pid());
  EXPECT_EQ(st->port, s.port());
  EXPECT_EQ(st->base_url, s.base_url());
}

TEST(Homeserver, KillThenRestartKeepsDatabaseAndPort) {
  auto& s = synapse();
  const std::string name = unique("dave");
  ASSERT_TRUE(s.register_user(name, "secret").ok());
  // A live keep-alive connection to the old server must not block the port.
  EXPECT_EQ(login(s.base_url(), name, "secret").status, 200);

  const pid_t old_pid = s.pid();
  const auto old_port = s.port();
  ASSERT_TRUE(s.kill().ok());
  EXPECT_FALSE(s.alive());
  EXPECT_TRUE(pid_gone(old_pid));
  auto st = hs::LocalSynapse::status(s.dir());
  ASSERT_TRUE(st.ok());
  EXPECT_FALSE(st->running);

  auto restarted = s.restart();
  ASSERT_TRUE(restarted.ok()) << restarted.error();
  EXPECT_TRUE(s.alive());
  EXPECT_NE(s.pid(), old_pid);
  EXPECT_EQ(s.port(), old_port);
  const auto resp = login(s.base_url(), name, "secret");
  EXPECT_EQ(resp.status, 200) << resp.body;
  EXPECT_EQ(login(s.base_url(), name, "wrong").status, 403);
}

TEST(Homeserver, SeparateInstanceStopsAndIsGone) {
  TempDir tmp;
  ASSERT_FALSE(tmp.path().empty());
  hs::SynapseOptions options;
  options.dir = tmp.path() / "hs";  // created by start()
  options.kill_with_parent = true;
  auto other = hs::LocalSynapse::start(options);
  ASSERT_TRUE(other.ok()) << other.error();
  EXPECT_FALSE(other->reused());
  EXPECT_NE(other->port(), synapse().port());
  EXPECT_NE(other->pid(), synapse().pid());
  EXPECT_TRUE(std::filesystem::exists(options.dir / "homeserver.pid"));
  EXPECT_TRUE(std::filesystem::exists(options.dir / "homeserver.log"));

  const pid_t pid = other->pid();
  ASSERT_TRUE(hs::LocalSynapse::stop(options.dir).ok());
  EXPECT_TRUE(pid_gone(pid));
  EXPECT_FALSE(other->alive());
  EXPECT_FALSE(std::filesystem::exists(options.dir / "homeserver.pid"));
  auto st = hs::LocalSynapse::status(options.dir);
  ASSERT_TRUE(st.ok()) << st.error();
  EXPECT_FALSE(st->running);
  EXPECT_EQ(st->port, other->port());
  EXPECT_TRUE(other->stop().ok());  // stopping twice is fine
  EXPECT_FALSE(hs::LocalSynapse::attach(options.dir).ok());
  // The fixture's server is untouched.
  EXPECT_TRUE(synapse().alive());
}

TEST(Homeserver, StartAgainKeepsDatabaseAndMovesOffATakenPort) {
  TempDir tmp;
  ASSERT_FALSE(tmp.path().empty());
  hs::SynapseOptions options;
  options.dir = tmp.path();
  options.kill_with_parent = true;
  auto first = hs::LocalSynapse::start(options);
  ASSERT_TRUE(first.ok()) << first.error();
  const std::string name = unique("erin");
  ASSERT_TRUE(first->register_user(name, "pw").ok());
  ASSERT_TRUE(first->stop().ok());

  // Another program took the kept port meanwhile: a new port, the same database.
  PortSquatter squatter(first->port());
  ASSERT_TRUE(squatter.listening());
  auto second = hs::LocalSynapse::start(options);
  ASSERT_TRUE(second.ok()) << second.error();
  EXPECT_FALSE(second->reused());
  EXPECT_NE(second->port(), first->port());
  EXPECT_EQ(login(second->base_url(), name, "pw").status, 200);
  auto again = second->register_user(name, "pw");
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().errcode, "M_USER_IN_USE");
  EXPECT_TRUE(second->stop().ok());
}

TEST(Homeserver, BadConfigFailsWithLogTail) {
  TempDir tmp;
  ASSERT_FALSE(tmp.path().empty());
  hs::SynapseOptions options;
  options.dir = tmp.path();
  options.kill_with_parent = true;
  options.overrides = json{{"max_event_delay_duration", "-5s"}};
  auto bad = hs::LocalSynapse::start(options);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().kind, mxcall::ErrorKind::Process);
  EXPECT_NE(bad.error().message.find("exited during startup"), std::string::npos) << bad.error();
  EXPECT_NE(bad.error().message.find("max_event_delay_duration"), std::string::npos) << bad.error();
  EXPECT_FALSE(std::filesystem::exists(tmp.path() / "homeserver.pid"));
}
