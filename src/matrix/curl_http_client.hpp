// HttpClient over one libcurl easy handle (keeps its connection alive between requests).
// Not thread-safe: give each thread its own instance.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>

#include "mxcall/matrix/http.hpp"

namespace mxcall::matrix {

class CurlHttpClient final : public HttpClient {
 public:
  // Responses larger than max_body_bytes are cut off and reported as TooLarge.
  explicit CurlHttpClient(std::size_t max_body_bytes = 64u << 20);
  ~CurlHttpClient() override;
  CurlHttpClient(const CurlHttpClient&) = delete;
  CurlHttpClient& operator=(const CurlHttpClient&) = delete;

  HttpResponse perform(const HttpRequest& request) override;

  // Also shuts the connection down, so a long-poll returns at once (libcurl's progress
  // callback alone only runs about once a second while a transfer is idle).
  void abort() noexcept override;
  void reset_abort() noexcept { aborted_.store(false); }

  struct Impl;  // public so libcurl's C callbacks can reach it

 private:
  std::unique_ptr<Impl> impl_;
  std::atomic<bool> aborted_{false};

};

// curl_global_init exactly once per process (called by CurlHttpClient's constructor).
void ensure_curl_initialized();

}  // namespace mxcall::matrix
