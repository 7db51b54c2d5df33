#include "mxcall/error.hpp"

namespace mxcall {

const char* to_string(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::Network: return "network";
    case ErrorKind::Timeout: return "timeout";
    case ErrorKind::Matrix: return "matrix";
    case ErrorKind::RateLimited: return "rate-limited";
    case ErrorKind::InvalidResponse: return "invalid-response";
    case ErrorKind::InvalidArgument: return "invalid-argument";
    case ErrorKind::Cancelled: return "cancelled";
    case ErrorKind::Store: return "store";
    case ErrorKind::Process: return "process";
    case ErrorKind::Crypto: return "crypto";
    case ErrorKind::WrongPickleKey: return "wrong-pickle-key";
  }
  return "unknown";
}

std::string Error::describe() const {
  std::string s = to_string(kind);
  s += " error";
  if (http_status != 0) s += " (HTTP " + std::to_string(http_status) + ")";
  if (!errcode.empty()) s += " " + errcode;
  if (!message.empty()) s += ": " + message;
  return s;
}

std::ostream& operator<<(std::ostream& os, const Error& e) { return os << e.describe(); }

}  // namespace mxcall
