#include <gtest/gtest.h>

#include "matrix/responses.hpp"

namespace mxcall::matrix {
namespace {

TEST(LoginResponse, ValidIdentityIsAccepted) {
  auto r = parse_login_response(Json::parse(R"({"user_id":"@a:x","device_id":"DEV","access_token":"syt_t"})"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->user_id, "@a:x");
  EXPECT_EQ(r->device_id, "DEV");
  EXPECT_EQ(r->access_token, "syt_t");
}

TEST(LoginResponse, UnusableFieldsAreErrors) {
  for (const char* body : {R"({"user_id":"a","device_id":"D","access_token":"t"})",
                           R"({"user_id":"@a:x","device_id":"","access_token":"t"})",
                           R"({"user_id":"@a:x","device_id":"D","access_token":"t\r\nX-Evil: 1"})",
                           R"({"user_id":"@a:x","device_id":"D E","access_token":"t"})",
                           R"({"user_id":"@a:x","device_id":7,"access_token":"t"})", R"([])"}) {
    auto r = parse_login_response(Json::parse(body));
    ASSERT_FALSE(r.ok()) << body;
    EXPECT_EQ(r.error().kind, ErrorKind::InvalidResponse) << body;
  }
}

TEST(TurnServerResponse, UrisWithSpacesOrControlsAreLeftOut) {
  auto r = parse_turn_server(Json::parse(
      R"({"username":"u","password":"p","uris":["turn:a b:1","turn:h\n:1","turn:ok:3478",5],"ttl":60})"));
  ASSERT_TRUE(r.ok() && r->has_value());
  EXPECT_EQ((*r)->uris, (std::vector<std::string>{"turn:ok:3478"}));
  auto none_left = parse_turn_server(Json::parse(R"({"username":"u","password":"p","uris":["turn:a b"],"ttl":60})"));
  EXPECT_FALSE(none_left.ok());
  auto no_turn = parse_turn_server(Json::parse(R"({"uris":[]})"));
  ASSERT_TRUE(no_turn.ok());
  EXPECT_FALSE(no_turn->has_value());
}

}  // namespace
}  // namespace mxcall::matrix
