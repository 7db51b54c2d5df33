// Encode once, send to many (TrackSpec::shared_source): one hub engine whose peers all send the
// same shared source, each to a peer of a leaf engine, on real webrtcbin in a loopback-only
// network namespace. What a group call's participant does with its mesh.
#include <gtest/gtest.h>

#include <gst/gst.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>

#include "call_harness.hpp"
#include "fanout_harness.hpp"
#include "media/gst_util.hpp"
#include "media/shared_source.hpp"

namespace mxcall::media::test {
namespace {

TrackSpec shared_audio(const std::string& key = "mesh") { return test_track(MediaKind::Audio, "hubstream", "audio", key); }
TrackSpec shared_video(const std::string& key = "mesh") { return test_track(MediaKind::Video, "hubstream", "video", key); }

class Fanout : public ::testing::Test {
 protected:
  FanoutHarness h{loopback_config()};

  std::uint64_t audio_in(std::size_t i) { return h.leaf().stats(h.link(i).leaf).audio.packets_received; }
  std::uint64_t video_in(std::size_t i) { return h.leaf().stats(h.link(i).leaf).video.packets_received; }

  void connect_links(std::size_t n, const std::vector<TrackSpec>& tracks = {shared_audio()}) {
    for (std::size_t i = 0; i < n; ++i) {
      const auto idx = h.add_link(tracks);
      ASSERT_TRUE(h.connect(idx)) << "link " << idx << " did not connect";
    }
  }
  bool leaf_decodes(std::size_t i, MediaKind kind) {
    return h.wait([&] { return h.link(i).leaf_decoded.count(kind) > 0; }, 10s);
  }
  // At least `packets` more audio packets reach leaf i.
  bool audio_flows(std::size_t i, std::uint64_t packets = 25) {
    const auto start = audio_in(i);
    return h.wait([&] { return audio_in(i) >= start + packets; }, 5s);
  }
  // Mean size of the audio RTP packets leaf i receives over ~1 s (silence: ~15 bytes; the
  // test tone at opusenc's default bitrate: well over 100).
  double audio_packet_bytes(std::size_t i) {
    const auto s0 = h.leaf().stats(h.link(i).leaf).audio;
    h.observe(1000ms);
    const auto s1 = h.leaf().stats(h.link(i).leaf).audio;
    if (s1.packets_received == s0.packets_received) return 0;
    return static_cast<double>(s1.bytes_received - s0.bytes_received) /
           static_cast<double>(s1.packets_received - s0.packets_received);
  }
  void expect_no_failures() {
    for (std::size_t i = 0; i < h.size(); ++i) EXPECT_TRUE(h.link(i).failures.empty()) << "link " << i;
  }
};

TEST_F(Fanout, ThreePeersDecodeAudioFromOneOpusEncoder) {
  connect_links(3);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_TRUE(leaf_decodes(i, MediaKind::Audio)) << "leaf " << i << " decoded no audio";
    EXPECT_TRUE(audio_flows(i)) << "leaf " << i;
  }
  EXPECT_EQ(h.hub().count_elements("opusenc"), 1u) << "one encoder for the three peers";
  EXPECT_EQ(h.hub().count_elements("rtpopuspay"), 3u) << "a payloader (ssrc, sequence) per peer";
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(h.hub().stats(h.link(i).hub).audio.encoder_fanout, 3u);
  expect_no_failures();
}

TEST_F(Fanout, PeerAddedLaterGetsAudio) {
  connect_links(2);
  ASSERT_TRUE(leaf_decodes(1, MediaKind::Audio));
  const auto late = h.add_link({shared_audio()});
  ASSERT_TRUE(h.connect(late));
  EXPECT_TRUE(leaf_decodes(late, MediaKind::Audio));
  for (std::size_t i = 0; i < 3; ++i) EXPECT_TRUE(audio_flows(i)) << "leaf " << i;
  EXPECT_EQ(h.hub().count_elements("opusenc"), 1u);
  expect_no_failures();
}

TEST_F(Fanout, MutingOneBranchSendsSilenceThereOnly) {
  connect_links(3);
  for (std::size_t i = 0; i < 3; ++i) ASSERT_TRUE(leaf_decodes(i, MediaKind::Audio));
  const double loud = audio_packet_bytes(0);
  EXPECT_GT(loud, 80) << "the test tone should not be that small";

  h.hub().set_track_muted(h.link(0).hub, "audio", true);
  h.observe(300ms);  // packets in flight drain
  EXPECT_TRUE(audio_flows(0)) << "a muted branch keeps sending (silence)";
  EXPECT_LT(audio_packet_bytes(0), 40) << "the muted peer should get Opus silence";
  EXPECT_GT(audio_packet_bytes(1), 80) << "the others still hear us";
  EXPECT_GT(audio_packet_bytes(2), 80);

  h.hub().set_track_muted(h.link(0).hub, "audio", false);
  h.observe(300ms);
  EXPECT_GT(audio_packet_bytes(0), 80) << "unmuted: the tone again";
  expect_no_failures();
}

TEST_F(Fanout, RemovedTrackAndClosedPeerLeaveTheOthersFlowing) {
  connect_links(3);
  for (std::size_t i = 0; i < 3; ++i) ASSERT_TRUE(leaf_decodes(i, MediaKind::Audio));

  // Track removal on one branch (its m-line stays, its SDP says recvonly).
  ASSERT_TRUE(h.hub().remove_track(h.link(0).hub, "audio").ok());
  ASSERT_TRUE(h.negotiate(0));
  ASSERT_TRUE(h.wait([&] { return !h.link(0).leaf_removed.empty(); }, 5s)) << "leaf 0 never saw the removal";
  h.observe(300ms);
  const auto removed_at = audio_in(0);
  // One peer goes away entirely.
  h.close(1);
  EXPECT_TRUE(audio_flows(2, 40));
  EXPECT_LE(audio_in(0), removed_at + 1) << "a removed track kept sending";
  EXPECT_EQ(h.hub().count_elements("opusenc"), 1u);
  EXPECT_EQ(h.hub().stats(h.link(2).hub).audio.encoder_fanout, 1u) << "only link 2 is fed now";

  // Added again: the same branch sends again.
  ASSERT_TRUE(h.hub().add_track(h.link(0).hub, shared_audio()).ok());
  ASSERT_TRUE(h.negotiate(0));
  EXPECT_TRUE(audio_flows(0));
  EXPECT_TRUE(audio_flows(2));
  EXPECT_EQ(h.hub().count_elements("opusenc"), 1u);
  expect_no_failures();
}

struct FirstFrames {
  std::atomic<int> frames{0};
  std::atomic<int> deltas_before_key{0};
  std::atomic<bool> key_seen{false};
};

GstPadProbeReturn count_frame(GstPad*, GstPadProbeInfo* info, gpointer data) {
  auto* f = static_cast<FirstFrames*>(data);
  auto* buffer = static_cast<GstBuffer*>(info->data);
  f->frames.fetch_add(1);
  if (GST_BUFFER_FLAG_IS_SET(buffer, GST_BUFFER_FLAG_DELTA_UNIT)) {
    if (!f->key_seen.load()) f->deltas_before_key.fetch_add(1);
  } else {
    f->key_seen.store(true);
  }
  return GST_PAD_PROBE_OK;
}

void on_element_added(GstBin*, GstBin*, GstElement* element, gpointer data) {
  GstElementFactory* f = gst_element_get_factory(element);
  if (f == nullptr || std::string(gst_plugin_feature_get_name(f)) != "rtpvp8pay") return;
  GstPad* in = gst_element_get_static_pad(element, "sink");
  gst_pad_add_probe(in, GST_PAD_PROBE_TYPE_BUFFER, &count_frame, data, nullptr);
  gst_object_unref(in);
}

TEST_F(Fanout, VideoPeerAddedLaterStartsOnAKeyFrameFromTheOneEncoder) {
  connect_links(2, {shared_audio(), shared_video()});
  for (std::size_t i = 0; i < 2; ++i) ASSERT_TRUE(leaf_decodes(i, MediaKind::Video)) << "leaf " << i;
  h.observe(1500ms);  // the shared encoder is well past its first key frame

  // The late peer's VP8 payloader is watched from the moment it exists.
  const auto late = h.add_link({shared_audio()});
  FirstFrames frames;
  GstElement* pipeline = h.hub().peer_pipeline(h.link(late).hub);
  ASSERT_NE(pipeline, nullptr);
  const gulong handler = g_signal_connect_data(pipeline, "deep-element-added", reinterpret_cast<GCallback>(&on_element_added),
                                               &frames, nullptr, GConnectFlags{});
  ASSERT_TRUE(h.hub().add_track(h.link(late).hub, shared_video()).ok());
  ASSERT_TRUE(h.connect(late));
  EXPECT_TRUE(leaf_decodes(late, MediaKind::Video)) << "the late peer decoded no video";
  EXPECT_TRUE(h.wait([&] { return frames.frames.load() > 5; }, 5s));
  EXPECT_TRUE(frames.key_seen.load());
  EXPECT_EQ(frames.deltas_before_key.load(), 0) << "the late peer did not start on a key frame";
  g_signal_handler_disconnect(pipeline, handler);
  gst_object_unref(pipeline);

  const auto start = video_in(0);
  EXPECT_TRUE(h.wait([&] { return video_in(0) >= start + 15; }, 10s)) << "the first peer's video stopped";
  EXPECT_EQ(h.hub().count_elements("vp8enc"), 1u);
  EXPECT_EQ(h.hub().count_elements("opusenc"), 1u);
  EXPECT_EQ(h.hub().stats(h.link(late).hub).video.encoder_fanout, 3u);
  expect_no_failures();
}

TEST_F(Fanout, IceRestartOfOnePeerKeepsItOnTheSharedEncoder) {
  connect_links(2);
  for (std::size_t i = 0; i < 2; ++i) ASSERT_TRUE(leaf_decodes(i, MediaKind::Audio));
  ASSERT_TRUE(h.negotiate(0, OfferOptions{true}));
  ASSERT_TRUE(h.wait([&] { return h.link(0).hub_up && h.link(0).leaf_up; }));
  EXPECT_EQ(h.hub().stats(h.link(0).hub).ice_generation, 2u);
  EXPECT_TRUE(audio_flows(0)) << "no audio after the restart";
  EXPECT_TRUE(audio_flows(1));
  EXPECT_EQ(h.hub().count_elements("opusenc"), 1u);
  EXPECT_EQ(h.hub().stats(h.link(1).hub).audio.encoder_fanout, 2u);
  expect_no_failures();
}

// The packets a muted branch sends decode to silence of the frame's length.
TEST(OpusSilence, DecodesToSilenceOfTheFrameLength) {
  ASSERT_TRUE(gst_init_check(nullptr, nullptr, nullptr));
  for (int ms : {20, 40, 60}) {
    GstElement* pipeline = gst_parse_launch(
        "appsrc name=src format=time caps=audio/x-opus,channel-mapping-family=0,channels=1,rate=48000 "
        "! opusdec ! audio/x-raw,format=S16LE,rate=48000,channels=1 ! fakesink name=sink sync=false", nullptr);
    ASSERT_NE(pipeline, nullptr);
    struct Decoded { long samples = 0; int peak = 0; } decoded;
    GstElement* sink = gst_bin_get_by_name(gst::bin(pipeline), "sink");
    GstPad* pad = gst_element_get_static_pad(sink, "sink");
    gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER, [](GstPad*, GstPadProbeInfo* info, gpointer data) {
      auto* d = static_cast<Decoded*>(data);
      GstMapInfo map;
      if (gst_buffer_map(static_cast<GstBuffer*>(info->data), &map, GST_MAP_READ)) {
        const auto* s = reinterpret_cast<const gint16*>(map.data);
        for (gsize i = 0; i < map.size / 2; ++i) d->peak = std::max(d->peak, std::abs(static_cast<int>(s[i])));
        d->samples += static_cast<long>(map.size / 2);
        gst_buffer_unmap(static_cast<GstBuffer*>(info->data), &map);
      }
      return GST_PAD_PROBE_OK;
    }, &decoded, nullptr);
    gst_object_unref(pad);
    gst_object_unref(sink);
    GstElement* src = gst_bin_get_by_name(gst::bin(pipeline), "src");
    gst_element_set_state(pipeline, GST_STATE_PLAYING);
    for (int i = 0; i < 3; ++i) {
      GstBuffer* b = opus_silence(std::chrono::milliseconds(ms));
      GST_BUFFER_PTS(b) = static_cast<GstClockTime>(i) * ms * GST_MSECOND;
      GST_BUFFER_DURATION(b) = static_cast<GstClockTime>(ms) * GST_MSECOND;
      GstFlowReturn ret;
      g_signal_emit_by_name(src, "push-buffer", b, &ret);
      gst_buffer_unref(b);
    }
    GstFlowReturn eos = GST_FLOW_OK;
    g_signal_emit_by_name(src, "end-of-stream", &eos);
    GstBus* bus = gst_element_get_bus(pipeline);
    GstMessage* msg = gst_bus_timed_pop_filtered(bus, 5 * GST_SECOND,
                                                 static_cast<GstMessageType>(GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
    ASSERT_NE(msg, nullptr);
    EXPECT_EQ(msg->type, GST_MESSAGE_EOS) << ms << " ms: decoder error";
    gst_message_unref(msg);
    gst_object_unref(bus);
    gst_element_set_state(pipeline, GST_STATE_NULL);
    gst_object_unref(src);
    gst_object_unref(pipeline);
    EXPECT_EQ(decoded.samples, 3L * ms * 48) << ms << " ms frames";
    EXPECT_LE(decoded.peak, 1) << ms << " ms frames";
  }
}

}  // namespace
}  // namespace mxcall::media::test
