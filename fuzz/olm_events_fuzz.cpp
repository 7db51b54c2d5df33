// libFuzzer entry point for the olm parsers: the same bytes are read as an m.room.encrypted
// content (olm) and as a decrypted plaintext. Whatever parses must serialise, survive a trip
// through JSON text and parse again to the same value.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "events/olm_events.hpp"
#include "util/json_guard.hpp"

namespace {

void require(bool condition) {
  if (!condition) std::abort();
}

void encrypted_content(std::string_view text) {
  using namespace mxcall;
  auto json = util::parse_untrusted_json(text, util::JsonLimits{1u << 20, 64});
  if (!json.ok()) return;
  auto content = events::parse_olm_encrypted(*json);
  if (!content.ok()) {
    require(content.error().kind == ErrorKind::Crypto && !content.error().errcode.empty());
    return;
  }
  require(!content->sender_key.empty() && !content->ciphertext.empty());
  for (const auto& [key, message] : content->ciphertext)
    require(!key.empty() && (message.type == 0 || message.type == 1) && !message.body.empty() &&
            message.body.size() <= events::kMaxOlmBodyBytes);
  const std::string wire = events::to_content(*content).dump();  // throws (and so crashes) on bad UTF-8
  auto reread = util::parse_untrusted_json(wire);
  require(reread.ok());
  auto again = events::parse_olm_encrypted(*reread);
  require(again.ok() && *again == *content);
}

void plaintext(std::string_view text) {
  using namespace mxcall;
  auto parsed = events::parse_olm_plaintext(text);
  if (!parsed.ok()) {
    require(parsed.error().kind == ErrorKind::Crypto && !parsed.error().errcode.empty());
    return;
  }
  require(parsed->content.is_object() && !parsed->type.empty() && !parsed->sender.empty());
  const std::string wire = events::to_json(*parsed).dump();
  auto again = events::parse_olm_plaintext(wire);
  require(again.ok() && *again == *parsed);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  encrypted_content(text);
  plaintext(text);
  return 0;
}
