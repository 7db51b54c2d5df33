// The GStreamer side of the engine's threads: gst_init once per process, and one GLib main
// loop thread per engine where every GStreamer callback's follow-up work runs (STACK trap 7:
// webrtcbin's own thread must never wait on anything).
#pragma once

#include <glib.h>

#include <chrono>
#include <functional>
#include <thread>

#include "mxcall/error.hpp"

namespace mxcall::media {

// gst_init once; an error when GStreamer or a needed plugin is missing.
Status ensure_gstreamer();

class GstRuntime {
 public:
  GstRuntime();
  ~GstRuntime();
  GstRuntime(const GstRuntime&) = delete;
  GstRuntime& operator=(const GstRuntime&) = delete;

  // Runs `fn` on the loop thread, later (never inline, even when called from that thread).
  void post(std::function<void()> fn);
  void post_after(std::chrono::milliseconds delay, std::function<void()> fn);
  // Blocks until everything posted before this call has run. Not from the loop thread.
  void drain();
  bool on_loop_thread() const { return std::this_thread::get_id() == thread_.get_id(); }

 private:
  void attach(GSource* source, std::function<void()> fn);

  GMainContext* context_ = nullptr;
  GMainLoop* loop_ = nullptr;
  std::thread thread_;
};

}  // namespace mxcall::media
