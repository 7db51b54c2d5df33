#include "core/mesh_rule.hpp"

#include <cstdint>

namespace mxcall::core {
namespace {

constexpr char32_t kReplacement = 0xFFFD;

// Reads one code point at s[i] and advances i; malformed sequences yield U+FFFD for one byte.
char32_t next_code_point(std::string_view s, std::size_t& i) {
  const auto c = static_cast<unsigned char>(s[i]);
  std::size_t len = 0;
  char32_t cp = 0;
  if (c < 0x80) { ++i; return c; }
  if ((c & 0xE0u) == 0xC0u) { len = 2; cp = c & 0x1Fu; }
  else if ((c & 0xF0u) == 0xE0u) { len = 3; cp = c & 0x0Fu; }
  else if ((c & 0xF8u) == 0xF0u) { len = 4; cp = c & 0x07u; }
  else { ++i; return kReplacement; }
  if (i + len > s.size()) { ++i; return kReplacement; }
  for (std::size_t k = 1; k < len; ++k) {
    const auto cc = static_cast<unsigned char>(s[i + k]);
    if ((cc & 0xC0u) != 0x80u) { ++i; return kReplacement; }
    cp = (cp << 6) | (cc & 0x3Fu);
  }
  if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
      (cp >= 0xD800 && cp <= 0xDFFF)) {
    ++i;
    return kReplacement;
  }
  i += len;
  return cp;
}

// The UTF-16 code units of s, produced one at a time.
class Utf16Reader {
 public:
  explicit Utf16Reader(std::string_view s) : s_(s) {}
  bool done() const { return pending_ == 0 && i_ >= s_.size(); }
  std::uint16_t next() {
    if (pending_ != 0) {
      const std::uint16_t unit = pending_;
      pending_ = 0;
      return unit;
    }
    const char32_t cp = next_code_point(s_, i_);
    if (cp < 0x10000) return static_cast<std::uint16_t>(cp);
    const char32_t v = cp - 0x10000;
    pending_ = static_cast<std::uint16_t>(0xDC00 + (v & 0x3FF));
    return static_cast<std::uint16_t>(0xD800 + (v >> 10));
  }

 private:
  std::string_view s_;
  std::size_t i_ = 0;
  std::uint16_t pending_ = 0;  // the low surrogate still to come (never 0 when set)
};

}  // namespace

int compare_utf16(std::string_view a, std::string_view b) {
  Utf16Reader ra(a), rb(b);
  while (!ra.done() && !rb.done()) {
    const std::uint16_t x = ra.next();
    const std::uint16_t y = rb.next();
    if (x != y) return x < y ? -1 : 1;
  }
  if (ra.done() && rb.done()) return 0;
  return ra.done() ? -1 : 1;
}

bool we_initiate(std::string_view own_user, std::string_view own_device, std::string_view their_user,
                 std::string_view their_device) {
  const int users = compare_utf16(own_user, their_user);
  if (users != 0) return users < 0;
  return compare_utf16(own_device, their_device) < 0;
}

}  // namespace mxcall::core
