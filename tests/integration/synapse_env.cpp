#include "integration/synapse_env.hpp"

#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>

#include <gtest/gtest.h>

namespace mxcall::testing {

namespace {

class SynapseEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    char tmpl[] = "/tmp/mxcall-it-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) {
      error_ = "mkdtemp failed";
      ADD_FAILURE() << error_;
      return;
    }
    dir_ = tmpl;
    homeserver::SynapseOptions options;
    options.dir = dir_;
    options.kill_with_parent = true;
    options.overrides = synapse_overrides();
    auto started = homeserver::LocalSynapse::start(options);
    if (!started) {
      error_ = started.error().describe();
      ADD_FAILURE() << "starting the test Synapse in " << dir_ << ": " << error_;
      return;
    }
    synapse_.emplace(std::move(*started));
  }

  void TearDown() override {
    if (synapse_) {
      auto stopped = synapse_->stop();
      if (!stopped) ADD_FAILURE() << "stopping Synapse: " << stopped.error();
      synapse_.reset();
    }
    if (!dir_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
    }
  }

  std::optional<homeserver::LocalSynapse> synapse_;
  std::string error_;
  std::filesystem::path dir_;
};

SynapseEnvironment* g_env = nullptr;

// gtest owns (and deletes) the environment.
[[maybe_unused]] const bool g_registered = [] {
  g_env = new SynapseEnvironment;
  ::testing::AddGlobalTestEnvironment(g_env);
  return true;
}();

}  // namespace

__attribute__((weak)) nlohmann::json synapse_overrides() { return nlohmann::json::object(); }

homeserver::LocalSynapse& synapse() {
  if (g_env == nullptr || !g_env->synapse_) {
    const std::string why = g_env ? g_env->error_ : "environment not registered";
    // FAIL() only returns from void functions; throwing makes gtest fail the current test.
    ADD_FAILURE() << "the test Synapse is not running: " << why;
    throw std::runtime_error("the test Synapse is not running: " + why);
  }
  return *g_env->synapse_;
}

std::string register_unique_user(const std::string& prefix, const std::string& password) {
  static std::atomic<int> counter{0};
  std::string base = prefix;
  for (char& c : base) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const std::string localpart =
      base + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter.fetch_add(1));
  auto user = synapse().register_user(localpart, password);
  if (!user) {
    ADD_FAILURE() << "registering " << localpart << ": " << user.error();
    throw std::runtime_error("registering " + localpart + " failed: " + user.error().describe());
  }
  return *user;
}

}  // namespace mxcall::testing
