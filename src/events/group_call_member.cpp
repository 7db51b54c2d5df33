// org.matrix.msc3401.call.member: one user's devices in the room's group calls.
#include <cmath>

#include "events/call_event_detail.hpp"
#include "events/group_events.hpp"
#include "util/logging.hpp"

namespace mxcall::events {
namespace {

constexpr const char* kCalls = "m.calls";
constexpr const char* kCallId = "m.call_id";
constexpr const char* kDevices = "m.devices";
constexpr const char* kDeviceId = "device_id";
constexpr const char* kSessionId = "session_id";
constexpr const char* kExpires = "expires_ts";
constexpr const char* kFeeds = "feeds";
constexpr const char* kPurpose = "purpose";
constexpr const char* kFociActive = "m.foci.active";
constexpr std::size_t kMaxPurposeBytes = 255;

// Everything of `obj` except the keys we model.
Json others(const Json& obj, std::initializer_list<const char*> known) {
  Json out = Json::object();
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    bool skip = false;
    for (const char* k : known) skip = skip || it.key() == k;
    if (!skip) out[it.key()] = it.value();
  }
  return out;
}

const std::string* group_id(const Json& obj, const char* key) {
  const Json* v = detail::find_field(obj, key);
  if (!v || !v->is_string() || !is_valid_group_id(v->get_ref<const std::string&>())) return nullptr;
  return v->get_ptr<const std::string*>();
}

// A safe integer as Hydrogen demands (Number.isSafeInteger), non-negative.
std::optional<std::int64_t> safe_integer(const Json& v) {
  if (v.is_number_unsigned()) {
    const auto u = v.get<std::uint64_t>();
    if (u > static_cast<std::uint64_t>(kMaxSafeInteger)) return std::nullopt;
    return static_cast<std::int64_t>(u);
  }
  if (v.is_number_integer()) {
    const auto i = v.get<std::int64_t>();
    if (i < 0 || i > kMaxSafeInteger) return std::nullopt;
    return i;
  }
  if (v.is_number_float()) {  // 1.7672292e12 is the same JavaScript number
    const double d = v.get<double>();
    if (!std::isfinite(d) || d < 0 || d > static_cast<double>(kMaxSafeInteger) || std::floor(d) != d)
      return std::nullopt;
    return static_cast<std::int64_t>(d);
  }
  return std::nullopt;
}

std::optional<MemberDevice> parse_device(const Json& entry, std::string& why) {
  if (!entry.is_object()) { why = "not an object"; return std::nullopt; }
  MemberDevice d;
  const auto* device = group_id(entry, kDeviceId);
  if (!device) { why = "device_id is not a usable string"; return std::nullopt; }
  d.device_id = *device;
  const auto* session = group_id(entry, kSessionId);
  if (!session) { why = "session_id is not a usable string"; return std::nullopt; }
  d.session_id = *session;
  const Json* expires = detail::find_field(entry, kExpires);
  const auto ts = expires ? safe_integer(*expires) : std::nullopt;
  if (!ts) { why = "expires_ts is not a safe integer"; return std::nullopt; }
  d.expires_ts = *ts;
  if (const Json* feeds = detail::find_field(entry, kFeeds)) {
    if (!feeds->is_array()) { why = "feeds is not an array"; return std::nullopt; }
    for (const Json& f : *feeds) {
      if (d.feeds.size() >= kMaxMemberFeeds) break;
      const Json* p = detail::find_field(f, kPurpose);
      if (!p || !p->is_string()) continue;  // one unusable feed is no reason to drop the device
      const auto& purpose = p->get_ref<const std::string&>();
      if (purpose.empty() || purpose.size() > kMaxPurposeBytes || detail::has_control_chars(purpose)) continue;
      d.feeds.push_back(MemberFeed{purpose, others(f, {kPurpose})});
    }
  }
  if (const Json* foci = detail::find_field(entry, kFociActive)) d.sfu = foci->is_array() && !foci->empty();
  d.extra = others(entry, {kDeviceId, kSessionId, kExpires, kFeeds});
  return d;
}

std::optional<MemberCall> parse_call(const Json& entry, std::size_t index) {
  if (!entry.is_object()) {
    MXLOG_INFO("{}: m.calls[{}] is not an object; dropped", type::kGroupCallMember, index);
    return std::nullopt;
  }
  const auto* id = group_id(entry, kCallId);
  const Json* devices = detail::find_field(entry, kDevices);
  if (!id || !devices || !devices->is_array()) {
    MXLOG_INFO("{}: m.calls[{}] has no usable m.call_id or m.devices; dropped", type::kGroupCallMember, index);
    return std::nullopt;
  }
  MemberCall call;
  call.call_id = *id;
  call.extra = others(entry, {kCallId, kDevices});
  std::size_t n = 0;
  for (const Json& d : *devices) {
    if (n++ >= kMaxMemberDevices) {
      MXLOG_INFO("{}: call {} lists more than {} devices; the rest are dropped", type::kGroupCallMember, call.call_id,
                 kMaxMemberDevices);
      break;
    }
    std::string why;
    auto device = parse_device(d, why);
    if (!device) {
      MXLOG_INFO("{}: call {}: device entry {} dropped: {}", type::kGroupCallMember, call.call_id, n - 1, why);
      continue;
    }
    call.devices.push_back(std::move(*device));
  }
  return call;
}

// A device listed twice keeps its later expiry, at the place of its first entry.
void add_device(MemberCall& call, MemberDevice d) {
  for (auto& existing : call.devices) {
    if (existing.device_id != d.device_id) continue;
    if (d.expires_ts > existing.expires_ts) existing = std::move(d);
    return;
  }
  call.devices.push_back(std::move(d));
}

Json device_json(const MemberDevice& d) {
  Json out = d.extra.is_object() ? d.extra : Json::object();
  out[kDeviceId] = d.device_id;
  out[kSessionId] = d.session_id;
  out[kExpires] = d.expires_ts;
  Json feeds = Json::array();
  for (const auto& f : d.feeds) {
    Json fj = f.extra.is_object() ? f.extra : Json::object();
    fj[kPurpose] = f.purpose;
    feeds.push_back(std::move(fj));
  }
  out[kFeeds] = std::move(feeds);
  return out;
}

}  // namespace

Result<GroupCallMemberContent> parse_group_call_member(const Json& content) {
  if (!content.is_object()) return detail::field_error(type::kGroupCallMember, "content is not a JSON object");
  GroupCallMemberContent out;
  out.extra = others(content, {kCalls});
  const Json* calls = detail::find_field(content, kCalls);
  if (!calls) return out;  // e.g. a MatrixRTC shape or {} (left)
  if (!calls->is_array()) {
    MXLOG_INFO("{}: m.calls is not an array; read as empty", type::kGroupCallMember);
    return out;
  }
  std::size_t index = 0;
  for (const Json& entry : *calls) {
    auto call = parse_call(entry, index++);
    if (!call) continue;
    MemberCall* same = nullptr;
    for (auto& c : out.calls)
      if (c.call_id == call->call_id) same = &c;
    if (same) {
      for (auto& d : call->devices) add_device(*same, std::move(d));
      continue;
    }
    if (out.calls.size() >= kMaxMemberCalls) {
      MXLOG_INFO("{}: more than {} calls; call {} dropped", type::kGroupCallMember, kMaxMemberCalls, call->call_id);
      continue;
    }
    MemberCall merged;
    merged.call_id = std::move(call->call_id);
    merged.extra = std::move(call->extra);
    for (auto& d : call->devices) add_device(merged, std::move(d));
    out.calls.push_back(std::move(merged));
  }
  return out;
}

Json to_content(const GroupCallMemberContent& content) {
  Json out = content.extra.is_object() ? content.extra : Json::object();
  Json calls = Json::array();
  for (const auto& c : content.calls) {
    Json cj = c.extra.is_object() ? c.extra : Json::object();
    cj[kCallId] = c.call_id;
    Json devices = Json::array();
    for (const auto& d : c.devices) devices.push_back(device_json(d));
    cj[kDevices] = std::move(devices);
    calls.push_back(std::move(cj));
  }
  out[kCalls] = std::move(calls);
  return out;
}

const MemberCall* find_call(const GroupCallMemberContent& content, std::string_view conf_id) {
  for (const auto& c : content.calls)
    if (c.call_id == conf_id) return &c;
  return nullptr;
}

const MemberDevice* find_device(const MemberCall& call, std::string_view device_id) {
  for (const auto& d : call.devices)
    if (d.device_id == device_id) return &d;
  return nullptr;
}

GroupCallMemberContent updated_member_content(const GroupCallMemberContent& current, std::string_view conf_id,
                                              std::string_view own_device_id,
                                              const std::optional<MemberDevice>& own, std::int64_t now_unix_ms) {
  GroupCallMemberContent out;
  out.extra = current.extra;
  bool placed = false;
  for (const auto& call : current.calls) {
    MemberCall c;
    c.call_id = call.call_id;
    c.extra = call.extra;
    const bool ours = call.call_id == conf_id;
    // Room for our entry within what a reader keeps (kMaxMemberDevices per call).
    const std::size_t keep = ours && own ? kMaxMemberDevices - 1 : kMaxMemberDevices;
    for (const auto& d : call.devices) {
      if (ours && d.device_id == own_device_id) continue;
      if (d.expired(now_unix_ms) || c.devices.size() >= keep) continue;
      c.devices.push_back(d);
    }
    if (ours && own) {
      c.devices.push_back(*own);
      placed = true;
    }
    if (!c.devices.empty()) out.calls.push_back(std::move(c));
  }
  if (own && !placed) {
    if (out.calls.size() >= kMaxMemberCalls) out.calls.resize(kMaxMemberCalls - 1);  // a reader keeps this many
    MemberCall c;
    c.call_id = std::string(conf_id);
    c.devices.push_back(*own);
    out.calls.push_back(std::move(c));
  }
  return out;
}

}  // namespace mxcall::events
