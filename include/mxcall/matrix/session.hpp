// Logging in once per device: the session (user, device, access token) is kept in the store,
// and a later start reuses it instead of creating a new device.
#pragma once

#include <string>

#include "mxcall/error.hpp"
#include "mxcall/store.hpp"

namespace mxcall::matrix {

class Api;

// Reuses the stored session if it belongs to this homeserver and user and the server still
// accepts its token (whoami); otherwise logs in with the password and stores the new session
// (dropping the old sync token, which belongs to the old device). Sets api's access token.
Result<store::Session> login_or_restore(Api& api, store::Store& store, const std::string& user,
                                        const std::string& password,
                                        const std::string& device_display_name = "mxcall");

}  // namespace mxcall::matrix
