// Pieces the 1:1 scripts share.
#pragma once

#include <string>

#include "sim_rng.hpp"
#include "sim_world.hpp"

namespace mxcall::sim {

class Sim;
class SimClient;

// What a user toggled on one call, so the next toggle flips it back.
struct FeatureState {
  bool audio_muted = false, video_muted = false, hold = false, video = false, screenshare = false;
};

// An outsider (@mallory:sim, never a member) gets an m.call.* event into a room, aimed at a
// live call there when there is one. Every client must ignore it.
void forge_event(Sim& sim, Rng& rng);
// In 30% of runs: forgeries every 1-20 s until `until`.
void schedule_forgeries(Sim& sim, Rng& rng, SimTime until);
// Mute, hold, video, screen share, DTMF or an ICE restart, chosen at random.
void random_feature(SimClient& who, const std::string& call_id, Rng& rng, FeatureState& state);

}  // namespace mxcall::sim
