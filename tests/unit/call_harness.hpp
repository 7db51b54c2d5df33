// A room of simulated devices running the real Call machine over a fake media layer and a
// perfect in-memory room (every device, the sender included, sees every event in order).
// Time is virtual: advance() moves it and fires due timers.
#pragma once

#include <gtest/gtest.h>

#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/call.hpp"
#include "util/overloaded.hpp"

namespace mxcall::testing {

using core::CallOutput;

struct FakePeer {
  bool exists = false;
  bool local_desc = false;
  bool remote_desc = false;
  bool got_remote_candidate = false;
  bool connected = false;
  bool hold = false;
  bool gathered = false;
  bool ice_works = true;
  int restarts = 0;
  std::vector<media::TrackSpec> tracks;
  std::string remote_stream;
  std::vector<std::string> ops;  // names of the operations performed, in order
};

// Turns the media operations of one call into the events a working engine would report.
struct FakeMedia {
  using Inbox = std::deque<media::MediaEvent>;
  static std::string sdp_for(const FakePeer& peer, bool restart) {
    std::string sdp = "v=0\r\n";
    for (const auto& t : peer.tracks) {
      sdp += t.kind == media::MediaKind::Audio ? "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n" : "m=video 9 UDP/TLS/RTP/SAVPF 96\r\n";
      sdp += "a=msid:" + t.stream_id + " " + t.track_id + "\r\n";
      sdp += peer.hold ? "a=sendonly\r\n" : "a=sendrecv\r\n";
    }
    if (restart) sdp += "a=ice-ufrag:restart" + std::to_string(peer.restarts) + "\r\n";
    return sdp;
  }

  static void local_description(FakePeer& p, Inbox& inbox, media::SdpType type, bool restart) {
    p.local_desc = true;
    inbox.push_back(media::LocalDescriptionReady{1, {type, sdp_for(p, restart)}});
    inbox.push_back(media::LocalCandidate{1, {"candidate:1 1 udp 1 127.0.0.1 5000 typ host", "0", 0}});
    inbox.push_back(media::LocalCandidate{1, {"", std::nullopt, std::nullopt}});
    if (!p.gathered) {  // like webrtcbin: one gathering per ICE agent (again after a restart)
      p.gathered = true;
      inbox.push_back(media::GatheringStateChanged{1, media::GatheringState::Complete});
    }
    maybe_connect(p, inbox);
  }

  static void maybe_connect(FakePeer& p, Inbox& inbox) {
    if (p.connected || !p.local_desc || !p.remote_desc || !p.got_remote_candidate || !p.ice_works) return;
    p.connected = true;
    inbox.push_back(media::IceStateChanged{1, media::IceState::Connected});
    inbox.push_back(media::RemoteTrackAdded{1, media::MediaKind::Audio, p.remote_stream, "0"});
    inbox.push_back(media::FirstMediaDecoded{1, media::MediaKind::Audio});
  }

  static void perform(FakePeer& p, Inbox& inbox, const CallOutput& o,
                      const std::function<void(const core::SendSignal&)>& send) {
    std::visit(util::overloaded{
                   [&](const core::SendSignal& s) { send(s); },
                   [&](const core::op::CreatePeer&) { p.exists = true; p.ops.push_back("create_peer"); },
                   [&](const core::op::AddTrack& t) { p.tracks.push_back(t.track); p.ops.push_back("add_track"); },
                   [&](const core::op::RemoveTrack& t) {
                     std::erase_if(p.tracks, [&](const media::TrackSpec& s) { return s.track_id == t.track_id; });
                     p.ops.push_back("remove_track");
                   },
                   [&](const core::op::CreateOffer& c) {
                     p.ops.push_back(c.options.ice_restart ? "create_offer_restart" : "create_offer");
                     if (c.options.ice_restart) {
                       ++p.restarts;
                       p.connected = false;
                       p.gathered = false;
                     }
                     local_description(p, inbox, media::SdpType::Offer, c.options.ice_restart);
                   },
                   [&](const core::op::CreateAnswer&) { p.ops.push_back("create_answer"); local_description(p, inbox, media::SdpType::Answer, false); },
                   [&](const core::op::SetRemoteDescription& d) {
                     p.ops.push_back("set_remote");
                     p.remote_desc = true;
                     if (auto pos = d.description.sdp.find("a=msid:"); pos != std::string::npos)
                       p.remote_stream = d.description.sdp.substr(pos + 7, d.description.sdp.find(' ', pos) - pos - 7);
                     if (d.description.sdp.find("a=ice-ufrag:restart") != std::string::npos) {
                       p.connected = false;  // the engine answers a restart with a fresh agent
                       p.gathered = false;
                     }
                     if (d.description.sdp.find("\na=candidate:") != std::string::npos) p.got_remote_candidate = true;
                     maybe_connect(p, inbox);
                   },
                   [&](const core::op::AddRemoteCandidates&) { p.got_remote_candidate = true; p.ops.push_back("add_candidates"); maybe_connect(p, inbox); },
                   [&](const core::op::SetLocalHold& h) { p.hold = h.on_hold; p.ops.push_back("hold"); },
                   [&](const core::op::ClosePeer&) { p.exists = false; p.ops.push_back("close"); },
                   [&](const auto&) {},
               },
               o);
  }
};

struct Device {
  std::string user;
  std::string party;
  std::optional<core::Call> call;
  FakePeer peer;
  std::deque<media::MediaEvent> media_inbox;
  std::vector<CallOutput> outputs;  // everything the call emitted
  std::vector<events::CallEvent> sent;
  std::optional<std::string> invite_error;

  template <typename T>
  std::vector<T> all() const {
    std::vector<T> out;
    for (const auto& o : outputs)
      if (auto* p = std::get_if<T>(&o)) out.push_back(*p);
    return out;
  }
  template <typename T>
  std::vector<T> sent_of() const {
    std::vector<T> out;
    for (const auto& e : sent)
      if (auto* p = std::get_if<T>(&e)) out.push_back(*p);
    return out;
  }
  core::CallState state() const { return call->state(); }
};

class Room {
 public:
  core::TimePoint now = core::TimePoint{} + std::chrono::hours(1);
  std::vector<std::unique_ptr<Device>> devices;
  std::int64_t delivery_age_ms = 20;  // unsigned.age the room reports for every event

  Device& add(std::string user, std::string party) {
    devices.push_back(std::make_unique<Device>());
    devices.back()->user = std::move(user);
    devices.back()->party = std::move(party);
    return *devices.back();
  }

  core::CallConfig config_for(const Device& d) const {
    core::CallConfig c;
    c.room_id = "!room:x";
    c.own_user_id = d.user;
    c.own_party_id = d.party;
    return c;
  }

  void place(Device& d, bool video = false, std::optional<std::string> invitee = std::nullopt,
             std::string call_id = "call1") {
    d.call.emplace(core::Call::place(config_for(d), std::move(call_id), std::move(invitee), video, now));
  }

  void input(Device& d, const core::CallInput& in) {
    d.call->handle(in, now);
    pump();
  }

  // Delivers everything until nothing moves (bounded: a livelock fails the test).
  void pump() {
    for (int round = 0; round < 1000; ++round) {
      if (!step()) return;
    }
    ADD_FAILURE() << "the room did not settle after 1000 rounds";
  }

  void advance(core::Duration d) {
    const core::TimePoint target = now + d;
    for (int i = 0; i < 1000; ++i) {
      std::optional<core::TimePoint> next;
      for (auto& dev : devices)
        if (dev->call)
          if (auto dl = dev->call->next_deadline(); dl && dl->at <= target && (!next || dl->at < *next)) next = dl->at;
      if (!next) break;
      now = std::max(now, *next);
      for (auto& dev : devices)
        if (dev->call) dev->call->handle(core::Tick{}, now);
      pump();
    }
    now = target;
  }

 private:
  struct Pending { std::string sender; events::CallEvent event; };
  std::deque<Pending> room_;

  bool step() {
    bool moved = false;
    for (auto& dev : devices) {
      while (!dev->media_inbox.empty()) {
        auto e = std::move(dev->media_inbox.front());
        dev->media_inbox.pop_front();
        if (dev->call) dev->call->handle(e, now);
        moved = true;
      }
      if (!dev->call) continue;
      while (auto o = dev->call->poll()) {
        moved = true;
        dev->outputs.push_back(*o);
        perform(*dev, *o);
      }
    }
    while (!room_.empty()) {
      Pending p = std::move(room_.front());
      room_.pop_front();
      moved = true;
      for (auto& dev : devices) deliver(*dev, p);
    }
    return moved;
  }

  void deliver(Device& dev, const Pending& p) {
    if (!dev.call) {
      auto* invite = std::get_if<events::CallInvite>(&p.event);
      if (!invite) return;
      auto c = core::Call::receive(config_for(dev), p.sender, *invite, delivery_age_ms, now);
      if (!c.ok()) {
        dev.invite_error = c.error().message;
        return;
      }
      dev.call.emplace(std::move(c).value());
      return;
    }
    dev.call->handle(core::RemoteSignal{p.sender, p.event, delivery_age_ms}, now);
  }

  void perform(Device& dev, const CallOutput& o) {
    FakeMedia::perform(dev.peer, dev.media_inbox, o, [&](const core::SendSignal& sig) {
      dev.sent.push_back(sig.event);
      room_.push_back({dev.user, sig.event});
    });
  }
};

}  // namespace mxcall::testing
