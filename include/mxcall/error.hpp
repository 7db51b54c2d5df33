// Errors as values: every fallible mxcall operation returns Result<T>.
#pragma once

#include <cstdint>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>

namespace mxcall {

enum class ErrorKind : std::uint8_t {
  Network,          // connection refused/reset, DNS, TLS: the request may not have arrived
  Timeout,          // the request's own deadline passed
  Matrix,           // the homeserver answered with a Matrix error (errcode set)
  RateLimited,      // 429s kept coming after every allowed retry
  InvalidResponse,  // the body was not the JSON we were promised (or too large)
  InvalidArgument,  // the caller gave us something we cannot send
  Cancelled,        // the owner shut the operation down
  Store,            // SQLite or on-disk state
  Process,          // a child process (Synapse) failed
  Crypto,           // olm: a message failed decryption or a receiver check (errcode says which)
  WrongPickleKey,   // the store's encrypted olm state does not open with the given pickle key
};

const char* to_string(ErrorKind kind);

struct Error {
  ErrorKind kind = ErrorKind::InvalidArgument;
  std::string message;   // what happened, in words a user can act on
  int http_status = 0;   // 0 when no HTTP answer was received
  std::string errcode;   // Matrix errcode (M_FORBIDDEN...) when the server gave one; for
                         // ErrorKind::Crypto mxcall's reason (MXCALL_OLM_..., crypto/olm_errors.hpp)

  static Error make(ErrorKind k, std::string msg) { return Error{k, std::move(msg), 0, {}}; }
  std::string describe() const;
};

std::ostream& operator<<(std::ostream& os, const Error& e);

// Thrown only at the façade/CLI edge; the library itself returns Result.
class MxcallError : public std::runtime_error {
 public:
  explicit MxcallError(Error e) : std::runtime_error(e.describe()), error_(std::move(e)) {}
  const Error& error() const noexcept { return error_; }

 private:
  Error error_;
};

// A small std::expected stand-in (C++20 has none): either a T or an Error.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT

  bool ok() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }

  T& value() & { check(); return std::get<0>(v_); }
  const T& value() const& { check(); return std::get<0>(v_); }
  T&& value() && { check(); return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const& { return std::get<1>(v_); }
  Error&& error() && { return std::get<1>(std::move(v_)); }

  template <typename U>
  T value_or(U&& fallback) const& { return ok() ? std::get<0>(v_) : T(std::forward<U>(fallback)); }

 private:
  void check() const {
    if (!ok()) throw MxcallError(std::get<1>(v_));
  }
  std::variant<T, Error> v_;
};

struct Unit {};
using Status = Result<Unit>;
inline Status ok_status() { return Unit{}; }

}  // namespace mxcall
