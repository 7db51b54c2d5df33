// The send side of a webrtcbin peer: source → encoder → payloader → webrtcbin sink pad, with
// one pad probe per track that counts packets, drops them on hold/video mute/removal and
// turns Opus packets into RFC 4733 telephone-events while a DTMF digit plays, and a gate in
// front of the encoder that keeps a removed track from encoding at all.
#include <gst/rtp/rtp.h>
#include <algorithm>
#include <gst/webrtc/webrtc.h>

#include "media/gst_util.hpp"
#include "media/webrtcbin_callbacks.hpp"
#include "media/webrtcbin_peer.hpp"

namespace mxcall::media {

namespace {

// libwebrtc trap 3: webrtcbin silently sends nothing when the payloader's pt is not the one
// negotiated; the caps (what webrtcbin offers, and matches offers against) and the payloader
// use the same constants: libwebrtc's Opus and VP8 payload types.
constexpr int kOpusPt = 111;
constexpr int kVp8Pt = 96;
constexpr int kDtmfOfferPt = 101;
constexpr guint32 kOpusFrameTicks = 960;  // 20 ms at 48 kHz

int dtmf_code(char digit) {
  if (digit >= '0' && digit <= '9') return digit - '0';
  if (digit == '*') return 10;
  if (digit == '#') return 11;
  if (digit >= 'A' && digit <= 'D') return 12 + (digit - 'A');
  if (digit >= 'a' && digit <= 'd') return 12 + (digit - 'a');
  return -1;
}

std::string with_mid(std::string caps, const std::string& mid) {
  return mid.empty() ? caps : caps + ",a-mid=(string)" + mid;  // keeps the mid across a restart
}

}  // namespace

int send_payload_type(MediaKind kind) { return kind == MediaKind::Audio ? kOpusPt : kVp8Pt; }

std::string send_rtp_caps(MediaKind kind, const std::string& mid) {
  // libwebrtc trap 2: without encoding-params "2" the rtpmap is OPUS/48000 and libwebrtc
  // refuses it.
  if (kind == MediaKind::Audio)
    return with_mid("application/x-rtp,media=audio,encoding-name=OPUS,payload=" + std::to_string(kOpusPt) +
                    ",clock-rate=48000,encoding-params=(string)2", mid);
  return with_mid("application/x-rtp,media=video,encoding-name=VP8,payload=" + std::to_string(kVp8Pt) +
                  ",clock-rate=90000", mid);
}

Status WebrtcbinPeer::add_track(const TrackSpec& spec) {
  if (revive_track(spec)) return ok_status();
  return add_track_with_mid(spec, {});
}

Status WebrtcbinPeer::add_track_with_mid(const TrackSpec& spec, const std::string& mid, bool removed) {
  if (closing()) return Error::make(ErrorKind::InvalidArgument, "peer is closed");
  auto track = std::make_unique<LocalTrack>();
  track->peer = this;
  track->spec = spec;
  track->removed.store(removed);
  LocalTrack& t = *track;
  {
    std::lock_guard lock(mu_);
    for (const auto& existing : tracks_)
      if (existing->spec.track_id == spec.track_id)
        return Error::make(ErrorKind::InvalidArgument, "track " + spec.track_id + " already added");
    ++caps_pending_;
    t.live.store(!negotiated_);
    tracks_.push_back(std::move(track));
  }
  Status st = !spec.shared_source.empty()     ? build_shared_branch(t, mid)
              : spec.kind == MediaKind::Audio ? build_audio_branch(t, mid)
                                              : build_video_branch(t, mid);
  if (!st.ok()) {
    std::lock_guard lock(mu_);
    if (!t.caps_ready) {
      t.caps_ready = true;
      --caps_pending_;
    }
  }
  return st;
}

Status WebrtcbinPeer::build_audio_branch(LocalTrack& t, const std::string& mid) {
  const bool device = t.spec.source == SourceKind::Device;
  GstElement* src = gst::make(device ? "autoaudiosrc" : "audiotestsrc");
  GstElement* convert = gst::make("audioconvert");
  GstElement* resample = gst::make("audioresample");
  t.volume = gst::make("volume");
  GstElement* enc = gst::make("opusenc");
  GstElement* pay = gst::make("rtpopuspay");
  t.encoder = enc;
  GstElement* caps = gst::caps_filter(send_rtp_caps(MediaKind::Audio, mid).c_str());
  t.elements = {src, convert, resample, t.volume, enc, pay, caps};
  for (auto* e : t.elements)
    if (e == nullptr) return Error::make(ErrorKind::InvalidArgument, "audio elements are not installed");
  if (!device) g_object_set(src, "is-live", TRUE, "wave", 0 /* sine */, "freq", 440.0, "volume", 0.3, nullptr);
  g_object_set(pay, "pt", static_cast<guint>(kOpusPt), nullptr);
  if (t.spec.audio_frame_ms != 20) g_object_set(enc, "frame-size", t.spec.audio_frame_ms, nullptr);
  return link_to_webrtcbin(t, caps);
}

Status WebrtcbinPeer::build_video_branch(LocalTrack& t, const std::string& mid) {
  GstElement* src = gst::make("videotestsrc");
  GstElement* raw = gst::caps_filter("video/x-raw,width=320,height=240,framerate=15/1");
  GstElement* convert = gst::make("videoconvert");
  GstElement* enc = gst::make("vp8enc");
  GstElement* pay = gst::make("rtpvp8pay");
  t.encoder = enc;
  GstElement* caps = gst::caps_filter(send_rtp_caps(MediaKind::Video, mid).c_str());
  t.elements = {src, raw, convert, enc, pay, caps};
  for (auto* e : t.elements)
    if (e == nullptr) return Error::make(ErrorKind::InvalidArgument, "video elements are not installed");
  g_object_set(src, "is-live", TRUE, "pattern", 18 /* ball */, nullptr);
  g_object_set(enc, "deadline", static_cast<gint64>(1) /* realtime */, "cpu-used", 12, "threads", 1,
               "target-bitrate", 300000, "keyframe-max-dist", 60, nullptr);
  g_object_set(pay, "pt", static_cast<guint>(kVp8Pt), nullptr);
  return link_to_webrtcbin(t, caps);
}

Status WebrtcbinPeer::link_to_webrtcbin(LocalTrack& t, GstElement* last) {
  for (auto* e : t.elements) gst_bin_add(gst::bin(pipeline_), e);
  for (std::size_t i = 0; i + 1 < t.elements.size(); ++i)
    if (gst_element_link(t.elements[i], t.elements[i + 1]) == FALSE)
      return Error::make(ErrorKind::InvalidArgument, "could not link the send branch");

  t.sink_pad = gst_element_request_pad_simple(webrtc_, "sink_%u");  // +1
  if (t.sink_pad == nullptr) return Error::make(ErrorKind::InvalidArgument, "webrtcbin gave no sink pad");
  // libwebrtc trap 4: without it webrtcbin announces its cname as the stream id.
  if (!t.spec.stream_id.empty()) g_object_set(t.sink_pad, "msid", t.spec.stream_id.c_str(), nullptr);
  gst::connect(t.sink_pad, "notify::caps", &PeerCallbacks::on_sink_caps_notify, &t);
  GObject* transceiver = nullptr;
  g_object_get(t.sink_pad, "transceiver", &transceiver, nullptr);  // +1
  if (transceiver != nullptr) {
    t.transceiver = gst::take_string(gst_object_get_name(gst::object(transceiver)));
    g_object_unref(transceiver);
  }
  if (t.encoder != nullptr) {  // own encoder (a shared one has its own gate)
    GstPad* encoder_in = gst_element_get_static_pad(t.encoder, "sink");
    gst_pad_add_probe(encoder_in, static_cast<GstPadProbeType>(GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST),
                      &PeerCallbacks::on_encoder_input, &t, nullptr);
    gst_object_unref(encoder_in);
  }

  GstPad* src = gst_element_get_static_pad(last, "src");
  gst_pad_add_probe(src, static_cast<GstPadProbeType>(GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST),
                    &PeerCallbacks::on_send_data, &t, nullptr);
  GstPadLinkReturn linked = gst_pad_link(src, t.sink_pad);
  gst_object_unref(src);
  if (linked != GST_PAD_LINK_OK) return Error::make(ErrorKind::InvalidArgument, "could not link to webrtcbin");
  for (auto it = t.elements.rbegin(); it != t.elements.rend(); ++it) gst_element_sync_state_with_parent(*it);
  return ok_status();
}

void WebrtcbinPeer::on_sink_caps(LocalTrack& t) {
  std::vector<std::function<void()>> ready;
  bool renegotiate = false;
  t.caps_seen.store(true);
  {
    std::lock_guard lock(mu_);
    if (t.caps_ready) return;
    t.caps_ready = true;
    if (--caps_pending_ == 0) ready.swap(deferred_);
    renegotiate = negotiated_ && !t.placeholder;
  }
  if (renegotiate && !closing()) emit_(NegotiationNeeded{id_});
  for (auto& op : ready) op();
}

Status WebrtcbinPeer::remove_track(const std::string& track_id) {
  // webrtcbin 1.22 cannot drop an m-line: the track stops sending and keeps its m-line, which
  // our SDP marks recvonly from the next offer or answer on (see LocalTrack).
  std::lock_guard lock(mu_);
  for (auto& t : tracks_) {
    if (t->spec.track_id == track_id && !t->placeholder) {
      t->removed.store(true);
      return ok_status();
    }
  }
  return Error::make(ErrorKind::InvalidArgument, "no track " + track_id);
}

bool WebrtcbinPeer::revive_track(const TrackSpec& spec) {
  LocalTrack* found = nullptr;
  bool renegotiate = false;
  std::function<void()> key_frame;
  {
    std::lock_guard lock(mu_);
    for (auto& t : tracks_)
      if (t->spec.track_id == spec.track_id && !t->placeholder) found = t.get();
    if (found != nullptr && !found->removed.load()) return false;  // add_track reports the duplicate
    for (auto it = tracks_.begin(); found == nullptr && it != tracks_.end(); ++it) {
      LocalTrack& t = **it;
      // A placeholder of the same kind and style (own encoder, or fed by a shared source).
      if (t.placeholder && t.spec.kind == spec.kind && (t.shared != nullptr) == !spec.shared_source.empty() &&
          (t.shared != nullptr || t.spec.source == spec.source))
        found = &t;
    }
    if (found == nullptr || found->sink_pad == nullptr) return false;
    if (found->shared != nullptr) {  // fed by the source the new spec names from now on
      if (auto st = switch_shared_source(*found, spec); !st.ok()) {
        fail("add_track", st.error().message);
        return false;
      }
    }
    found->spec = spec;
    found->placeholder = false;
    if (!spec.stream_id.empty()) g_object_set(found->sink_pad, "msid", spec.stream_id.c_str(), nullptr);
    found->live.store(!negotiated_);  // until the peer answers an offer of ours saying it sends
    found->removed.store(false);
    renegotiate = negotiated_;
    // Its frames were dropped: start again on a key frame.
    if (spec.kind == MediaKind::Video) key_frame = key_frame_request(*found);
  }
  if (key_frame) key_frame();
  if (renegotiate && !closing()) emit_(NegotiationNeeded{id_});
  return true;
}

void WebrtcbinPeer::add_placeholders_for(const std::vector<sdp::MediaSection>& offered) {
  int missing[2] = {0, 0};  // audio, video: offered m-lines beyond our send branches
  for (const auto& s : offered) {
    if (s.rejected) continue;
    if (s.kind == "audio") ++missing[0];
    if (s.kind == "video") ++missing[1];
  }
  {
    std::lock_guard lock(mu_);
    for (const auto& t : tracks_) --missing[t->spec.kind == MediaKind::Audio ? 0 : 1];
  }
  static std::atomic<unsigned> serial{0};
  for (int k = 0; k < 2; ++k) {
    for (int i = 0; i < missing[k]; ++i) {
      TrackSpec spec;
      spec.kind = k == 0 ? MediaKind::Audio : MediaKind::Video;
      spec.shared_source = placeholder_shared_key();
      spec.track_id = std::string("placeholder-") + to_string(spec.kind) + "-" + std::to_string(serial.fetch_add(1));
      if (auto st = add_track_with_mid(spec, {}, /*removed=*/true); !st.ok()) {
        fail("create_answer", "placeholder " + spec.track_id + ": " + st.error().message);
        continue;
      }
      std::lock_guard lock(mu_);
      for (auto& t : tracks_)
        if (t->spec.track_id == spec.track_id) t->placeholder = true;
    }
  }
}

std::set<std::string> WebrtcbinPeer::silent_transceivers() const {
  std::set<std::string> out;
  std::lock_guard lock(mu_);
  for (const auto& t : tracks_)
    if (t->removed.load() && !t->transceiver.empty()) out.insert(t->transceiver);
  return out;
}

void WebrtcbinPeer::force_key_frame(GstElement* encoder) {
  gst_element_send_event(encoder, gst_event_new_custom(GST_EVENT_CUSTOM_UPSTREAM,
      gst_structure_new("GstForceKeyUnit", "all-headers", G_TYPE_BOOLEAN, TRUE, nullptr)));
}

std::function<void()> WebrtcbinPeer::key_frame_request(LocalTrack& t) {
  if (t.shared != nullptr) {
    t.need_key.store(true);  // the branch waits for the key frame it asks for
    t.key_asked.store(true);
    return [source = t.shared] { source->request_key_frame(); };
  }
  if (t.encoder == nullptr) return [] {};
  GstElement* encoder = gst::element(gst_object_ref(t.encoder));
  return [this, encoder] {
    force_key_frame(encoder);
    gst_object_unref(encoder);
  };
}

void WebrtcbinPeer::set_track_muted(const std::string& track_id, bool muted) {
  GstElement* volume = nullptr;
  std::function<void()> key_frame;
  {
    std::lock_guard lock(mu_);
    for (auto& t : tracks_) {
      if (t->spec.track_id != track_id) continue;
      bool was = t->muted.exchange(muted);
      if (t->volume != nullptr) volume = gst::element(gst_object_ref(t->volume));
      // A shared audio source: the branch sends Opus silence instead (webrtcbin_shared.cpp).
      if (t->spec.kind == MediaKind::Video && was && !muted) key_frame = key_frame_request(*t);
    }
  }
  if (volume != nullptr) {  // audio: silence keeps flowing (Opus without DTX)
    g_object_set(volume, "mute", muted ? TRUE : FALSE, nullptr);
    gst_object_unref(volume);
  }
  if (key_frame) key_frame();  // video: frames were dropped; start again on a key frame
}

PeerStats WebrtcbinPeer::stats() const {
  PeerStats s;
  {
    std::lock_guard lock(mu_);
    s.audio = sent_before_restart_[0];
    s.video = sent_before_restart_[1];
    for (const auto& t : tracks_) {
      KindStats& k = t->spec.kind == MediaKind::Audio ? s.audio : s.video;
      k.packets_sent += t->sent.packets.load();
      k.bytes_sent += t->sent.bytes.load();
      if (t->removed.load()) continue;
      k.encoder_fanout = std::max(k.encoder_fanout, t->shared != nullptr ? t->shared->fed() : 1u);
    }
  }
  s.audio.packets_received = recv_audio_.packets.load();
  s.audio.bytes_received = recv_audio_.bytes.load();
  s.video.packets_received = recv_video_.packets.load();
  s.video.bytes_received = recv_video_.bytes.load();
  s.audio.frames_decoded = decoded_audio_.load();
  s.video.frames_decoded = decoded_video_.load();
  s.ice_generation = generation_.load();
  s.media_timeouts = media_timeouts_.load();
  {
    std::lock_guard lock(mu_);
    s.local_candidates = local_candidates_;
  }
  return s;
}

// ---- DTMF (RFC 4733) -------------------------------------------------------------------------

Status WebrtcbinPeer::send_dtmf(const std::string& digits) {
  for (char d : digits)
    if (dtmf_code(d) < 0) return Error::make(ErrorKind::InvalidArgument, std::string("not a DTMF digit: ") + d);
  if (dtmf_send_pt_.load() < 0)
    return Error::make(ErrorKind::InvalidArgument, "the peer did not negotiate telephone-event/48000");
  {
    std::lock_guard lock(mu_);
    bool has_audio = false;
    for (const auto& t : tracks_) has_audio = has_audio || t->spec.kind == MediaKind::Audio;
    if (!has_audio) return Error::make(ErrorKind::InvalidArgument, "no audio track to send DTMF on");
  }
  std::lock_guard lock(dtmf_mu_);
  dtmf_.queue += digits;
  return ok_status();
}

std::string WebrtcbinPeer::add_dtmf_to_sdp(SdpType type, const std::string& text) {
  int pt = kDtmfOfferPt;
  if (type == SdpType::Answer) {  // only what the offer had, with its payload type
    std::lock_guard lock(mu_);
    std::optional<int> offered;
    for (const auto& s : remote_sections_)
      if (s.kind == "audio" && !offered) offered = sdp::telephone_event_pt(s, 48000);
    if (!offered) return text;
    pt = *offered;
  }
  dtmf_recv_pt_.store(pt);
  return sdp::add_telephone_event(text, pt, 48000);
}

void WebrtcbinPeer::update_dtmf_from_remote(const std::string& text) {
  for (const auto& s : sdp::media_sections(text)) {
    if (s.kind != "audio") continue;
    auto pt = sdp::telephone_event_pt(s, 48000);
    dtmf_send_pt_.store(pt ? *pt : -1);
    return;
  }
}

// Called for each outgoing Opus packet (20 ms): while a digit plays, the packet is replaced by
// a telephone-event packet with the same ssrc and sequence number; 100 ms tone, three end
// packets, 60 ms pause.
GstBuffer* WebrtcbinPeer::dtmf_rewrite(GstBuffer* opus) {
  std::lock_guard lock(dtmf_mu_);
  DtmfSendState& d = dtmf_;
  if (d.event < 0) {
    if (d.gap_packets > 0) {
      --d.gap_packets;
      return opus;
    }
    if (d.queue.empty()) return opus;
    d.event = dtmf_code(d.queue.front());
    d.queue.erase(0, 1);
    d.tone_packets = 0;
    d.end_packets = 0;
    d.start_ts = 0;
  }
  const int pt = dtmf_send_pt_.load();
  if (pt < 0) return opus;
  GstRTPBuffer in = GST_RTP_BUFFER_INIT;
  if (gst_rtp_buffer_map(opus, GST_MAP_READ, &in) == FALSE) return opus;
  const guint32 ssrc = gst_rtp_buffer_get_ssrc(&in);
  const guint16 seq = gst_rtp_buffer_get_seq(&in);
  const guint32 ts = gst_rtp_buffer_get_timestamp(&in);
  gst_rtp_buffer_unmap(&in);

  const bool first = d.tone_packets == 0 && d.end_packets == 0;
  if (first) d.start_ts = ts;
  const bool ending = d.tone_packets >= 5;
  if (!ending) ++d.tone_packets; else ++d.end_packets;
  const guint32 duration = (ending ? 5 : d.tone_packets) * kOpusFrameTicks;

  GstBuffer* out = gst_rtp_buffer_new_allocate(4, 0, 0);
  GstRTPBuffer rtp = GST_RTP_BUFFER_INIT;
  gst_rtp_buffer_map(out, GST_MAP_WRITE, &rtp);
  gst_rtp_buffer_set_ssrc(&rtp, ssrc);
  gst_rtp_buffer_set_seq(&rtp, seq);
  gst_rtp_buffer_set_timestamp(&rtp, d.start_ts);
  gst_rtp_buffer_set_payload_type(&rtp, static_cast<guint8>(pt));
  gst_rtp_buffer_set_marker(&rtp, first ? TRUE : FALSE);
  auto* payload = static_cast<guint8*>(gst_rtp_buffer_get_payload(&rtp));
  payload[0] = static_cast<guint8>(d.event);
  payload[1] = static_cast<guint8>((ending ? 0x80 : 0x00) | 10);  // E bit, volume -10 dBm0
  payload[2] = static_cast<guint8>(duration >> 8);
  payload[3] = static_cast<guint8>(duration & 0xFF);
  gst_rtp_buffer_unmap(&rtp);
  gst_buffer_copy_into(out, opus, GST_BUFFER_COPY_TIMESTAMPS, 0, static_cast<gsize>(-1));
  if (ending && d.end_packets >= 3) {
    d.event = -1;
    d.gap_packets = 3;
  }
  gst_buffer_unref(opus);
  return out;
}

}  // namespace mxcall::media
