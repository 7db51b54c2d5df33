// Canonical JSON and signed JSON (spec appendix "Canonical JSON" and "Signing JSON").
#include <gtest/gtest.h>

#include "crypto/libolm_backend.hpp"
#include "crypto/olm_errors.hpp"
#include "crypto/signed_json.hpp"

namespace mxcall::crypto {
namespace {

std::string canonical(const char* text) {
  auto r = canonical_json(Json::parse(text));
  EXPECT_TRUE(r.ok()) << r.error();
  return r.ok() ? *r : std::string();
}

TEST(CanonicalJson, SpecExamples) {
  EXPECT_EQ(canonical("{}"), "{}");
  EXPECT_EQ(canonical(R"({"one": 1, "two": "Two"})"), R"({"one":1,"two":"Two"})");
  EXPECT_EQ(canonical(R"({"b": "2", "a": "1"})"), R"({"a":"1","b":"2"})");
  EXPECT_EQ(canonical(R"({"auth":{"success":true,"mxid":"@john.doe:example.com","profile":{"display_name":"John Doe",)"
                      R"("three_pids":[{"medium":"email","address":"john.doe@example.org"},)"
                      R"({"medium":"msisdn","address":"123456789"}]}}})"),
            R"({"auth":{"mxid":"@john.doe:example.com","profile":{"display_name":"John Doe","three_pids":)"
            R"([{"address":"john.doe@example.org","medium":"email"},{"address":"123456789","medium":"msisdn"}]},)"
            R"("success":true}})");
  EXPECT_EQ(canonical(R"({"a": "日本語"})"), R"({"a":"日本語"})");
  EXPECT_EQ(canonical(R"({"本": 2, "日": 1})"), R"({"日":1,"本":2})");
  EXPECT_EQ(canonical(R"({"a": "\u65E5"})"), R"({"a":"日"})");
  EXPECT_EQ(canonical(R"({"a": null})"), R"({"a":null})");
  EXPECT_EQ(canonical(R"({"a": -0, "b": 1e10})"), R"({"a":0,"b":10000000000})");
}

TEST(CanonicalJson, RefusesWhatHasNoCanonicalForm) {
  for (const char* text : {R"({"a": 1.5})", R"({"a": [9007199254740992]})", R"({"a": -9007199254740992})",
                           R"({"a": 1e300})"}) {
    auto r = canonical_json(Json::parse(text));
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.error().errcode, reason::kMalformed);
  }
  EXPECT_TRUE(canonical_json(Json::parse(R"({"a": 9007199254740991})")).ok());
  auto bad_utf8 = canonical_json(Json{{"a", std::string("\xff\xfe")}});
  ASSERT_FALSE(bad_utf8.ok());
  EXPECT_NE(bad_utf8.error().message.find("UTF-8"), std::string::npos);
}

TEST(SignedJson, SigningTextLeavesOutSignaturesAndUnsigned) {
  auto text = signing_text(Json{{"b", 1}, {"signatures", {{"x", 1}}}, {"unsigned", {{"age", 3}}}, {"a", "z"}});
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, R"({"a":"z","b":1})");
  EXPECT_FALSE(signing_text(Json::array()).ok());
}

TEST(SignedJson, SignAndVerifyAddsToExistingSignatures) {
  auto backend = make_libolm_backend();
  auto account = backend->create_account();
  ASSERT_TRUE(account.ok());
  const auto ed = (*account)->identity_keys().ed25519;
  Json object = {{"key", "value"}, {"signatures", {{"@other:hs", {{"ed25519:X", "sig"}}}}}};
  auto signed_object = sign_json(**account, "@me:hs", "DEV", object);
  ASSERT_TRUE(signed_object.ok()) << signed_object.error();
  EXPECT_EQ((*signed_object)["signatures"]["@other:hs"]["ed25519:X"], "sig");
  EXPECT_TRUE(verify_json_signature(*backend, *signed_object, "@me:hs", "ed25519:DEV", ed).ok());

  const auto refused = [&](const Json& o, const std::string& user, const std::string& key_id) {
    auto r = verify_json_signature(*backend, o, user, key_id, ed);
    EXPECT_FALSE(r.ok());
    if (!r.ok()) {
      EXPECT_EQ(r.error().errcode, reason::kBadSignature);
    }
  };
  refused(*signed_object, "@me:hs", "ed25519:OTHER");
  refused(*signed_object, "@nobody:hs", "ed25519:DEV");
  Json changed = *signed_object;
  changed["key"] = "other value";
  refused(changed, "@me:hs", "ed25519:DEV");
  Json garbage = *signed_object;
  garbage["signatures"]["@me:hs"]["ed25519:DEV"] = "!!";
  refused(garbage, "@me:hs", "ed25519:DEV");
  EXPECT_FALSE(backend->ed25519_verify("short", "m", "s"));
}

}  // namespace
}  // namespace mxcall::crypto
