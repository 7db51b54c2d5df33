// Synapse's shared-secret registration admin API (/_synapse/admin/v1/register).
#pragma once

#include <string>

#include "mxcall/error.hpp"
#include "mxcall/matrix/http.hpp"

namespace mxcall::homeserver::detail {

// Lower-case hex HMAC-SHA1, keyed with the shared secret, over
// nonce \0 username \0 password \0 ("admin" | "notadmin").
std::string registration_mac(const std::string& shared_secret, const std::string& nonce,
                             const std::string& username, const std::string& password, bool admin);

// Turns a non-2xx answer (or a transport failure) into an Error. The body may be anything.
Error error_from_response(const matrix::HttpResponse& response, const std::string& what);

// Fetches a nonce and registers; returns the new user's full id.
Result<std::string> register_with_shared_secret(matrix::HttpClient& http, const std::string& base_url,
                                                const std::string& shared_secret,
                                                const std::string& localpart,
                                                const std::string& password, bool admin);

}  // namespace mxcall::homeserver::detail
