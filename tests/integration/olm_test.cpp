// Olm-encrypted to-device messaging against a real Synapse: key upload and query, one
// sendToDevice for many devices, decryption through /sync with every receiver check, devices
// reopened from their SQLite store, one-time key replenishment, plaintext opt-in, forgeries,
// and a wedged session replaced over the network.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>

#include "crypto/olm_errors.hpp"
#include "events/olm_events.hpp"
#include "integration/olm_peer.hpp"
#include "mxcall/homeserver.hpp"

namespace mxcall::testing {
namespace {

namespace reason = crypto::reason;
namespace fs = std::filesystem;
using matrix::Json;

class OlmIntegration : public ::testing::Test {
 protected:
  std::unique_ptr<OlmPeer> peer(const std::string& prefix, client::OlmToDeviceOptions o = {}) {
    auto p = OlmPeer::create(TestUser::create(prefix), dir.path(), o);
    p->upload_keys();
    return p;
  }
  std::unique_ptr<OlmPeer> second_device(const OlmPeer& of) {
    auto p = OlmPeer::create(of.user.another_device(), dir.path());
    p->upload_keys();
    return p;
  }

  OlmTempDir dir;
};

// Checks signatures with Synapse's own signedjson (canonicaljson + PyNaCl): an independent
// implementation of canonical JSON and ed25519. Each item: [object, user_id, key_id, ed25519].
void expect_signedjson_accepts(const Json& items, const fs::path& dir) {
  auto python = homeserver::find_synapse_python();
  ASSERT_TRUE(python.ok()) << python.error();
  const fs::path input = dir / "signed.json";
  std::ofstream(input) << items.dump();
  const std::string script =
      "import json,sys\n"
      "from signedjson.key import decode_verify_key_bytes\n"
      "from signedjson.sign import verify_signed_json\n"
      "from unpaddedbase64 import decode_base64\n"
      "for o,user,kid,key in json.load(open(sys.argv[1])):\n"
      "    verify_signed_json(o, user, decode_verify_key_bytes(kid, decode_base64(key)))\n"
      "print('verified', flush=True)\n";
  const fs::path script_path = dir / "verify.py";
  std::ofstream(script_path) << script;
  const std::string command = python->string() + " " + script_path.string() + " " + input.string() + " 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  char buffer[512];
  while (std::fgets(buffer, sizeof buffer, pipe) != nullptr) output += buffer;
  EXPECT_EQ(::pclose(pipe), 0) << output;
  EXPECT_EQ(output, "verified\n");
}

TEST_F(OlmIntegration, KeysUploadedAndQueriedWithValidSignatures) {
  auto alice = peer("alice");
  EXPECT_EQ(alice->olm->published_one_time_keys(), 50);
  EXPECT_TRUE(alice->machine->device_keys_published());
  EXPECT_EQ((*alice->requests)["/keys/upload"], 1);
  ASSERT_TRUE(alice->sync_until([](const OlmPeer& p) { return p.otk_count == 50; }));
  alice->upload_keys();  // nothing to do
  EXPECT_EQ((*alice->requests)["/keys/upload"], 1);

  auto bob = peer("bob");
  auto answer = bob->user.api->keys_query(Json{{"device_keys", {{alice->user.user_id, Json::array()}}}});
  ASSERT_TRUE(answer.ok()) << answer.error();
  Json listed = (*answer)["device_keys"][alice->user.user_id][alice->user.device_id];
  listed.erase("unsigned");
  EXPECT_EQ(listed, alice->machine->device_keys());
  auto outcome = bob->machine->apply_keys_query(*answer, {alice->user.user_id});
  EXPECT_EQ(outcome.accepted, 1u);
  EXPECT_TRUE(outcome.rejected.empty());

  // Synapse's signedjson agrees with our device keys and a claimed one-time key.
  auto claimed = bob->user.api->keys_claim(
      Json{{"one_time_keys", {{alice->user.user_id, {{alice->user.device_id, "signed_curve25519"}}}}}});
  ASSERT_TRUE(claimed.ok()) << claimed.error();
  const Json otk = (*claimed)["one_time_keys"][alice->user.user_id][alice->user.device_id].begin().value();
  const std::string key_id = "ed25519:" + alice->user.device_id;
  const std::string ed = alice->machine->identity_keys().ed25519;
  expect_signedjson_accepts(Json::array({Json::array({listed, alice->user.user_id, key_id, ed}),
                                         Json::array({otk, alice->user.user_id, key_id, ed})}),
                            dir.path());
}

TEST_F(OlmIntegration, OneSendToDeviceRequestReachesThreeDevicesOfTwoUsers) {
  auto alice = peer("alice");
  auto bob1 = peer("bob");
  auto bob2 = second_device(*bob1);
  auto carol = peer("carol");
  const std::vector<OlmPeer*> receivers = {bob1.get(), bob2.get(), carol.get()};

  std::vector<client::OutgoingToDevice> messages;
  for (OlmPeer* r : receivers)
    messages.push_back({r->user.user_id, r->user.device_id, "m.call.invite", {{"call_id", "c1"}, {"for", r->user.device_id}}});
  *alice->requests = {};
  auto report = alice->olm->send(messages);
  ASSERT_TRUE(report.ok()) << report.error();
  EXPECT_EQ(report->sent, 3u);
  EXPECT_EQ(report->requests, 1u);
  EXPECT_TRUE(report->failed.empty());
  EXPECT_EQ((*alice->requests)["/keys/query"], 1);
  EXPECT_EQ((*alice->requests)["/keys/claim"], 1);
  EXPECT_EQ((*alice->requests)["/sendToDevice/"], 1);

  for (OlmPeer* r : receivers) {
    SCOPED_TRACE(r->user.device_id);
    auto ev = r->next_event();
    ASSERT_TRUE(ev);
    EXPECT_EQ(ev->type, "m.room.encrypted");
    EXPECT_EQ(ev->sender, alice->user.user_id);
    *r->requests = {};
    auto got = r->olm->receive(*ev);
    ASSERT_TRUE(got.ok()) << got.error();
    EXPECT_TRUE(got->encrypted);
    EXPECT_EQ(got->sender, alice->user.user_id);
    EXPECT_EQ(got->sender_device, alice->user.device_id);
    EXPECT_EQ(got->sender_curve25519, alice->machine->identity_keys().curve25519);
    EXPECT_EQ(got->type, "m.call.invite");
    EXPECT_EQ(got->content["for"], r->user.device_id);
    EXPECT_EQ((*r->requests)["/keys/query"], 1);  // alice's keys, fetched once to check her
  }

  // Known devices and sessions now: a second round is a single request.
  *alice->requests = {};
  for (auto& m : messages) m.type = "m.call.hangup";
  report = alice->olm->send(messages);
  ASSERT_TRUE(report.ok()) << report.error();
  EXPECT_EQ(report->sent, 3u);
  EXPECT_EQ((*alice->requests)["/keys/query"] + (*alice->requests)["/keys/claim"], 0);
  EXPECT_EQ((*alice->requests)["/sendToDevice/"], 1);
  for (OlmPeer* r : receivers) {
    auto got = r->receive_next();
    ASSERT_TRUE(got.ok()) << got.error();
    EXPECT_EQ(got->type, "m.call.hangup");
  }
}

TEST_F(OlmIntegration, DevicesWithoutKeysAreReportedAndTheRestStillSent) {
  auto alice = peer("alice");
  auto bob = peer("bob");
  // Dave publishes device keys but no one-time keys.
  auto dave = OlmPeer::create(TestUser::create("dave"), dir.path());
  ASSERT_TRUE(dave->user.api->keys_upload(Json{{"device_keys", dave->machine->device_keys()}}).ok());

  auto report = alice->olm->send({{bob->user.user_id, bob->user.device_id, "m.call.invite", {{"n", 1}}},
                                  {bob->user.user_id, "NOSUCHDEVICE", "m.call.invite", {{"n", 2}}},
                                  {dave->user.user_id, dave->user.device_id, "m.call.invite", {{"n", 3}}}});
  ASSERT_TRUE(report.ok()) << report.error();
  EXPECT_EQ(report->sent, 1u);
  ASSERT_EQ(report->failed.size(), 2u);
  std::map<std::string, std::string> why;
  for (const auto& f : report->failed) why[f.device.device_id] = f.error.errcode;
  EXPECT_EQ(why["NOSUCHDEVICE"], reason::kUnknownDevice);
  EXPECT_EQ(why[dave->user.device_id], reason::kNoSession);
  auto got = bob->receive_next();
  ASSERT_TRUE(got.ok()) << got.error();
  EXPECT_EQ(got->content["n"], 1);
}

TEST_F(OlmIntegration, ReopenedDeviceDecryptsOnItsExistingSession) {
  auto alice = peer("alice");
  auto bob = peer("bob");
  auto sent = alice->olm->send({{bob->user.user_id, bob->user.device_id, "m.call.invite", {{"n", 1}}}});
  ASSERT_TRUE(sent.ok() && sent->sent == 1);
  auto first = bob->receive_next();
  ASSERT_TRUE(first.ok()) << first.error();
  const std::string alice_key = alice->machine->identity_keys().curve25519;
  ASSERT_EQ(bob->machine->session_count(alice_key), 1u);

  bob->open();  // new process objects, same SQLite file
  alice->open();
  ASSERT_TRUE(alice->olm->send({{bob->user.user_id, bob->user.device_id, "m.call.candidates", {{"n", 2}}}}).ok());
  auto second = bob->receive_next();
  ASSERT_TRUE(second.ok()) << second.error();
  EXPECT_EQ(second->content["n"], 2);
  EXPECT_EQ(bob->machine->session_count(alice_key), 1u);

  // Bob answers on that session; alice, reopened, decrypts it (a normal message).
  *bob->requests = {};
  ASSERT_TRUE(bob->olm->send({{alice->user.user_id, alice->user.device_id, "m.call.answer", {{"n", 3}}}}).ok());
  EXPECT_EQ((*bob->requests)["/keys/claim"], 0);
  auto ev = alice->next_event();
  ASSERT_TRUE(ev);
  const std::string bob_key = bob->machine->identity_keys().curve25519;
  EXPECT_EQ(ev->content["ciphertext"][alice->machine->identity_keys().curve25519]["type"], 1);
  auto answer = alice->olm->receive(*ev);
  ASSERT_TRUE(answer.ok()) << answer.error();
  EXPECT_EQ(answer->content["n"], 3);
  EXPECT_EQ(alice->machine->session_count(bob_key), 1u);
}

TEST_F(OlmIntegration, OneTimeKeysAreReplenishedAfterClaimsDrainThem) {
  auto bob = peer("bob");
  auto carol = peer("carol");
  for (int i = 0; i < 30; ++i) {
    auto claimed = carol->user.api->keys_claim(
        Json{{"one_time_keys", {{bob->user.user_id, {{bob->user.device_id, "signed_curve25519"}}}}}});
    ASSERT_TRUE(claimed.ok()) << claimed.error();
  }
  ASSERT_TRUE(bob->sync_until([](const OlmPeer& p) { return p.otk_count && *p.otk_count <= 20; }));
  EXPECT_EQ(*bob->otk_count, 20);
  *bob->requests = {};
  bob->upload_keys();
  EXPECT_EQ((*bob->requests)["/keys/upload"], 1);
  EXPECT_EQ(bob->olm->published_one_time_keys(), 50);
  ASSERT_TRUE(bob->sync_until([](const OlmPeer& p) { return p.otk_count == 50; }));

  // The fresh keys work: a session made from one of them carries a message.
  ASSERT_TRUE(carol->olm->send({{bob->user.user_id, bob->user.device_id, "m.call.invite", {{"n", 1}}}}).ok());
  auto got = bob->receive_next();
  ASSERT_TRUE(got.ok()) << got.error();
}

TEST_F(OlmIntegration, PlaintextCallInviteRefusedUnlessOptedIn) {
  auto alice = peer("alice");
  auto bob = peer("bob");
  matrix::ToDeviceBatch batch;
  batch.event_type = "m.call.invite";
  batch.txn_id = matrix::new_txn_id();
  batch.messages[bob->user.user_id][bob->user.device_id] = Json{{"call_id", "c1"}, {"version", "1"}};
  ASSERT_TRUE(alice->user.api->send_to_device(batch).ok());

  auto ev = bob->next_event();
  ASSERT_TRUE(ev);
  auto refused = bob->olm->receive(*ev);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().errcode, reason::kPlaintextRejected);

  client::OlmToDeviceOptions lenient;
  lenient.accept_plaintext = true;
  client::OlmToDevice compatible(*bob->user.api, *bob->machine, lenient);
  auto accepted = compatible.receive(*ev);
  ASSERT_TRUE(accepted.ok()) << accepted.error();
  EXPECT_FALSE(accepted->encrypted);
  EXPECT_EQ(accepted->type, "m.call.invite");
  EXPECT_EQ(accepted->sender, alice->user.user_id);
  EXPECT_TRUE(accepted->sender_device.empty());
  EXPECT_EQ(accepted->content["call_id"], "c1");
}

TEST_F(OlmIntegration, MessagesForgedByAnotherUsersDeviceAreRefused) {
  auto alice = peer("alice");
  auto bob = peer("bob");
  auto mallory = peer("mallory");
  // Mallory, a real device with a real session to bob, claims to be alice.
  ASSERT_TRUE(mallory->olm->send({{bob->user.user_id, bob->user.device_id, "m.dummy", Json::object()}}).ok());
  ASSERT_TRUE(bob->receive_next().ok());

  const auto forge = [&](const std::function<void(Json&)>& mutate) {
    events::OlmPlaintext p;
    p.type = "m.call.invite";
    p.content = {{"call_id", "c1"}};
    p.sender = mallory->user.user_id;
    p.sender_device = mallory->user.device_id;
    p.recipient = bob->user.user_id;
    p.recipient_ed25519 = bob->machine->identity_keys().ed25519;
    p.sender_ed25519 = mallory->machine->identity_keys().ed25519;
    Json plaintext = events::to_json(p);
    mutate(plaintext);
    auto envelope = mallory->machine->encrypt_payload(bob->ref(), plaintext);
    EXPECT_TRUE(envelope.ok());
    matrix::ToDeviceBatch batch;
    batch.event_type = "m.room.encrypted";
    batch.txn_id = matrix::new_txn_id();
    batch.messages[bob->user.user_id][bob->user.device_id] = *envelope;
    EXPECT_TRUE(mallory->user.api->send_to_device(batch).ok());
    return bob->receive_next();
  };
  auto as_alice = forge([&](Json& p) { p["sender"] = alice->user.user_id; });
  ASSERT_FALSE(as_alice.ok());
  EXPECT_EQ(as_alice.error().errcode, reason::kSenderMismatch);
  auto alice_key = forge([&](Json& p) {
    p["keys"]["ed25519"] = alice->machine->identity_keys().ed25519;
    p["sender_device"] = alice->user.device_id;
  });
  ASSERT_FALSE(alice_key.ok());
  EXPECT_EQ(alice_key.error().errcode, reason::kSenderEd25519Mismatch);
  auto honest = forge([](Json&) {});
  ASSERT_TRUE(honest.ok()) << honest.error();
  EXPECT_EQ(honest->sender, mallory->user.user_id);
}

TEST_F(OlmIntegration, WedgedSessionIsReplacedWithAnMDummy) {
  auto alice = peer("alice");
  auto bob = peer("bob");
  ASSERT_TRUE(alice->olm->send({{bob->user.user_id, bob->user.device_id, "m.call.invite", {{"n", 1}}}}).ok());
  ASSERT_TRUE(bob->receive_next().ok());

  // Bob loses his sessions; alice's next message cannot be decrypted.
  auto records = bob->store->load_olm_sessions();
  ASSERT_TRUE(records.ok());
  for (const auto& r : *records) ASSERT_TRUE(bob->store->delete_olm_session(r.sender_key, r.session_id).ok());
  bob->open();
  ASSERT_TRUE(alice->olm->send({{bob->user.user_id, bob->user.device_id, "m.call.candidates", {{"n", 2}}}}).ok());
  *bob->requests = {};
  auto lost = bob->receive_next();
  ASSERT_FALSE(lost.ok());
  EXPECT_EQ(lost.error().errcode, reason::kUndecryptable);
  EXPECT_EQ((*bob->requests)["/keys/claim"], 1);  // a fresh session to alice...
  EXPECT_EQ((*bob->requests)["/sendToDevice/"], 1);  // ...announced with an m.dummy

  auto dummy = alice->receive_next();
  ASSERT_TRUE(dummy.ok()) << dummy.error();
  EXPECT_EQ(dummy->type, "m.dummy");
  ASSERT_TRUE(alice->olm->send({{bob->user.user_id, bob->user.device_id, "m.call.hangup", {{"n", 3}}}}).ok());
  auto recovered = bob->receive_next();
  ASSERT_TRUE(recovered.ok()) << recovered.error();
  EXPECT_EQ(recovered->content["n"], 3);
}

}  // namespace
}  // namespace mxcall::testing
