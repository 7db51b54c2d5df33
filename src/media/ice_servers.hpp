// Matrix/WebRTC ICE server URLs (RFC 7064/7065: "turn:host:port?transport=udp") as webrtcbin
// wants them ("turn://user:pass@host:port?transport=udp", credentials percent-encoded).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "mxcall/media.hpp"

namespace mxcall::media {

struct GstIceServers {
  std::optional<std::string> stun;  // webrtcbin takes one stun-server
  std::vector<std::string> turn;    // every turn/turns URL, for add-turn-server
};

std::string percent_encode(const std::string& s);
// nullopt for a URL that is neither stun:, turn: nor turns:.
std::optional<std::string> to_gst_ice_url(const std::string& url, const std::string& username,
                                          const std::string& credential);
GstIceServers to_gst_ice_servers(const std::vector<IceServer>& servers);

}  // namespace mxcall::media
