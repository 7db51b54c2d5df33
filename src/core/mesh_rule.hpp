// Who places the call between two devices of a mesh (MSC3401, as js-sdk and Hydrogen decide
// it), and the string order both of them use for it and for glare: JavaScript's, which
// compares UTF-16 code units. That differs from byte order once characters beyond U+FFFF
// (surrogate pairs, 0xD800-0xDFFF) meet characters in U+E000-U+FFFF.
#pragma once

#include <string_view>

namespace mxcall::core {

// <0, 0, >0 as JavaScript's a < b / a === b / a > b. Invalid UTF-8 bytes count as U+FFFD,
// as a JavaScript decoder would read them.
int compare_utf16(std::string_view a, std::string_view b);

// True when we place the call to (their_user, their_device): our user id sorts first, or the
// user ids are equal and our device id sorts first. The other side waits for our invite.
bool we_initiate(std::string_view own_user, std::string_view own_device, std::string_view their_user,
                 std::string_view their_device);

}  // namespace mxcall::core
