// OlmMachine with machines in memory: exchanges between two and three devices, the receiver
// checks of VOIP_PROTOCOL 2.6 each against its forged case, replays, malformed contents.
#include <gtest/gtest.h>

#include <string>

#include "crypto/olm_errors.hpp"
#include "events/olm_events.hpp"
#include "olm_harness.hpp"

namespace mxcall::testing {
namespace {

namespace reason = crypto::reason;

class OlmMachineTest : public OlmPairTest {
 protected:
  // The plaintext alice's machine would send to bob, as JSON, to forge variants of.
  Json honest_plaintext(const std::string& type = "m.call.invite", const Json& content = {{"call_id", "c1"}}) {
    events::OlmPlaintext p;
    p.type = type;
    p.content = content;
    p.sender = alice.user_id;
    p.sender_device = alice.device_id;
    p.recipient = bob.user_id;
    p.recipient_ed25519 = bob->identity_keys().ed25519;
    p.sender_ed25519 = alice->identity_keys().ed25519;
    return events::to_json(p);
  }

  Json forged_envelope(const Json& plaintext) {
    if (!alice->has_session(bob.ref())) alice->apply_keys_claim(server.claim({bob.ref()}), {bob.ref()});
    auto envelope = alice->encrypt_payload(bob.ref(), plaintext);
    EXPECT_TRUE(envelope.ok()) << envelope.error();
    return envelope.ok() ? *envelope : Json();
  }

  void expect_refused(const Result<crypto::Decrypted>& r, std::string_view why) {
    ASSERT_FALSE(r.ok()) << "accepted a message that should fail with " << why;
    EXPECT_EQ(r.error().kind, ErrorKind::Crypto);
    EXPECT_EQ(r.error().errcode, why) << r.error();
  }

};

TEST_F(OlmMachineTest, TwoDevicesExchangeBothWays) {
  const Json first = encrypt_for(alice, server, bob.ref(), "m.call.invite", {{"call_id", "c1"}, {"n", 1}});
  EXPECT_EQ(first["algorithm"], "m.olm.v1.curve25519-aes-sha2");
  EXPECT_EQ(first["sender_key"], alice->identity_keys().curve25519);
  ASSERT_EQ(first["ciphertext"].size(), 1u);
  EXPECT_EQ(first["ciphertext"][bob->identity_keys().curve25519]["type"], 0);  // pre-key

  auto got = bob->decrypt(alice.user_id, first);
  ASSERT_TRUE(got.ok()) << got.error();
  EXPECT_EQ(got->sender, alice.user_id);
  EXPECT_EQ(got->sender_device, alice.device_id);
  EXPECT_EQ(got->sender_curve25519, alice->identity_keys().curve25519);
  EXPECT_EQ(got->type, "m.call.invite");
  EXPECT_EQ(got->content, (Json{{"call_id", "c1"}, {"n", 1}}));
  EXPECT_TRUE(got->encrypted);

  // Bob answers on the session alice started: a normal message, no key claimed.
  ASSERT_TRUE(bob->has_session(alice.ref()));
  const std::size_t alice_keys = server.one_time_key_count(alice.ref());
  auto reply = bob->encrypt(alice.ref(), "m.call.answer", {{"call_id", "c1"}});
  ASSERT_TRUE(reply.ok()) << reply.error();
  EXPECT_EQ((*reply)["ciphertext"][alice->identity_keys().curve25519]["type"], 1);
  EXPECT_EQ(server.one_time_key_count(alice.ref()), alice_keys);
  auto answered = alice->decrypt(bob.user_id, *reply);
  ASSERT_TRUE(answered.ok()) << answered.error();
  EXPECT_EQ(answered->type, "m.call.answer");
  EXPECT_EQ(answered->sender_device, bob.device_id);

  // Alice has now heard from bob: her next message is a normal one on the same session.
  auto second = alice->encrypt(bob.ref(), "m.call.hangup", {{"call_id", "c1"}});
  ASSERT_TRUE(second.ok()) << second.error();
  EXPECT_EQ((*second)["ciphertext"][bob->identity_keys().curve25519]["type"], 1);
  ASSERT_TRUE(bob->decrypt(alice.user_id, *second).ok());
  EXPECT_EQ(bob->session_count(alice->identity_keys().curve25519), 1u);
  EXPECT_EQ(alice->session_count(bob->identity_keys().curve25519), 1u);
}

TEST_F(OlmMachineTest, ThreeDevicesOfTwoUsersEachDecryptOnlyTheirOwn) {
  OlmDevice bob2 = OlmDevice::create(bob.user_id, "BOB2", clock);
  OlmDevice carol = OlmDevice::create("@carol:example.org", "CAROL1", clock);
  for (OlmDevice* d : {&bob2, &carol}) {
    server.upload(*d);
    introduce(*d, server, {alice.user_id});
  }
  introduce(alice, server, {bob.user_id, carol.user_id});
  ASSERT_EQ(alice->devices_of(bob.user_id).size(), 2u);

  std::map<std::string, Json> envelopes;
  for (OlmDevice* d : {&bob, &bob2, &carol})
    envelopes[d->device_id] = encrypt_for(alice, server, d->ref(), "m.call.invite", {{"for", d->device_id}});
  for (OlmDevice* d : {&bob, &bob2, &carol}) {
    auto got = (*d)->decrypt(alice.user_id, envelopes[d->device_id]);
    ASSERT_TRUE(got.ok()) << d->device_id << ": " << got.error();
    EXPECT_EQ(got->content["for"], d->device_id);
    EXPECT_EQ(got->sender_device, alice.device_id);
  }
  // Carol holds no ciphertext in bob's envelope.
  expect_refused(carol->decrypt(alice.user_id, envelopes["BOB1"]), reason::kNotForUs);
}

TEST_F(OlmMachineTest, HonestForgedBaselineIsAccepted) {
  // The forged cases below differ from this one in a single field.
  auto got = bob->decrypt(alice.user_id, forged_envelope(honest_plaintext()));
  ASSERT_TRUE(got.ok()) << got.error();
  EXPECT_EQ(got->type, "m.call.invite");
}

TEST_F(OlmMachineTest, PlaintextSenderMustEqualToDeviceSender) {
  Json p = honest_plaintext();
  p["sender"] = "@mallory:example.org";
  expect_refused(bob->decrypt(alice.user_id, forged_envelope(p)), reason::kSenderMismatch);
}

TEST_F(OlmMachineTest, RecipientMustBeUs) {
  Json p = honest_plaintext();
  p["recipient"] = "@carol:example.org";
  expect_refused(bob->decrypt(alice.user_id, forged_envelope(p)), reason::kRecipientMismatch);
}

TEST_F(OlmMachineTest, RecipientKeyMustBeOurs) {
  OlmDevice other = OlmDevice::create(bob.user_id, "BOB2", clock);
  Json p = honest_plaintext();
  p["recipient_keys"]["ed25519"] = other->identity_keys().ed25519;
  expect_refused(bob->decrypt(alice.user_id, forged_envelope(p)), reason::kRecipientKeyMismatch);
}

TEST_F(OlmMachineTest, SenderEd25519MustBeTheSendingDevicesKey) {
  OlmDevice alice2 = OlmDevice::create(alice.user_id, "ALICE2", clock);
  server.upload(alice2);
  introduce(bob, server, {alice.user_id});  // bob knows both of alice's devices
  Json p = honest_plaintext();
  p["keys"]["ed25519"] = alice2->identity_keys().ed25519;  // a real key, of the wrong device
  expect_refused(bob->decrypt(alice.user_id, forged_envelope(p)), reason::kSenderEd25519Mismatch);
}

TEST_F(OlmMachineTest, SenderDeviceMustBeTheSendingDevice) {
  Json p = honest_plaintext();
  p["sender_device"] = "ALICE2";
  expect_refused(bob->decrypt(alice.user_id, forged_envelope(p)), reason::kSenderDeviceMismatch);
  Json q = honest_plaintext();
  Json other_keys = bob->device_keys();  // validly signed, but bob's
  q["sender_device_keys"] = other_keys;
  expect_refused(bob->decrypt(alice.user_id, forged_envelope(q)), reason::kSenderDeviceMismatch);
}

TEST_F(OlmMachineTest, SenderKeyOfAnUnknownDeviceIsRefused) {
  // Carol never had her keys queried by bob.
  OlmDevice carol = OlmDevice::create("@carol:example.org", "CAROL1", clock);
  server.upload(carol);
  introduce(carol, server, {bob.user_id});
  const Json envelope = encrypt_for(carol, server, bob.ref(), "m.call.invite", {{"call_id", "c"}});
  expect_refused(bob->decrypt(carol.user_id, envelope), reason::kUnknownSenderKey);
  // Carol's real session, presented as alice's: the key belongs to no device of alice.
  expect_refused(bob->decrypt(alice.user_id, envelope), reason::kUnknownSenderKey);
  // Once queried, the same message decrypts.
  introduce(bob, server, {carol.user_id});
  EXPECT_TRUE(bob->decrypt(carol.user_id, envelope).ok());
}

TEST_F(OlmMachineTest, TamperedCiphertextIsRefusedAndSessionStillWorks) {
  Json envelope = encrypt_for(alice, server, bob.ref(), "m.call.invite", {{"call_id", "c"}});
  const std::string key = bob->identity_keys().curve25519;
  Json tampered = envelope;
  std::string body = tampered["ciphertext"][key]["body"];
  body[body.size() / 2] = body[body.size() / 2] == 'A' ? 'B' : 'A';
  tampered["ciphertext"][key]["body"] = body;
  expect_refused(bob->decrypt(alice.user_id, tampered), reason::kUndecryptable);
  ASSERT_TRUE(bob->decrypt(alice.user_id, envelope).ok());

  // A tampered normal (type 1) message too.
  auto reply = bob->encrypt(alice.ref(), "m.dummy", Json::object());
  ASSERT_TRUE(reply.ok());
  ASSERT_TRUE(alice->decrypt(bob.user_id, *reply).ok());
  auto next = alice->encrypt(bob.ref(), "m.call.hangup", {{"call_id", "c"}});
  ASSERT_TRUE(next.ok());
  Json bad = *next;
  std::string b = bad["ciphertext"][key]["body"];
  b[b.size() - 5] = b[b.size() - 5] == 'A' ? 'B' : 'A';
  bad["ciphertext"][key]["body"] = b;
  expect_refused(bob->decrypt(alice.user_id, bad), reason::kUndecryptable);
  EXPECT_TRUE(bob->decrypt(alice.user_id, *next).ok());
}

TEST_F(OlmMachineTest, ReplayedMessagesAreRefusedWithoutUnwedging) {
  const Json first = encrypt_for(alice, server, bob.ref(), "m.call.invite", {{"call_id", "c"}});
  ASSERT_TRUE(bob->decrypt(alice.user_id, first).ok());
  expect_refused(bob->decrypt(alice.user_id, first), reason::kDuplicate);  // pre-key replay
  auto reply = bob->encrypt(alice.ref(), "m.dummy", Json::object());
  ASSERT_TRUE(alice->decrypt(bob.user_id, *reply).ok());
  auto normal = alice->encrypt(bob.ref(), "m.call.hangup", {{"call_id", "c"}});
  ASSERT_TRUE(bob->decrypt(alice.user_id, *normal).ok());
  expect_refused(bob->decrypt(alice.user_id, *normal), reason::kDuplicate);  // normal replay
  EXPECT_TRUE(bob->take_unwedge_requests().empty());
  EXPECT_TRUE(bob->has_session(alice.ref()));
}

TEST_F(OlmMachineTest, MalformedContentsGiveErrorValues) {
  const std::string ours = bob->identity_keys().curve25519;
  const std::string theirs = alice->identity_keys().curve25519;
  const Json good = {{"algorithm", "m.olm.v1.curve25519-aes-sha2"},
                     {"sender_key", theirs},
                     {"ciphertext", {{ours, {{"type", 0}, {"body", "AwgA"}}}}}};
  std::vector<std::pair<Json, std::string_view>> cases = {
      {Json::array(), reason::kMalformed},
      {Json("text"), reason::kMalformed},
      {Json::object(), reason::kMalformed},
      {Json{{"algorithm", 5}}, reason::kMalformed},
      {Json{{"algorithm", "m.megolm.v1.aes-sha2"}, {"sender_key", theirs}}, reason::kUnsupportedAlgorithm},
  };
  const auto variant = [&](auto mutate) {
    Json c = good;
    mutate(c);
    return c;
  };
  cases.push_back({variant([](Json& c) { c.erase("sender_key"); }), reason::kMalformed});
  cases.push_back({variant([](Json& c) { c["sender_key"] = 42; }), reason::kMalformed});
  cases.push_back({variant([](Json& c) { c["sender_key"] = std::string(5000, 'A'); }), reason::kMalformed});
  cases.push_back({variant([](Json& c) { c["ciphertext"] = Json::array(); }), reason::kMalformed});
  cases.push_back({variant([](Json& c) { c["ciphertext"] = Json::object(); }), reason::kMalformed});
  cases.push_back({variant([&](Json& c) { c["ciphertext"][ours]["type"] = "0"; }), reason::kMalformed});
  cases.push_back({variant([&](Json& c) { c["ciphertext"][ours]["type"] = 2; }), reason::kMalformed});
  cases.push_back({variant([&](Json& c) { c["ciphertext"][ours]["type"] = 0.5; }), reason::kMalformed});
  cases.push_back({variant([&](Json& c) { c["ciphertext"][ours].erase("body"); }), reason::kMalformed});
  cases.push_back({variant([&](Json& c) { c["ciphertext"][ours]["body"] = Json::object(); }), reason::kMalformed});
  cases.push_back({variant([&](Json& c) { c["ciphertext"][ours]["body"] = "not base64 !"; }), reason::kMalformed});
  cases.push_back({variant([&](Json& c) { c["ciphertext"][ours]["body"] = std::string(1 << 20, 'A'); }),
                   reason::kMalformed});
  cases.push_back({variant([&](Json& c) { c["ciphertext"][ours] = "x"; }), reason::kMalformed});
  cases.push_back({variant([&](Json& c) {
                     for (int i = 0; i < 100; ++i) c["ciphertext"]["k" + std::to_string(i)] = {{"type", 1}, {"body", "AA"}};
                   }),
                   reason::kMalformed});
  // Well-formed but garbage olm bytes: no session can be made from them.
  cases.push_back({good, reason::kMalformed});
  for (std::size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE("case " + std::to_string(i) + ": " + cases[i].first.dump().substr(0, 200));
    auto r = bob->decrypt(alice.user_id, cases[i].first);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().kind, ErrorKind::Crypto);
    if (i + 1 < cases.size()) {
      EXPECT_EQ(r.error().errcode, cases[i].second) << r.error();
    } else {
      EXPECT_TRUE(r.error().errcode == reason::kUndecryptable || r.error().errcode == reason::kMalformed)
          << r.error();
    }
  }
  // The genuine session still works afterwards.
  EXPECT_TRUE(bob->decrypt(alice.user_id, encrypt_for(alice, server, bob.ref(), "m.dummy", Json::object())).ok());
}

TEST_F(OlmMachineTest, MalformedPlaintextsGiveErrorValues) {
  const std::vector<Json> plaintexts = {
      Json::array(),
      Json{{"type", "m.x"}},
      [&] { Json p = honest_plaintext(); p["content"] = "text"; return p; }(),
      [&] { Json p = honest_plaintext(); p.erase("recipient_keys"); return p; }(),
      [&] { Json p = honest_plaintext(); p["keys"] = Json::array(); return p; }(),
      [&] { Json p = honest_plaintext(); p["type"] = 7; return p; }(),
      [&] { Json p = honest_plaintext(); p["sender"] = "not-a-user"; return p; }(),
      [&] { Json p = honest_plaintext(); p["sender_device_keys"] = "x"; return p; }(),
  };
  for (std::size_t i = 0; i < plaintexts.size(); ++i) {
    SCOPED_TRACE("case " + std::to_string(i));
    expect_refused(bob->decrypt(alice.user_id, forged_envelope(plaintexts[i])), reason::kMalformed);
  }
}

TEST_F(OlmMachineTest, EncryptingNeedsAKnownDeviceAndASession) {
  auto unknown = alice->encrypt({"@nobody:example.org", "X"}, "m.dummy", Json::object());
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().errcode, reason::kUnknownDevice);
  auto no_session = alice->encrypt(bob.ref(), "m.dummy", Json::object());
  ASSERT_FALSE(no_session.ok());
  EXPECT_EQ(no_session.error().errcode, reason::kNoSession);
}

}  // namespace
}  // namespace mxcall::testing
