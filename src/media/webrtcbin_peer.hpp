// One peer connection: a pipeline with one webrtcbin, its send branches (test/device sources →
// encoder → payloader) and the decode branches webrtcbin's src pads get. Thread rules (STACK
// trap 7): operations come from the owner's thread; GStreamer calls back on its own threads,
// and everything is reported through `emit`, which only queues (the engine delivers events on
// its loop thread). State touched from both sides sits behind `mu_`; `emit` is never called
// with a GStreamer lock held by us, and GStreamer is never called while `mu_` is held except
// for non-blocking action signals.
#pragma once

#include <gst/gst.h>
#include <gst/webrtc/webrtc_fwd.h>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "media/dtls_cert.hpp"
#include "media/media_watchdog.hpp"
#include "media/sdp_rewrite.hpp"
#include "media/shared_source.hpp"
#include "mxcall/media.hpp"

namespace mxcall::media {

class GstRuntime;

struct Counters {
  std::atomic<std::uint64_t> packets{0};
  std::atomic<std::uint64_t> bytes{0};
  void add(std::uint64_t n_bytes) {
    packets.fetch_add(1, std::memory_order_relaxed);
    bytes.fetch_add(n_bytes, std::memory_order_relaxed);
  }
};

class WebrtcbinPeer;

// A send branch: source → encoder → payloader → webrtcbin sink pad, or, for a track with a
// shared source (TrackSpec::shared_source), appsrc → payloader → webrtcbin sink pad fed with the
// shared encoder's frames (webrtcbin_shared.cpp).
//
// A removed track keeps its branch and its m-line (webrtcbin 1.22 can neither drop an m-line
// nor change a transceiver's direction, libwebrtc trap 6): our SDP says recvonly for it, its
// buffers are dropped (raw ones before the encoder, so it costs no encoding), and add_track
// with its id (or a placeholder's kind) sends again on the same m-line.
struct LocalTrack {
  WebrtcbinPeer* peer = nullptr;
  TrackSpec spec;
  std::vector<GstElement*> elements;  // owned by the pipeline
  GstElement* volume = nullptr;       // audio: mute
  GstElement* encoder = nullptr;      // forced key frames, and the gate in front of it
  GstPad* sink_pad = nullptr;         // webrtcbin's request pad (+1)
  std::string transceiver;            // its webrtcbin transceiver's name (the msid track token)
  std::atomic<bool> muted{false};
  std::atomic<bool> removed{false};
  std::atomic<bool> caps_seen{false};  // the gate may close only once caps went through
  // The peer has an SDP of ours in which this track sends (its ssrc). Before that its RTP is
  // dropped: webrtcbin 1.22 maps RTP of an ssrc it does not know yet to the bundle's first
  // m-line for good (measured: a camera answered into a colliding offer showed up as "audio").
  // Tracks of the first exchange are live at once (no media flows before it completes); later
  // ones once the peer answered an offer of ours that has them.
  std::atomic<bool> live{true};
  bool caps_ready = false;  // under the peer's mu_
  // A removed branch made only so an m-line the peer offered stays sendable (libwebrtc trap 7);
  // the next add_track of its kind adopts it. Under the peer's mu_.
  bool placeholder = false;
  Counters sent;

  // Shared-source branches only. The source (+ our sink id) is set and cleared on the owner
  // thread while no sink of ours is attached; the rest is used by the sink, which runs on the
  // source's streaming thread under the source's lock.
  std::shared_ptr<SharedSource> shared;
  std::uint64_t shared_sink = 0;
  GstElement* appsrc = nullptr;         // owned by the pipeline
  std::atomic<bool> need_key{false};    // video: drop delta frames until a key frame
  std::atomic<bool> key_asked{false};   // a key frame was requested for need_key
  int gated_frames = 0;                 // delta frames dropped while need_key
  GstCaps* pushed_caps = nullptr;       // last caps set on appsrc (+1)
  std::optional<GstClockTimeDiff> ts_offset;  // source running time → this pipeline's

  ~LocalTrack() {
    if (pushed_caps != nullptr) gst_caps_unref(pushed_caps);
  }
};

// The RTP caps a send branch offers (payload type, encoding; a-mid to keep a mid across an ICE
// restart) and its payload type (webrtcbin_tracks.cpp).
std::string send_rtp_caps(MediaKind kind, const std::string& mid);
int send_payload_type(MediaKind kind);

class WebrtcbinPeer : public std::enable_shared_from_this<WebrtcbinPeer> {
 public:
  using Emit = std::function<void(MediaEvent)>;

  static Result<std::shared_ptr<WebrtcbinPeer>> create(PeerId id, const PeerConfig& config,
                                                       GstRuntime& runtime, SharedSources& shared, Emit emit);
  WebrtcbinPeer(PeerId id, PeerConfig config, GstRuntime& runtime, SharedSources& shared, Emit emit);
  ~WebrtcbinPeer();
  WebrtcbinPeer(const WebrtcbinPeer&) = delete;
  WebrtcbinPeer& operator=(const WebrtcbinPeer&) = delete;

  // Pipeline to NULL and every callback disconnected; blocks; owner thread only.
  void shutdown();

  Status add_track(const TrackSpec& track);
  Status remove_track(const std::string& track_id);
  void create_offer(const OfferOptions& options);
  void create_answer();
  void set_remote_description(const SessionDescription& description);
  void add_remote_candidate(const IceCandidate& candidate);
  void set_track_muted(const std::string& track_id, bool muted);
  void set_local_hold(bool on_hold);
  Status send_dtmf(const std::string& digits);
  PeerStats stats() const;

  PeerId id() const { return id_; }
  GstElement* pipeline() const { return pipeline_; }  // owner thread (tests count elements)

 private:
  friend struct PeerCallbacks;
  friend struct LocalTrack;

  Status build_pipeline();
  void teardown_pipeline();  // to NULL, callbacks disconnected, everything unreffed
  void configure_ice();
  void fail(const std::string& operation, const std::string& message);
  bool closing() const { return closing_.load(); }

  // Negotiation (webrtcbin_peer.cpp).
  void run_when_caps_ready(std::function<void()> op);
  void do_create(SdpType type, std::uint64_t epoch);  // epoch: of offers (see offer_epoch_)
  void on_description_created(SdpType type, bool hold_offer, std::uint64_t epoch, GstPromise* promise);
  void set_local(GstWebRTCSessionDescription* desc, std::function<void()> done);
  void on_local_description_set(SdpType type, std::string text);
  void apply_remote_description(const SessionDescription& description);
  std::string outgoing_sdp(SdpType type, const std::string& webrtcbin_sdp);
  void emit_candidate(guint mline, const char* candidate);
  void emit_add_ice_candidate(const IceCandidate& candidate);
  void on_gathering_state(int state);
  void on_ice_state(int state);

  // Send side (webrtcbin_tracks.cpp).
  Status add_track_with_mid(const TrackSpec& track, const std::string& mid, bool removed = false);
  // add_track for a track we already have a branch for (removed, or a placeholder of its kind):
  // true when one was revived.
  bool revive_track(const TrackSpec& track);
  void add_placeholders_for(const std::vector<sdp::MediaSection>& offered);
  std::set<std::string> silent_transceivers() const;  // removed tracks' transceiver names
  void force_key_frame(GstElement* encoder);
  // Under mu_: what asks the track's encoder for a key frame (shared: also closes its gate);
  // run it after mu_ is released.
  std::function<void()> key_frame_request(LocalTrack& track);
  // Shared sources (webrtcbin_shared.cpp).
  Status build_shared_branch(LocalTrack& track, const std::string& mid);
  void attach_shared(LocalTrack& track);
  void detach_shared(LocalTrack& track);
  // A placeholder's or adopted track's branch fed by the source `spec` names (owner thread).
  Status switch_shared_source(LocalTrack& track, const TrackSpec& spec);
  void push_shared(LocalTrack& track, GstBuffer* frame, GstCaps* caps);  // source's thread
  std::string placeholder_shared_key() const;  // a shared track's key, or empty
  Status build_audio_branch(LocalTrack& track, const std::string& mid);
  Status build_video_branch(LocalTrack& track, const std::string& mid);
  Status link_to_webrtcbin(LocalTrack& track, GstElement* last);
  void on_sink_caps(LocalTrack& track);
  bool sending_blocked() const { return local_hold_.load() || remote_hold_.load(); }
  std::string add_dtmf_to_sdp(SdpType type, const std::string& text);
  void update_dtmf_from_remote(const std::string& text);  // under mu_
  GstBuffer* dtmf_rewrite(GstBuffer* opus);                // takes and returns a buffer

  // ICE restart (webrtcbin_restart.cpp): webrtcbin 1.22 cannot restart ICE in place, so the
  // peer gets a fresh webrtcbin with its own DTLS certificate, the same mids and DTLS role.
  Status restart_pipeline();

  // Media-inactivity watchdog (webrtcbin_watchdog.cpp): a timer on the runtime's loop thread.
  void schedule_watchdog();
  void watchdog_tick();

  // Receive side (webrtcbin_receive.cpp).
  void on_pad_added(GstPad* pad);
  void on_bus_message(GstMessage* message);
  // A decoded frame of this kind; false: nothing consumes the decoder's output, so stop decoding.
  bool on_decoded(MediaKind kind);
  // After a remote description: tracks whose section stopped sending are reported removed,
  // those whose section sends again (over the src pad they already have) added again.
  void update_remote_tracks(SdpType type, bool remote_hold);
  void on_element_added(GstElement* element);
  // Decrypted RTP before rtpbin: telephone-events are read (and dropped) here.
  bool on_incoming_rtp(GstBuffer* buffer);

  const PeerId id_;
  const PeerConfig config_;
  GstRuntime& runtime_;
  const Emit emit_;
  SharedSources& shared_sources_;
  std::optional<DtlsCertificate> certificate_;  // per-peer DTLS identity (ICE restart)

  GstElement* pipeline_ = nullptr;  // owned
  GstElement* webrtc_ = nullptr;    // borrowed from the pipeline
  std::atomic<bool> closing_{false};
  std::atomic<bool> local_hold_{false};
  std::atomic<bool> remote_hold_{false};
  std::atomic<bool> first_audio_{false};
  std::atomic<bool> first_video_{false};
  Counters recv_audio_, recv_video_;
  std::atomic<std::uint64_t> decoded_audio_{0}, decoded_video_{0};  // frames out of the decoders
  Counters transport_in_;                    // every packet nicesrc hands on (SRTP, SRTCP, DTLS)
  std::atomic<bool> ice_up_{false};          // the current agent says connected/completed
  std::atomic<bool> remote_sends_{true};     // the remote SDP has a section that sends to us
  std::atomic<std::uint32_t> generation_{1}; // ICE agents so far (1 + restarts)
  std::atomic<std::uint32_t> media_timeouts_{0};
  std::atomic<bool> shut_down_{false};       // for good (closing_ is also set during a restart)
  MediaWatchdog watchdog_;                   // the runtime's loop thread only

  mutable std::mutex mu_;
  std::vector<std::unique_ptr<LocalTrack>> tracks_;
  int caps_pending_ = 0;
  std::vector<std::function<void()>> deferred_;  // create offer/answer waiting for caps
  bool negotiated_ = false;     // one offer/answer exchange completed
  bool remote_set_ = false;     // a remote description is applied (candidates may go in)
  std::vector<IceCandidate> queued_candidates_;
  std::vector<sdp::MediaSection> local_sections_, remote_sections_;
  std::string remote_sdp_;      // as received (before our rewrites)
  std::map<std::string, sdp::Direction> remote_offer_dirs_;
  std::optional<bool> dtls_server_;  // known after the first exchange
  bool end_of_candidates_sent_ = false;
  std::map<std::string, RemoteTrackAdded> announced_;  // by mid: remote tracks reported added
  std::map<std::string, MediaKind> receiving_mids_;     // mids with a decode branch
  // A renegotiation offer of ours is applied to webrtcbin only when its answer arrives (then
  // right before it). webrtcbin 1.22 cannot roll back, so this is how the polite side of a
  // collision drops its own offer for the peer's (perfect negotiation): it never applied it.
  std::optional<std::string> held_offer_;  // webrtcbin's own text
  std::set<std::string> in_offer_;         // track ids our outstanding offer has sending
  std::uint64_t offer_epoch_ = 0;          // a remote offer invalidates offers being created
  std::vector<sdp::MediaSection> offered_sections_;  // of the last remote offer (owner thread)
  std::string local_sdp_;  // as sent (after our rewrites)
  std::vector<std::string> local_candidates_;  // gathered by the current agent
  std::optional<bool> restart_role_;  // after an ICE restart our offers state this DTLS role
  KindStats sent_before_restart_[2];  // audio, video counters of replaced send branches

  struct DtmfSendState {
    std::string queue;
    int event = -1;  // the RFC 4733 event playing, or -1
    int tone_packets = 0;
    int end_packets = 0;
    int gap_packets = 0;
    guint32 start_ts = 0;
  };
  std::mutex dtmf_mu_;
  DtmfSendState dtmf_;                       // under dtmf_mu_ (streaming thread + owner)
  std::optional<guint32> last_dtmf_ts_;      // under dtmf_mu_: the event being received
  std::atomic<int> dtmf_send_pt_{-1};        // telephone-event pt of the remote SDP
  std::atomic<int> dtmf_recv_pt_{-1};        // telephone-event pt of our SDP
};

}  // namespace mxcall::media
