#include "media/webrtcbin_engine.hpp"

#include <gst/gst.h>

#include "media/gst_util.hpp"

#include "mxcall/media_webrtcbin.hpp"

namespace mxcall::media {

// ---- EventHub --------------------------------------------------------------------------------

void EventHub::set_sink(MediaEngine::EventSink sink) {
  std::lock_guard lock(mu_);
  sink_ = sink ? std::make_shared<MediaEngine::EventSink>(std::move(sink)) : nullptr;
}

void EventHub::open(PeerId peer) {
  std::lock_guard lock(mu_);
  open_.insert(peer);
}

void EventHub::close(PeerId peer) {
  std::lock_guard lock(mu_);
  open_.erase(peer);
}

void EventHub::deliver(const MediaEvent& event) {
  std::shared_ptr<MediaEngine::EventSink> sink;
  {
    std::lock_guard lock(mu_);
    if (open_.count(peer_of(event)) == 0) return;
    sink = sink_;
  }
  if (sink) (*sink)(event);
}

// ---- WebrtcbinEngine -------------------------------------------------------------------------

std::unique_ptr<MediaEngine> make_webrtcbin_engine() { return std::make_unique<WebrtcbinEngine>(); }

WebrtcbinEngine::WebrtcbinEngine() : runtime_(std::make_unique<GstRuntime>()) {}

WebrtcbinEngine::~WebrtcbinEngine() {
  for (auto& [id, peer] : peers_) {
    hub_->close(id);
    peer->shutdown();
  }
  peers_.clear();
  runtime_.reset();  // joins the loop thread; undelivered events are dropped
}

void WebrtcbinEngine::set_event_sink(EventSink sink) {
  hub_->set_sink(std::move(sink));
  runtime_->drain();  // once this returns, the previous sink is not running and never will be
}

void WebrtcbinEngine::warm_up() {
  // Loads the plugins and makes GStreamer generate its process-wide DTLS certificate (100 to
  // 550 ms of CPU) on the loop thread, before a call needs them.
  runtime_->post([] {
    if (!ensure_gstreamer().ok()) return;
    for (const char* factory : {"dtlssrtpdec", "webrtcbin", "opusenc", "opusdec", "nicesrc", "vp8enc"}) {
      GstElement* e = gst_element_factory_make(factory, nullptr);
      if (e != nullptr) gst_object_unref(gst_object_ref_sink(e));
    }
  });
}

void WebrtcbinEngine::post_event(MediaEvent event) {
  runtime_->post([hub = hub_, ev = std::move(event)] { hub->deliver(ev); });
}

Result<PeerId> WebrtcbinEngine::create_peer(const PeerConfig& config) {
  const PeerId id = next_id_++;
  hub_->open(id);
  auto peer = WebrtcbinPeer::create(id, config, *runtime_, shared_sources_, [this](MediaEvent ev) { post_event(std::move(ev)); });
  if (!peer.ok()) {
    hub_->close(id);
    return peer.error();
  }
  peers_.emplace(id, std::move(peer).value());
  return id;
}

void WebrtcbinEngine::close_peer(PeerId id) {
  auto it = peers_.find(id);
  if (it == peers_.end()) return;
  hub_->close(id);  // nothing more is delivered for it, even events already queued
  auto peer = std::move(it->second);
  peers_.erase(it);
  peer->shutdown();
}

std::shared_ptr<WebrtcbinPeer> WebrtcbinEngine::find(PeerId id) const {
  auto it = peers_.find(id);
  return it == peers_.end() ? nullptr : it->second;
}

void WebrtcbinEngine::unknown_peer(PeerId id, const char* operation) {
  // An event for a closed peer would be dropped by the hub; report it as if it were open.
  runtime_->post([hub = hub_, id, op = std::string(operation)] {
    hub->open(id);
    hub->deliver(OperationFailed{id, op, "no such peer"});
    hub->close(id);
  });
}

namespace {
Error no_peer(PeerId id) { return Error::make(ErrorKind::InvalidArgument, "no peer " + std::to_string(id)); }
}  // namespace

Status WebrtcbinEngine::add_track(PeerId id, const TrackSpec& track) {
  auto peer = find(id);
  return peer ? peer->add_track(track) : Status(no_peer(id));
}

Status WebrtcbinEngine::remove_track(PeerId id, const std::string& track_id) {
  auto peer = find(id);
  return peer ? peer->remove_track(track_id) : Status(no_peer(id));
}

void WebrtcbinEngine::create_offer(PeerId id, const OfferOptions& options) {
  if (auto peer = find(id)) return peer->create_offer(options);
  unknown_peer(id, "create_offer");
}

void WebrtcbinEngine::create_answer(PeerId id) {
  if (auto peer = find(id)) return peer->create_answer();
  unknown_peer(id, "create_answer");
}

void WebrtcbinEngine::set_remote_description(PeerId id, const SessionDescription& description) {
  if (auto peer = find(id)) return peer->set_remote_description(description);
  unknown_peer(id, "set_remote_description");
}

void WebrtcbinEngine::add_remote_candidate(PeerId id, const IceCandidate& candidate) {
  if (auto peer = find(id)) return peer->add_remote_candidate(candidate);
  unknown_peer(id, "add_remote_candidate");
}

void WebrtcbinEngine::set_track_muted(PeerId id, const std::string& track_id, bool muted) {
  if (auto peer = find(id)) peer->set_track_muted(track_id, muted);
}

void WebrtcbinEngine::set_local_hold(PeerId id, bool on_hold) {
  if (auto peer = find(id)) peer->set_local_hold(on_hold);
}

Status WebrtcbinEngine::send_dtmf(PeerId id, const std::string& digits) {
  auto peer = find(id);
  return peer ? peer->send_dtmf(digits) : Status(no_peer(id));
}

std::size_t WebrtcbinEngine::count_elements(const std::string& factory) const {
  std::vector<GstElement*> pipelines = shared_sources_.pipelines();  // +1 each
  for (const auto& [id, peer] : peers_)
    if (peer->pipeline() != nullptr) pipelines.push_back(gst::element(gst_object_ref(peer->pipeline())));
  std::size_t n = 0;
  for (GstElement* pipeline : pipelines) {
    GstIterator* it = gst_bin_iterate_recurse(gst::bin(pipeline));
    GValue item = G_VALUE_INIT;
    while (gst_iterator_next(it, &item) == GST_ITERATOR_OK) {
      auto* element = gst::element(g_value_get_object(&item));
      GstElementFactory* f = gst_element_get_factory(element);
      if (f != nullptr && factory == gst_plugin_feature_get_name(f)) ++n;
      g_value_reset(&item);
    }
    g_value_unset(&item);
    gst_iterator_free(it);
    gst_object_unref(pipeline);
  }
  return n;
}

GstElement* WebrtcbinEngine::peer_pipeline(PeerId id) const {
  auto peer = find(id);
  if (!peer || peer->pipeline() == nullptr) return nullptr;
  return gst::element(gst_object_ref(peer->pipeline()));
}

PeerStats WebrtcbinEngine::stats(PeerId id) const {
  auto peer = find(id);
  return peer ? peer->stats() : PeerStats{};
}

}  // namespace mxcall::media
