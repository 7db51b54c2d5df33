// Field readers shared by the m.call.* parsers (see call_event_detail.hpp).
#include <cmath>
#include <limits>

#include "events/call_event_detail.hpp"
#include "mxcall/matrix/sync.hpp"

namespace mxcall::events::detail {

Error field_error(std::string_view type, std::string_view what) {
  std::string msg;
  msg.reserve(type.size() + what.size() + 2);
  msg.append(type).append(": ").append(what);
  return Error::make(ErrorKind::InvalidArgument, std::move(msg));
}

const Json* find_field(const Json& obj, const char* key) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

bool is_valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t len = 0;
    std::uint32_t cp = 0;
    if (c < 0x80) { ++i; continue; }
    if ((c & 0xE0u) == 0xC0u) { len = 2; cp = c & 0x1Fu; }
    else if ((c & 0xF0u) == 0xE0u) { len = 3; cp = c & 0x0Fu; }
    else if ((c & 0xF8u) == 0xF0u) { len = 4; cp = c & 0x07u; }
    else return false;
    if (i + len > s.size()) return false;
    for (std::size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0u) != 0x80u) return false;
      cp = (cp << 6) | (cc & 0x3Fu);
    }
    // Overlong forms, surrogates and values beyond U+10FFFF are invalid.
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += len;
  }
  return true;
}

bool has_control_chars(std::string_view s) {
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7F) return true;
  }
  return false;
}

std::string truncate_utf8(std::string_view s, std::size_t max_bytes) {
  if (s.size() <= max_bytes) return std::string(s);
  std::size_t cut = max_bytes;
  // Back off over continuation bytes so the cut lands on the start of a character.
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0u) == 0x80u) --cut;
  return std::string(s.substr(0, cut));
}

bool is_user_id(std::string_view s) {
  if (!matrix::is_valid_user_id(s) || !is_valid_utf8(s)) return false;
  const auto colon = s.find(':');
  return colon != std::string_view::npos && colon > 1 && colon + 1 < s.size();
}

namespace {

CallVersion parse_version(const Json& content) {
  auto it = content.find("version");
  if (it == content.end()) return CallVersion::V0;  // old clients sent no version at all
  const Json& v = *it;
  // Only the number 0 is version 0; "1", 1, and anything else count as version 1.
  if (v.is_number_unsigned()) return v.get<std::uint64_t>() == 0 ? CallVersion::V0 : CallVersion::V1;
  if (v.is_number_integer()) return v.get<std::int64_t>() == 0 ? CallVersion::V0 : CallVersion::V1;
  if (v.is_number_float()) return v.get<double>() == 0.0 ? CallVersion::V0 : CallVersion::V1;
  return CallVersion::V1;
}

}  // namespace

Result<CallCommon> parse_common(std::string_view type, const Json& content) {
  if (!content.is_object()) return field_error(type, "content is not a JSON object");
  CallCommon common;
  const Json* call_id = find_field(content, "call_id");
  if (!call_id) return field_error(type, "call_id is missing");
  if (!call_id->is_string()) return field_error(type, "call_id is not a string");
  const auto& id = call_id->get_ref<const std::string&>();
  if (!is_valid_call_id(id)) return field_error(type, "call_id is not 1-255 chars of [0-9A-Za-z._~-]");
  common.call_id = id;

  if (const Json* party = find_field(content, "party_id")) {
    if (!party->is_string()) return field_error(type, "party_id is not a string");
    const auto& p = party->get_ref<const std::string&>();
    if (!is_valid_call_id(p)) return field_error(type, "party_id is not 1-255 chars of [0-9A-Za-z._~-]");
    common.party_id = p;
  }
  common.version = parse_version(content);
  return common;
}

Result<std::int64_t> parse_lifetime(std::string_view type, const Json& value) {
  const auto bad = [&] { return field_error(type, "lifetime is not a positive integer"); };
  if (value.is_number_unsigned()) {
    const auto u = value.get<std::uint64_t>();
    if (u == 0) return bad();
    return u > static_cast<std::uint64_t>(kMaxLifetimeMs) ? kMaxLifetimeMs : static_cast<std::int64_t>(u);
  }
  if (value.is_number_integer()) {
    const auto i = value.get<std::int64_t>();
    if (i <= 0) return bad();
    return i > kMaxLifetimeMs ? kMaxLifetimeMs : i;
  }
  if (value.is_number_float()) {
    // 6e4 parses as a float; accept integral values only.
    const double d = value.get<double>();
    if (!std::isfinite(d) || d < 1.0 || std::floor(d) != d) return bad();
    return d >= static_cast<double>(kMaxLifetimeMs) ? kMaxLifetimeMs : static_cast<std::int64_t>(d);
  }
  if (value.is_string()) {
    // MSC3077's example has "lifetime": "60000".
    const auto& s = value.get_ref<const std::string&>();
    if (s.empty()) return bad();
    std::int64_t n = 0;
    for (char c : s) {
      if (c < '0' || c > '9') return bad();
      if (n <= kMaxLifetimeMs) n = n * 10 + (c - '0');  // saturates well below INT64_MAX
    }
    if (n == 0) return bad();
    return n > kMaxLifetimeMs ? kMaxLifetimeMs : n;
  }
  return bad();
}

Result<media::SessionDescription> parse_description(std::string_view type, const Json& content,
                                                    const char* field,
                                                    std::optional<media::SdpType> expected) {
  const std::string f(field);
  const Json* obj = find_field(content, field);
  if (!obj) return field_error(type, f + " is missing");
  if (!obj->is_object()) return field_error(type, f + " is not an object");

  media::SessionDescription desc;
  if (const Json* t = find_field(*obj, "type")) {
    if (!t->is_string()) return field_error(type, f + ".type is not a string");
    const auto& ts = t->get_ref<const std::string&>();
    if (ts == "offer") desc.type = media::SdpType::Offer;
    else if (ts == "answer") desc.type = media::SdpType::Answer;
    else return field_error(type, f + ".type is neither \"offer\" nor \"answer\"");
    if (expected && desc.type != *expected)
      return field_error(type, f + ".type must be \"" + media::to_string(*expected) + "\"");
  } else if (expected) {
    desc.type = *expected;
  } else {
    return field_error(type, f + ".type is missing");
  }

  const Json* sdp = find_field(*obj, "sdp");
  if (!sdp) return field_error(type, f + ".sdp is missing");
  if (!sdp->is_string()) return field_error(type, f + ".sdp is not a string");
  const auto& s = sdp->get_ref<const std::string&>();
  if (s.empty()) return field_error(type, f + ".sdp is empty");
  if (s.size() > kMaxSdpBytes)
    return field_error(type, f + ".sdp is over " + std::to_string(kMaxSdpBytes) + " bytes");
  if (s.find('\0') != std::string::npos || !is_valid_utf8(s))
    return field_error(type, f + ".sdp contains NUL or invalid UTF-8");
  desc.sdp = s;
  return desc;
}

Capabilities parse_capabilities(const Json& content) {
  Capabilities caps;
  const Json* obj = find_field(content, "capabilities");
  if (!obj || !obj->is_object()) return caps;
  const auto flag = [&](const char* key) {
    const Json* v = find_field(*obj, key);
    return v && v->is_boolean() && v->get<bool>();
  };
  caps.transferee = flag("m.call.transferee");
  caps.dtmf = flag("m.call.dtmf");
  return caps;
}

}  // namespace mxcall::events::detail
