// Encode once, send to many: a capture source and its encoder in a pipeline of their own
// (source → convert → encoder → fakesink), whose encoded frames are handed to every attached
// sink, the send branches of the peers of a group call (appsrc → payloader → webrtcbin; see
// webrtcbin_shared.cpp). Each peer keeps its own payloader (ssrc, sequence numbers, payload
// type), mute, hold and key-frame state; only capture and encoding are shared.
//
// The encoder idles (raw frames dropped before it) while no attached sink wants frames, as a
// removed track's own encoder does. Threads: attach/detach from the owner's thread; sinks run
// on the source's streaming thread, under the source's lock, and must not block.
#pragma once

#include <gst/gst.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>

#include "mxcall/media.hpp"

namespace mxcall::media {

class SharedSource {
 public:
  struct Sink {
    // False: the sink needs no frames now (a removed track whose caps went through).
    std::function<bool()> wants;
    // One encoded frame and its caps (both borrowed for the call).
    std::function<void(GstBuffer*, GstCaps*)> push;
  };

  static Result<std::shared_ptr<SharedSource>> create(const TrackSpec& spec);
  ~SharedSource();
  SharedSource(const SharedSource&) = delete;
  SharedSource& operator=(const SharedSource&) = delete;

  MediaKind kind() const { return kind_; }
  std::uint64_t attach(Sink sink);
  // Once it returns the sink is not running and never runs again.
  void detach(std::uint64_t id);
  // Attached sinks that want frames now (peers fed; removed tracks not counted).
  std::uint32_t fed() const;
  // Video: the next frame is a key frame (a peer joined, unmuted, or sent PLI/FIR).
  void request_key_frame();
  GstElement* pipeline() const { return pipeline_; }

 private:
  explicit SharedSource(MediaKind kind) : kind_(kind) {}
  Status build(const TrackSpec& spec);
  static GstPadProbeReturn on_encoder_input(GstPad*, GstPadProbeInfo*, gpointer self);
  static GstPadProbeReturn on_encoded(GstPad*, GstPadProbeInfo*, gpointer self);

  const MediaKind kind_;
  GstElement* pipeline_ = nullptr;  // owned
  GstElement* encoder_ = nullptr;   // borrowed from the pipeline
  GstPad* encoder_out_ = nullptr;   // +1
  mutable std::mutex mu_;
  std::map<std::uint64_t, Sink> sinks_;
  std::uint64_t next_id_ = 1;
  GstCaps* caps_ = nullptr;  // of the encoder's output, once known (under mu_)
};

// The engine's shared sources by (TrackSpec::shared_source, kind, source kind); a source lives
// while a branch holds it.
class SharedSources {
 public:
  Result<std::shared_ptr<SharedSource>> get(const TrackSpec& spec);
  // Every live source's pipeline, +1 each (tests count their encoders).
  std::vector<GstElement*> pipelines() const;

 private:
  using Key = std::tuple<std::string, int, int>;
  mutable std::mutex mu_;
  std::map<Key, std::weak_ptr<SharedSource>> sources_;
};

// An Opus packet that decodes to `duration` of silence (CELT frames of 20 ms; 10 ms and
// shorter as one frame of that size).
GstBuffer* opus_silence(std::chrono::microseconds duration);

}  // namespace mxcall::media
