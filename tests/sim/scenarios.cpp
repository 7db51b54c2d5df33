#include "scenarios.hpp"

#include "events/call_events.hpp"
#include "scenario_util.hpp"
#include "sim.hpp"

namespace mxcall::sim {

const std::vector<ScenarioInfo>& all_scenarios() {
  static const std::vector<ScenarioInfo> list{
      {"one_to_one", "1:1",
       "alice and bob (one or two devices): calls placed from either side, answered (by one or both "
       "devices), rejected, ignored or cancelled; then mute, hold, video, screen share, DTMF, ICE "
       "restarts and a hangup from either side",
       &make_one_to_one},
      {"glare", "1:1", "alice and bob call each other at nearly the same time", &make_glare},
      {"random", "1:1", "three or four users in DM rooms issue random commands at random times", &make_random},
      {"mesh", "group",
       "a mesh group call of 2-8 devices (2-6 users): joins (some simultaneous), leaves, rejoins, mutes, "
       "crash + restart from the store, skewed clocks, member expiry, forged to-device signalling",
       &make_mesh},
  };
  return list;
}

const ScenarioInfo* find_scenario(std::string_view name) {
  for (const auto& s : all_scenarios())
    if (name == s.name) return &s;
  return nullptr;
}

// ---- helpers shared by the scripts --------------------------------------------------------

namespace {

const char* kForgedSdp =
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\n"
    "a=mid:0\r\na=ice-ufrag:mallory\r\na=ice-pwd:malloryxxxxxxxxxxxxxxxxx\r\na=sendrecv\r\na=msid:evil evil\r\n";

}  // namespace

void forge_event(Sim& sim, Rng& rng) {
  const auto rooms = sim.hs.rooms();
  if (rooms.empty()) return;
  const std::string room = rooms[rng.index(rooms.size())];
  // A call id that is live somewhere in that room, when there is one: the forgery then targets it.
  std::vector<std::string> ids;
  std::vector<std::string> parties;
  for (auto& c : sim.clients) {
    parties.push_back(c->device().device_id);
    for (const auto& r : c->records())
      if (r.room_id == room && r.live()) ids.push_back(r.call_id);
  }
  const std::string call_id = ids.empty() ? "1700000000000forgedcall0001" : ids[rng.index(ids.size())];
  events::CallCommon common{call_id, parties[rng.index(parties.size())], events::CallVersion::V1};
  const auto members = sim.hs.members(room);
  events::CallEvent ev;
  switch (rng.index(7)) {
    case 0: ev = events::CallHangup{common, "user_hangup"}; break;
    case 1: ev = events::CallAnswer{common, {media::SdpType::Answer, kForgedSdp}, std::nullopt, {}}; break;
    case 2: ev = events::CallSelectAnswer{common, parties[rng.index(parties.size())]}; break;
    case 3: ev = events::CallReject{common}; break;
    case 4: ev = events::CallNegotiate{common, {media::SdpType::Offer, kForgedSdp}, 60'000, std::nullopt}; break;
    case 5: ev = events::CallCandidates{common, {{"candidate:9 1 udp 1 203.0.113.9 9 typ host", "0", 0}}}; break;
    default: {
      events::CallInvite invite;
      invite.common = common;
      invite.common.call_id = "1700000000000forged" + std::to_string(rng.between(0, 99999));
      invite.offer = {media::SdpType::Offer, kForgedSdp};
      if (!members.empty()) invite.invitee = members[rng.index(members.size())];
      ev = invite;
      break;
    }
  }
  sim.hs.inject(room, "@mallory:sim", std::string(events::event_type(ev)), events::to_content(ev));
}

void schedule_forgeries(Sim& sim, Rng& rng, SimTime until) {
  if (!rng.chance(0.3)) return;
  for (SimTime t = rng.between(1'000, 20'000); t < until; t += rng.between(1'000, 20'000)) {
    sim.world.at(t, [&sim, &rng] {
      if (sim.phase == Phase::Safety) forge_event(sim, rng);
    });
  }
}

std::string dtmf_digits(Rng& rng) {
  static const char kDigits[] = "0123456789*#ABCD";
  std::string out;
  for (std::int64_t i = rng.between(1, 4); i > 0; --i) out += kDigits[rng.index(16)];
  return out;
}

// One random mid-call action of `who` on call `id`.
void random_feature(SimClient& who, const std::string& id, Rng& rng, FeatureState& st) {
  switch (rng.index(8)) {
    case 0: who.command(id, core::cmd::SetMuted{media::MediaKind::Audio, st.audio_muted = !st.audio_muted}); break;
    case 1: who.command(id, core::cmd::SetMuted{media::MediaKind::Video, st.video_muted = !st.video_muted}); break;
    case 2: who.command(id, core::cmd::SetHold{st.hold = !st.hold}); break;
    case 3: who.command(id, core::cmd::SetVideo{st.video = !st.video}); break;
    case 4: who.command(id, core::cmd::SetScreenShare{st.screenshare = !st.screenshare}); break;
    case 5: who.command(id, core::cmd::SendDtmf{dtmf_digits(rng)}); break;
    case 6: who.command(id, core::cmd::RestartIce{}); break;
    default: who.command(id, core::cmd::SetHold{st.hold = !st.hold}); break;
  }
}

}  // namespace mxcall::sim
