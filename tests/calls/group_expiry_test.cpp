// A participant that dies without leaving: the command line (`mxcall group`, a separate
// process with a short member lifetime) joins a call with two in-process participants and is
// killed with SIGKILL. Its member entry is never removed, so the others drop it when the entry
// expires: ParticipantLeft "expired", its peer call ended, and no call to it again.
// Real Synapse, olm and webrtcbin in a loopback-only network namespace.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <cstdio>

#include "calls/group_fixture.hpp"

extern char** environ;

namespace mxcall::testing {
namespace {

using GKind = GroupUpdate::Kind;

// A child process killed (SIGKILL) when this goes out of scope, unless already reaped.
class Child {
 public:
  Child(const std::vector<std::string>& argv, const std::filesystem::path& output) {
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, output.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    if (posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
  }
  ~Child() { kill9(); }
  bool running() const { return pid_ > 0; }
  // SIGKILL and reap; returns the wait status.
  int kill9() {
    if (pid_ <= 0) return 0;
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return status;
  }

 private:
  pid_t pid_ = -1;
};

std::string slurp(const std::filesystem::path& p) {
  std::FILE* f = std::fopen(p.c_str(), "r");
  if (!f) return {};
  std::string out;
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, f)) out.append(buf, n);
  std::fclose(f);
  return out;
}

TEST(GroupExpiry, AKilledParticipantExpiresAndIsNotCalledAgain) {
  auto log = LogWatch::install({"attempt", "gave up calling"});
  {
    Party a("xgamma", true), b("xbeta", true);
    const std::string cli_user = register_unique_user("xcli", "pw");
    const std::string room = make_call_room(a, {&b}, {cli_user});
    auto conf = a.client().join_group_call(room);
    ASSERT_TRUE(conf.ok()) << conf.error();
    ASSERT_TRUE(wait_sees_call(b, room, *conf));
    ASSERT_TRUE(b.client().join_group_call(room).ok());
    for (Party* p : {&a, &b}) ASSERT_TRUE(wait_connected_to(*p, 1)) << p->user_id();

    // The command line joins the room (auto-join), then the running call, with a member
    // lifetime of 6 s (refreshed every 4.5 s while it lives).
    const auto dir = std::filesystem::temp_directory_path() / ("mxcall-expiry-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const auto output = dir / "cli.log";
    Child cli({MXCALL_CLI_BINARY, "group", "--homeserver", synapse().base_url(), "--user", cli_user, "--password", "pw",
               "--store", (dir / "cli.db").string(), "--room", room, "--duration", "300", "--member-lifetime", "6",
               "--json"},
              output);
    ASSERT_TRUE(cli.running());
    std::string cli_device;
    for (Party* p : {&a, &b}) {
      ASSERT_TRUE(p->wait_group([&](const auto& us) {
        for (const auto& u : us)
          if (u.kind == GKind::PeerConnected && u.user_id == cli_user) return true;
        return false;
      })) << p->user_id() << " never connected to the command line; its output:\n" << slurp(output);
      cli_device = device_of(*p, cli_user);
      ASSERT_FALSE(cli_device.empty());
      EXPECT_TRUE(wait_peer_audio(*p, room, cli_user, cli_device, 0, 25)) << p->user_id() << ": no audio with the CLI";
    }

    // SIGKILL: no hangup, no member event update. The entry expires within 6 s of its last
    // refresh; the others then drop the device.
    std::map<Party*, std::size_t> mark;
    for (Party* p : {&a, &b}) mark[p] = p->group_updates().size();
    const auto killed_at = std::chrono::steady_clock::now();
    const int status = cli.kill9();
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "the CLI was not running any more: "
                                                                    << slurp(output);
    for (Party* p : {&a, &b}) {
      std::string reason;
      ASSERT_TRUE(p->wait_group([&](const auto& us) {
        for (std::size_t i = mark[p]; i < us.size(); ++i)
          if (us[i].kind == GKind::ParticipantLeft && us[i].user_id == cli_user) {
            reason = us[i].reason;
            return true;
          }
        return false;
      }, std::chrono::seconds(30))) << p->user_id() << " never dropped the killed participant";
      EXPECT_EQ(reason, "expired") << p->user_id();
      EXPECT_TRUE(p->wait_group([&](const auto& us) {
        for (std::size_t i = mark[p]; i < us.size(); ++i)
          if (us[i].kind == GKind::PeerEnded && us[i].user_id == cli_user) return true;
        return false;
      })) << p->user_id() << ": the peer call with the killed participant did not end";
      std::printf("[expiry] %s dropped the killed participant %lld ms after SIGKILL\n", p->user_id().c_str(),
                  static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                             std::chrono::steady_clock::now() - killed_at)
                                             .count()));
    }

    // Not called again: once the hangup to the dead device is out, over more than one retry
    // interval (5 s), neither sends a to-device message (their own pair is settled) nor logs a
    // retry for the dead device.
    std::map<Party*, ClientStats> quiet;
    for (Party* p : {&a, &b}) quiet[p] = settled(*p);
    const std::size_t retries = log->count({cli_user});
    std::this_thread::sleep_for(std::chrono::seconds(6));
    for (Party* p : {&a, &b}) {
      EXPECT_EQ(p->client().stats().to_device_messages, quiet[p].to_device_messages)
          << p->user_id() << " still sends to-device messages after the participant expired";
      auto s = p->client().group_summary(room);
      ASSERT_TRUE(s);
      for (const auto& peer : s->peers)
        if (peer.user_id != cli_user) {
          EXPECT_TRUE(wait_peer_audio(*p, room, peer.user_id, peer.device_id, peer.stats.audio.packets_received, 20,
                                      peer.call_id))
              << p->user_id() << ": audio with " << peer.user_id << " stopped";
        }
    }
    EXPECT_EQ(log->count({cli_user}), retries) << "a retry towards the expired device was logged";
    std::printf("[expiry] retry lines for the killed device before it expired: %zu\n", retries);
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  LogWatch::uninstall(log);
}

}  // namespace
}  // namespace mxcall::testing
