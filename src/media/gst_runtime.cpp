#include "media/gst_runtime.hpp"

#include <gst/gst.h>

#include <condition_variable>
#include <mutex>

namespace mxcall::media {

Status ensure_gstreamer() {
  static std::once_flag once;
  static std::string failure;
  std::call_once(once, [] {
    GError* err = nullptr;
    if (gst_init_check(nullptr, nullptr, &err) == FALSE) {
      failure = std::string("GStreamer failed to initialise: ") + (err ? err->message : "unknown");
      if (err != nullptr) g_error_free(err);
      return;
    }
    for (const char* f : {"webrtcbin", "opusenc", "rtpopuspay", "audiotestsrc", "nicesrc",
                          "dtlssrtpdec", "vp8enc", "rtpvp8pay"}) {
      GstElementFactory* factory = gst_element_factory_find(f);
      if (factory == nullptr) {
        failure = std::string("GStreamer element '") + f +
                  "' is missing (install gstreamer1.0-plugins-{base,good,bad} and gstreamer1.0-nice)";
        return;
      }
      gst_object_unref(factory);
    }
  });
  if (!failure.empty()) return Error::make(ErrorKind::InvalidArgument, failure);
  return ok_status();
}

namespace {

using Task = std::function<void()>;

gboolean run_task(gpointer data) {
  (*static_cast<Task*>(data))();
  return G_SOURCE_REMOVE;
}

void delete_task(gpointer data) { delete static_cast<Task*>(data); }

}  // namespace

GstRuntime::GstRuntime() {
  context_ = g_main_context_new();
  loop_ = g_main_loop_new(context_, FALSE);
  thread_ = std::thread([this] {
    g_main_context_push_thread_default(context_);
    g_main_loop_run(loop_);
    g_main_context_pop_thread_default(context_);
  });
}

GstRuntime::~GstRuntime() {
  post([this] { g_main_loop_quit(loop_); });
  if (thread_.joinable()) thread_.join();
  g_main_loop_unref(loop_);
  g_main_context_unref(context_);  // drops sources never run (their tasks are deleted)
}

void GstRuntime::attach(GSource* source, std::function<void()> fn) {
  g_source_set_callback(source, run_task, new Task(std::move(fn)), delete_task);
  g_source_attach(source, context_);
  g_source_unref(source);
}

void GstRuntime::post(std::function<void()> fn) { attach(g_idle_source_new(), std::move(fn)); }

void GstRuntime::post_after(std::chrono::milliseconds delay, std::function<void()> fn) {
  attach(g_timeout_source_new(static_cast<guint>(delay.count())), std::move(fn));
}

void GstRuntime::drain() {
  if (on_loop_thread()) return;
  std::mutex m;
  std::condition_variable cv;
  bool done = false;
  post([&] {
    std::lock_guard lock(m);
    done = true;
    cv.notify_all();
  });
  std::unique_lock lock(m);
  cv.wait(lock, [&] { return done; });
}

}  // namespace mxcall::media
