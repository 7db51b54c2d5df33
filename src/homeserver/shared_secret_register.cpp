#include "homeserver/shared_secret_register.hpp"

#include <array>

#include <nlohmann/json.hpp>
#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace mxcall::homeserver::detail {

using nlohmann::json;

std::string registration_mac(const std::string& shared_secret, const std::string& nonce,
                             const std::string& username, const std::string& password, bool admin) {
  std::string message;
  message.reserve(nonce.size() + username.size() + password.size() + 12);
  message += nonce;
  message.push_back('\0');
  message += username;
  message.push_back('\0');
  message += password;
  message.push_back('\0');
  message += admin ? "admin" : "notadmin";

  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int md_len = 0;
  if (HMAC(EVP_sha1(), shared_secret.data(), static_cast<int>(shared_secret.size()),
           reinterpret_cast<const unsigned char*>(message.data()), message.size(), md.data(),
           &md_len) == nullptr) {
    return {};
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(md_len * 2);
  for (unsigned int i = 0; i < md_len; ++i) {
    hex.push_back(kHex[md[i] >> 4]);
    hex.push_back(kHex[md[i] & 0x0f]);
  }
  return hex;
}

Error error_from_response(const matrix::HttpResponse& response, const std::string& what) {
  using matrix::HttpOutcome;
  switch (response.outcome) {
    case HttpOutcome::Ok: break;
    case HttpOutcome::Timeout:
      return Error::make(ErrorKind::Timeout, what + ": " + response.error_text);
    case HttpOutcome::Aborted:
      return Error::make(ErrorKind::Cancelled, what + ": " + response.error_text);
    case HttpOutcome::TooLarge:
      return Error::make(ErrorKind::InvalidResponse, what + ": " + response.error_text);
    case HttpOutcome::ConnectFailed:
    case HttpOutcome::OtherError:
      return Error::make(ErrorKind::Network, what + ": " + response.error_text);
  }
  const json body = json::parse(response.body, nullptr, false);
  if (body.is_object()) {
    auto errcode = body.find("errcode");
    if (errcode != body.end() && errcode->is_string()) {
      std::string message = what;
      auto err = body.find("error");
      if (err != body.end() && err->is_string()) message += ": " + err->get<std::string>();
      return Error{ErrorKind::Matrix, std::move(message), response.status, errcode->get<std::string>()};
    }
  }
  return Error{ErrorKind::InvalidResponse,
               what + ": unexpected HTTP " + std::to_string(response.status) + " without a Matrix error",
               response.status, {}};
}

Result<std::string> register_with_shared_secret(matrix::HttpClient& http, const std::string& base_url,
                                                const std::string& shared_secret,
                                                const std::string& localpart,
                                                const std::string& password, bool admin) {
  if (localpart.empty()) return Error::make(ErrorKind::InvalidArgument, "empty user name");
  if (shared_secret.empty()) {
    return Error::make(ErrorKind::InvalidArgument, "the homeserver has no registration_shared_secret");
  }
  const std::string url = base_url + "/_synapse/admin/v1/register";

  matrix::HttpRequest get;
  get.url = url;
  get.timeout = std::chrono::milliseconds(10'000);
  const auto nonce_resp = http.perform(get);
  if (nonce_resp.outcome != matrix::HttpOutcome::Ok || nonce_resp.status != 200) {
    return error_from_response(nonce_resp, "registration nonce");
  }
  const json nonce_body = json::parse(nonce_resp.body, nullptr, false);
  if (!nonce_body.is_object() || !nonce_body.contains("nonce") || !nonce_body["nonce"].is_string()) {
    return Error{ErrorKind::InvalidResponse, "registration nonce: no nonce in the answer", 200, {}};
  }
  const std::string nonce = nonce_body["nonce"].get<std::string>();

  matrix::HttpRequest post;
  post.method = matrix::HttpMethod::Post;
  post.url = url;
  post.timeout = std::chrono::milliseconds(30'000);
  post.body = json{{"nonce", nonce},
                   {"username", localpart},
                   {"password", password},
                   {"admin", admin},
                   {"mac", registration_mac(shared_secret, nonce, localpart, password, admin)}}
                  .dump(-1, ' ', false, json::error_handler_t::replace);
  const auto resp = http.perform(post);
  if (resp.outcome != matrix::HttpOutcome::Ok || resp.status != 200) {
    return error_from_response(resp, "registering " + localpart);
  }
  const json body = json::parse(resp.body, nullptr, false);
  if (!body.is_object() || !body.contains("user_id") || !body["user_id"].is_string()) {
    return Error{ErrorKind::InvalidResponse, "registering " + localpart + ": no user_id in the answer",
                 resp.status, {}};
  }
  return body["user_id"].get<std::string>();
}

}  // namespace mxcall::homeserver::detail
