// Send branches fed by a shared source (src/media/shared_source.hpp): appsrc → payloader →
// webrtcbin sink pad. The peer keeps its own payloader (ssrc, sequence numbers, payload type),
// its own mute (Opus silence instead of the shared frames; video frames dropped), hold and
// removal (the probes of webrtcbin_tracks.cpp), and a key-frame gate: a video branch that
// starts, comes back or is unmuted drops delta frames until the key frame it asked the shared
// encoder for. A PLI/FIR from the peer (GstForceKeyUnit upstream) goes to the shared encoder.
#include "media/gst_util.hpp"
#include "media/webrtcbin_callbacks.hpp"
#include "media/webrtcbin_peer.hpp"

namespace mxcall::media {

namespace {

constexpr int kRerequestAfterFrames = 15;  // a key frame request lost: ask again (1 s at 15 fps)

GstPadProbeReturn on_upstream_event(GstPad*, GstPadProbeInfo* info, gpointer track) {
  auto* t = static_cast<LocalTrack*>(track);
  GstEvent* event = gst_pad_probe_info_get_event(info);
  if (event == nullptr || !gst_event_has_name(event, "GstForceKeyUnit")) return GST_PAD_PROBE_OK;
  if (t->shared != nullptr) t->shared->request_key_frame();
  return GST_PAD_PROBE_DROP;  // appsrc cannot do anything with it
}

}  // namespace

Status WebrtcbinPeer::build_shared_branch(LocalTrack& t, const std::string& mid) {
  const bool audio = t.spec.kind == MediaKind::Audio;
  GstElement* src = gst::make("appsrc");
  GstElement* pay = gst::make(audio ? "rtpopuspay" : "rtpvp8pay");
  GstElement* caps = gst::caps_filter(send_rtp_caps(t.spec.kind, mid).c_str());
  t.elements = {src, pay, caps};
  for (auto* e : t.elements)
    if (e == nullptr) return Error::make(ErrorKind::InvalidArgument, "appsrc or payloader elements are not installed");
  // Live, in time; at most ~0.5 s queued, the oldest dropped first (leaky-type downstream).
  g_object_set(src, "is-live", TRUE, "format", GST_FORMAT_TIME, "max-bytes", static_cast<guint64>(64 * 1024),
               "leaky-type", 2, nullptr);
  g_object_set(pay, "pt", static_cast<guint>(send_payload_type(t.spec.kind)), nullptr);
  t.appsrc = src;
  auto source = shared_sources_.get(t.spec);
  if (!source.ok()) return source.error();
  t.shared = std::move(source).value();
  GstPad* out = gst_element_get_static_pad(src, "src");
  gst_pad_add_probe(out, GST_PAD_PROBE_TYPE_EVENT_UPSTREAM, &on_upstream_event, &t, nullptr);
  gst_object_unref(out);
  if (auto st = link_to_webrtcbin(t, caps); !st.ok()) return st;
  std::lock_guard lock(mu_);
  attach_shared(t);
  return ok_status();
}

void WebrtcbinPeer::attach_shared(LocalTrack& t) {
  if (t.shared == nullptr || t.shared_sink != 0) return;
  LocalTrack* track = &t;
  SharedSource::Sink sink;
  // A removed branch needs frames only until caps reached webrtcbin (it negotiates with them).
  sink.wants = [track] { return !(track->removed.load() && track->caps_seen.load()); };
  sink.push = [track](GstBuffer* frame, GstCaps* caps) { track->peer->push_shared(*track, frame, caps); };
  auto request = t.spec.kind == MediaKind::Video ? key_frame_request(t) : std::function<void()>{};
  t.shared_sink = t.shared->attach(std::move(sink));
  if (request) request();  // a new peer starts on a key frame
}

void WebrtcbinPeer::detach_shared(LocalTrack& t) {
  if (t.shared == nullptr || t.shared_sink == 0) return;
  t.shared->detach(t.shared_sink);
  t.shared_sink = 0;
}

Status WebrtcbinPeer::switch_shared_source(LocalTrack& t, const TrackSpec& spec) {
  auto source = shared_sources_.get(spec);
  if (!source.ok()) return source.error();
  if (source.value() == t.shared) return ok_status();
  detach_shared(t);
  t.shared = std::move(source).value();
  t.ts_offset.reset();  // another source, another clock origin
  attach_shared(t);
  return ok_status();
}

std::string WebrtcbinPeer::placeholder_shared_key() const {
  std::lock_guard lock(mu_);
  for (const auto& t : tracks_)
    if (!t->spec.shared_source.empty()) return t->spec.shared_source;
  return {};
}

void WebrtcbinPeer::push_shared(LocalTrack& t, GstBuffer* frame, GstCaps* caps) {
  if (closing()) return;
  if (t.spec.kind == MediaKind::Video && t.need_key.load()) {
    if (GST_BUFFER_FLAG_IS_SET(frame, GST_BUFFER_FLAG_DELTA_UNIT)) {
      if (++t.gated_frames % kRerequestAfterFrames == 0 || !t.key_asked.exchange(true)) t.shared->request_key_frame();
      return;
    }
    t.need_key.store(false);
    t.key_asked.store(false);
    t.gated_frames = 0;
  }
  const GstClockTime now = gst_element_get_current_running_time(t.appsrc);
  const GstClockTime pts = GST_BUFFER_PTS(frame);
  if (!GST_CLOCK_TIME_IS_VALID(now) || !GST_CLOCK_TIME_IS_VALID(pts)) return;  // not playing yet
  // The source's timestamps moved into our pipeline's running time once, so the RTP
  // timestamps keep the encoder's regular spacing.
  if (!t.ts_offset) t.ts_offset = GST_CLOCK_DIFF(pts, now);
  const GstClockTimeDiff ours = static_cast<GstClockTimeDiff>(pts) + *t.ts_offset;
  if (ours < 0) return;

  if (t.pushed_caps == nullptr || !gst_caps_is_equal(t.pushed_caps, caps)) {
    g_object_set(t.appsrc, "caps", caps, nullptr);
    gst_caps_replace(&t.pushed_caps, caps);
  }
  const bool silence = t.spec.kind == MediaKind::Audio && t.muted.load();
  GstBuffer* out = nullptr;
  if (silence) {  // mute: this peer hears Opus silence of the frame's length, the others us
    const GstClockTime d = GST_BUFFER_DURATION(frame);
    out = opus_silence(std::chrono::microseconds(GST_CLOCK_TIME_IS_VALID(d) ? d / 1000 : 20'000));
    gst_buffer_copy_into(out, frame, static_cast<GstBufferCopyFlags>(GST_BUFFER_COPY_FLAGS | GST_BUFFER_COPY_TIMESTAMPS), 0,
                         static_cast<gsize>(-1));
  } else {
    out = gst_buffer_copy(frame);  // metadata only; the encoded memory is shared
  }
  GST_BUFFER_PTS(out) = static_cast<GstClockTime>(ours);
  GST_BUFFER_DTS(out) = GST_CLOCK_TIME_NONE;
  GstFlowReturn ret = GST_FLOW_OK;
  g_signal_emit_by_name(t.appsrc, "push-buffer", out, &ret);  // refs it; never blocks (leaky)
  gst_buffer_unref(out);
}

}  // namespace mxcall::media
