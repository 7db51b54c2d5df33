#include "media/ice_servers.hpp"

namespace mxcall::media {

std::string percent_encode(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 0xF];
    }
  }
  return out;
}

std::optional<std::string> to_gst_ice_url(const std::string& url, const std::string& username,
                                          const std::string& credential) {
  auto colon = url.find(':');
  if (colon == std::string::npos) return std::nullopt;
  std::string scheme = url.substr(0, colon);
  std::string rest = url.substr(colon + 1);
  if (rest.rfind("//", 0) == 0) rest = rest.substr(2);  // already in URI form
  if (rest.empty()) return std::nullopt;
  if (scheme == "stun") return "stun://" + rest.substr(0, rest.find('?'));
  if (scheme == "turn" || scheme == "turns")
    return scheme + "://" + percent_encode(username) + ":" + percent_encode(credential) + "@" + rest;
  return std::nullopt;
}

GstIceServers to_gst_ice_servers(const std::vector<IceServer>& servers) {
  GstIceServers out;
  for (const auto& server : servers) {
    for (const auto& url : server.urls) {
      auto gst_url = to_gst_ice_url(url, server.username, server.credential);
      if (!gst_url) continue;
      if (gst_url->rfind("stun://", 0) == 0) {
        if (!out.stun) out.stun = *gst_url;
      } else {
        out.turn.push_back(*gst_url);
      }
    }
  }
  return out;
}

}  // namespace mxcall::media
