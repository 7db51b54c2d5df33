// HTTP as values: the transport builds HttpRequest values and hands them to an HttpClient.
// The libcurl client is the default; tests and apps may supply their own.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace mxcall::matrix {

enum class HttpMethod { Get, Post, Put, Delete };
const char* to_string(HttpMethod m);

struct HttpRequest {
  HttpMethod method = HttpMethod::Get;
  std::string url;  // absolute, already percent-encoded
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;  // JSON for every Matrix request that has one
  std::chrono::milliseconds timeout{30'000};
};

// What went wrong below HTTP, if anything.
enum class HttpOutcome {
  Ok,             // a status line was received (status may still be 4xx/5xx)
  ConnectFailed,  // refused, reset, unreachable: safe to retry
  Timeout,        // our own timeout fired
  TooLarge,       // the body exceeded the client's limit and was cut off
  Aborted,        // cancelled by the owner (shutdown)
  OtherError,
};
const char* to_string(HttpOutcome o);

struct HttpResponse {
  HttpOutcome outcome = HttpOutcome::Ok;
  int status = 0;
  std::string body;
  std::optional<std::string> retry_after;  // the Retry-After header, verbatim
  std::string error_text;                  // libcurl's words when outcome != Ok
};

class HttpClient {
 public:
  virtual ~HttpClient() = default;
  // Blocking. Must never throw; failures are reported in HttpResponse::outcome.
  virtual HttpResponse perform(const HttpRequest& request) = 0;
  // Makes an in-flight and every later perform() return Aborted promptly. Thread-safe.
  virtual void abort() noexcept {}
};

}  // namespace mxcall::matrix
