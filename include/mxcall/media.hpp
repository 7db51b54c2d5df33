// The media layer as the rest of mxcall sees it: peer connections, descriptions, candidates,
// tracks and stats. Knows nothing about Matrix. Implemented with GStreamer webrtcbin + libnice
// (src/media/webrtcbin_*) and by a fake for unit tests (src/media/fake_engine.*).
//
// Every operation is asynchronous and reports back through the EventSink as a MediaEvent.
// The sink may be called from any thread (GStreamer's): the owner posts each event to its own
// loop. Operations may be called from the owner's thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "mxcall/error.hpp"

namespace mxcall::media {

using PeerId = std::uint64_t;

enum class MediaKind { Audio, Video };
enum class StreamPurpose { UserMedia, ScreenShare };
enum class SdpType { Offer, Answer };
const char* to_string(MediaKind k);
const char* to_string(SdpType t);

struct SessionDescription {
  SdpType type = SdpType::Offer;
  std::string sdp;
};

// An empty `candidate` is the end-of-candidates marker (sdp_mid/index may then be absent).
struct IceCandidate {
  std::string candidate;
  std::optional<std::string> sdp_mid;
  std::optional<int> sdp_mline_index;
  bool is_end_of_candidates() const { return candidate.empty(); }
};

struct IceServer {
  std::vector<std::string> urls;  // stun:..., turn:...?transport=udp, turns:...
  std::string username;
  std::string credential;
};

struct PeerConfig {
  std::vector<IceServer> ice_servers;
  bool relay_only = false;  // only relay candidates (TURN), as an ICE transport policy
  // Also gather on 127.0.0.1 (libnice skips loopback, so a loopback-only namespace has no
  // candidates otherwise).
  bool include_loopback = false;
  std::chrono::milliseconds jitterbuffer_latency{50};
  std::chrono::milliseconds stun_pacing{5};
  // Play received audio on the default output (autoaudiosink) instead of discarding it.
  bool play_audio = false;
  // A connected peer that has received nothing (RTP, RTCP, DTLS) for this long, while neither
  // side holds and the peer's SDP says it sends, reports IceStateChanged{Disconnected}; the
  // first packet after that reports Connected again. libnice as webrtcbin 1.22 uses it never
  // notices a dead path itself (src/media/media_watchdog.hpp has the measurement). 0: off.
  std::chrono::milliseconds media_timeout{3000};
};

enum class SourceKind { Test, Device };

struct TrackSpec {
  MediaKind kind = MediaKind::Audio;
  StreamPurpose purpose = StreamPurpose::UserMedia;
  std::string stream_id;  // the msid stream id announced in SDP and in sdp_stream_metadata
  std::string track_id;
  SourceKind source = SourceKind::Test;
  // Not empty: the track is encoded once for every peer connection whose track has the same
  // key (and kind and source): a group call's local stream. Empty: this peer's own encoder.
  std::string shared_source;
  // Opus frame duration of a shared audio source (20, 40 or 60 ms; its first track decides).
  int audio_frame_ms = 20;
};

enum class IceState { New, Checking, Connected, Completed, Failed, Disconnected, Closed };
enum class GatheringState { New, Gathering, Complete };
const char* to_string(IceState s);

struct OfferOptions {
  // Recover a broken path: new ICE credentials (webrtcbin 1.22 does this with a fresh
  // webrtcbin, its own DTLS certificate, the same mids and the same DTLS role).
  bool ice_restart = false;
};

struct KindStats {
  std::uint64_t packets_sent = 0;
  std::uint64_t packets_received = 0;
  std::uint64_t bytes_sent = 0;
  std::uint64_t bytes_received = 0;
  // Peer connections the encoder of our sending track of this kind feeds: 1 for a track with
  // its own encoder, more for a shared source (TrackSpec::shared_source), 0 without one.
  std::uint32_t encoder_fanout = 0;
  // Frames out of the decoders. Received media that is not output anywhere (audio without
  // PeerConfig::play_audio, video always) is decoded until its first frame (FirstMediaDecoded)
  // and from then on only counted in packets_received: decoding it would heat nothing but CPU.
  std::uint64_t frames_decoded = 0;
};

struct PeerStats {
  KindStats audio;
  KindStats video;
  // ICE agents this peer has had: 1, plus one per ICE restart (each gets a fresh agent).
  std::uint32_t ice_generation = 0;
  // The candidates the current ICE agent gathered (a=candidate values, without "a=").
  std::vector<std::string> local_candidates;
  // How often the media watchdog found the path dead (see PeerConfig::media_timeout).
  std::uint32_t media_timeouts = 0;
};

// ---- events from the engine ----
// Already applied locally, except a renegotiation offer (not an ICE restart): that one is
// applied right before its answer, so a remote offer that collides with it simply replaces it
// (the polite side of perfect negotiation; webrtcbin 1.22 cannot roll back).
struct LocalDescriptionReady { PeerId peer; SessionDescription description; };
struct RemoteDescriptionApplied { PeerId peer; SdpType type; };
struct LocalCandidate { PeerId peer; IceCandidate candidate; };  // end marker when gathering completes
struct IceStateChanged { PeerId peer; IceState state; };
struct GatheringStateChanged { PeerId peer; GatheringState state; };
struct NegotiationNeeded { PeerId peer; };
// Added: media of a new section arrives, or a section that stopped sending sends again.
// Removed: a remote description says a section no longer sends (or sends another stream);
// hold is not removal.
struct RemoteTrackAdded { PeerId peer; MediaKind kind; std::string stream_id; std::string mid; };
struct RemoteTrackRemoved { PeerId peer; MediaKind kind; std::string stream_id; };
struct FirstMediaDecoded { PeerId peer; MediaKind kind; };
struct DtmfReceived { PeerId peer; char digit; };
// An operation failed; `operation` names it (create_offer, set_remote_description, ...).
struct OperationFailed { PeerId peer; std::string operation; std::string message; };

using MediaEvent = std::variant<LocalDescriptionReady, RemoteDescriptionApplied, LocalCandidate,
                                IceStateChanged, GatheringStateChanged, NegotiationNeeded,
                                RemoteTrackAdded, RemoteTrackRemoved, FirstMediaDecoded,
                                DtmfReceived, OperationFailed>;
PeerId peer_of(const MediaEvent& e);

class MediaEngine {
 public:
  using EventSink = std::function<void(MediaEvent)>;
  virtual ~MediaEngine() = default;

  virtual void set_event_sink(EventSink sink) = 0;
  // Generates what the first call would otherwise wait for (the DTLS certificate).
  virtual void warm_up() = 0;

  virtual Result<PeerId> create_peer(const PeerConfig& config) = 0;
  virtual void close_peer(PeerId peer) = 0;

  // Tracks added before the first offer/answer are negotiated in it; later ones need a new
  // offer (the engine then raises NegotiationNeeded). Adding a removed track's id again sends
  // it again on its old m-line.
  virtual Status add_track(PeerId peer, const TrackSpec& track) = 0;
  // Stops sending the track; from the next offer or answer on our SDP says the section does
  // not send (its m-line stays: m-lines are never removed). The caller renegotiates.
  virtual Status remove_track(PeerId peer, const std::string& track_id) = 0;

  virtual void create_offer(PeerId peer, const OfferOptions& options = {}) = 0;
  virtual void create_answer(PeerId peer) = 0;
  virtual void set_remote_description(PeerId peer, const SessionDescription& description) = 0;
  // Candidates that arrive before the remote description are queued by the engine.
  virtual void add_remote_candidate(PeerId peer, const IceCandidate& candidate) = 0;

  // Mute: the track keeps its m-line; silence/black (or nothing) is sent.
  virtual void set_track_muted(PeerId peer, const std::string& track_id, bool muted) = 0;
  // Hold as matrix-js-sdk does it: from the next offer or answer on, our SDP says sendonly
  // (inactive if the peer holds us too) and we stop sending. The caller renegotiates.
  virtual void set_local_hold(PeerId peer, bool on_hold) = 0;
  // RFC 4733 telephone-events on the audio track: digits 0-9 * # A-D.
  virtual Status send_dtmf(PeerId peer, const std::string& digits) = 0;

  virtual PeerStats stats(PeerId peer) const = 0;
};

}  // namespace mxcall::media
