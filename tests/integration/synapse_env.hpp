// One real Synapse per integration-test binary: started before the first test on a free port
// in a fresh temporary directory, torn down after the last one (and killed with the test
// process if it dies).
#pragma once

#include <string>

#include "mxcall/homeserver.hpp"

namespace mxcall::testing {

// The running Synapse of this test binary. Fails the test (FAIL()) if it could not start.
homeserver::LocalSynapse& synapse();

// Registers a fresh user whose localpart starts with prefix; returns the full user id.
std::string register_unique_user(const std::string& prefix, const std::string& password = "pw");

// Overrides merged into the config before the binary's Synapse starts. A test binary that
// needs other settings (tight rate limits) defines this symbol; the default returns {}.
nlohmann::json synapse_overrides();

}  // namespace mxcall::testing
