// The GStreamer webrtcbin implementation of mxcall::media::MediaEngine.
#pragma once

#include <memory>

#include "mxcall/media.hpp"

namespace mxcall::media {

// One engine per process is typical; each engine runs one GLib loop thread for GStreamer's
// callbacks and delivers every MediaEvent on it. When GStreamer or a required plugin is
// missing, create_peer says so (its Result error).
std::unique_ptr<MediaEngine> make_webrtcbin_engine();

}  // namespace mxcall::media
