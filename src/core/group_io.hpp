// What goes into a group call machine (GroupCall, group_call.hpp) and what comes out of it.
// Every input comes with the driver's monotonic `now` and its wall clock `unix_ms`: member
// entries expire at wall-clock instants (expires_ts), everything else runs on `now`.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <variant>

#include "core/call_io.hpp"
#include "events/group_events.hpp"

namespace mxcall::core {

struct GroupCallConfig {
  std::string room_id;
  std::string conf_id;          // the group call id (state key of the call event)
  std::string own_user_id;
  std::string own_device_id;    // also our party_id in every peer call
  std::string own_session_id;   // random per app launch (js-sdk: 10 chars)
  CallConfig call;              // template of every peer call; room, user and party are filled in
  // For a call state event we create on join.
  events::GroupCallIntent intent = events::GroupCallIntent::Prompt;
  std::optional<std::string> name;
  Duration member_lifetime{3'600'000};         // our expires_ts = now + this
  Duration member_refresh_margin{15 * 60'000}; // re-put this long before it expires (js-sdk: every 45 min);
                                               // at most a quarter of member_lifetime
  // Our entry vanished from our user's member event (another of our devices wrote over it):
  // written again, but not more often than this.
  Duration member_reassert_interval{2'000};
  Duration seq_gap_timeout{3'000};             // see SeqQueue
  // Signalling from a device that member state does not (yet) list is held this long for a
  // member event that may be in flight; an invite from such a device is answered muted and
  // hung up if the device is still not listed by then.
  Duration unlisted_grace{10'000};
  int retry_attempts = 3;                      // re-placements of a failed call we placed
  Duration retry_interval{5'000};
  bool video = false;
  bool start_audio_muted = false;
  bool start_video_muted = false;
  bool require_encryption = true;              // plaintext signalling is dropped
  // Seeds the random part of our call ids (mixed with our user, device and session ids). The
  // driver passes a random value; tests and the simulation pass fixed ones.
  std::uint64_t random_seed = 0;
};

// ---- inputs ----

// The room's org.matrix.msc3401.call state event with state key conf_id. nullopt content:
// redacted or emptied, which counts as terminated. Events of other conf ids are ignored.
struct CallStateEvent {
  std::string conf_id;
  std::optional<events::GroupCallState> content;
};

// The org.matrix.msc3401.call.member state event whose state key is user_id.
struct MemberStateEvent {
  std::string user_id;
  events::GroupCallMemberContent content;
};

// Every user joined to the room (replaces the previous set).
struct RoomMembers {
  std::set<std::string> joined;
};

// An m.call.* to-device message. sender_device is the device the Olm session belongs to
// (set when encrypted and verified); it must equal the envelope's device_id.
struct ToDeviceSignal {
  std::string sender;
  std::optional<std::string> sender_device;
  bool encrypted = false;
  events::ToDeviceCallEnvelope envelope;
};

// A media event of one peer call's peer connection.
struct PeerMediaEvent {
  std::string call_id;
  media::MediaEvent event;
};

// A to-device send of a peer call failed for good.
struct PeerSendFailed {
  std::string call_id;
  std::string event_type;
  Error error;
};

namespace gcmd {
struct Join {
  std::optional<std::string> session_id;  // a new session for this join (default: keep the configured one)
};
struct Leave {
  bool terminate = false;  // also end the call for everyone (m.terminated on the call event)
  std::string reason = "left";  // what gnote::Left says
};
struct SetMuted {
  media::MediaKind kind;
  bool muted;
};
struct SetVideo {
  bool enabled;
};
}  // namespace gcmd

using GroupInput = std::variant<CallStateEvent, MemberStateEvent, RoomMembers, ToDeviceSignal, PeerMediaEvent,
                                PeerSendFailed, gcmd::Join, gcmd::Leave, gcmd::SetMuted, gcmd::SetVideo, Tick>;

// ---- outputs ----

// One m.call.* to-device message for exactly one device. All sends of one turn may go out in
// one /sendToDevice request, except that a request holds one message per device: several
// messages to one device (an invite and its candidates, a hangup and a new invite) must keep
// their order across successive requests.
struct SendToDevice {
  std::string user_id;
  std::string device_id;
  events::ToDeviceCallEnvelope envelope;
};

// Our user's whole org.matrix.msc3401.call.member content (state key = our user id).
struct PutMemberState {
  std::string room_id;
  std::string state_key;
  events::GroupCallMemberContent content;
};

// The org.matrix.msc3401.call content (state key = conf id): created on join, or terminated.
struct PutCallState {
  std::string room_id;
  std::string state_key;
  events::GroupCallState content;
};

using PeerOp = std::variant<op::CreatePeer, op::AddTrack, op::RemoveTrack, op::CreateOffer, op::CreateAnswer,
                            op::SetRemoteDescription, op::AddRemoteCandidates, op::SetTrackMuted, op::SetLocalHold,
                            op::SendDtmf, op::ClosePeer>;

// A media operation on the peer connection of one peer call (CreatePeer opens it, ClosePeer
// ends it; the driver maps call_id to its PeerId).
struct PeerOperation {
  std::string call_id;
  std::string user_id;
  std::string device_id;
  PeerOp op;
};

namespace gnote {  // for the app
struct Joined {};
struct Left {
  std::string reason;  // "left", "terminated" when the call event ended the call, or gcmd::Leave::reason
};
struct ParticipantJoined {
  std::string user_id;
  std::string device_id;
  std::string session_id;
};
struct ParticipantLeft {
  std::string user_id;
  std::string device_id;
  std::string reason;  // "left", "expired", "new_session", "left_room"
};
using PeerCallNote = std::variant<note::StateChanged, note::Connected, note::RemoteMetadata, note::RemoteHold,
                                  note::RemoteTrack, note::RemoteTrackRemoved, note::FirstMedia, note::Dtmf, note::LinkChanged, note::Ended>;
// What one peer call reports (state, connected with setup time, first media, ended + reason...).
struct Peer {
  std::string call_id;
  std::string user_id;
  std::string device_id;
  PeerCallNote note;
};
// A call we placed failed; it is placed again after `after` (attempt counts from 1).
struct PeerRetry {
  std::string user_id;
  std::string device_id;
  int attempt = 0;
  Duration after{0};
};
// Every retry failed: no more calls to this device until its member entry changes.
struct PeerGaveUp {
  std::string user_id;
  std::string device_id;
  std::string last_reason;
};
}  // namespace gnote

using GroupOutput = std::variant<SendToDevice, PutMemberState, PutCallState, PeerOperation, gnote::Joined,
                                 gnote::Left, gnote::ParticipantJoined, gnote::ParticipantLeft, gnote::Peer,
                                 gnote::PeerRetry, gnote::PeerGaveUp>;

}  // namespace mxcall::core
