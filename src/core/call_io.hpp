// What goes into a 1:1 call machine and what comes out of it. Inputs: remote signalling,
// media events, local commands, send failures, and time. Outputs: signalling to send, media
// operations to perform, and notifications for the app.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/clock.hpp"
#include "events/call_events.hpp"
#include "mxcall/media.hpp"

namespace mxcall::core {

enum class CallDirection { Outbound, Inbound };

// Explicit protocol states; see call.cpp for the transition table.
enum class CallState {
  CreatingOffer,   // outbound: peer made, local offer being created (nothing sent yet)
  InviteSent,      // outbound: invite out, waiting for an answer
  Ringing,         // inbound: valid invite, remote offer applied, waiting for the user
  CreatingAnswer,  // inbound: the user answered, local answer being created
  Connecting,      // offer/answer exchanged, ICE + DTLS not up yet
  Connected,       // media path up (may be recovering, see LinkState)
  Ended,
};
const char* to_string(CallState s);

// Renegotiation (m.call.negotiate) as perfect negotiation sees it.
enum class Signaling { Stable, CreatingOffer, HaveLocalOffer, ApplyingRemoteOffer, CreatingAnswer };
const char* to_string(Signaling s);

// The media path once a call has been connected.
enum class LinkState { Up, Disconnected, Restarting };

enum class CallTimer : std::size_t {
  InviteLifetime,   // outbound: no answer in time -> invite_timeout
  RingDeadline,     // inbound: the invite expired while ringing
  ConnectTimeout,   // never got connected after the answer
  IceGrace,         // disconnected for this long -> ICE restart
  IceRecovery,      // restart did not bring the path back -> ice_failed
  NegotiateTimeout, // our m.call.negotiate offer was not answered within its lifetime
  GatherWait,       // a local description waits this long for candidates to ride in it
  Count_,
};
const char* to_string(CallTimer t);

struct CallConfig {
  std::string room_id;
  std::string own_user_id;
  std::string own_party_id;  // the device id, as js-sdk and Hydrogen do
  // A peer call of a mesh (to-device signalling): the opponent is one device, which may belong
  // to our own user, so only our own party id (not our user id) marks a message as ours.
  bool to_device = false;
  Duration invite_lifetime{60'000};
  Duration negotiate_lifetime{60'000};
  Duration ring_grace{3'000};            // do not ring for an invite with less left
  Duration connect_timeout{30'000};      // answer exchanged but ICE never connected
  Duration ice_grace{2'000};             // disconnected -> restart after this
  Duration ice_recovery{15'000};         // restart -> give up (ice_failed) after this
  // A local description is sent once ICE gathering completes (candidates then ride in the SDP
  // and need no hop of their own) or after this long, whichever is first. js-sdk waits 200 ms.
  Duration gather_wait{150};
  media::PeerConfig peer;                // ICE servers come from /voip/turnServer
  // Not empty: our streams are encoded once for every call with the same key (the peer calls
  // of a group call), an opaque key per local stream derived from it (TrackSpec::shared_source).
  std::string shared_source;
  int audio_frame_ms = 20;               // Opus frame length of our tracks (shared sources)
};

// ---- inputs ----
struct RemoteSignal {
  std::string sender;
  events::CallEvent event;
  std::optional<std::int64_t> age_ms;  // room events carry unsigned.age
};

namespace cmd {
struct Answer { bool video = false; };
struct Reject {};
struct Hangup { std::string reason = "user_hangup"; };
struct SetMuted { media::MediaKind kind; bool muted; };
struct SetHold { bool on_hold; };
struct SetVideo { bool enabled; };        // add or remove the camera mid-call
struct SetScreenShare { bool enabled; };  // an m.screenshare stream
struct SendDtmf { std::string digits; };
struct RestartIce {};
}  // namespace cmd

// A signalling send that failed for good (after the transport's own retries).
struct SendFailed { std::string event_type; Error error; };
struct Tick {};

using CallInput = std::variant<RemoteSignal, media::MediaEvent, cmd::Answer, cmd::Reject, cmd::Hangup,
                               cmd::SetMuted, cmd::SetHold, cmd::SetVideo, cmd::SetScreenShare,
                               cmd::SendDtmf, cmd::RestartIce, SendFailed, Tick>;

// ---- outputs ----
struct SendSignal { std::string room_id; events::CallEvent event; };

namespace op {  // media operations on this call's peer (the driver maps the call to its PeerId)
struct CreatePeer { media::PeerConfig config; };
struct AddTrack { media::TrackSpec track; };
struct RemoveTrack { std::string track_id; };
struct CreateOffer { media::OfferOptions options; };
struct CreateAnswer {};
struct SetRemoteDescription { media::SessionDescription description; };
struct AddRemoteCandidates { std::vector<media::IceCandidate> candidates; };
struct SetTrackMuted { std::string track_id; bool muted; };
struct SetLocalHold { bool on_hold; };
struct SendDtmf { std::string digits; };
struct ClosePeer {};
}  // namespace op

namespace note {  // for the app
// A new inbound call that rings (emitted by the CallRegistry once a whole batch was handled,
// so an invite whose hangup came in the same batch never rings).
struct Incoming { std::string room_id; std::string caller; bool video_offered; };
struct StateChanged { CallState state; };
struct Connected { Duration setup; };  // since the invite was sent or received
struct RemoteMetadata { events::SdpStreamMetadata metadata; };
struct RemoteHold { bool on_hold; };
struct RemoteTrack { media::MediaKind kind; std::string stream_id; media::StreamPurpose purpose; };
// A remote track announced by RemoteTrack is gone: its section stopped sending, or the peer's
// sdp_stream_metadata no longer lists its stream.
struct RemoteTrackRemoved { media::MediaKind kind; std::string stream_id; media::StreamPurpose purpose; };
struct FirstMedia { media::MediaKind kind; Duration since_start; };
struct Dtmf { char digit; };
struct LinkChanged { LinkState link; };
struct Ended { std::string reason; bool by_remote; };
}  // namespace note

using CallOutput = std::variant<SendSignal, op::CreatePeer, op::AddTrack, op::RemoveTrack, op::CreateOffer,
                                op::CreateAnswer, op::SetRemoteDescription, op::AddRemoteCandidates,
                                op::SetTrackMuted, op::SetLocalHold, op::SendDtmf, op::ClosePeer,
                                note::Incoming, note::StateChanged, note::Connected, note::RemoteMetadata, note::RemoteHold,
                                note::RemoteTrack, note::RemoteTrackRemoved, note::FirstMedia, note::Dtmf,
                                note::LinkChanged, note::Ended>;

// Timings of one call, for the CLI summary and the benchmark.
struct CallTimings {
  std::optional<TimePoint> started;      // invite sent (outbound) or received (inbound)
  std::optional<TimePoint> answered;     // answer received (outbound) or sent (inbound)
  std::optional<TimePoint> connected;    // ICE connected
  std::optional<TimePoint> first_audio;  // first decoded audio
  std::optional<TimePoint> first_video;
};

}  // namespace mxcall::core
