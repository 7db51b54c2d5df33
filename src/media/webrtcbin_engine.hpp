// WebrtcbinEngine: the MediaEngine over GStreamer webrtcbin. Owns the peers by id and the loop
// thread every event is delivered on (in the order the peers produced them).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <set>

#include "media/gst_runtime.hpp"
#include "media/webrtcbin_peer.hpp"
#include "mxcall/media.hpp"

namespace mxcall::media {

// The sink and the set of open peers, shared with queued deliveries: an event for a peer
// that was closed meanwhile is dropped, and the sink is never called with a lock held.
class EventHub {
 public:
  void set_sink(MediaEngine::EventSink sink);
  void open(PeerId peer);
  void close(PeerId peer);
  void deliver(const MediaEvent& event);

 private:
  std::mutex mu_;
  std::shared_ptr<MediaEngine::EventSink> sink_;
  std::set<PeerId> open_;
};

class WebrtcbinEngine final : public MediaEngine {
 public:
  WebrtcbinEngine();
  ~WebrtcbinEngine() override;

  void set_event_sink(EventSink sink) override;
  void warm_up() override;
  Result<PeerId> create_peer(const PeerConfig& config) override;
  void close_peer(PeerId peer) override;
  Status add_track(PeerId peer, const TrackSpec& track) override;
  Status remove_track(PeerId peer, const std::string& track_id) override;
  void create_offer(PeerId peer, const OfferOptions& options = {}) override;
  void create_answer(PeerId peer) override;
  void set_remote_description(PeerId peer, const SessionDescription& description) override;
  void add_remote_candidate(PeerId peer, const IceCandidate& candidate) override;
  void set_track_muted(PeerId peer, const std::string& track_id, bool muted) override;
  void set_local_hold(PeerId peer, bool on_hold) override;
  Status send_dtmf(PeerId peer, const std::string& digits) override;
  PeerStats stats(PeerId peer) const override;

  // Elements made by `factory` in every pipeline of this engine (peers and shared sources):
  // how tests see how many encoders really run. Owner thread.
  std::size_t count_elements(const std::string& factory) const;
  // The peer's current pipeline (+1; a new one after an ICE restart), or nullptr. Owner thread.
  GstElement* peer_pipeline(PeerId peer) const;

 private:
  std::shared_ptr<WebrtcbinPeer> find(PeerId peer) const;
  void post_event(MediaEvent event);
  void unknown_peer(PeerId peer, const char* operation);

  std::shared_ptr<EventHub> hub_ = std::make_shared<EventHub>();
  std::unique_ptr<GstRuntime> runtime_;
  SharedSources shared_sources_;  // outlives the peers (declared before them)
  std::map<PeerId, std::shared_ptr<WebrtcbinPeer>> peers_;  // owner thread only
  PeerId next_id_ = 1;
};

}  // namespace mxcall::media
