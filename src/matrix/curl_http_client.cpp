#include "matrix/curl_http_client.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <mutex>
#include <vector>
#include <string_view>

#include <curl/curl.h>

namespace mxcall::matrix {

const char* to_string(HttpMethod m) {
  switch (m) {
    case HttpMethod::Get: return "GET";
    case HttpMethod::Post: return "POST";
    case HttpMethod::Put: return "PUT";
    case HttpMethod::Delete: return "DELETE";
  }
  return "?";
}

const char* to_string(HttpOutcome o) {
  switch (o) {
    case HttpOutcome::Ok: return "ok";
    case HttpOutcome::ConnectFailed: return "connect-failed";
    case HttpOutcome::Timeout: return "timeout";
    case HttpOutcome::TooLarge: return "too-large";
    case HttpOutcome::Aborted: return "aborted";
    case HttpOutcome::OtherError: return "error";
  }
  return "?";
}

void ensure_curl_initialized() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct CurlHttpClient::Impl {
  CURL* easy = nullptr;
  std::size_t max_body = 0;
  std::mutex socket_mutex;  // guards `sockets` against abort() racing a close
  std::vector<curl_socket_t> sockets;
};

namespace {

curl_socket_t open_socket(void* user, curlsocktype, curl_sockaddr* addr) {
  auto* impl = static_cast<CurlHttpClient::Impl*>(user);
  curl_socket_t fd = ::socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
  if (fd != CURL_SOCKET_BAD) {
    std::lock_guard lock(impl->socket_mutex);
    impl->sockets.push_back(fd);
  }
  return fd;
}

int close_socket(void* user, curl_socket_t fd) {
  auto* impl = static_cast<CurlHttpClient::Impl*>(user);
  std::lock_guard lock(impl->socket_mutex);
  std::erase(impl->sockets, fd);
  return ::close(fd);
}

}  // namespace

void CurlHttpClient::abort() noexcept {
  aborted_.store(true);
  std::lock_guard lock(impl_->socket_mutex);
  for (curl_socket_t fd : impl_->sockets) ::shutdown(fd, SHUT_RDWR);
}

namespace {

struct Transfer {
  HttpResponse* response;
  std::size_t max_body;
  bool too_large = false;
  const std::atomic<bool>* aborted;
};

size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t n = size * count;
  if (t->response->body.size() + n > t->max_body) {
    t->too_large = true;
    return 0;  // makes libcurl fail the transfer with CURLE_WRITE_ERROR
  }
  t->response->body.append(data, n);
  return n;
}

size_t on_header(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t n = size * count;
  std::string_view line(data, n);
  constexpr std::string_view name = "retry-after:";
  if (line.size() > name.size()) {
    bool match = true;
    for (size_t i = 0; i < name.size(); ++i) {
      if (std::tolower(static_cast<unsigned char>(line[i])) != name[i]) { match = false; break; }
    }
    if (match) {
      std::string_view v = line.substr(name.size());
      while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
      while (!v.empty() && (v.back() == '\r' || v.back() == '\n' || v.back() == ' ')) v.remove_suffix(1);
      t->response->retry_after = std::string(v);
    }
  }
  return n;
}

int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* t = static_cast<Transfer*>(user);
  return t->aborted->load() ? 1 : 0;
}

HttpOutcome classify(CURLcode code) {
  switch (code) {
    case CURLE_OK: return HttpOutcome::Ok;
    case CURLE_OPERATION_TIMEDOUT: return HttpOutcome::Timeout;
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_GOT_NOTHING:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      return HttpOutcome::ConnectFailed;
    case CURLE_ABORTED_BY_CALLBACK: return HttpOutcome::Aborted;
    default: return HttpOutcome::OtherError;
  }
}

}  // namespace

CurlHttpClient::CurlHttpClient(std::size_t max_body_bytes) : impl_(std::make_unique<Impl>()) {
  ensure_curl_initialized();
  impl_->easy = curl_easy_init();
  impl_->max_body = max_body_bytes;

}

CurlHttpClient::~CurlHttpClient() {
  if (impl_->easy) curl_easy_cleanup(impl_->easy);
}

HttpResponse CurlHttpClient::perform(const HttpRequest& request) {
  HttpResponse response;
  if (aborted_.load()) {
    response.outcome = HttpOutcome::Aborted;
    response.error_text = "aborted before start";
    return response;
  }
  CURL* easy = impl_->easy;
  if (!easy) {
    response.outcome = HttpOutcome::OtherError;
    response.error_text = "curl_easy_init failed";
    return response;
  }
  curl_easy_reset(easy);
  Transfer transfer{&response, impl_->max_body, false, &aborted_};

  curl_easy_setopt(easy, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout.count()));
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, 10'000L);
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &transfer);
  curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, &transfer);
  curl_easy_setopt(easy, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(easy, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(easy, CURLOPT_XFERINFODATA, &transfer);
  curl_easy_setopt(easy, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION, open_socket);
  curl_easy_setopt(easy, CURLOPT_OPENSOCKETDATA, impl_.get());
  curl_easy_setopt(easy, CURLOPT_CLOSESOCKETFUNCTION, close_socket);
  curl_easy_setopt(easy, CURLOPT_CLOSESOCKETDATA, impl_.get());

  switch (request.method) {
    case HttpMethod::Get: curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L); break;
    case HttpMethod::Post: curl_easy_setopt(easy, CURLOPT_POST, 1L); break;
    case HttpMethod::Put: curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, "PUT"); break;
    case HttpMethod::Delete: curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, "DELETE"); break;
  }
  if (request.method != HttpMethod::Get) {
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, request.body.c_str());
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
  }

  curl_slist* headers = nullptr;
  for (const auto& [k, v] : request.headers) headers = curl_slist_append(headers, (k + ": " + v).c_str());
  if (!request.body.empty()) headers = curl_slist_append(headers, "Content-Type: application/json");
  headers = curl_slist_append(headers, "Expect:");  // no 100-continue round trip on PUT
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);

  const CURLcode code = curl_easy_perform(easy);
  if (aborted_.load()) {
    curl_slist_free_all(headers);
    response.outcome = HttpOutcome::Aborted;
    response.error_text = "aborted";
    return response;
  }
  curl_slist_free_all(headers);

  if (transfer.too_large) {
    response.outcome = HttpOutcome::TooLarge;
    response.error_text = "response body over " + std::to_string(impl_->max_body) + " bytes";
    response.body.clear();
  } else {
    response.outcome = classify(code);
    if (code != CURLE_OK) response.error_text = curl_easy_strerror(code);
  }
  long status = 0;
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
  response.status = static_cast<int>(status);
  return response;
}

}  // namespace mxcall::matrix
