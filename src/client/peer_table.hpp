// The media side of calls: which engine peer belongs to which call, and the core's media
// operations (op::*) carried out on that peer. Shared by the 1:1 driver and the group driver,
// which both get op::* outputs from core::Call machines keyed by call id.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/call_io.hpp"

namespace mxcall::client {

class PeerTable {
 public:
  explicit PeerTable(media::MediaEngine* engine) : engine_(engine) {}

  // True for the op::* alternatives of CallOutput (those apply() handles).
  static bool is_media_op(const core::CallOutput& out);

  // Carries out one media operation for `call_id`. Returns the failure to feed back into the
  // call when the peer could not be created; operations for a call without a peer are dropped
  // (the peer was closed already). ClosePeer keeps the last stats (see last_stats()).
  std::optional<media::OperationFailed> apply(const std::string& call_id, const core::CallOutput& out);

  std::optional<std::string> call_of(media::PeerId peer) const;
  std::optional<media::PeerId> peer_of(const std::string& call_id) const;
  // Live stats of the call's peer, or the stats taken when it was closed.
  std::optional<media::PeerStats> stats(const std::string& call_id) const;
  std::vector<std::string> call_ids() const;  // calls with a live peer
  // Closes every live peer (shutdown); their stats are kept.
  void close_all();

 private:
  media::MediaEngine* engine_;
  std::map<std::string, media::PeerId> peers_;  // call id -> peer
  std::map<media::PeerId, std::string> calls_;  // peer -> call id
  std::map<std::string, media::PeerStats> closed_stats_;
};

}  // namespace mxcall::client
