#include "client/call_updates.hpp"

#include "util/overloaded.hpp"

namespace mxcall::client {

using util::overloaded;

const char* link_name(core::LinkState l) {
  switch (l) {
    case core::LinkState::Up: return "up";
    case core::LinkState::Disconnected: return "disconnected";
    case core::LinkState::Restarting: return "restarting";
  }
  return "?";
}

std::optional<CallUpdate> to_update(const core::CallOutput& out, CallUpdate u) {
  using K = CallUpdate::Kind;
  return std::visit(
      overloaded{
          [&](const core::note::Incoming& in) -> std::optional<CallUpdate> {
            u.kind = K::Incoming;
            u.peer = in.caller;
            u.video = in.video_offered;
            return u;
          },
          [&](const core::note::StateChanged& s) -> std::optional<CallUpdate> {
            u.kind = K::State;
            u.state = core::to_string(s.state);
            return u;
          },
          [&](const core::note::Connected& c) -> std::optional<CallUpdate> {
            u.kind = K::Connected;
            u.setup = c.setup;
            return u;
          },
          [&](const core::note::FirstMedia& f) -> std::optional<CallUpdate> {
            u.kind = K::FirstMedia;
            u.media_kind = f.kind;
            u.setup = f.since_start;
            return u;
          },
          [&](const core::note::RemoteMetadata& m) -> std::optional<CallUpdate> {
            u.kind = K::RemoteMetadata;
            for (const auto& [stream, meta] : m.metadata)
              if (meta.purpose == media::StreamPurpose::UserMedia) {
                u.audio_muted = meta.audio_muted;
                u.video_muted = meta.video_muted;
              }
            return u;
          },
          [&](const core::note::RemoteHold& h) -> std::optional<CallUpdate> {
            u.kind = K::RemoteHold;
            u.on_hold = h.on_hold;
            return u;
          },
          [&](const core::note::RemoteTrack& t) -> std::optional<CallUpdate> {
            u.kind = K::RemoteTrack;
            u.media_kind = t.kind;
            u.screenshare = t.purpose == media::StreamPurpose::ScreenShare;
            return u;
          },
          [&](const core::note::RemoteTrackRemoved& t) -> std::optional<CallUpdate> {
            u.kind = K::RemoteTrackRemoved;
            u.media_kind = t.kind;
            u.screenshare = t.purpose == media::StreamPurpose::ScreenShare;
            return u;
          },
          [&](const core::note::Dtmf& d) -> std::optional<CallUpdate> {
            u.kind = K::Dtmf;
            u.digit = d.digit;
            return u;
          },
          [&](const core::note::LinkChanged& l) -> std::optional<CallUpdate> {
            u.kind = K::Link;
            u.link = link_name(l.link);
            return u;
          },
          [&](const core::note::Ended& e) -> std::optional<CallUpdate> {
            u.kind = K::Ended;
            u.reason = e.reason;
            u.by_remote = e.by_remote;
            return u;
          },
          [](const auto&) -> std::optional<CallUpdate> { return std::nullopt; },
      },
      out);
}

}  // namespace mxcall::client
