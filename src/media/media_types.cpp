// Names for the media layer's enums (logs, tests) and the peer an event is about.
#include "mxcall/media.hpp"

namespace mxcall::media {

const char* to_string(MediaKind k) { return k == MediaKind::Audio ? "audio" : "video"; }

const char* to_string(SdpType t) { return t == SdpType::Offer ? "offer" : "answer"; }

const char* to_string(IceState s) {
  switch (s) {
    case IceState::New: return "new";
    case IceState::Checking: return "checking";
    case IceState::Connected: return "connected";
    case IceState::Completed: return "completed";
    case IceState::Failed: return "failed";
    case IceState::Disconnected: return "disconnected";
    case IceState::Closed: return "closed";
  }
  return "unknown";
}

PeerId peer_of(const MediaEvent& e) {
  return std::visit([](const auto& ev) { return ev.peer; }, e);
}

}  // namespace mxcall::media
