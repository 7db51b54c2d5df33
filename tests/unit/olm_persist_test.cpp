// OlmMachine state through the Store: pickling round trips, the wrong pickle key, and wedged
// sessions replaced by a new one (VOIP_PROTOCOL 2.7).
#include <gtest/gtest.h>

#include "crypto/olm_errors.hpp"
#include "olm_harness.hpp"

namespace mxcall::testing {
namespace {

namespace reason = crypto::reason;

class OlmPersistTest : public OlmPairTest {
 protected:
  void exchange() {
    ASSERT_TRUE(bob->decrypt(alice.user_id, encrypt_for(alice, server, bob.ref(), "m.call.invite", {{"n", 1}})).ok());
    auto reply = bob->encrypt(alice.ref(), "m.call.answer", {{"n", 2}});
    ASSERT_TRUE(reply.ok()) << reply.error();
    ASSERT_TRUE(alice->decrypt(bob.user_id, *reply).ok());
  }

};

TEST_F(OlmPersistTest, ReopenedMachinesKeepIdentityDevicesAndSessions) {
  exchange();
  const auto alice_keys = alice->identity_keys();
  const auto bob_keys = bob->identity_keys();
  alice.reopen(clock);
  bob.reopen(clock);
  ASSERT_NE(alice.machine, nullptr);
  ASSERT_NE(bob.machine, nullptr);

  EXPECT_EQ(alice->identity_keys().curve25519, alice_keys.curve25519);
  EXPECT_EQ(alice->identity_keys().ed25519, alice_keys.ed25519);
  EXPECT_EQ(alice->device_keys(), server.device_keys(alice.ref()));
  EXPECT_TRUE(alice->device_keys_published());
  EXPECT_TRUE(alice->users_needing_query({bob.user_id}).empty());
  EXPECT_EQ(alice->device(bob.ref())->ed25519, bob_keys.ed25519);
  EXPECT_EQ(alice->session_count(bob_keys.curve25519), 1u);
  EXPECT_EQ(bob->session_count(alice_keys.curve25519), 1u);

  // Further messages both ways on the stored sessions: no key is claimed.
  const std::size_t bob_otks = server.one_time_key_count(bob.ref());
  ASSERT_TRUE(alice->has_session(bob.ref()));
  auto next = alice->encrypt(bob.ref(), "m.call.hangup", {{"n", 3}});
  ASSERT_TRUE(next.ok()) << next.error();
  EXPECT_EQ((*next)["ciphertext"][bob_keys.curve25519]["type"], 1);
  auto got = bob->decrypt(alice.user_id, *next);
  ASSERT_TRUE(got.ok()) << got.error();
  EXPECT_EQ(got->content["n"], 3);
  auto back = bob->encrypt(alice.ref(), "m.dummy", Json::object());
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(alice->decrypt(bob.user_id, *back).ok());
  EXPECT_EQ(server.one_time_key_count(bob.ref()), bob_otks);
  EXPECT_EQ(bob->session_count(alice_keys.curve25519), 1u);

  // One-time keys that were published stay published.
  auto pending = alice->one_time_keys_for_upload(0);
  ASSERT_TRUE(pending.ok());
  EXPECT_TRUE(pending->empty());
}

TEST_F(OlmPersistTest, UsedOneTimeKeyIsGoneAfterAReopen) {
  const Json first = encrypt_for(alice, server, bob.ref(), "m.call.invite", {{"n", 1}});
  ASSERT_TRUE(bob->decrypt(alice.user_id, first).ok());
  bob.reopen(clock);
  // The replay matches the stored session (and fails as a replay) rather than building a new
  // session from the consumed key.
  auto replay = bob->decrypt(alice.user_id, first);
  ASSERT_FALSE(replay.ok());
  EXPECT_EQ(bob->session_count(alice->identity_keys().curve25519), 1u);
}

TEST_F(OlmPersistTest, WrongPickleKeyIsAClearErrorAndChangesNothing) {
  exchange();
  alice.machine.reset();
  auto wrong = OlmMachine::open(alice.store, OlmDevice::options(alice.user_id, alice.device_id, clock,
                                                                "another key entirely, 32 bytes!"));
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().kind, ErrorKind::WrongPickleKey);
  EXPECT_EQ(wrong.error().errcode, reason::kWrongPickleKey);
  EXPECT_NE(wrong.error().message.find("pickle key"), std::string::npos) << wrong.error();
  EXPECT_NE(wrong.error().message.find("ALICE1"), std::string::npos) << wrong.error();

  auto empty = OlmMachine::open(alice.store, OlmDevice::options(alice.user_id, alice.device_id, clock, ""));
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.error().kind, ErrorKind::InvalidArgument);

  alice.reopen(clock);  // the right key still opens everything
  ASSERT_NE(alice.machine, nullptr);
  EXPECT_EQ(alice->session_count(bob->identity_keys().curve25519), 1u);
}

TEST_F(OlmPersistTest, StoreOfAnotherDeviceIsRefused) {
  auto other = OlmMachine::open(alice.store, OlmDevice::options(alice.user_id, "ALICE2", clock));
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.error().kind, ErrorKind::InvalidArgument);
  EXPECT_NE(other.error().message.find("ALICE1"), std::string::npos) << other.error();
}

TEST_F(OlmPersistTest, WedgedSessionIsReplacedAndWorksAfterwards) {
  exchange();
  // Bob loses his sessions (say, restored from an old backup).
  auto records = bob.store->load_olm_sessions();
  ASSERT_TRUE(records.ok());
  for (const auto& r : *records) ASSERT_TRUE(bob.store->delete_olm_session(r.sender_key, r.session_id).ok());
  bob.reopen(clock);
  ASSERT_EQ(bob->session_count(alice->identity_keys().curve25519), 0u);

  auto lost = alice->encrypt(bob.ref(), "m.call.candidates", {{"n", 1}});
  ASSERT_TRUE(lost.ok());
  auto refused = bob->decrypt(alice.user_id, *lost);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().errcode, reason::kUndecryptable);
  const auto wedged = bob->take_unwedge_requests();
  ASSERT_EQ(wedged, std::vector<DeviceRef>{alice.ref()});
  EXPECT_TRUE(bob->take_unwedge_requests().empty());
  EXPECT_FALSE(bob->has_session(alice.ref()));

  // Rate limit: more undecryptable messages within the hour ask for nothing more.
  auto lost2 = alice->encrypt(bob.ref(), "m.call.candidates", {{"n", 2}});
  ASSERT_FALSE(bob->decrypt(alice.user_id, *lost2).ok());
  EXPECT_TRUE(bob->take_unwedge_requests().empty());

  // What the caller does: claim a key (a new session) and send an encrypted m.dummy.
  const Json dummy = encrypt_for(bob, server, alice.ref(), "m.dummy", Json::object());
  auto got = alice->decrypt(bob.user_id, dummy);
  ASSERT_TRUE(got.ok()) << got.error();
  EXPECT_EQ(got->type, "m.dummy");
  EXPECT_EQ(alice->session_count(bob->identity_keys().curve25519), 2u);

  // Alice now uses the new session (the one she heard from last): bob decrypts again.
  auto next = alice->encrypt(bob.ref(), "m.call.hangup", {{"n", 3}});
  ASSERT_TRUE(next.ok());
  auto decrypted = bob->decrypt(alice.user_id, *next);
  ASSERT_TRUE(decrypted.ok()) << decrypted.error();
  EXPECT_EQ(decrypted->content["n"], 3);

  // After the interval a still-broken device may be asked again.
  clock.advance(61 * 60 * 1000);
  auto garbage = *next;
  std::string& body = garbage["ciphertext"][bob->identity_keys().curve25519]["body"].get_ref<std::string&>();
  body[body.size() - 3] = body[body.size() - 3] == 'A' ? 'B' : 'A';
  ASSERT_FALSE(bob->decrypt(alice.user_id, garbage).ok());
  EXPECT_EQ(bob->take_unwedge_requests(), std::vector<DeviceRef>{alice.ref()});
}

}  // namespace
}  // namespace mxcall::testing
