#include "media/shared_source.hpp"

#include <vector>

#include "media/gst_runtime.hpp"
#include "media/gst_util.hpp"

namespace mxcall::media {

namespace {

GstElement* make_caps_filter(const char* text) {
  GstElement* filter = gst::make("capsfilter");
  if (filter == nullptr) return nullptr;
  GstCaps* caps = gst_caps_from_string(text);
  g_object_set(filter, "caps", caps, nullptr);
  gst_caps_unref(caps);
  return filter;
}

int opus_frame_size(int ms) {  // opusenc's frame-size enum: 2 (2.5 ms), 5, 10, 20, 40, 60
  for (int allowed : {5, 10, 20, 40, 60})
    if (ms <= allowed) return allowed;
  return 60;
}

}  // namespace

Result<std::shared_ptr<SharedSource>> SharedSource::create(const TrackSpec& spec) {
  if (auto st = ensure_gstreamer(); !st.ok()) return st.error();
  std::shared_ptr<SharedSource> source(new SharedSource(spec.kind));
  if (auto st = source->build(spec); !st.ok()) return st.error();
  return source;
}

Status SharedSource::build(const TrackSpec& spec) {
  pipeline_ = gst_pipeline_new(nullptr);
  gst_object_ref_sink(pipeline_);
  std::vector<GstElement*> chain;
  if (kind_ == MediaKind::Audio) {
    const bool device = spec.source == SourceKind::Device;
    GstElement* src = gst::make(device ? "autoaudiosrc" : "audiotestsrc");
    encoder_ = gst::make("opusenc");
    chain = {src, gst::make("audioconvert"), gst::make("audioresample"), encoder_, gst::make("fakesink")};
    if (src != nullptr && !device)
      g_object_set(src, "is-live", TRUE, "wave", 0 /* sine */, "freq", 440.0, "volume", 0.3, nullptr);
    if (encoder_ != nullptr) g_object_set(encoder_, "frame-size", opus_frame_size(spec.audio_frame_ms), nullptr);
  } else {
    GstElement* src = gst::make("videotestsrc");
    encoder_ = gst::make("vp8enc");
    chain = {src, make_caps_filter("video/x-raw,width=320,height=240,framerate=15/1"), gst::make("videoconvert"),
             encoder_, gst::make("fakesink")};
    if (src != nullptr) g_object_set(src, "is-live", TRUE, "pattern", 18 /* ball */, nullptr);
    if (encoder_ != nullptr)  // as a peer's own video branch (webrtcbin_tracks.cpp)
      g_object_set(encoder_, "deadline", static_cast<gint64>(1), "cpu-used", 12, "threads", 1, "target-bitrate",
                   300000, "keyframe-max-dist", 60, nullptr);
  }
  for (auto* e : chain) {
    if (e != nullptr) continue;
    for (auto* other : chain)
      if (other != nullptr) gst_object_unref(gst_object_ref_sink(other));
    return Error::make(ErrorKind::InvalidArgument, "shared source elements are not installed");
  }
  g_object_set(chain.back(), "sync", FALSE, "async", FALSE, nullptr);
  for (auto* e : chain) gst_bin_add(gst::bin(pipeline_), e);
  for (std::size_t i = 0; i + 1 < chain.size(); ++i)
    if (gst_element_link(chain[i], chain[i + 1]) == FALSE)
      return Error::make(ErrorKind::InvalidArgument, "could not link the shared source");

  GstPad* in = gst_element_get_static_pad(encoder_, "sink");
  gst_pad_add_probe(in, static_cast<GstPadProbeType>(GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST),
                    &SharedSource::on_encoder_input, this, nullptr);
  gst_object_unref(in);
  encoder_out_ = gst_element_get_static_pad(encoder_, "src");  // +1
  GstPad* out = gst_element_get_static_pad(chain.back(), "sink");
  gst_pad_add_probe(out, GST_PAD_PROBE_TYPE_BUFFER, &SharedSource::on_encoded, this, nullptr);
  gst_object_unref(out);
  if (gst_element_set_state(pipeline_, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE)
    return Error::make(ErrorKind::InvalidArgument, "the shared source pipeline did not start");
  return ok_status();
}

SharedSource::~SharedSource() {
  if (pipeline_ != nullptr) {
    gst_element_set_state(pipeline_, GST_STATE_NULL);  // joins the streaming thread
    gst_object_unref(pipeline_);
  }
  if (caps_ != nullptr) gst_caps_unref(caps_);
  if (encoder_out_ != nullptr) gst_object_unref(encoder_out_);
}

std::uint64_t SharedSource::attach(Sink sink) {
  std::lock_guard lock(mu_);
  const std::uint64_t id = next_id_++;
  sinks_.emplace(id, std::move(sink));
  return id;
}

void SharedSource::detach(std::uint64_t id) {
  std::lock_guard lock(mu_);  // sinks run under it: none is running once we hold it
  sinks_.erase(id);
}

std::uint32_t SharedSource::fed() const {
  std::lock_guard lock(mu_);
  std::uint32_t n = 0;
  for (const auto& [id, sink] : sinks_) n += sink.wants() ? 1 : 0;
  return n;
}

void SharedSource::request_key_frame() {
  if (kind_ != MediaKind::Video || encoder_out_ == nullptr) return;
  // Into the encoder's src pad, not gst_element_send_event: that takes the element's state lock,
  // and this also runs on streaming threads (ours, and the peers' on PLI/FIR).
  gst_pad_send_event(encoder_out_, gst_event_new_custom(GST_EVENT_CUSTOM_UPSTREAM,
      gst_structure_new("GstForceKeyUnit", "all-headers", G_TYPE_BOOLEAN, TRUE, nullptr)));
}

GstPadProbeReturn SharedSource::on_encoder_input(GstPad*, GstPadProbeInfo*, gpointer self) {
  auto* s = static_cast<SharedSource*>(self);
  std::lock_guard lock(s->mu_);
  if (s->caps_ == nullptr) return GST_PAD_PROBE_OK;  // the first frame gives the caps
  for (const auto& [id, sink] : s->sinks_)
    if (sink.wants()) return GST_PAD_PROBE_OK;
  return GST_PAD_PROBE_DROP;  // nobody listens: no encoding
}

GstPadProbeReturn SharedSource::on_encoded(GstPad* pad, GstPadProbeInfo* info, gpointer self) {
  auto* s = static_cast<SharedSource*>(self);
  auto* buffer = static_cast<GstBuffer*>(info->data);
  GstCaps* caps = gst_pad_get_current_caps(pad);  // +1
  std::lock_guard lock(s->mu_);
  if (caps != nullptr && (s->caps_ == nullptr || !gst_caps_is_equal(caps, s->caps_))) std::swap(caps, s->caps_);
  if (caps != nullptr) gst_caps_unref(caps);
  if (s->caps_ == nullptr) return GST_PAD_PROBE_OK;
  for (const auto& [id, sink] : s->sinks_)
    if (sink.wants()) sink.push(buffer, s->caps_);
  return GST_PAD_PROBE_OK;
}

// ---- SharedSources -----------------------------------------------------------------------------

Result<std::shared_ptr<SharedSource>> SharedSources::get(const TrackSpec& spec) {
  std::lock_guard lock(mu_);
  const Key key{spec.shared_source, static_cast<int>(spec.kind), static_cast<int>(spec.source)};
  for (auto it = sources_.begin(); it != sources_.end();)  // forget the dead ones
    it = it->second.expired() ? sources_.erase(it) : std::next(it);
  if (auto it = sources_.find(key); it != sources_.end())
    if (auto live = it->second.lock()) return live;
  auto made = SharedSource::create(spec);
  if (!made.ok()) return made.error();
  sources_[key] = made.value();
  return made;
}

std::vector<GstElement*> SharedSources::pipelines() const {
  std::vector<GstElement*> out;
  std::lock_guard lock(mu_);
  for (const auto& [key, weak] : sources_)
    if (auto live = weak.lock()) out.push_back(gst::element(gst_object_ref(live->pipeline())));
  return out;
}

// ---- Opus silence ------------------------------------------------------------------------------

GstBuffer* opus_silence(std::chrono::microseconds duration) {
  // TOC config 31: CELT-only, fullband, 20 ms frames; 0xFF 0xFE is a CELT frame of silence.
  // One frame: code 0; two: code 1 (two equal frames); more: code 3, CBR, M frames.
  long frames = (duration.count() + 10'000) / 20'000;
  if (frames < 1) frames = 1;
  if (frames > 6) frames = 6;  // 120 ms at most per packet
  std::vector<guint8> bytes;
  if (frames == 1) {
    bytes = {0xF8};
  } else if (frames == 2) {
    bytes = {0xF9};
  } else {
    bytes = {0xFB, static_cast<guint8>(frames)};
  }
  for (long i = 0; i < frames; ++i) {
    bytes.push_back(0xFF);
    bytes.push_back(0xFE);
  }
  GstBuffer* out = gst_buffer_new_allocate(nullptr, bytes.size(), nullptr);
  gst_buffer_fill(out, 0, bytes.data(), bytes.size());
  return out;
}

}  // namespace mxcall::media
