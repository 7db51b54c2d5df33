// A matrix-js-sdk peer for interop tests: logs in to a homeserver, syncs, and places or answers
// legacy 1:1 calls (MatrixCall) with @roamhq/wrtc as its WebRTC, driven by a line protocol.
//
//   node jsdk_peer.mjs --homeserver URL --user @me:localhost --password P [--e2e 1]
//
// --e2e 1: initialise js-sdk's Rust crypto (in memory) and set useE2eForGroupCall, so group
// calls try to Olm-encrypt their to-device signalling; by default they send it in plaintext.
//
// stdin: one JSON command per line; stdout: one JSON event per line (nothing else is ever
// written to stdout: all logging goes to stderr). Every command is answered by
// {"event":"ok","cmd":...} or {"event":"error","cmd":...,"message":...}.
//
// Commands:
//   {"cmd":"call","user":"@x:localhost","video":false}   DM (found or created, waits for the
//                                                          other to join), then place the call
//   {"cmd":"answer"} | {"cmd":"answer","video":true}      answer the ringing call
//   {"cmd":"reject"}   {"cmd":"hangup"}
//   {"cmd":"hold","on":true}      put the peer on hold (js-sdk setRemoteOnHold)
//   {"cmd":"video","on":true}     start (upgradeCall via setLocalVideoMuted(false)) / mute video
//   {"cmd":"screenshare","on":true}  start / stop a screen share (setScreensharingEnabled: its
//                                 own stream and transceiver; stopping removes the track)
//   {"cmd":"mute","on":true}      mute / unmute the microphone (announced as metadata)
//   {"cmd":"ice_restart"}         RTCPeerConnection.restartIce(); js-sdk renegotiates
//   {"cmd":"stats"}               -> {"event":"stats","audio":{...},"video":{...},...}
//   {"cmd":"quit"}
//   group_* commands: MSC3401 mesh calls (js-sdk GroupCall), see jsdk_group.mjs
// Events:
//   ready {user_id, device_id}; incoming {call_id, room_id, video, peer};
//   state {call_id, state, old};
//   connected {call_id, direction, setup_ms (invite sent or received -> connected),
//              answer_to_connected_ms (inbound), place_to_connected_ms (outbound: placeCall -> connected)};
//   ice {call_id, state}; remote_hold {call_id, on} (the other party put us on hold: js-sdk's
//   LocalHoldUnhold); local_hold {call_id, on} (we put them on hold: RemoteHoldUnhold);
//   remote_video {call_id, track_id, stream_id}; remote_muted {call_id, audio, video};
//   remote_feeds {call_id, feeds: [{stream_id, purpose, audio, video}]} whenever they change;
//   hangup {call_id, reason, by}; error {message[, code]}.
//
// Env: JSDK_PEER_DEBUG=1 turns on js-sdk's debug log (stderr).
import util from "node:util";
import readline from "node:readline";
import { createRequire } from "node:module";

// ---- stdout is the protocol; everything else goes to stderr --------------------------------
const toStderr = (...a) => process.stderr.write(`[jsdk ${new Date().toISOString().slice(11, 23)}] ${util.format(...a)}\n`);
console.log = console.info = console.debug = console.warn = console.error = console.trace = toStderr;
function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}
function die(code) {
  // wrtc keeps node alive while a track is live and may crash at exit after a track was
  // stopped: leave at once.
  process.exit(code);
}

// ---- arguments -----------------------------------------------------------------------------
const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, "")] = process.argv[i + 1];
if (!args.homeserver || !args.user || !args.password) {
  emit({ event: "error", message: "usage: --homeserver URL --user ID --password P" });
  die(2);
}

// ---- browser environment for js-sdk (must exist before it is imported) ---------------------
if (!Promise.withResolvers) {
  Promise.withResolvers = function () {
    let resolve, reject;
    const promise = new Promise((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
}
const require = createRequire(import.meta.url);
const wrtc = require("@roamhq/wrtc");
const { RTCAudioSource, RTCVideoSource } = wrtc.nonstandard;

// One sine tone and one moving test pattern, fed continuously; every getUserMedia track is a
// new track on these sources.
const audioSource = new RTCAudioSource();
const videoSource = new RTCVideoSource();
const SAMPLE_RATE = 48000;
const FRAMES = SAMPLE_RATE / 100; // 10 ms
let phase = 0;
setInterval(() => {
  const samples = new Int16Array(FRAMES);
  for (let i = 0; i < FRAMES; i++) {
    samples[i] = Math.round(Math.sin(phase) * 8000);
    phase += (2 * Math.PI * 440) / SAMPLE_RATE;
  }
  audioSource.onData({ samples, sampleRate: SAMPLE_RATE, bitsPerSample: 16, channelCount: 1, numberOfFrames: FRAMES });
}, 10);
const W = 320;
const H = 240;
let frameNo = 0;
setInterval(() => {
  const data = new Uint8Array((W * H * 3) / 2);
  const shift = (frameNo++ * 4) % W;
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) data[y * W + x] = ((x + shift) >> 4) & 1 ? 200 : 40;
  data.fill(128, W * H);
  videoSource.onFrame({ width: W, height: H, data });
}, 66);

globalThis.window = globalThis;
globalThis.document = { createElement: () => ({}), addEventListener() {}, removeEventListener() {}, hidden: false, visibilityState: "visible" };
for (const name of [
  "RTCPeerConnection",
  "RTCSessionDescription",
  "RTCIceCandidate",
  "MediaStream",
  "MediaStreamTrack",
  "RTCRtpSender",
  "RTCRtpReceiver",
  "RTCRtpTransceiver",
  "RTCDataChannel",
]) {
  if (wrtc[name]) globalThis[name] = wrtc[name];
}
const mediaDevices = {
  async getUserMedia(constraints = {}) {
    const tracks = [];
    if (constraints.audio) tracks.push(audioSource.createTrack());
    if (constraints.video) tracks.push(videoSource.createTrack());
    if (tracks.length === 0) throw new TypeError("getUserMedia: neither audio nor video requested");
    return new wrtc.MediaStream(tracks);
  },
  async getDisplayMedia() {
    return new wrtc.MediaStream([videoSource.createTrack()]);
  },
  async enumerateDevices() {
    return [
      { kind: "audioinput", deviceId: "sine", groupId: "interop", label: "440 Hz sine" },
      { kind: "videoinput", deviceId: "pattern", groupId: "interop", label: "test pattern" },
      { kind: "audiooutput", deviceId: "null", groupId: "interop", label: "nowhere" },
    ];
  },
  addEventListener() {},
  removeEventListener() {},
};
Object.defineProperty(globalThis, "navigator", { value: { mediaDevices, userAgent: "node" }, configurable: true, writable: true });
class AudioContextStub {
  createAnalyser() {
    return {
      fftSize: 512,
      smoothingTimeConstant: 0.1,
      frequencyBinCount: 256,
      getFloatFrequencyData(a) {
        a.fill(-Infinity);
      },
      connect() {},
      disconnect() {},
    };
  }
  createMediaStreamSource() {
    return { connect() {}, disconnect() {} };
  }
  close() {
    return Promise.resolve();
  }
}
globalThis.AudioContext = AudioContextStub;

// ---- js-sdk ---------------------------------------------------------------------------------
const sdk = await import("matrix-js-sdk");
const { logger } = await import("matrix-js-sdk/lib/logger.js");
const { CallEventHandlerEvent } = await import("matrix-js-sdk/lib/webrtc/callEventHandler.js");
const { CallState } = await import("matrix-js-sdk/lib/webrtc/call.js");
const { groupCommands } = await import("./jsdk_group.mjs");
const debug = Boolean(process.env.JSDK_PEER_DEBUG);
logger.setLevel(debug ? "debug" : "warn");
// The client's own loggers (sync, crypto, ...): warnings and errors only, unless debugging.
function makeLogger(prefix) {
  const quiet = () => {};
  const loud = (...a) => toStderr(prefix, ...a);
  return {
    trace: debug ? loud : quiet,
    debug: debug ? loud : quiet,
    info: debug ? loud : quiet,
    warn: loud,
    error: loud,
    getChild: (ns) => makeLogger(`${prefix}${ns}`),
  };
}
const { CallEvent, CallFeedEvent, ClientEvent, RoomMemberEvent } = sdk;

process.on("unhandledRejection", (e) => {
  emit({ event: "error", message: `unhandled rejection: ${e?.stack || e}` });
});

async function login() {
  const res = await fetch(`${args.homeserver}/_matrix/client/v3/login`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({
      type: "m.login.password",
      identifier: { type: "m.id.user", user: args.user },
      password: args.password,
      initial_device_display_name: "jsdk interop peer",
    }),
  });
  if (!res.ok) throw new Error(`login: HTTP ${res.status} ${await res.text()}`);
  return res.json();
}

let session;
try {
  session = await login();
} catch (e) {
  emit({ event: "error", message: String(e) });
  die(1);
}
const client = sdk.createClient({
  baseUrl: args.homeserver,
  accessToken: session.access_token,
  userId: session.user_id,
  deviceId: session.device_id,
  useE2eForGroupCall: Boolean(args.e2e),
  timelineSupport: false,
  logger: makeLogger("client "),
});

// Auto-join every room we are invited to.
const joining = new Set();
function maybeJoin(roomId) {
  if (joining.has(roomId)) return;
  joining.add(roomId);
  client.joinRoom(roomId).catch((e) => {
    joining.delete(roomId);
    emit({ event: "error", message: `join ${roomId}: ${e}` });
  });
}
client.on(RoomMemberEvent.Membership, (_event, member) => {
  if (member.userId === session.user_id && member.membership === "invite") maybeJoin(member.roomId);
});

// ---- the current call -----------------------------------------------------------------------
let call = null;
let incomingAt = 0;
let answeredAt = 0;
let inviteSentAt = 0;
let placeAt = 0;
const seenRemoteTracks = new Set();

function reportRemoteVideo(track, streamId) {
  if (!track || track.kind !== "video" || seenRemoteTracks.has(track.id)) return;
  seenRemoteTracks.add(track.id);
  emit({ event: "remote_video", call_id: call?.callId, track_id: track.id, stream_id: streamId });
}

function watchPeerConnection(c, pc) {
  pc.addEventListener("track", (ev) => reportRemoteVideo(ev.track, ev.streams[0]?.id));
  pc.addEventListener("iceconnectionstatechange", () => emit({ event: "ice", call_id: c.callId, state: pc.iceConnectionState }));
  // Tracks that arrived before we listened (an inbound call's offer is applied before the
  // incoming event).
  for (const r of pc.getReceivers()) {
    const t = pc.getTransceivers().find((x) => x.receiver === r);
    if (r.track && t && t.currentDirection !== null && t.currentDirection !== "inactive") reportRemoteVideo(r.track, undefined);
  }
}

const watchedFeeds = new WeakSet();
function watchFeeds(c) {
  for (const feed of c.getRemoteFeeds()) {
    if (watchedFeeds.has(feed)) continue;
    watchedFeeds.add(feed);
    for (const t of feed.stream.getVideoTracks()) reportRemoteVideo(t, feed.stream.id);
    feed.stream.addEventListener?.("addtrack", (ev) => reportRemoteVideo(ev.track, feed.stream.id));
    feed.on(CallFeedEvent.MuteStateChanged, (audio, video) => emit({ event: "remote_muted", call_id: c.callId, audio, video }));
  }
}

function describeFeeds(c) {
  return c.getRemoteFeeds().map((f) => ({
    stream_id: f.stream.id,
    purpose: f.purpose,
    audio: f.stream.getAudioTracks().length,
    video: f.stream.getVideoTracks().length,
  }));
}

function adopt(c) {
  call = c;
  seenRemoteTracks.clear();
  c.on(CallEvent.State, (state, old) => {
    emit({ event: "state", call_id: c.callId, state, old });
    if (state === CallState.InviteSent) inviteSentAt = Date.now();
    if (state === CallState.Connected && old !== CallState.Connected) {
      const now = Date.now();
      const outbound = c.direction === "outbound";
      emit({
        event: "connected",
        call_id: c.callId,
        direction: c.direction,
        setup_ms: outbound ? now - inviteSentAt : now - incomingAt,
        answer_to_connected_ms: outbound ? null : now - answeredAt,
        place_to_connected_ms: outbound ? now - placeAt : null,
      });
    }
  });
  c.on(CallEvent.Hangup, () => emit({ event: "hangup", call_id: c.callId, reason: c.hangupReason, by: c.hangupParty }));
  c.on(CallEvent.Error, (err) => emit({ event: "error", call_id: c.callId, code: err?.code, message: String(err?.message || err) }));
  c.on(CallEvent.LocalHoldUnhold, (on) => emit({ event: "remote_hold", call_id: c.callId, on }));
  c.on(CallEvent.RemoteHoldUnhold, (on) => emit({ event: "local_hold", call_id: c.callId, on }));
  c.on(CallEvent.FeedsChanged, () => {
    watchFeeds(c);
    emit({ event: "remote_feeds", call_id: c.callId, feeds: describeFeeds(c) });
  });
  c.on(CallEvent.PeerConnectionCreated, (pc) => watchPeerConnection(c, pc));
  if (c.peerConn) watchPeerConnection(c, c.peerConn);
  watchFeeds(c);
}

client.on(CallEventHandlerEvent.Incoming, (c) => {
  if (c.groupCallId) return; // a group call's peer call: jsdk_group.mjs reports those
  incomingAt = Date.now();
  adopt(c);
  emit({ event: "incoming", call_id: c.callId, room_id: c.roomId, video: c.type === "video", peer: c.getOpponentMember()?.userId });
});

// ---- DMs ------------------------------------------------------------------------------------
function membershipOf(room, userId) {
  return room?.getMember(userId)?.membership;
}
function findDm(userId) {
  for (const room of client.getRooms()) {
    if (membershipOf(room, session.user_id) !== "join") continue;
    const others = room.getMembers().filter((m) => m.userId !== session.user_id && ["join", "invite"].includes(m.membership));
    if (others.length === 1 && others[0].userId === userId) return room.roomId;
  }
  return null;
}
async function waitFor(pred, timeoutMs, what) {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const v = pred();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}
async function dmWith(userId) {
  let roomId = findDm(userId);
  if (!roomId) {
    const res = await client.createRoom({ is_direct: true, invite: [userId], preset: "trusted_private_chat" });
    roomId = res.room_id;
  }
  await waitFor(() => membershipOf(client.getRoom(roomId), userId) === "join", 30000, `${userId} to join ${roomId}`);
  return roomId;
}

// ---- stats ----------------------------------------------------------------------------------
async function stats() {
  const out = { audio: { packets_sent: 0, packets_received: 0 }, video: { packets_sent: 0, packets_received: 0 } };
  const pc = call?.peerConn;
  if (!pc || pc.signalingState === "closed") return { ...out, live: false };
  const report = await pc.getStats();
  report.forEach((s) => {
    const kind = s.kind || s.mediaType;
    if (!out[kind]) return;
    if (s.type === "inbound-rtp") out[kind].packets_received += s.packetsReceived || 0;
    if (s.type === "outbound-rtp") out[kind].packets_sent += s.packetsSent || 0;
  });
  const ufrag = (d) => /a=ice-ufrag:(\S+)/.exec(d?.sdp || "")?.[1] ?? null;
  return {
    ...out,
    live: true,
    local_ufrag: ufrag(pc.localDescription),
    remote_ufrag: ufrag(pc.remoteDescription),
    // a=setup of each side's description: "active" is the DTLS client
    local_dtls_setup: /a=setup:(\w+)/.exec(pc.localDescription?.sdp || "")?.[1] ?? null,
    remote_dtls_setup: /a=setup:(\w+)/.exec(pc.remoteDescription?.sdp || "")?.[1] ?? null,
    state: call.state,
    ice: pc.iceConnectionState,
    connection: pc.connectionState, // ICE + DTLS
    remote_video_tracks: call.getRemoteFeeds().reduce((n, f) => n + f.stream.getVideoTracks().length, 0),
    remote_feeds: describeFeeds(call),
    // What each m-line does now, from our side ("recvonly": we receive, the peer sends).
    transceivers: pc.getTransceivers().map((t) => ({
      mid: t.mid,
      kind: t.receiver?.track?.kind ?? null,
      direction: t.direction,
      current: t.currentDirection,
    })),
    local_on_hold: call.isLocalOnHold(),
    remote_on_hold: call.isRemoteOnHold(),
  };
}

// ---- commands -------------------------------------------------------------------------------
function needCall() {
  if (!call) throw new Error("no call");
  return call;
}
async function handle(cmd) {
  switch (cmd.cmd) {
    case "call": {
      const roomId = await dmWith(cmd.user);
      placeAt = Date.now();
      const c = client.createCall(roomId);
      if (!c) throw new Error("createCall returned null (WebRTC not supported?)");
      c.invitee = cmd.user;
      adopt(c);
      if (cmd.video) await c.placeVideoCall();
      else await c.placeVoiceCall();
      return { call_id: c.callId, room_id: roomId };
    }
    case "answer":
      answeredAt = Date.now();
      await needCall().answer(true, cmd.video);
      return {};
    case "reject":
      needCall().reject();
      return {};
    case "hangup":
      needCall().hangup("user_hangup", false);
      return {};
    case "hold":
      needCall().setRemoteOnHold(Boolean(cmd.on));
      return { remote_on_hold: call.isRemoteOnHold() };
    case "video":
      return { video_muted: await needCall().setLocalVideoMuted(!cmd.on) };
    case "screenshare":
      return { screensharing: await needCall().setScreensharingEnabled(Boolean(cmd.on)) };
    case "mute":
      return { audio_muted: await needCall().setMicrophoneMuted(Boolean(cmd.on)) };
    case "ice_restart": {
      const pc = needCall().peerConn;
      if (!pc) throw new Error("no peer connection");
      pc.restartIce();
      return {};
    }
    case "stats":
      emit({ event: "stats", call_id: call?.callId, ...(await stats()) });
      return null;
    case "quit":
      emit({ event: "ok", cmd: "quit" });
      die(0);
      return null;
    default:
      if (Object.hasOwn(group, cmd.cmd)) return group[cmd.cmd](cmd);
      throw new Error(`unknown command ${cmd.cmd}`);
  }
}

// Commands run one at a time, in order.
let chain = Promise.resolve();
const rl = readline.createInterface({ input: process.stdin });
rl.on("line", (line) => {
  if (!line.trim()) return;
  let cmd;
  try {
    cmd = JSON.parse(line);
  } catch (e) {
    emit({ event: "error", message: `bad command line: ${line}` });
    return;
  }
  chain = chain.then(async () => {
    try {
      const extra = await handle(cmd);
      if (extra !== null) emit({ event: "ok", cmd: cmd.cmd, ...extra });
    } catch (e) {
      emit({ event: "error", cmd: cmd.cmd, message: String(e?.message || e) });
    }
  });
});
rl.on("close", () => die(0));

client.once(ClientEvent.Sync, (state) => {
  if (state !== "PREPARED") {
    emit({ event: "error", message: `first sync: ${state}` });
    return;
  }
  // Invites that were already there before we started.
  for (const room of client.getRooms()) if (membershipOf(room, session.user_id) === "invite") maybeJoin(room.roomId);
  emit({ event: "ready", user_id: session.user_id, device_id: session.device_id });
});
const group = await groupCommands({ sdk, client, emit, waitFor, membershipOf, ownUserId: session.user_id });
if (args.e2e) await client.initRustCrypto({ useIndexedDB: false });
await client.startClient({ initialSyncLimit: 1 });
