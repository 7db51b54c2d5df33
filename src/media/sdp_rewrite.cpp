#include "media/sdp_rewrite.hpp"

#include <algorithm>
#include <cctype>
#include <sstream>

namespace mxcall::media::sdp {

namespace {

struct Line {
  std::string text;  // without the line ending
  std::string eol;   // "\r\n", "\n" or "" (last line without one)
};

std::vector<Line> split_lines(const std::string& text) {
  std::vector<Line> lines;
  std::size_t pos = 0;
  while (pos < text.size()) {  // CRLF, LF or a bare CR ends a line; join() restores each as it was
    std::size_t end = text.find_first_of("\r\n", pos);
    if (end == std::string::npos) {
      lines.push_back({text.substr(pos), ""});
      break;
    }
    std::size_t eol = (text[end] == '\r' && end + 1 < text.size() && text[end + 1] == '\n') ? 2 : 1;
    lines.push_back({text.substr(pos, end - pos), text.substr(end, eol)});
    pos = end + eol;
  }
  return lines;
}

std::string join(const std::vector<Line>& lines) {
  std::string out;
  for (const auto& l : lines) out += l.text + l.eol;
  return out;
}

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

std::optional<Direction> parse_direction(const std::string& line) {
  if (line == "a=sendrecv") return Direction::SendRecv;
  if (line == "a=sendonly") return Direction::SendOnly;
  if (line == "a=recvonly") return Direction::RecvOnly;
  if (line == "a=inactive") return Direction::Inactive;
  return std::nullopt;
}

std::string media_kind(const std::string& m_line) {  // "m=audio 9 ..." → "audio"
  std::size_t sp = m_line.find(' ');
  return m_line.substr(2, sp == std::string::npos ? std::string::npos : sp - 2);
}

bool is_av(const std::string& m_line) {
  std::string k = media_kind(m_line);
  return k == "audio" || k == "video";
}

std::string default_eol(const std::vector<Line>& lines) {
  for (const auto& l : lines)
    if (!l.eol.empty()) return l.eol;
  return "\r\n";
}

// "<stream> <track>" (the track is optional).
void set_msid(MediaSection& s, const std::string& value) {
  const std::size_t sp = value.find(' ');
  s.stream_id = value.substr(0, sp);
  s.msid_track = sp == std::string::npos ? std::string() : value.substr(sp + 1);
}

}  // namespace

const char* to_string(Direction d) {
  switch (d) {
    case Direction::SendRecv: return "sendrecv";
    case Direction::SendOnly: return "sendonly";
    case Direction::RecvOnly: return "recvonly";
    case Direction::Inactive: return "inactive";
  }
  return "sendrecv";
}

bool looks_like_sdp(const std::string& text) {
  auto lines = split_lines(text);
  if (lines.empty() || !starts_with(lines.front().text, "v=0")) return false;
  for (const auto& l : lines)
    if (starts_with(l.text, "m=")) return true;
  return false;
}

std::vector<MediaSection> media_sections(const std::string& text) {
  std::vector<MediaSection> sections;
  bool bundle_only = false;
  bool port_zero = false;
  auto finish = [&] {
    if (!sections.empty()) sections.back().rejected = port_zero && !bundle_only;
  };
  for (const auto& l : split_lines(text)) {
    const std::string& t = l.text;
    if (starts_with(t, "m=")) {
      finish();
      MediaSection s;
      s.kind = media_kind(t);
      std::istringstream in(t.substr(2));
      std::string kind, port, proto, pt;
      in >> kind >> port >> proto;
      port_zero = port == "0";
      bundle_only = false;
      while (in >> pt) {
        try {
          s.payload_types.push_back(std::stoi(pt));
        } catch (...) {  // "webrtc-datachannel" and other non-numeric formats
        }
      }
      sections.push_back(std::move(s));
      continue;
    }
    if (sections.empty()) continue;
    auto& s = sections.back();
    if (starts_with(t, "a=mid:")) {
      s.mid = t.substr(6);
    } else if (t == "a=bundle-only") {
      bundle_only = true;
    } else if (auto d = parse_direction(t)) {
      s.direction = d;
    } else if (starts_with(t, "a=rtpmap:")) {
      s.rtpmaps.push_back(t.substr(9));
    } else if (starts_with(t, "a=msid:") && s.stream_id.empty()) {
      set_msid(s, t.substr(7));
    } else if (starts_with(t, "a=ssrc:") && s.stream_id.empty()) {
      std::size_t at = t.find(" msid:");
      if (at != std::string::npos) set_msid(s, t.substr(at + 6));
    }
  }
  finish();
  return sections;
}

Direction hold_direction(bool local_hold, bool remote_hold) {
  if (local_hold && remote_hold) return Direction::Inactive;
  if (local_hold) return Direction::SendOnly;
  if (remote_hold) return Direction::RecvOnly;
  return Direction::SendRecv;
}

namespace {
bool sends(Direction d) { return d == Direction::SendRecv || d == Direction::SendOnly; }
bool receives(Direction d) { return d == Direction::SendRecv || d == Direction::RecvOnly; }
Direction from(bool send, bool recv) {
  if (send && recv) return Direction::SendRecv;
  if (send) return Direction::SendOnly;
  if (recv) return Direction::RecvOnly;
  return Direction::Inactive;
}
}  // namespace

Direction intersect(Direction a, Direction b) {
  return from(sends(a) && sends(b), receives(a) && receives(b));
}

Direction reverse(Direction d) { return from(receives(d), sends(d)); }

std::string rewrite_directions(const std::string& text, const DirectionPick& pick) {
  const auto sections = media_sections(text);
  auto lines = split_lines(text);
  const std::string eol = default_eol(lines);
  std::vector<Line> out;
  int index = -1;
  bool in_av = false;
  bool seen_direction = false;
  auto close_section = [&] {
    if (in_av && !seen_direction) {
      if (!out.empty() && out.back().eol.empty()) out.back().eol = eol;
      Direction d = pick(sections[static_cast<std::size_t>(index)], Direction::SendRecv);
      out.push_back({std::string("a=") + to_string(d), eol});
    }
  };
  for (auto& l : lines) {
    if (starts_with(l.text, "m=")) {
      close_section();
      ++index;
      in_av = is_av(l.text);
      seen_direction = false;
    } else if (in_av) {
      if (auto d = parse_direction(l.text)) {
        seen_direction = true;
        Direction picked = pick(sections[static_cast<std::size_t>(index)], *d);
        out.push_back({std::string("a=") + to_string(picked), l.eol});
        continue;
      }
    }
    out.push_back(l);
  }
  close_section();
  return join(out);
}

NormalisedDirections normalise_directions(const std::string& text) {
  NormalisedDirections out;
  int av_sections = 0;
  int holding = 0;
  for (const auto& s : media_sections(text)) {
    if ((s.kind != "audio" && s.kind != "video") || s.rejected) continue;
    Direction d = s.direction.value_or(Direction::SendRecv);
    out.by_mid[s.mid] = d;
    ++av_sections;
    if (d == Direction::SendOnly || d == Direction::Inactive) ++holding;
  }
  out.remote_hold = av_sections > 0 && holding == av_sections;
  out.sdp = rewrite_directions(text, [](const MediaSection&, Direction) { return Direction::SendRecv; });
  return out;
}

std::optional<std::string> setup_role(const std::string& text) {
  for (const auto& l : split_lines(text))
    if (starts_with(l.text, "a=setup:")) return l.text.substr(8);
  return std::nullopt;
}

std::string force_setup_active(const std::string& text) {
  auto lines = split_lines(text);
  for (auto& l : lines)
    if (l.text == "a=setup:actpass") l.text = "a=setup:active";
  return join(lines);
}

std::string replace_setup(const std::string& text, const std::string& role) {
  auto lines = split_lines(text);
  for (auto& l : lines)
    if (starts_with(l.text, "a=setup:")) l.text = "a=setup:" + role;
  return join(lines);
}

std::string replace_fingerprint(const std::string& text, const std::string& fingerprint) {
  auto lines = split_lines(text);
  for (auto& l : lines)
    if (starts_with(l.text, "a=fingerprint:")) l.text = "a=fingerprint:" + fingerprint;
  return join(lines);
}

std::optional<std::string> ice_ufrag(const std::string& text) {
  for (const auto& l : split_lines(text))
    if (starts_with(l.text, "a=ice-ufrag:")) return l.text.substr(12);
  return std::nullopt;
}

bool is_ice_restart(const std::string& previous_remote, const std::string& offer) {
  auto before = ice_ufrag(previous_remote);
  auto now = ice_ufrag(offer);
  return before && now && *before != *now;
}

std::optional<int> telephone_event_pt(const MediaSection& section, int clock_rate) {
  const std::string wanted = "telephone-event/" + std::to_string(clock_rate);
  for (const auto& rtpmap : section.rtpmaps) {  // "101 telephone-event/48000"
    auto sp = rtpmap.find(' ');
    if (sp == std::string::npos) continue;
    std::string codec = rtpmap.substr(sp + 1);
    for (auto& c : codec) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (codec == wanted || codec.rfind(wanted + "/", 0) == 0) {
      try {
        return std::stoi(rtpmap.substr(0, sp));
      } catch (...) {
        return std::nullopt;
      }
    }
  }
  return std::nullopt;
}

std::string add_telephone_event(const std::string& text, int pt, int clock_rate) {
  const auto sections = media_sections(text);
  auto lines = split_lines(text);
  const std::string eol = default_eol(lines);
  const std::string pt_text = std::to_string(pt);
  std::vector<Line> out;
  int index = -1;
  bool adding = false;
  auto close_section = [&] {
    if (!adding) return;
    if (!out.empty() && out.back().eol.empty()) out.back().eol = eol;
    out.push_back({"a=rtpmap:" + pt_text + " telephone-event/" + std::to_string(clock_rate), eol});
    out.push_back({"a=fmtp:" + pt_text + " 0-15", eol});
    adding = false;
  };
  for (auto& l : lines) {
    if (starts_with(l.text, "m=")) {
      close_section();
      ++index;
      const auto& s = sections[static_cast<std::size_t>(index)];
      bool has_pt = std::find(s.payload_types.begin(), s.payload_types.end(), pt) != s.payload_types.end();
      // "m=<kind> <port> <proto> <fmt>...": a line without port and proto has no format list
      // to extend (fuzz_sdp: "m=audio" became "m=audio 101", which reads as port 101).
      std::istringstream fields(l.text);
      std::size_t n = 0;
      for (std::string f; fields >> f;) ++n;
      adding = n >= 3 && s.kind == "audio" && !s.rejected && !has_pt && !telephone_event_pt(s, clock_rate);
      out.push_back({adding ? l.text + " " + pt_text : l.text, l.eol});
      continue;
    }
    out.push_back(l);
  }
  close_section();
  return join(out);
}

}  // namespace mxcall::media::sdp
