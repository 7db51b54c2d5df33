// The to-device form of an m.call.* event in an MSC3401 group call: the 1:1 content plus the
// fields that address one session of one device and order the messages of a call.
#include "events/call_event_detail.hpp"
#include "events/group_events.hpp"
#include "util/logging.hpp"

namespace mxcall::events {
namespace {

constexpr const char* kConfId = "conf_id";
constexpr const char* kDeviceId = "device_id";
constexpr const char* kSenderSession = "sender_session_id";
constexpr const char* kDestSession = "dest_session_id";
constexpr const char* kSeq = "seq";

Result<std::string> required_id(std::string_view type, const Json& content, const char* key) {
  const Json* v = detail::find_field(content, key);
  if (!v) return detail::field_error(type, std::string(key) + " is missing");
  if (!v->is_string() || !is_valid_group_id(v->get_ref<const std::string&>()))
    return detail::field_error(type, std::string(key) + " is not 1-255 bytes of printable UTF-8");
  return v->get<std::string>();
}

std::optional<std::int64_t> read_seq(const Json& v) {
  if (v.is_number_unsigned()) {
    const auto u = v.get<std::uint64_t>();
    if (u <= static_cast<std::uint64_t>(kMaxSafeInteger)) return static_cast<std::int64_t>(u);
  } else if (v.is_number_integer()) {
    const auto i = v.get<std::int64_t>();
    if (i >= 0 && i <= kMaxSafeInteger) return i;
  }
  return std::nullopt;
}

}  // namespace

Result<ToDeviceCallEnvelope> parse_to_device_call(std::string_view type, const Json& content) {
  auto event = parse_call_event(type, content);
  if (!event) return std::move(event).error();
  auto conf = required_id(type, content, kConfId);
  if (!conf) return std::move(conf).error();
  auto device = required_id(type, content, kDeviceId);
  if (!device) return std::move(device).error();
  auto sender_session = required_id(type, content, kSenderSession);
  if (!sender_session) return std::move(sender_session).error();
  auto dest_session = required_id(type, content, kDestSession);
  if (!dest_session) return std::move(dest_session).error();

  ToDeviceCallEnvelope env{std::move(*event), std::move(*conf), std::move(*device), std::move(*sender_session),
                           std::move(*dest_session), std::nullopt};
  if (const Json* seq = detail::find_field(content, kSeq)) {
    env.seq = read_seq(*seq);
    if (!env.seq)
      MXLOG_INFO("{} for call {}: seq is not an integer in [0, 2^53); the message bypasses ordering", type,
                 common_of(env.event).call_id);
  }
  return env;
}

Json to_content(const ToDeviceCallEnvelope& e) {
  Json out = to_content(e.event);
  out[kConfId] = e.conf_id;
  out[kDeviceId] = e.device_id;
  out[kSenderSession] = e.sender_session_id;
  out[kDestSession] = e.dest_session_id;
  if (e.seq) out[kSeq] = *e.seq;
  return out;
}

}  // namespace mxcall::events
