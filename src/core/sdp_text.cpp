// The little SDP reading and writing the core needs (it never parses SDP beyond lines).
#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "core/call.hpp"

namespace mxcall::core {

namespace {

std::vector<std::string_view> lines_of(std::string_view sdp) {
  std::vector<std::string_view> out;
  std::size_t pos = 0;
  while (pos < sdp.size()) {  // CRLF, LF or a bare CR ends a line: no value holds a line break
    std::size_t end = sdp.find_first_of("\r\n", pos);
    if (end == std::string_view::npos) end = sdp.size();
    out.push_back(sdp.substr(pos, end - pos));
    pos = end + ((end + 1 < sdp.size() && sdp[end] == '\r' && sdp[end + 1] == '\n') ? 2 : 1);
  }
  return out;
}

}  // namespace

std::optional<std::string> sdp_ice_ufrag(std::string_view sdp) {
  for (std::string_view line : lines_of(sdp))
    if (line.rfind("a=ice-ufrag:", 0) == 0) return std::string(line.substr(12));
  return std::nullopt;
}

bool sdp_holds_peer(std::string_view sdp) {
  bool any_media = false;
  bool all_held = true;
  bool section_has_direction = false;
  auto finish_section = [&] {
    if (any_media && !section_has_direction) all_held = false;  // sendrecv by default
  };
  for (std::string_view line : lines_of(sdp)) {
    if (line.rfind("m=", 0) == 0) {
      finish_section();
      any_media = true;
      section_has_direction = false;
    } else if (any_media && (line == "a=sendonly" || line == "a=inactive")) {
      section_has_direction = true;
    } else if (any_media && (line == "a=sendrecv" || line == "a=recvonly")) {
      section_has_direction = true;
      all_held = false;
    }
  }
  finish_section();
  return any_media && all_held;
}

std::string sdp_with_candidates(std::string_view sdp, const std::vector<media::IceCandidate>& candidates,
                                std::vector<media::IceCandidate>& left_over) {
  const auto lines = lines_of(sdp);
  // Find each media section: its first line, its end, and its mid.
  struct Section { std::size_t begin, end; std::string mid; };
  std::vector<Section> sections;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].rfind("m=", 0) == 0) {
      if (!sections.empty()) sections.back().end = i;
      sections.push_back({i, lines.size(), {}});
    } else if (!sections.empty() && lines[i].rfind("a=mid:", 0) == 0) {
      sections.back().mid = std::string(lines[i].substr(6));
    }
  }
  std::vector<std::vector<std::string>> extra(sections.size());
  for (const auto& c : candidates) {
    if (c.is_end_of_candidates() && !c.sdp_mid && !c.sdp_mline_index) {
      for (auto& list : extra) list.push_back("a=end-of-candidates");  // an end marker for every section
      continue;
    }
    std::optional<std::size_t> target;
    for (std::size_t s = 0; s < sections.size() && !target; ++s)
      if (c.sdp_mid && *c.sdp_mid == sections[s].mid) target = s;
    if (!target && c.sdp_mline_index && static_cast<std::size_t>(*c.sdp_mline_index) < sections.size())
      target = static_cast<std::size_t>(*c.sdp_mline_index);
    if (!target) {
      left_over.push_back(c);
      continue;
    }
    const std::string line = c.is_end_of_candidates() ? std::string("a=end-of-candidates") : "a=" + c.candidate;
    auto& list = extra[*target];
    if (std::find(list.begin(), list.end(), line) == list.end()) list.push_back(line);
  }
  std::string out;
  out.reserve(sdp.size() + 128 * candidates.size());
  for (std::size_t i = 0; i < lines.size(); ++i) {
    for (std::size_t s = 0; s < sections.size(); ++s)
      if (sections[s].end == i)
        for (const auto& l : extra[s]) out.append(l).append("\r\n");
    out.append(lines[i]).append("\r\n");
  }
  if (!sections.empty() && sections.back().end == lines.size())
    for (const auto& l : extra.back()) out.append(l).append("\r\n");
  return out;
}

}  // namespace mxcall::core
