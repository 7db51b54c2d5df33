// The receive side of a webrtcbin peer (decode branches for webrtcbin's src pads, first-media
// detection, counters, incoming DTMF), the bus, and the C callbacks that forward to the peer.
#include <gst/rtp/rtp.h>
#include <gst/webrtc/webrtc.h>

#include <cstring>

#include "media/gst_util.hpp"
#include "media/webrtcbin_callbacks.hpp"
#include "media/webrtcbin_peer.hpp"

namespace mxcall::media {

namespace {

char dtmf_digit(int event) {
  static const char* digits = "0123456789*#ABCD";
  return event >= 0 && event < 16 ? digits[event] : '?';
}

std::string factory_name(GstElement* element) {
  GstElementFactory* f = gst_element_get_factory(element);
  return f != nullptr ? gst_plugin_feature_get_name(f) : "";
}

template <typename Fn>
void for_each_buffer(GstPadProbeInfo* info, Fn fn) {
  if ((info->type & GST_PAD_PROBE_TYPE_BUFFER) != 0) {
    fn(static_cast<GstBuffer*>(info->data));
  } else if ((info->type & GST_PAD_PROBE_TYPE_BUFFER_LIST) != 0) {
    GstBufferList* list = static_cast<GstBufferList*>(info->data);
    for (guint i = 0; i < gst_buffer_list_length(list); ++i) fn(gst_buffer_list_get(list, i));
  }
}

// Frames for a decoder whose output nobody uses: dropped, and so are the gap events that
// would make it conceal losses.
GstPadProbeReturn drop_before_decoder(GstPad*, GstPadProbeInfo* info, gpointer) {
  if ((info->type & GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM) != 0)
    return GST_EVENT_TYPE(GST_PAD_PROBE_INFO_EVENT(info)) == GST_EVENT_GAP ? GST_PAD_PROBE_DROP : GST_PAD_PROBE_OK;
  return GST_PAD_PROBE_DROP;
}

// Called from the decoder's first output: from now on its input is counted upstream (packets
// received) but no longer decoded. 56 Opus decoders feeding fakesinks were a fifth of a core
// in the 8-party mesh of bots (bench/mesh, perf).
void stop_decoding(GstPad* decoder_src) {
  GstElement* decoder = gst_pad_get_parent_element(decoder_src);  // +1
  if (decoder == nullptr) return;
  GstPad* in = gst_element_get_static_pad(decoder, "sink");
  if (in != nullptr) {
    gst_pad_add_probe(in, static_cast<GstPadProbeType>(GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST |
                                                       GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM),
                      &drop_before_decoder, nullptr, nullptr);
    gst_object_unref(in);
  }
  gst_object_unref(decoder);
}

}  // namespace

// ---- C callbacks -----------------------------------------------------------------------------

using PromiseFn = std::function<void(GstPromise*)>;

GstPromise* make_promise(PromiseFn fn) {
  return gst_promise_new_with_change_func(
      [](GstPromise* p, gpointer data) { (*static_cast<PromiseFn*>(data))(p); }, new PromiseFn(std::move(fn)),
      [](gpointer data) { delete static_cast<PromiseFn*>(data); });
}

void PeerCallbacks::on_ice_candidate(GstElement*, guint mline, gchar* candidate, gpointer peer) {
  static_cast<WebrtcbinPeer*>(peer)->emit_candidate(mline, candidate);
}

void PeerCallbacks::on_gathering_notify(GObject* webrtc, GParamSpec*, gpointer peer) {
  GstWebRTCICEGatheringState state = GST_WEBRTC_ICE_GATHERING_STATE_NEW;
  g_object_get(webrtc, "ice-gathering-state", &state, nullptr);
  static_cast<WebrtcbinPeer*>(peer)->on_gathering_state(static_cast<int>(state));
}

void PeerCallbacks::on_ice_notify(GObject* webrtc, GParamSpec*, gpointer peer) {
  GstWebRTCICEConnectionState state = GST_WEBRTC_ICE_CONNECTION_STATE_NEW;
  g_object_get(webrtc, "ice-connection-state", &state, nullptr);
  static_cast<WebrtcbinPeer*>(peer)->on_ice_state(static_cast<int>(state));
}

void PeerCallbacks::on_pad_added(GstElement*, GstPad* pad, gpointer peer) {
  static_cast<WebrtcbinPeer*>(peer)->on_pad_added(pad);
}

void PeerCallbacks::on_deep_element_added(GstBin*, GstBin*, GstElement* element, gpointer peer) {
  static_cast<WebrtcbinPeer*>(peer)->on_element_added(element);
}

GstBusSyncReply PeerCallbacks::on_bus_sync(GstBus*, GstMessage* message, gpointer peer) {
  static_cast<WebrtcbinPeer*>(peer)->on_bus_message(message);
  gst_message_unref(message);  // a sync handler that drops a message owns it
  return GST_BUS_DROP;
}

void PeerCallbacks::on_sink_caps_notify(GObject*, GParamSpec*, gpointer track) {
  auto* t = static_cast<LocalTrack*>(track);
  t->peer->on_sink_caps(*t);
}

GstPadProbeReturn PeerCallbacks::on_send_data(GstPad*, GstPadProbeInfo* info, gpointer track) {
  auto* t = static_cast<LocalTrack*>(track);
  if (t->peer->sending_blocked() || t->removed.load() || !t->live.load() ||
      (t->spec.kind == MediaKind::Video && t->muted.load()))
    return GST_PAD_PROBE_DROP;
  if (t->spec.kind == MediaKind::Audio && (info->type & GST_PAD_PROBE_TYPE_BUFFER) != 0)
    info->data = t->peer->dtmf_rewrite(static_cast<GstBuffer*>(info->data));
  for_each_buffer(info, [t](GstBuffer* b) { t->sent.add(gst_buffer_get_size(b)); });
  return GST_PAD_PROBE_OK;
}

GstPadProbeReturn PeerCallbacks::on_encoder_input(GstPad*, GstPadProbeInfo*, gpointer track) {
  auto* t = static_cast<LocalTrack*>(track);
  // Before caps went through, frames must pass: the encoder's output caps come with its first
  // frame, and webrtcbin negotiates only sink pads with caps.
  return t->removed.load() && t->caps_seen.load() ? GST_PAD_PROBE_DROP : GST_PAD_PROBE_OK;
}

GstPadProbeReturn PeerCallbacks::on_receive_data(GstPad*, GstPadProbeInfo* info, gpointer counters) {
  auto* c = static_cast<Counters*>(counters);
  for_each_buffer(info, [c](GstBuffer* b) { c->add(gst_buffer_get_size(b)); });
  return GST_PAD_PROBE_OK;
}

GstPadProbeReturn PeerCallbacks::on_srtp_out(GstPad*, GstPadProbeInfo* info, gpointer peer) {
  auto* p = static_cast<WebrtcbinPeer*>(peer);
  if ((info->type & GST_PAD_PROBE_TYPE_BUFFER) == 0) return GST_PAD_PROBE_OK;
  return p->on_incoming_rtp(static_cast<GstBuffer*>(info->data)) ? GST_PAD_PROBE_DROP : GST_PAD_PROBE_OK;
}

GstPadProbeReturn PeerCallbacks::on_decoded_audio(GstPad* pad, GstPadProbeInfo*, gpointer peer) {
  if (static_cast<WebrtcbinPeer*>(peer)->on_decoded(MediaKind::Audio)) return GST_PAD_PROBE_OK;
  stop_decoding(pad);
  return GST_PAD_PROBE_REMOVE;
}

GstPadProbeReturn PeerCallbacks::on_decoded_video(GstPad* pad, GstPadProbeInfo*, gpointer peer) {
  if (static_cast<WebrtcbinPeer*>(peer)->on_decoded(MediaKind::Video)) return GST_PAD_PROBE_OK;
  stop_decoding(pad);
  return GST_PAD_PROBE_REMOVE;
}

// ---- receive branches ------------------------------------------------------------------------

void WebrtcbinPeer::on_pad_added(GstPad* pad) {
  if (closing() || gst_pad_get_direction(pad) != GST_PAD_SRC) return;  // trap 8
  gst::CapsRef caps(gst_pad_get_current_caps(pad));
  if (!caps) caps.reset(gst_pad_query_caps(pad, nullptr));
  const GstStructure* s = caps && !gst_caps_is_empty(caps.get()) ? gst_caps_get_structure(caps.get(), 0) : nullptr;
  const char* media = s != nullptr ? gst_structure_get_string(s, "media") : nullptr;
  const char* encoding = s != nullptr ? gst_structure_get_string(s, "encoding-name") : nullptr;
  const bool video = media != nullptr && std::strcmp(media, "video") == 0;
  const MediaKind kind = video ? MediaKind::Video : MediaKind::Audio;
  const std::string enc = encoding != nullptr ? encoding : "";

  std::vector<GstElement*> chain;
  GstElement* decoder = nullptr;
  if (enc == "OPUS") {
    decoder = gst::make("opusdec");
    chain = {gst::make("rtpopusdepay"), decoder, gst::make("audioconvert"), gst::make("audioresample"),
             gst::make(config_.play_audio ? "autoaudiosink" : "fakesink")};
  } else if (enc == "VP8") {
    decoder = gst::make("vp8dec");
    chain = {gst::make("rtpvp8depay"), decoder, gst::make("fakesink")};
  } else {
    chain = {gst::make("fakesink")};
  }
  for (auto* e : chain) {
    if (e == nullptr) {
      for (auto* other : chain)
        if (other != nullptr) gst_object_unref(gst_object_ref_sink(other));
      return fail("receive", "decoder elements for " + enc + " are not installed");
    }
  }
  if (!(config_.play_audio && enc == "OPUS"))  // fakesink: no clock wait, no preroll
    g_object_set(chain.back(), "sync", FALSE, "async", FALSE, nullptr);
  for (auto* e : chain) gst_bin_add(gst::bin(pipeline_), e);
  for (std::size_t i = 0; i + 1 < chain.size(); ++i) gst_element_link(chain[i], chain[i + 1]);
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) gst_element_sync_state_with_parent(*it);

  gst_pad_add_probe(pad, static_cast<GstPadProbeType>(GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST),
                    &PeerCallbacks::on_receive_data, video ? &recv_video_ : &recv_audio_, nullptr);
  if (decoder != nullptr) {
    GstPad* out = gst_element_get_static_pad(decoder, "src");
    gst_pad_add_probe(out, GST_PAD_PROBE_TYPE_BUFFER,
                      video ? &PeerCallbacks::on_decoded_video : &PeerCallbacks::on_decoded_audio, this, nullptr);
    gst_object_unref(out);
  }
  GstPad* in = gst_element_get_static_pad(chain.front(), "sink");
  GstPadLinkReturn linked = gst_pad_link(pad, in);
  gst_object_unref(in);
  if (linked != GST_PAD_LINK_OK) return fail("receive", "could not link the " + enc + " decoder");

  std::string mid;
  GObject* transceiver = nullptr;
  g_object_get(pad, "transceiver", &transceiver, nullptr);  // +1
  if (transceiver != nullptr) {
    gchar* m = nullptr;
    g_object_get(transceiver, "mid", &m, nullptr);
    mid = gst::take_string(m);
    g_object_unref(transceiver);
  }
  RemoteTrackAdded added{id_, kind, {}, mid};
  {
    std::lock_guard lock(mu_);
    receiving_mids_[mid] = kind;
    if (announced_.count(mid) > 0) return;
    for (const auto& section : remote_sections_)
      if (section.mid == mid) added.stream_id = section.stream_id;
    announced_[mid] = added;
  }
  emit_(added);
}

void WebrtcbinPeer::update_remote_tracks(SdpType type, bool remote_hold) {
  if (remote_hold) return;  // holding is not removing: a holding peer's sections send nothing
  std::vector<MediaEvent> changes;
  {
    std::lock_guard lock(mu_);
    // An answer's section sends nothing either where our offer asked for nothing (our hold).
    std::set<std::string> unasked;
    if (type == SdpType::Answer)
      for (const auto& ours : sdp::media_sections(local_sdp_)) {
        const auto d = ours.direction.value_or(sdp::Direction::SendRecv);
        if (d == sdp::Direction::SendOnly || d == sdp::Direction::Inactive) unasked.insert(ours.mid);
      }
    for (const auto& s : remote_sections_) {
      if ((s.kind != "audio" && s.kind != "video") || unasked.count(s.mid) > 0) continue;
      const auto d = s.direction.value_or(sdp::Direction::SendRecv);
      const bool sends = !s.rejected && (d == sdp::Direction::SendRecv || d == sdp::Direction::SendOnly);
      auto announced = announced_.find(s.mid);
      const bool replaced = sends && announced != announced_.end() && !s.stream_id.empty() &&
                            announced->second.stream_id != s.stream_id;
      if (announced != announced_.end() && (!sends || replaced)) {
        changes.push_back(RemoteTrackRemoved{id_, announced->second.kind, announced->second.stream_id});
        announced_.erase(announced);
        announced = announced_.end();
      }
      // A section that sends again keeps its src pad: webrtcbin adds none, we announce it.
      auto receiving = receiving_mids_.find(s.mid);
      if (sends && announced == announced_.end() && receiving != receiving_mids_.end()) {
        RemoteTrackAdded added{id_, receiving->second, s.stream_id, s.mid};
        announced_[s.mid] = added;
        changes.push_back(added);
      }
    }
  }
  for (auto& e : changes) emit_(std::move(e));
}

bool WebrtcbinPeer::on_decoded(MediaKind kind) {
  const bool audio = kind == MediaKind::Audio;
  (audio ? decoded_audio_ : decoded_video_).fetch_add(1, std::memory_order_relaxed);
  auto& flag = audio ? first_audio_ : first_video_;
  if (!flag.exchange(true) && !closing()) emit_(FirstMediaDecoded{id_, kind});
  // Only played audio needs every frame decoded; elsewhere the decoded frames go to a fakesink,
  // and the first one has shown that the stream decodes.
  return audio && config_.play_audio;
}

void WebrtcbinPeer::on_element_added(GstElement* element) {
  const std::string name = factory_name(element);
  if (name == "srtpdec") {
    GstPad* out = gst_element_get_static_pad(element, "rtp_src");
    if (out != nullptr) {
      gst_pad_add_probe(out, GST_PAD_PROBE_TYPE_BUFFER, &PeerCallbacks::on_srtp_out, this, nullptr);
      gst_object_unref(out);
    }
  } else if (name == "nicesrc") {  // everything the peer sends us arrives here (watchdog)
    GstPad* out = gst_element_get_static_pad(element, "src");
    if (out != nullptr) {
      gst_pad_add_probe(out, static_cast<GstPadProbeType>(GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST),
                        &PeerCallbacks::on_receive_data, &transport_in_, nullptr);
      gst_object_unref(out);
    }
  } else if (name == "dtlssrtpdec" && certificate_) {
    g_object_set(element, "pem", certificate_->pem.c_str(), nullptr);
  }
}

bool WebrtcbinPeer::on_incoming_rtp(GstBuffer* buffer) {
  const int pt = dtmf_recv_pt_.load();
  if (pt < 0) return false;
  GstRTPBuffer rtp = GST_RTP_BUFFER_INIT;
  if (gst_rtp_buffer_map(buffer, GST_MAP_READ, &rtp) == FALSE) return false;
  bool is_dtmf = gst_rtp_buffer_get_payload_type(&rtp) == pt;
  if (is_dtmf && gst_rtp_buffer_get_payload_len(&rtp) >= 4) {
    const auto* payload = static_cast<const guint8*>(gst_rtp_buffer_get_payload(&rtp));
    const guint32 ts = gst_rtp_buffer_get_timestamp(&rtp);
    const int event = payload[0];
    bool fresh = false;
    {
      std::lock_guard lock(dtmf_mu_);
      fresh = !last_dtmf_ts_ || *last_dtmf_ts_ != ts;
      last_dtmf_ts_ = ts;
    }
    if (fresh && event < 16 && !closing()) emit_(DtmfReceived{id_, dtmf_digit(event)});
  }
  gst_rtp_buffer_unmap(&rtp);
  return is_dtmf;  // rtpbin has no caps for it: keep it out of the jitterbuffer
}

void WebrtcbinPeer::on_bus_message(GstMessage* message) {
  if (closing()) return;
  if (message->type == GST_MESSAGE_ERROR) {
    GError* err = nullptr;
    gchar* debug = nullptr;
    gst_message_parse_error(message, &err, &debug);
    std::string text = err != nullptr ? err->message : "GStreamer error";
    std::string source = message->src != nullptr ? gst::take_string(gst_object_get_name(message->src)) : "?";
    if (err != nullptr) g_error_free(err);
    g_free(debug);
    fail("pipeline", source + ": " + text);
  }
}

}  // namespace mxcall::media
