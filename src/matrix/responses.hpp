// Answers of the client-server API that are more than one field, read as untrusted values:
// what a homeserver (or something pretending to be one) sends is checked before use.
#pragma once

#include <optional>

#include "mxcall/error.hpp"
#include "mxcall/matrix/types.hpp"

namespace mxcall::matrix {

// POST /login. user_id must be a user id; device_id and access_token non-empty, printable and
// bounded (the token goes into an Authorization header, the device id into every call event).
Result<LoginResponse> parse_login_response(const Json& body);

// GET /voip/turnServer. nullopt when the server has no TURN (no or empty uris, as Synapse).
// URIs with whitespace or control characters are left out; none left, or no username,
// password or positive ttl, is an error.
Result<std::optional<TurnServer>> parse_turn_server(const Json& body);

}  // namespace mxcall::matrix
