// Group calls (MSC3401 full mesh, as matrix-js-sdk's GroupCall and Hydrogen speak it): the
// types apps see. Every device in the call holds one peer call with every other device,
// signalled over olm-encrypted to-device messages; Client (client.hpp) joins and leaves.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "mxcall/media.hpp"

namespace mxcall {

struct GroupCallOptions {
  bool video = false;
  bool audio_muted = false;  // join muted
  // Create the room's call (org.matrix.msc3401.call, m.room intent) when none is running.
  bool create_if_missing = true;
  // Opus frame length of our audio (20, 40 or 60 ms). Our microphone is encoded once for all
  // peers either way; 60 ms frames cut the per-packet work of every peer connection (a third of
  // the packets) at the price of 40 ms more latency and 60 ms lost per lost packet: for dense
  // meshes of bots in one process, not for people.
  int audio_frame_ms = 20;
};

struct GroupUpdate {
  enum class Kind {
    Joined,             // we are in the call (our member entry is out)
    ParticipantJoined,  // user_id, device_id
    ParticipantLeft,    // user_id, device_id, reason
    PeerConnected,      // user_id, device_id, call_id, setup
    PeerFirstMedia,     // user_id, device_id, call_id, media_kind, setup
    PeerEnded,          // user_id, device_id, call_id, reason (a retry may follow)
    Left,               // reason
  };
  Kind kind;
  std::string room_id;
  std::string conf_id;
  std::string user_id;
  std::string device_id;
  std::string call_id;
  std::string reason;
  media::MediaKind media_kind = media::MediaKind::Audio;
  std::chrono::milliseconds setup{0};
};
const char* to_string(GroupUpdate::Kind k);

struct GroupPeerSummary {
  std::string user_id;
  std::string device_id;
  std::string call_id;  // the current peer call
  bool connected = false;
  std::optional<std::chrono::milliseconds> setup;        // peer call start -> ICE connected
  std::optional<std::chrono::milliseconds> first_audio;  // peer call start -> first decoded audio
  media::PeerStats stats;
};

struct GroupCallSummary {
  std::string room_id;
  std::string conf_id;
  bool joined = false;
  std::vector<GroupPeerSummary> peers;
  std::uint64_t to_device_requests = 0;  // sendToDevice requests made for this call
};

}  // namespace mxcall
