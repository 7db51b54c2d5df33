// The core's notes (core::note::*) flattened into the CallUpdate apps receive.
#pragma once

#include <optional>

#include "core/call_io.hpp"
#include "mxcall/client.hpp"

namespace mxcall::client {

// `base` carries the call id, room and peer; nullopt for outputs that are not notes.
std::optional<CallUpdate> to_update(const core::CallOutput& out, CallUpdate base);

const char* link_name(core::LinkState l);

}  // namespace mxcall::client
