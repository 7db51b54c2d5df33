// ICE restart for webrtcbin 1.22, which ignores its ice-restart option and a changed remote
// ufrag (STACK trap 6): the peer's pipeline is replaced by a fresh one whose webrtcbin has
// its own DTLS certificate (libwebrtc keeps the old DTLS session on an unchanged fingerprint),
// the same mids (a-mid in the send caps; placeholders for m-lines we had no branch for) and,
// through our offers' a=setup and trap 5's rewrite of incoming offers, the same DTLS role.
#include <gst/webrtc/webrtc.h>

#include "media/gst_util.hpp"
#include "media/webrtcbin_peer.hpp"

namespace mxcall::media {

namespace {

std::string transceiver_mid(GstPad* sink_pad) {
  GObject* transceiver = nullptr;
  g_object_get(sink_pad, "transceiver", &transceiver, nullptr);  // +1
  if (transceiver == nullptr) return {};
  gchar* mid = nullptr;
  g_object_get(transceiver, "mid", &mid, nullptr);
  g_object_unref(transceiver);
  return gst::take_string(mid);
}

}  // namespace

Status WebrtcbinPeer::restart_pipeline() {
  auto cert = generate_dtls_certificate();
  if (!cert.ok()) return cert.error();

  struct Planned {
    std::string mid, kind;
    std::optional<TrackSpec> track;
    bool muted = false, removed = false, placeholder = false;
  };
  std::vector<Planned> plan;
  {
    std::lock_guard lock(mu_);
    std::vector<std::pair<std::string, const LocalTrack*>> by_mid;
    for (const auto& t : tracks_) {
      by_mid.emplace_back(t->sink_pad != nullptr ? transceiver_mid(t->sink_pad) : "", t.get());
      KindStats& k = sent_before_restart_[t->spec.kind == MediaKind::Audio ? 0 : 1];
      k.packets_sent += t->sent.packets.load();
      k.bytes_sent += t->sent.bytes.load();
    }
    // The m-lines in their negotiated order, then tracks that never were in an offer.
    for (const auto& section : local_sections_) {
      if (section.kind != "audio" && section.kind != "video") continue;
      Planned p{section.mid, section.kind, std::nullopt, false, false, false};
      for (auto& [mid, t] : by_mid) {
        if (t != nullptr && mid == section.mid) {
          p.track = t->spec;
          p.muted = t->muted.load();
          p.removed = t->removed.load();
          p.placeholder = t->placeholder;
          t = nullptr;
        }
      }
      plan.push_back(std::move(p));
    }
    for (const auto& [mid, t] : by_mid)
      if (t != nullptr)
        plan.push_back(Planned{"", to_string(t->spec.kind), t->spec, t->muted.load(), t->removed.load(), t->placeholder});
  }

  const std::string placeholder_key = placeholder_shared_key();
  closing_.store(true);  // the old pipeline's callbacks stay quiet while it goes down
  teardown_pipeline();
  {
    std::lock_guard lock(mu_);
    caps_pending_ = 0;
    deferred_.clear();
    negotiated_ = false;  // no NegotiationNeeded for the re-added tracks
    remote_set_ = false;  // remote candidates wait for the new remote description
    queued_candidates_.clear();
    end_of_candidates_sent_ = false;
    restart_role_ = dtls_server_;
    local_candidates_.clear();
    held_offer_.reset();  // it belonged to the old webrtcbin
    in_offer_.clear();
    ++offer_epoch_;
  }
  ice_up_.store(false);  // the fresh agent reports its own states from New on
  generation_.fetch_add(1);  // and the watchdog starts over with it
  certificate_ = std::move(cert).value();
  closing_.store(false);

  if (auto st = build_pipeline(); !st.ok()) return st;
  for (auto& p : plan) {
    if (!p.track) {  // an m-line without a branch of ours gets a placeholder (libwebrtc trap 7)
      TrackSpec spec;
      spec.kind = p.kind == "video" ? MediaKind::Video : MediaKind::Audio;
      spec.track_id = "placeholder-" + p.kind + "-mid-" + p.mid;
      spec.shared_source = placeholder_key;
      p.track = spec;
      p.removed = p.placeholder = true;
    }
    if (auto st = add_track_with_mid(*p.track, p.mid, p.removed); !st.ok()) return st;
    if (p.muted) set_track_muted(p.track->track_id, true);
    if (p.placeholder) {
      std::lock_guard lock(mu_);
      for (auto& t : tracks_)
        if (t->spec.track_id == p.track->track_id) t->placeholder = true;
    }
  }
  return ok_status();
}

}  // namespace mxcall::media
