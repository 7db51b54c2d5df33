// Pipeline lifecycle and negotiation of one webrtcbin peer. Send branches live in
// webrtcbin_tracks.cpp, receive branches and bus handling in webrtcbin_receive.cpp.
#include "media/webrtcbin_peer.hpp"

#include <gst/sdp/sdp.h>
#include <gst/webrtc/webrtc.h>

#include "media/gst_runtime.hpp"
#include "media/gst_util.hpp"
#include "media/ice_servers.hpp"
#include "media/webrtcbin_callbacks.hpp"

namespace mxcall::media {

namespace {

bool has_property(gpointer object, const char* name) {
  auto* klass = reinterpret_cast<GObjectClass*>(static_cast<GTypeInstance*>(object)->g_class);
  return g_object_class_find_property(klass, name) != nullptr;
}

// The error a promise was replied with, or empty.
std::string promise_error(GstPromise* promise) {
  if (gst_promise_wait(promise) != GST_PROMISE_RESULT_REPLIED) return "no reply (webrtcbin closing?)";
  const GstStructure* reply = gst_promise_get_reply(promise);
  if (reply == nullptr || !gst_structure_has_field(reply, "error")) return {};
  GError* err = nullptr;
  gst_structure_get(reply, "error", G_TYPE_ERROR, &err, nullptr);
  std::string msg = err != nullptr ? err->message : "unknown error";
  if (err != nullptr) g_error_free(err);
  return msg;
}

const char* operation_name(SdpType type) { return type == SdpType::Offer ? "create_offer" : "create_answer"; }

}  // namespace

WebrtcbinPeer::WebrtcbinPeer(PeerId id, PeerConfig config, GstRuntime& runtime, SharedSources& shared, Emit emit)
    : id_(id),
      config_(std::move(config)),
      runtime_(runtime),
      emit_(std::move(emit)),
      shared_sources_(shared),
      watchdog_(config_.media_timeout) {}

WebrtcbinPeer::~WebrtcbinPeer() { shutdown(); }

Result<std::shared_ptr<WebrtcbinPeer>> WebrtcbinPeer::create(PeerId id, const PeerConfig& config,
                                                             GstRuntime& runtime, SharedSources& shared, Emit emit) {
  if (auto st = ensure_gstreamer(); !st.ok()) return st.error();
  auto peer = std::make_shared<WebrtcbinPeer>(id, config, runtime, shared, std::move(emit));
  if (auto st = peer->build_pipeline(); !st.ok()) return st.error();
  if (config.media_timeout.count() > 0) peer->schedule_watchdog();
  return peer;
}

Status WebrtcbinPeer::build_pipeline() {
  pipeline_ = gst_pipeline_new(nullptr);
  gst_object_ref_sink(pipeline_);
  webrtc_ = gst::make("webrtcbin");
  if (webrtc_ == nullptr) return Error::make(ErrorKind::InvalidArgument, "webrtcbin is not installed");
  // libwebrtc trap 1 (STACK.md "webrtcbin with libwebrtc peers"): without max-bundle there is
  // no BUNDLE group, and a max-bundle peer (matrix-js-sdk) refuses our answers.
  g_object_set(webrtc_, "bundle-policy", GST_WEBRTC_BUNDLE_POLICY_MAX_BUNDLE, "latency",
               static_cast<guint>(config_.jitterbuffer_latency.count()), nullptr);
  if (config_.relay_only)
    g_object_set(webrtc_, "ice-transport-policy", GST_WEBRTC_ICE_TRANSPORT_POLICY_RELAY, nullptr);
  auto servers = to_gst_ice_servers(config_.ice_servers);
  if (servers.stun) g_object_set(webrtc_, "stun-server", servers.stun->c_str(), nullptr);
  gst_bin_add(gst::bin(pipeline_), webrtc_);
  for (const auto& turn : servers.turn) {
    gboolean added = FALSE;
    g_signal_emit_by_name(webrtc_, "add-turn-server", turn.c_str(), &added);
    if (added == FALSE) return Error::make(ErrorKind::InvalidArgument, "webrtcbin refused TURN server " + turn.substr(0, turn.find(':')));
  }
  configure_ice();

  gst::connect(webrtc_, "on-ice-candidate", &PeerCallbacks::on_ice_candidate, this);
  gst::connect(webrtc_, "notify::ice-gathering-state", &PeerCallbacks::on_gathering_notify, this);
  gst::connect(webrtc_, "notify::ice-connection-state", &PeerCallbacks::on_ice_notify, this);
  gst::connect(webrtc_, "pad-added", &PeerCallbacks::on_pad_added, this);
  gst::connect(pipeline_, "deep-element-added", &PeerCallbacks::on_deep_element_added, this);
  // on-negotiation-needed is ignored on purpose (trap 4): the engine raises NegotiationNeeded
  // itself when a track is added after the first exchange.
  GstBus* bus = gst_element_get_bus(pipeline_);
  gst_bus_set_sync_handler(bus, &PeerCallbacks::on_bus_sync, this, nullptr);
  gst_object_unref(bus);

  if (gst_element_set_state(pipeline_, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE)
    return Error::make(ErrorKind::InvalidArgument, "the webrtcbin pipeline did not start");
  return ok_status();
}

void WebrtcbinPeer::configure_ice() {
  GObject* ice = nullptr;
  g_object_get(webrtc_, "ice-agent", &ice, nullptr);  // +1 (trap 9)
  if (ice == nullptr) return;
  if (has_property(ice, "ice-tcp")) g_object_set(ice, "ice-tcp", FALSE, nullptr);
  if (config_.include_loopback) {  // trap 1
    gboolean ok = FALSE;
    g_signal_emit_by_name(ice, "add-local-ip-address", "127.0.0.1", &ok);
  }
  if (has_property(ice, "agent")) {
    GObject* agent = nullptr;
    g_object_get(ice, "agent", &agent, nullptr);  // +1
    if (agent != nullptr) {
      g_object_set(agent, "upnp", FALSE, "stun-pacing-timer",
                   static_cast<guint>(config_.stun_pacing.count()), nullptr);  // trap 2
      g_object_unref(agent);
    }
  }
  g_object_unref(ice);
}

void WebrtcbinPeer::shutdown() {
  shut_down_.store(true);
  if (closing_.exchange(true)) return;
  teardown_pipeline();
}

void WebrtcbinPeer::teardown_pipeline() {
  if (pipeline_ == nullptr) return;
  {  // shared sources stop feeding us first (their sinks push into our appsrcs)
    std::lock_guard lock(mu_);
    for (auto& t : tracks_) detach_shared(*t);
  }
  gst_element_set_state(pipeline_, GST_STATE_NULL);  // joins streaming and webrtcbin threads
  GstBus* bus = gst_element_get_bus(pipeline_);
  gst_bus_set_sync_handler(bus, nullptr, nullptr, nullptr);
  gst_object_unref(bus);
  g_signal_handlers_disconnect_matched(webrtc_, G_SIGNAL_MATCH_DATA, 0, 0, nullptr, nullptr, this);
  g_signal_handlers_disconnect_matched(pipeline_, G_SIGNAL_MATCH_DATA, 0, 0, nullptr, nullptr, this);
  std::vector<std::unique_ptr<LocalTrack>> tracks;
  {
    std::lock_guard lock(mu_);
    tracks.swap(tracks_);
  }
  for (auto& t : tracks) {
    if (t->sink_pad == nullptr) continue;
    g_signal_handlers_disconnect_matched(t->sink_pad, G_SIGNAL_MATCH_DATA, 0, 0, nullptr, nullptr, t.get());
    gst_element_release_request_pad(webrtc_, t->sink_pad);
    gst_object_unref(t->sink_pad);
  }
  gst_object_unref(pipeline_);
  pipeline_ = nullptr;
  webrtc_ = nullptr;
}

void WebrtcbinPeer::fail(const std::string& operation, const std::string& message) {
  if (!closing()) emit_(OperationFailed{id_, operation, message});
}

// ---- negotiation ---------------------------------------------------------------------------

void WebrtcbinPeer::run_when_caps_ready(std::function<void()> op) {
  {
    std::lock_guard lock(mu_);
    // Offers, answers and remote descriptions wait until every send branch has caps, so that
    // webrtcbin works from negotiated caps (ssrc; a-mid after an ICE restart). STACK.md's
    // libwebrtc trap 4 saw offers made before caps without our stream id; with our capsfilter
    // the payloader's caps query already carries the ssrc (measured: such an offer has it),
    // so it is the msid on the sink pad (webrtcbin_tracks.cpp) that keeps the stream id ours.
    if (caps_pending_ > 0) {
      deferred_.push_back(std::move(op));
      return;
    }
  }
  op();
}

void WebrtcbinPeer::create_offer(const OfferOptions& options) {
  if (options.ice_restart) {
    if (auto st = restart_pipeline(); !st.ok()) return fail("create_offer", "ice restart: " + st.error().message);
  }
  std::uint64_t epoch = 0;
  {
    std::lock_guard lock(mu_);
    epoch = offer_epoch_;
  }
  run_when_caps_ready([this, epoch] { do_create(SdpType::Offer, epoch); });
}

void WebrtcbinPeer::create_answer() {
  // libwebrtc trap 7: an m-line we answer without a send branch can never send later (a sink
  // pad added after the answer makes create-offer fail: "Could not reuse transceiver"), so
  // every offered m-line gets one; those we have no track for stay silent placeholders.
  add_placeholders_for(offered_sections_);
  run_when_caps_ready([this] { do_create(SdpType::Answer, 0); });
}

void WebrtcbinPeer::do_create(SdpType type, std::uint64_t epoch) {
  if (closing()) return;
  bool hold = false;
  {
    std::lock_guard lock(mu_);
    if (type == SdpType::Offer && epoch != offer_epoch_) return;  // a remote offer replaced it
    // Renegotiation offers only: a first offer and an ICE-restart offer gather candidates,
    // which webrtcbin starts when the description is applied.
    hold = type == SdpType::Offer && negotiated_;
  }
  GstPromise* promise = make_promise(
      [this, type, hold, epoch](GstPromise* p) { on_description_created(type, hold, epoch, p); });
  g_signal_emit_by_name(webrtc_, type == SdpType::Offer ? "create-offer" : "create-answer",
                        static_cast<GstStructure*>(nullptr), promise);
  gst_promise_unref(promise);
}

void WebrtcbinPeer::on_description_created(SdpType type, bool hold, std::uint64_t epoch, GstPromise* promise) {
  if (closing()) return;
  auto superseded = [&] {
    std::lock_guard lock(mu_);
    return type == SdpType::Offer && epoch != offer_epoch_;
  };
  if (superseded()) return;  // a remote offer came meanwhile; ours is dropped unseen
  if (auto err = promise_error(promise); !err.empty()) return fail(operation_name(type), err);
  GstWebRTCSessionDescription* desc = nullptr;
  gst_structure_get(gst_promise_get_reply(promise), type == SdpType::Offer ? "offer" : "answer",
                    GST_TYPE_WEBRTC_SESSION_DESCRIPTION, &desc, nullptr);
  if (desc == nullptr) return fail(operation_name(type), "webrtcbin produced no description");
  std::string text = gst::take_string(gst_sdp_message_as_text(desc->sdp));
  if (type == SdpType::Offer) {
    std::lock_guard lock(mu_);
    if (epoch != offer_epoch_) {
      gst_webrtc_session_description_free(desc);
      return;
    }
    in_offer_.clear();  // these become live once the peer answers (see LocalTrack::live)
    for (const auto& t : tracks_)
      if (!t->removed.load()) in_offer_.insert(t->spec.track_id);
    if (hold) held_offer_ = text;
  }
  if (hold) {
    gst_webrtc_session_description_free(desc);
    return on_local_description_set(type, text);
  }
  set_local(desc, [this, type, text, epoch] {
    if (type == SdpType::Offer) {
      std::lock_guard lock(mu_);
      if (epoch != offer_epoch_) return;
    }
    on_local_description_set(type, text);
  });
  gst_webrtc_session_description_free(desc);
}

void WebrtcbinPeer::set_local(GstWebRTCSessionDescription* desc, std::function<void()> done) {
  GstPromise* set = make_promise([this, done = std::move(done)](GstPromise* p) {
    if (closing()) return;
    if (auto err = promise_error(p); !err.empty()) return fail("set_local_description", err);
    done();
  });
  // Called on webrtcbin's thread or ours: only queues a task there, never waits (STACK.md
  // webrtcbin trap 7).
  g_signal_emit_by_name(webrtc_, "set-local-description", desc, set);
  gst_promise_unref(set);
}

void WebrtcbinPeer::on_local_description_set(SdpType type, std::string text) {
  std::string out = outgoing_sdp(type, text);
  {
    std::lock_guard lock(mu_);
    local_sections_ = sdp::media_sections(text);
    local_sdp_ = out;
    if (type == SdpType::Answer) {
      negotiated_ = true;
      dtls_server_ = sdp::setup_role(text) == "passive";
    }
  }
  emit_(LocalDescriptionReady{id_, SessionDescription{type, std::move(out)}});
}

std::string WebrtcbinPeer::outgoing_sdp(SdpType type, const std::string& webrtcbin_sdp) {
  // libwebrtc trap 6: any direction change but to inactive fails in webrtcbin 1.22, so it only
  // ever negotiates sendrecv; what we say (hold, removed tracks) is narrowed here, and the
  // pad probes drop what we do not send.
  const sdp::Direction local_limit = sdp::hold_direction(local_hold_.load(), false);
  const std::set<std::string> silent = silent_transceivers();
  std::map<std::string, sdp::Direction> offered;
  if (type == SdpType::Answer) {
    std::lock_guard lock(mu_);
    offered = remote_offer_dirs_;
  }
  std::string out = sdp::rewrite_directions(
      webrtcbin_sdp, [&](const sdp::MediaSection& section, sdp::Direction current) {
        sdp::Direction d = sdp::intersect(current, local_limit);
        if (silent.count(section.msid_track) > 0) d = sdp::intersect(d, sdp::Direction::RecvOnly);
        if (auto it = offered.find(section.mid); it != offered.end())
          d = sdp::intersect(d, sdp::reverse(it->second));
        return d;
      });
  out = add_dtmf_to_sdp(type, out);
  std::optional<bool> role;
  {
    std::lock_guard lock(mu_);
    role = restart_role_;
  }
  if (type == SdpType::Offer && role) out = sdp::replace_setup(out, *role ? "passive" : "active");
  if (certificate_) out = sdp::replace_fingerprint(out, certificate_->fingerprint);
  return out;
}

void WebrtcbinPeer::set_remote_description(const SessionDescription& description) {
  const char* op = "set_remote_description";
  const std::string& text = description.sdp;
  if (!sdp::looks_like_sdp(text)) return fail(op, "not an SDP (no v=0 line or no m= section)");
  bool restart = false;
  {
    std::lock_guard lock(mu_);
    restart = description.type == SdpType::Offer && sdp::is_ice_restart(remote_sdp_, text);
    if (description.type == SdpType::Offer) {  // our offers not applied yet are void
      ++offer_epoch_;
      held_offer_.reset();
      in_offer_.clear();
    }
  }
  if (description.type == SdpType::Offer) offered_sections_ = sdp::media_sections(text);
  if (restart) {
    if (auto st = restart_pipeline(); !st.ok()) return fail(op, "ice restart: " + st.error().message);
  }
  // Applied once the send branches have caps, so webrtcbin matches our transceivers to the
  // offer's m-lines by kind (a fresh webrtcbin after a restart has none yet).
  run_when_caps_ready([this, description] { apply_remote_description(description); });
}

void WebrtcbinPeer::apply_remote_description(const SessionDescription& description) {
  if (closing()) return;
  const char* op = "set_remote_description";
  const std::string& text = description.sdp;
  bool we_are_dtls_server = false;
  {
    std::lock_guard lock(mu_);
    we_are_dtls_server = dtls_server_.value_or(false);
  }

  auto normalised = sdp::normalise_directions(text);  // libwebrtc trap 6: webrtcbin sees sendrecv
  std::string for_webrtcbin = normalised.sdp;
  // libwebrtc trap 5: webrtcbin answers every actpass with active, even as the DTLS server,
  // which would flip the role; libwebrtc's re-offers then fail ("Failed to set SSL role").
  if (description.type == SdpType::Offer && we_are_dtls_server)
    for_webrtcbin = sdp::force_setup_active(for_webrtcbin);

  // Our renegotiation offer goes in right before its answer (a remote offer voided it in
  // set_remote_description: perfect negotiation's rollback on the polite side).
  std::optional<std::string> held;
  if (description.type == SdpType::Answer) {
    std::lock_guard lock(mu_);
    held.swap(held_offer_);
  }
  if (held) {
    GstSDPMessage* ours = nullptr;
    if (gst_sdp_message_new_from_text(held->c_str(), &ours) != GST_SDP_OK || ours == nullptr)
      return fail("set_local_description", "our own offer could not be parsed");
    GstWebRTCSessionDescription* offer = gst_webrtc_session_description_new(GST_WEBRTC_SDP_TYPE_OFFER, ours);
    set_local(offer, [] {});
    gst_webrtc_session_description_free(offer);
  }

  GstSDPMessage* msg = nullptr;
  if (gst_sdp_message_new_from_text(for_webrtcbin.c_str(), &msg) != GST_SDP_OK || msg == nullptr)
    return fail(op, "the SDP could not be parsed");
  GstWebRTCSessionDescription* desc = gst_webrtc_session_description_new(
      description.type == SdpType::Offer ? GST_WEBRTC_SDP_TYPE_OFFER : GST_WEBRTC_SDP_TYPE_ANSWER, msg);
  const SdpType type = description.type;
  GstPromise* promise = make_promise([this, type, text, normalised](GstPromise* p) {
    if (closing()) return;
    if (auto err = promise_error(p); !err.empty()) return fail("set_remote_description", err);
    std::vector<IceCandidate> queued;
    std::vector<std::function<void()>> now_live;  // video tracks that start sending: key frame
    {
      std::lock_guard lock(mu_);
      if (type == SdpType::Answer) {
        for (const auto& t : tracks_) {
          if (in_offer_.count(t->spec.track_id) == 0 || t->live.exchange(true)) continue;
          if (t->spec.kind == MediaKind::Video) now_live.push_back(key_frame_request(*t));
        }
        in_offer_.clear();
      }
      remote_sdp_ = text;
      remote_sections_ = sdp::media_sections(text);
      if (type == SdpType::Offer) remote_offer_dirs_ = normalised.by_mid;
      if (type == SdpType::Answer) {
        negotiated_ = true;
        dtls_server_ = sdp::setup_role(text) == "active";
      }
      update_dtmf_from_remote(text);
      remote_set_ = true;
      bool sends = false;
      for (const auto& [mid, dir] : normalised.by_mid)
        sends = sends || dir == sdp::Direction::SendRecv || dir == sdp::Direction::SendOnly;
      remote_sends_.store(sends);
      queued.swap(queued_candidates_);
    }
    remote_hold_.store(normalised.remote_hold);
    for (auto& request : now_live) request();
    update_remote_tracks(type, normalised.remote_hold);
    emit_(RemoteDescriptionApplied{id_, type});
    for (const auto& c : queued) emit_add_ice_candidate(c);
  });
  g_signal_emit_by_name(webrtc_, "set-remote-description", desc, promise);
  gst_promise_unref(promise);
  gst_webrtc_session_description_free(desc);
}

// ---- candidates and ICE state ----------------------------------------------------------------

void WebrtcbinPeer::add_remote_candidate(const IceCandidate& candidate) {
  {
    std::lock_guard lock(mu_);
    if (!remote_set_) {
      queued_candidates_.push_back(candidate);
      return;
    }
  }
  emit_add_ice_candidate(candidate);
}

void WebrtcbinPeer::emit_add_ice_candidate(const IceCandidate& candidate) {
  if (closing()) return;
  guint mline = 0;
  if (candidate.sdp_mline_index && *candidate.sdp_mline_index >= 0) {
    mline = static_cast<guint>(*candidate.sdp_mline_index);
  } else if (candidate.sdp_mid) {  // Element may send only a mid, or nothing (trap 5)
    std::lock_guard lock(mu_);
    for (std::size_t i = 0; i < remote_sections_.size(); ++i)
      if (remote_sections_[i].mid == *candidate.sdp_mid) mline = static_cast<guint>(i);
  }
  std::string text = candidate.candidate;
  if (text.rfind("a=", 0) == 0) text = text.substr(2);
  g_signal_emit_by_name(webrtc_, "add-ice-candidate", mline,
                        candidate.is_end_of_candidates() ? nullptr : text.c_str());
}

void WebrtcbinPeer::emit_candidate(guint mline, const char* candidate) {
  if (closing() || candidate == nullptr) return;
  IceCandidate c;
  c.candidate = candidate;
  c.sdp_mline_index = static_cast<int>(mline);
  {
    std::lock_guard lock(mu_);
    if (mline < local_sections_.size()) c.sdp_mid = local_sections_[mline].mid;
    local_candidates_.push_back(c.candidate.rfind("a=", 0) == 0 ? c.candidate.substr(2) : c.candidate);
  }
  emit_(LocalCandidate{id_, std::move(c)});
}

void WebrtcbinPeer::on_gathering_state(int state) {
  if (closing()) return;
  GatheringState s = state == GST_WEBRTC_ICE_GATHERING_STATE_COMPLETE ? GatheringState::Complete
                     : state == GST_WEBRTC_ICE_GATHERING_STATE_GATHERING ? GatheringState::Gathering
                                                                         : GatheringState::New;
  if (s == GatheringState::Complete) {  // webrtcbin never sends an end marker itself (trap 5)
    IceCandidate end;
    {
      std::lock_guard lock(mu_);
      if (end_of_candidates_sent_) return;
      end_of_candidates_sent_ = true;
      end.sdp_mline_index = 0;
      if (!local_sections_.empty()) end.sdp_mid = local_sections_.front().mid;
    }
    emit_(LocalCandidate{id_, std::move(end)});
  }
  emit_(GatheringStateChanged{id_, s});
}

void WebrtcbinPeer::on_ice_state(int state) {
  if (closing() || state < 0 || state > static_cast<int>(IceState::Closed)) return;
  // GstWebRTCICEConnectionState has IceState's order: new, checking, connected, completed,
  // failed, disconnected, closed.
  ice_up_.store(state == GST_WEBRTC_ICE_CONNECTION_STATE_CONNECTED ||
                state == GST_WEBRTC_ICE_CONNECTION_STATE_COMPLETED);
  emit_(IceStateChanged{id_, static_cast<IceState>(state)});
}

void WebrtcbinPeer::set_local_hold(bool on_hold) { local_hold_.store(on_hold); }

}  // namespace mxcall::media
