// Why an olm operation or an inbound message was refused: the reason travels in Error::errcode
// (ErrorKind::Crypto) so callers and tests can tell the receiver checks apart.
#pragma once

#include <string>
#include <string_view>

#include "mxcall/error.hpp"

namespace mxcall::crypto {

namespace reason {
inline constexpr std::string_view kOlmFailure = "MXCALL_OLM_FAILURE";            // libolm itself failed
inline constexpr std::string_view kMalformed = "MXCALL_OLM_MALFORMED";           // content or plaintext malformed
inline constexpr std::string_view kNotForUs = "MXCALL_OLM_NOT_FOR_THIS_DEVICE";  // no ciphertext for our key
inline constexpr std::string_view kUnknownSenderKey = "MXCALL_OLM_UNKNOWN_SENDER_KEY";
inline constexpr std::string_view kUndecryptable = "MXCALL_OLM_UNDECRYPTABLE";  // no session decrypts it
inline constexpr std::string_view kDuplicate = "MXCALL_OLM_DUPLICATE";          // already decrypted once
inline constexpr std::string_view kSenderMismatch = "MXCALL_OLM_SENDER_MISMATCH";
inline constexpr std::string_view kRecipientMismatch = "MXCALL_OLM_RECIPIENT_MISMATCH";
inline constexpr std::string_view kRecipientKeyMismatch = "MXCALL_OLM_RECIPIENT_KEY_MISMATCH";
inline constexpr std::string_view kSenderEd25519Mismatch = "MXCALL_OLM_SENDER_ED25519_MISMATCH";
inline constexpr std::string_view kSenderDeviceMismatch = "MXCALL_OLM_SENDER_DEVICE_MISMATCH";
inline constexpr std::string_view kUnsupportedAlgorithm = "MXCALL_OLM_UNSUPPORTED_ALGORITHM";
inline constexpr std::string_view kPlaintextRejected = "MXCALL_PLAINTEXT_TO_DEVICE_REJECTED";
inline constexpr std::string_view kBadSignature = "MXCALL_BAD_SIGNATURE";
inline constexpr std::string_view kDeviceKeysChanged = "MXCALL_DEVICE_KEYS_CHANGED";
inline constexpr std::string_view kUnknownDevice = "MXCALL_UNKNOWN_DEVICE";
inline constexpr std::string_view kNoSession = "MXCALL_OLM_NO_SESSION";
inline constexpr std::string_view kWrongPickleKey = "MXCALL_WRONG_PICKLE_KEY";
}  // namespace reason

inline Error crypto_error(std::string_view why, std::string message) {
  return Error{ErrorKind::Crypto, std::move(message), 0, std::string(why)};
}

}  // namespace mxcall::crypto
