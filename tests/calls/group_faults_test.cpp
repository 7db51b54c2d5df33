// Hostile to-device signalling against a running 3-party mesh, over the real stack (Synapse,
// libolm, webrtcbin in a loopback-only netns). Mallory is a room member with a real olm
// device, Oscar a user outside the room with one. Each of their messages to a participant is
// dropped with a log line (the test waits for it), and the mesh goes on: no peer call is
// created, no pair is touched, audio keeps flowing.
#include <gtest/gtest.h>

#include <cstdio>

#include "calls/group_fixture.hpp"
#include "events/olm_events.hpp"
#include "integration/olm_peer.hpp"

namespace mxcall::testing {
namespace {

using GKind = GroupUpdate::Kind;
using nlohmann::json;

// A well-formed to-device m.call.invite of the group call (the SDP is never looked at: every
// one of these is dropped before).
json invite_content(const std::string& conf, const std::string& device, const std::string& sender_session,
                    const std::string& dest_session, const std::string& call_id) {
  const std::string sdp =
      "v=0\r\no=- 1 0 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\n"
      "a=mid:0\r\na=sendrecv\r\na=rtpmap:96 OPUS/48000/2\r\n";
  return {{"call_id", call_id}, {"party_id", device}, {"version", "1"}, {"lifetime", 60000},
          {"offer", {{"type", "offer"}, {"sdp", sdp}}}, {"conf_id", conf}, {"device_id", device},
          {"sender_session_id", sender_session}, {"dest_session_id", dest_session}, {"seq", 0}};
}

// The session id `user`'s member event lists for `device` in call `conf`, read by `reader`.
std::string member_session(matrix::Api& reader, const std::string& room, const std::string& user,
                           const std::string& conf, const std::string& device) {
  auto state = reader.get_state(room, "org.matrix.msc3401.call.member", user);
  if (!state.ok()) return {};
  for (const auto& call : state->value("m.calls", json::array()))
    if (call.value("m.call_id", "") == conf)
      for (const auto& d : call.value("m.devices", json::array()))
        if (d.value("device_id", "") == device) return d.value("session_id", "");
  return {};
}

void send_raw(OlmPeer& from, const std::string& event_type, const std::string& user, const std::string& device,
              const json& content) {
  matrix::ToDeviceBatch batch;
  batch.event_type = event_type;
  batch.txn_id = matrix::new_txn_id();
  batch.messages[user][device] = content;
  auto sent = from.user.api->send_to_device(batch);
  ASSERT_TRUE(sent.ok()) << sent.error();
}

TEST(GroupFaults, PlaintextForgedAndOutsiderSignallingIsDroppedAndTheMeshGoesOn) {
  auto log = LogWatch::install({"refused", "dropped"});
  {
    Party a("fgamma", true), b("fbeta", true), c("falpha", true);
    OlmTempDir dir;
    auto mallory = OlmPeer::create(TestUser::create("fmallory"), dir.path());
    auto oscar = OlmPeer::create(TestUser::create("foscar"), dir.path());
    mallory->upload_keys();
    oscar->upload_keys();
    const std::string room = make_call_room(a, {&b, &c}, {mallory->user.user_id});
    ASSERT_TRUE(mallory->user.api->join_room(room).ok());

    auto conf = a.client().join_group_call(room);
    ASSERT_TRUE(conf.ok()) << conf.error();
    for (Party* p : {&b, &c}) {
      ASSERT_TRUE(wait_sees_call(*p, room, *conf));
      ASSERT_TRUE(p->client().join_group_call(room).ok());
    }
    for (Party* p : {&a, &b, &c}) ASSERT_TRUE(wait_connected_to(*p, 2)) << p->user_id();
    for (Party* p : {&a, &b, &c}) ASSERT_TRUE(p->wait_group_audio(room, 2, 25)) << p->user_id();

    // The victim is a; the forgers impersonate b.
    const std::string a_dev = a.client().device_id(), b_dev = b.client().device_id();
    const std::string a_session = member_session(*mallory->user.api, room, a.user_id(), *conf, a_dev);
    const std::string b_session = member_session(*mallory->user.api, room, b.user_id(), *conf, b_dev);
    ASSERT_FALSE(a_session.empty());
    ASSERT_FALSE(b_session.empty());
    const auto a_summary = a.client().group_summary(room);
    ASSERT_TRUE(a_summary);
    const std::size_t a_updates = a.group_updates().size();
    const std::string m_user = mallory->user.user_id, m_dev = mallory->user.device_id;

    // Sessions from mallory to a and b (an m.dummy each, ignored by both): mallory now knows
    // b's keys and a can decrypt what follows.
    auto dummies = mallory->olm->send({{a.user_id(), a_dev, "m.dummy", json::object()},
                                       {b.user_id(), b_dev, "m.dummy", json::object()}});
    ASSERT_TRUE(dummies.ok()) << dummies.error();
    ASSERT_TRUE(dummies->failed.empty());
    const auto b_keys = mallory->machine->device({b.user_id(), b_dev});
    ASSERT_TRUE(b_keys);

    // (a) A plaintext invite from a room member, while encryption is required.
    send_raw(*mallory, "m.call.invite", a.user_id(), a_dev, invite_content(*conf, m_dev, "msession", a_session, "c-plain"));
    EXPECT_TRUE(log->wait({"refused unencrypted to-device m.call.invite from " + m_user}))
        << "a plaintext invite was not refused";

    // (b) Olm from mallory's real device whose plaintext claims b as the sender, or b's keys.
    const auto forge = [&](const std::function<void(json&)>& mutate, const std::string& call_id) {
      events::OlmPlaintext p;
      p.type = "m.call.invite";
      p.content = invite_content(*conf, b_dev, b_session, a_session, call_id);
      p.sender = m_user;
      p.sender_device = m_dev;
      p.recipient = a.user_id();
      p.recipient_ed25519 = mallory->machine->device({a.user_id(), a_dev})->ed25519;
      p.sender_ed25519 = mallory->machine->identity_keys().ed25519;
      json plaintext = events::to_json(p);
      mutate(plaintext);
      auto envelope = mallory->machine->encrypt_payload({a.user_id(), a_dev}, plaintext);
      EXPECT_TRUE(envelope.ok()) << envelope.error();
      return envelope.ok() ? *envelope : json();
    };
    send_raw(*mallory, "m.room.encrypted", a.user_id(), a_dev, forge([&](json& p) { p["sender"] = b.user_id(); }, "c-sender"));
    EXPECT_TRUE(log->wait({"refused a message from " + m_user, "claims sender " + b.user_id()}))
        << "a plaintext claiming another sender was not refused";
    send_raw(*mallory, "m.room.encrypted", a.user_id(), a_dev, forge([&](json& p) {
               p["keys"]["ed25519"] = b_keys->ed25519;
               p["sender_device"] = b_dev;
             }, "c-keys"));
    EXPECT_TRUE(log->wait({"refused a message from " + m_user, "keys.ed25519 is not the key of"}))
        << "a plaintext claiming another device's keys was not refused";

    // ... and an honest olm message whose call content names b's device and session: olm
    // accepts it (it is mallory's), the group call refuses the device it names. Delivered twice
    // (same ciphertext, two requests): the second is a replay, refused by olm.
    const json honest = forge([](json&) {}, "c-device");
    send_raw(*mallory, "m.room.encrypted", a.user_id(), a_dev, honest);
    EXPECT_TRUE(log->wait({"dropped: sent by device " + m_dev + ", which is not the device_id it names"}))
        << "signalling naming another device was not dropped";
    send_raw(*mallory, "m.room.encrypted", a.user_id(), a_dev, honest);
    EXPECT_TRUE(log->wait({"refused a message from " + m_user, "already decrypted"}))
        << "a redelivered ciphertext was not refused as a duplicate";

    // (c) A correctly encrypted invite from a user who is not in the room.
    auto outsider = oscar->olm->send(
        {{a.user_id(), a_dev, "m.call.invite", invite_content(*conf, oscar->user.device_id, "osession", a_session, "c-out")}});
    ASSERT_TRUE(outsider.ok()) << outsider.error();
    ASSERT_TRUE(outsider->failed.empty());
    EXPECT_TRUE(log->wait({"from " + oscar->user.user_id, "dropped: the sender is not joined to the room"}))
        << "an outsider's invite was not dropped";

    // Nothing changed for a: the same two peer calls, no participant or peer update, audio
    // still flowing both ways with b and c; b and c never saw a thing either.
    const auto now = a.client().group_summary(room);
    ASSERT_TRUE(now);
    ASSERT_EQ(now->peers.size(), a_summary->peers.size());
    for (std::size_t i = 0; i < now->peers.size(); ++i) {
      EXPECT_EQ(now->peers[i].call_id, a_summary->peers[i].call_id);
      EXPECT_TRUE(now->peers[i].user_id == b.user_id() || now->peers[i].user_id == c.user_id()) << now->peers[i].user_id;
    }
    const auto updates = a.group_updates();
    for (std::size_t i = a_updates; i < updates.size(); ++i)
      ADD_FAILURE() << "a got " << to_string(updates[i].kind) << " for " << updates[i].user_id;
    for (Party* p : {&a, &b, &c}) {
      auto s = p->client().group_summary(room);
      ASSERT_TRUE(s);
      for (const auto& peer : s->peers)
        EXPECT_TRUE(wait_peer_audio(*p, room, peer.user_id, peer.device_id, peer.stats.audio.packets_received, 20,
                                    peer.call_id))
            << p->user_id() << ": audio with " << peer.user_id << " stopped";
    }
    std::printf("[faults] drop lines: plaintext %zu, forged sender %zu, forged keys %zu, wrong device %zu, replay %zu, "
                "outsider %zu\n",
                log->count({"refused unencrypted"}), log->count({"claims sender"}), log->count({"is not the key of"}),
                log->count({"which is not the device_id it names"}), log->count({"already decrypted"}),
                log->count({"not joined to the room"}));
  }
  LogWatch::uninstall(log);
}

}  // namespace
}  // namespace mxcall::testing
