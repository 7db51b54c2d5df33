// Our published keys (device keys, signed one-time keys) and the validation of other devices'
// keys from /keys/query and /keys/claim answers.
#include <gtest/gtest.h>

#include <openssl/evp.h>

#include <string>
#include <vector>

#include "crypto/libolm_backend.hpp"
#include "crypto/signed_json.hpp"
#include "olm_harness.hpp"

namespace mxcall::testing {
namespace {

namespace reason = crypto::reason;

// Unpadded base64 to bytes (test-side, independent of libolm).
std::vector<unsigned char> unbase64(std::string s) {
  while (s.size() % 4 != 0) s.push_back('=');
  std::vector<unsigned char> out(s.size() / 4 * 3 + 1);
  const int n = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(s.data()), static_cast<int>(s.size()));
  if (n < 0) return {};
  std::size_t pad = 0;
  for (auto it = s.rbegin(); it != s.rend() && *it == '='; ++it) ++pad;
  out.resize(static_cast<std::size_t>(n) - pad);
  return out;
}

// Verifies with OpenSSL's Ed25519, a second implementation next to libolm's.
bool openssl_verify(const std::string& key_b64, const std::string& message, const std::string& signature_b64) {
  const auto key = unbase64(key_b64);
  const auto signature = unbase64(signature_b64);
  if (key.size() != 32 || signature.size() != 64) return false;
  EVP_PKEY* pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, key.data(), key.size());
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  const bool ok = pkey != nullptr && ctx != nullptr && EVP_DigestVerifyInit(ctx, nullptr, nullptr, nullptr, pkey) == 1 &&
                  EVP_DigestVerify(ctx, signature.data(), signature.size(),
                                   reinterpret_cast<const unsigned char*>(message.data()), message.size()) == 1;
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(pkey);
  return ok;
}

class OlmKeysTest : public ::testing::Test {
 protected:
  TestClock clock;
  KeyServer server;
  std::shared_ptr<crypto::CryptoBackend> backend = crypto::make_libolm_backend();
};

TEST_F(OlmKeysTest, DeviceKeysAreSignedOverTheirCanonicalForm) {
  auto alice = OlmDevice::create("@alice:example.org", "ALICE1", clock);
  const Json keys = alice->device_keys();
  EXPECT_EQ(keys["user_id"], "@alice:example.org");
  EXPECT_EQ(keys["device_id"], "ALICE1");
  EXPECT_EQ(keys["algorithms"], Json::array({"m.olm.v1.curve25519-aes-sha2"}));
  EXPECT_EQ(keys["keys"]["curve25519:ALICE1"], alice->identity_keys().curve25519);
  EXPECT_EQ(keys["keys"]["ed25519:ALICE1"], alice->identity_keys().ed25519);
  EXPECT_TRUE(crypto::is_public_key(alice->identity_keys().curve25519));
  EXPECT_TRUE(crypto::is_public_key(alice->identity_keys().ed25519));

  const std::string signature = keys["signatures"]["@alice:example.org"]["ed25519:ALICE1"];
  auto text = crypto::signing_text(keys);
  ASSERT_TRUE(text.ok()) << text.error();
  EXPECT_EQ(text->find(' '), std::string::npos);
  EXPECT_EQ(text->find("signatures"), std::string::npos);
  EXPECT_TRUE(openssl_verify(alice->identity_keys().ed25519, *text, signature));
  EXPECT_TRUE(crypto::verify_json_signature(*backend, keys, "@alice:example.org", "ed25519:ALICE1",
                                            alice->identity_keys().ed25519)
                  .ok());
  // "unsigned" is not covered by the signature; everything else is.
  Json with_unsigned = keys;
  with_unsigned["unsigned"] = {{"device_display_name", "phone"}};
  EXPECT_TRUE(crypto::verify_device_keys(*backend, with_unsigned, "@alice:example.org", "ALICE1").ok());
  Json altered = keys;
  altered["algorithms"].push_back("m.megolm.v1.aes-sha2");
  auto refused = crypto::verify_device_keys(*backend, altered, "@alice:example.org", "ALICE1");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().errcode, reason::kBadSignature);
}

TEST_F(OlmKeysTest, OneTimeKeysKeepHalfTheAccountPublished) {
  auto alice = OlmDevice::create("@alice:example.org", "ALICE1", clock);
  EXPECT_EQ(alice->one_time_keys_wanted(0), 50u);  // libolm keeps 100
  EXPECT_EQ(alice->one_time_keys_wanted(-3), 50u);
  EXPECT_EQ(alice->one_time_keys_wanted(49), 1u);
  EXPECT_EQ(alice->one_time_keys_wanted(50), 0u);
  EXPECT_EQ(alice->one_time_keys_wanted(80), 0u);

  auto first = alice->one_time_keys_for_upload(50);
  ASSERT_TRUE(first.ok()) << first.error();
  ASSERT_EQ(first->size(), 50u);
  for (const auto& [id, object] : first->items()) {
    EXPECT_EQ(id.rfind("signed_curve25519:", 0), 0u) << id;
    EXPECT_TRUE(crypto::is_public_key(object["key"].get<std::string>()));
    auto text = crypto::signing_text(object);
    ASSERT_TRUE(text.ok());
    EXPECT_TRUE(openssl_verify(alice->identity_keys().ed25519, *text,
                               object["signatures"]["@alice:example.org"]["ed25519:ALICE1"]));
  }
  // An upload that failed: the same keys are offered again, none are added.
  auto again = alice->one_time_keys_for_upload(50);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->size(), 50u);
  for (const auto& [id, object] : first->items()) EXPECT_EQ((*again)[id]["key"], object["key"]);

  ASSERT_TRUE(alice->mark_published(true).ok());
  EXPECT_TRUE(alice->device_keys_published());
  auto none = alice->one_time_keys_for_upload(0);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  auto more = alice->one_time_keys_for_upload(3);
  ASSERT_TRUE(more.ok());
  EXPECT_EQ(more->size(), 3u);
  for (const auto& [id, object] : more->items()) EXPECT_FALSE(first->contains(id));
}

TEST_F(OlmKeysTest, QueryDropsDevicesThatFailValidation) {
  auto alice = OlmDevice::create("@alice:example.org", "ALICE1", clock);
  std::vector<OlmDevice> bobs;
  for (const char* id : {"GOOD", "WRONGUSER", "WRONGID", "BADSIG", "NOCURVE", "FLOAT"}) {
    bobs.push_back(OlmDevice::create("@bob:example.org", id, clock));
    server.upload(bobs.back());
  }
  server.device_keys({"@bob:example.org", "WRONGUSER"})["user_id"] = "@carol:example.org";
  server.device_keys({"@bob:example.org", "WRONGID"})["device_id"] = "GOOD";
  server.device_keys({"@bob:example.org", "BADSIG"})["keys"]["curve25519:BADSIG"] =
      alice->identity_keys().curve25519;
  server.device_keys({"@bob:example.org", "NOCURVE"})["keys"].erase("curve25519:NOCURVE");
  server.device_keys({"@bob:example.org", "FLOAT"})["extra"] = 1.5;

  Json response = server.query({"@bob:example.org"});
  response["device_keys"]["@mallory:example.org"] = server.query({"@bob:example.org"})["device_keys"]["@bob:example.org"];
  auto outcome = alice->apply_keys_query(response, {"@bob:example.org"});
  EXPECT_EQ(outcome.accepted, 1u);
  ASSERT_EQ(outcome.rejected.size(), 5u);
  std::map<std::string, std::string> why;
  for (const auto& p : outcome.rejected) why[p.device.device_id] = p.error.errcode;
  EXPECT_EQ(why["WRONGUSER"], reason::kMalformed);
  EXPECT_EQ(why["WRONGID"], reason::kMalformed);
  EXPECT_EQ(why["BADSIG"], reason::kBadSignature);
  EXPECT_EQ(why["NOCURVE"], reason::kMalformed);
  EXPECT_EQ(why["FLOAT"], reason::kBadSignature);
  ASSERT_EQ(alice->devices_of("@bob:example.org").size(), 1u);
  EXPECT_EQ(alice->devices_of("@bob:example.org")[0].device_id, "GOOD");
  EXPECT_TRUE(alice->devices_of("@mallory:example.org").empty());  // not asked about
}

TEST_F(OlmKeysTest, ADeviceIdNeverChangesItsKeys) {
  auto alice = OlmDevice::create("@alice:example.org", "ALICE1", clock);
  auto bob = OlmDevice::create("@bob:example.org", "BOB1", clock);
  server.upload(bob);
  introduce(alice, server, {bob.user_id});
  const std::string pinned = alice->device(bob.ref())->ed25519;

  // Another account publishing under the same device id.
  auto impostor = OlmDevice::create(bob.user_id, bob.device_id, clock);
  server.device_keys(bob.ref()) = impostor->device_keys();
  ASSERT_TRUE(alice->mark_users_outdated({bob.user_id}).ok());
  auto outcome = alice->apply_keys_query(server.query({bob.user_id}), {bob.user_id});
  ASSERT_EQ(outcome.rejected.size(), 1u);
  EXPECT_EQ(outcome.rejected[0].error.errcode, reason::kDeviceKeysChanged);
  EXPECT_EQ(alice->device(bob.ref())->ed25519, pinned);

  // Pinned across a restart too.
  alice.reopen(clock);
  EXPECT_EQ(alice->device(bob.ref())->ed25519, pinned);
  outcome = alice->apply_keys_query(server.query({bob.user_id}), {bob.user_id});
  ASSERT_EQ(outcome.rejected.size(), 1u);
  EXPECT_EQ(alice->device(bob.ref())->ed25519, pinned);
}

TEST_F(OlmKeysTest, DevicesLeavingTheListAreForgottenButStayPinned) {
  auto alice = OlmDevice::create("@alice:example.org", "ALICE1", clock);
  auto bob = OlmDevice::create("@bob:example.org", "BOB1", clock);
  auto bob2 = OlmDevice::create("@bob:example.org", "BOB2", clock);
  server.upload(bob);
  server.upload(bob2);
  EXPECT_EQ(alice->users_needing_query({bob.user_id, bob.user_id}), std::vector<std::string>{bob.user_id});
  introduce(alice, server, {bob.user_id});
  EXPECT_TRUE(alice->users_needing_query({bob.user_id}).empty());
  ASSERT_EQ(alice->devices_of(bob.user_id).size(), 2u);

  const Json bob2_keys = server.device_keys(bob2.ref());
  server.forget_device(bob2.ref());
  ASSERT_TRUE(alice->mark_users_outdated({bob.user_id, "@stranger:example.org"}).ok());
  EXPECT_EQ(alice->users_needing_query({bob.user_id}), std::vector<std::string>{bob.user_id});
  introduce(alice, server, {bob.user_id});
  EXPECT_FALSE(alice->device(bob2.ref()));
  EXPECT_EQ(alice->devices_of(bob.user_id).size(), 1u);

  // Back with the same keys: known again. With other keys: refused.
  server.device_keys(bob2.ref()) = bob2_keys;
  introduce(alice, server, {bob.user_id});
  EXPECT_TRUE(alice->device(bob2.ref()));
  auto other = OlmDevice::create(bob.user_id, "BOB2", clock);
  server.device_keys(bob2.ref()) = other->device_keys();
  auto outcome = alice->apply_keys_query(server.query({bob.user_id}), {bob.user_id});
  ASSERT_EQ(outcome.rejected.size(), 1u);
  EXPECT_EQ(outcome.rejected[0].error.errcode, reason::kDeviceKeysChanged);
}

TEST_F(OlmKeysTest, ClaimedKeysMustCarryTheDevicesSignature) {
  auto alice = OlmDevice::create("@alice:example.org", "ALICE1", clock);
  auto bob = OlmDevice::create("@bob:example.org", "BOB1", clock);
  server.upload(bob);
  introduce(alice, server, {bob.user_id});

  Json forged = server.claim({bob.ref()});
  Json& entry = forged["one_time_keys"][bob.user_id][bob.device_id];
  entry.begin().value()["key"] = alice->identity_keys().curve25519;  // a valid key bob never signed
  auto outcome = alice->apply_keys_claim(forged, {bob.ref()});
  ASSERT_EQ(outcome.failed.size(), 1u);
  EXPECT_EQ(outcome.failed[0].error.errcode, reason::kBadSignature);

  Json unsigned_key = {{"one_time_keys", {{bob.user_id, {{bob.device_id, {{"curve25519:AAAAAQ", alice->identity_keys().curve25519}}}}}}}};
  outcome = alice->apply_keys_claim(unsigned_key, {bob.ref()});
  ASSERT_EQ(outcome.failed.size(), 1u);
  EXPECT_EQ(outcome.failed[0].error.errcode, reason::kNoSession);

  outcome = alice->apply_keys_claim(Json::object(), {bob.ref(), {"@nobody:example.org", "X"}});
  ASSERT_EQ(outcome.failed.size(), 2u);
  EXPECT_EQ(outcome.failed[0].error.errcode, reason::kNoSession);
  EXPECT_EQ(outcome.failed[1].error.errcode, reason::kUnknownDevice);
  EXPECT_FALSE(alice->has_session(bob.ref()));

  outcome = alice->apply_keys_claim(server.claim({bob.ref()}), {bob.ref()});
  EXPECT_TRUE(outcome.failed.empty());
  EXPECT_TRUE(alice->has_session(bob.ref()));
}

}  // namespace
}  // namespace mxcall::testing
