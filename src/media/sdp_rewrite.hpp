// Pure functions on SDP text: the rewrites webrtcbin 1.22 needs to talk to libwebrtc peers
// (STACK.md "webrtcbin with libwebrtc peers"), and the small facts the engine reads from SDP.
// Line endings are kept as found (CRLF or LF); unknown lines pass through untouched.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace mxcall::media::sdp {

enum class Direction { SendRecv, SendOnly, RecvOnly, Inactive };
const char* to_string(Direction d);

struct MediaSection {
  std::string kind;       // audio, video, application, ...
  std::string mid;        // empty when the section has no a=mid
  std::string stream_id;  // from a=msid:<stream> <track> or a=ssrc:<n> msid:<stream> <track>
  std::string msid_track; // the <track> of that line (webrtcbin writes its transceiver's name)
  std::optional<Direction> direction;
  bool rejected = false;  // port 0 without a=bundle-only
  std::vector<int> payload_types;
  std::vector<std::string> rtpmaps;  // "111 OPUS/48000/2", ...
};

// At least a v= line first and one m= line: anything else is not worth handing to webrtcbin.
bool looks_like_sdp(const std::string& text);
std::vector<MediaSection> media_sections(const std::string& text);

// What a side that holds (local) or is held (remote) may do (trap 6):
// neither → sendrecv, we hold → sendonly, they hold → recvonly, both → inactive.
Direction hold_direction(bool local_hold, bool remote_hold);
Direction intersect(Direction a, Direction b);  // sends only if both send, receives likewise
Direction reverse(Direction d);                 // the answer-side view of an offer's direction

// Rewrites the direction of every audio/video section to pick(section, current); a section
// without a direction attribute counts as sendrecv and gets one.
using DirectionPick = std::function<Direction(const MediaSection& section, Direction current)>;
std::string rewrite_directions(const std::string& text, const DirectionPick& pick);

struct NormalisedDirections {
  std::string sdp;           // every audio/video section says sendrecv
  bool remote_hold = false;  // all its live audio/video sections said sendonly or inactive
  std::map<std::string, Direction> by_mid;  // what each section said
};
NormalisedDirections normalise_directions(const std::string& text);

// The first a=setup: value (actpass, active, passive), session or media level.
std::optional<std::string> setup_role(const std::string& text);
// Trap 5: a re-offer's actpass → active when we are already the DTLS server.
std::string force_setup_active(const std::string& text);

// Every a=setup line says `role` (after an ICE restart our offers keep the DTLS role).
std::string replace_setup(const std::string& text, const std::string& role);

// Replaces every a=fingerprint line with `fingerprint` ("sha-256 AB:CD:...").
std::string replace_fingerprint(const std::string& text, const std::string& fingerprint);

// The first a=ice-ufrag value.
std::optional<std::string> ice_ufrag(const std::string& text);
// An offer restarts ICE when its ufrag differs from the one the peer used before.
bool is_ice_restart(const std::string& previous_remote, const std::string& offer);

// The payload type of telephone-event/<clock_rate> in a section, if it has one.
std::optional<int> telephone_event_pt(const MediaSection& section, int clock_rate);
// Adds telephone-event/<clock_rate> as `pt` (rtpmap + fmtp 0-15) to every audio section that
// has none. webrtcbin 1.22 cannot negotiate it itself; the engine sends and reads the RFC 4733
// packets on its own.
std::string add_telephone_event(const std::string& text, int pt, int clock_rate);

}  // namespace mxcall::media::sdp
