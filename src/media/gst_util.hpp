// Small C++ helpers over GLib/GStreamer's C API: -Wold-style-cast forbids the C-cast macros
// (G_CALLBACK, GST_ELEMENT, ...), so the casts live here, once.
#pragma once

#include <gst/gst.h>

#include <memory>
#include <string>

namespace mxcall::media::gst {

// G_CALLBACK without the C cast. GCallback is void(*)(void), which every function pointer
// may be cast to without -Wcast-function-type complaining.
template <typename Fn>
GCallback callback(Fn* fn) {
  return reinterpret_cast<GCallback>(fn);
}

template <typename Fn>
gulong connect(gpointer instance, const char* signal, Fn* fn, gpointer data) {
  return g_signal_connect_data(instance, signal, callback(fn), data, nullptr, GConnectFlags{});
}

inline GstElement* element(gpointer p) { return static_cast<GstElement*>(p); }
inline GstBin* bin(gpointer p) { return static_cast<GstBin*>(p); }
inline GstObject* object(gpointer p) { return static_cast<GstObject*>(p); }
inline GstPad* pad(gpointer p) { return static_cast<GstPad*>(p); }

struct ObjectUnref {
  void operator()(gpointer p) const {
    if (p != nullptr) gst_object_unref(p);
  }
};
template <typename T>
using Ref = std::unique_ptr<T, ObjectUnref>;

struct CapsUnref {
  void operator()(GstCaps* c) const {
    if (c != nullptr) gst_caps_unref(c);
  }
};
using CapsRef = std::unique_ptr<GstCaps, CapsUnref>;

// g_free'd strings (g_object_get of a string property, gst_sdp_message_as_text, ...).
inline std::string take_string(gchar* s) {
  std::string out = s != nullptr ? s : "";
  g_free(s);
  return out;
}

// An element from a factory, or nullptr when the plugin is missing.
inline GstElement* make(const char* factory, const char* name = nullptr) {
  return gst_element_factory_make(factory, name);
}

// A capsfilter with these caps, or nullptr when the plugin is missing.
inline GstElement* caps_filter(const char* caps_text) {
  GstElement* filter = make("capsfilter");
  if (filter == nullptr) return nullptr;
  GstCaps* caps = gst_caps_from_string(caps_text);
  g_object_set(filter, "caps", caps, nullptr);
  gst_caps_unref(caps);
  return filter;
}

}  // namespace mxcall::media::gst
