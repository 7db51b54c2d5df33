// The C callbacks GStreamer calls for a WebrtcbinPeer (signals, probes, bus, promises). They
// run on GStreamer's threads and only forward to the peer, which posts events.
#pragma once

#include <gst/gst.h>

#include <functional>

namespace mxcall::media {

class WebrtcbinPeer;
struct LocalTrack;

// A promise whose change function runs `fn` (on the thread that replies: webrtcbin's).
GstPromise* make_promise(std::function<void(GstPromise*)> fn);

struct PeerCallbacks {
  static void on_ice_candidate(GstElement* webrtc, guint mline, gchar* candidate, gpointer peer);
  static void on_gathering_notify(GObject* webrtc, GParamSpec* spec, gpointer peer);
  static void on_ice_notify(GObject* webrtc, GParamSpec* spec, gpointer peer);
  static void on_pad_added(GstElement* webrtc, GstPad* pad, gpointer peer);
  static void on_deep_element_added(GstBin* bin, GstBin* sub_bin, GstElement* element, gpointer peer);
  static GstBusSyncReply on_bus_sync(GstBus* bus, GstMessage* message, gpointer peer);
  static void on_sink_caps_notify(GObject* pad, GParamSpec* spec, gpointer track);
  static GstPadProbeReturn on_send_data(GstPad* pad, GstPadProbeInfo* info, gpointer track);
  static GstPadProbeReturn on_encoder_input(GstPad* pad, GstPadProbeInfo* info, gpointer track);
  static GstPadProbeReturn on_receive_data(GstPad* pad, GstPadProbeInfo* info, gpointer counters);
  static GstPadProbeReturn on_srtp_out(GstPad* pad, GstPadProbeInfo* info, gpointer peer);
  static GstPadProbeReturn on_decoded_audio(GstPad* pad, GstPadProbeInfo* info, gpointer peer);
  static GstPadProbeReturn on_decoded_video(GstPad* pad, GstPadProbeInfo* info, gpointer peer);
};

}  // namespace mxcall::media
