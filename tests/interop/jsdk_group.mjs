// MSC3401 full-mesh group calls (js-sdk GroupCall) for jsdk_peer.mjs: the group commands and
// the events they produce, on the peer's one MatrixClient. Every command names its room.
//
// Commands:
//   {"cmd":"group_create","room":"!r:localhost","video":false}  create the room's call (m.room
//        intent) once we are joined and js-sdk has read the room's state -> {conf_id}
//   {"cmd":"group_enter","room":R,"timeout_ms":20000}  wait for the room's call (created by
//        anyone), then enter it (local feed, member entry, calls by the mesh rule) -> {conf_id}
//   {"cmd":"group_leave","room":R}   leave (hang up every peer call, remove our member entry)
//   {"cmd":"group_stats","room":R}   -> {"event":"group_stats","room_id","conf_id","peers":[
//        {user, device, call_id, state, direction, ice, connection,
//         audio:{packets_sent, packets_received}, remote_audio_muted, remote_video_muted}]}
//        (one entry per current peer call; muted: the peer's usermedia feed as js-sdk sees it)
// Events:
//   group_seen {room_id, conf_id}            js-sdk knows the room's call (created or received)
//   group_call_state {room_id, conf_id, call_id, user, device, direction, state}
//   group_connected {..., setup_ms (peer call first seen -> connected),
//                    enter_to_connected_ms (our enter -> connected)}
//   group_hangup {..., reason, by}           a peer call ended
//   group_error {room_id, code, message}     GroupCall's error event
//   group_members {room_id, conf_id, members: ["@u:hs|DEVICE", ...]}  participants changed

export async function groupCommands({ sdk, client, emit, waitFor, membershipOf, ownUserId }) {
  const { GroupCallEventHandlerEvent } = await import("matrix-js-sdk/lib/webrtc/groupCallEventHandler.js");
  const { CallState } = await import("matrix-js-sdk/lib/webrtc/call.js");
  const { CallEvent, GroupCallEvent, GroupCallIntent, GroupCallType } = sdk;

  const watchedGroups = new WeakSet();
  const watchedCalls = new WeakSet();
  const enteredAt = new Map(); // room id -> Date.now() of our enter

  function describe(gc, c) {
    return {
      room_id: gc.room.roomId,
      conf_id: gc.groupCallId,
      call_id: c.callId,
      user: c.getOpponentMember()?.userId ?? c.invitee ?? null,
      device: c.getOpponentDeviceId() ?? null,
      direction: c.direction ?? null,
    };
  }

  function watchCall(gc, c) {
    if (watchedCalls.has(c)) return;
    watchedCalls.add(c);
    const seenAt = Date.now();
    c.on(CallEvent.State, (state, old) => {
      emit({ event: "group_call_state", ...describe(gc, c), state, old });
      if (state === CallState.Connected && old !== CallState.Connected) {
        const now = Date.now();
        const entered = enteredAt.get(gc.room.roomId);
        emit({
          event: "group_connected",
          ...describe(gc, c),
          setup_ms: now - seenAt,
          enter_to_connected_ms: entered ? now - entered : null,
        });
      }
    });
    c.on(CallEvent.Hangup, () => emit({ event: "group_hangup", ...describe(gc, c), reason: c.hangupReason, by: c.hangupParty }));
  }

  function watchGroup(gc) {
    if (!gc || watchedGroups.has(gc)) return;
    watchedGroups.add(gc);
    emit({ event: "group_seen", room_id: gc.room.roomId, conf_id: gc.groupCallId });
    gc.on(GroupCallEvent.CallsChanged, () => gc.forEachCall((c) => watchCall(gc, c)));
    gc.on(GroupCallEvent.Error, (err) =>
      emit({ event: "group_error", room_id: gc.room.roomId, code: err?.code, message: String(err?.message || err) }),
    );
    gc.on(GroupCallEvent.ParticipantsChanged, (participants) => {
      const members = [];
      for (const [member, devices] of participants) for (const device of devices.keys()) members.push(`${member.userId}|${device}`);
      emit({ event: "group_members", room_id: gc.room.roomId, conf_id: gc.groupCallId, members });
    });
  }
  client.on(GroupCallEventHandlerEvent.Incoming, watchGroup);
  client.on(GroupCallEventHandlerEvent.Outgoing, watchGroup);

  async function joinedRoom(roomId, timeoutMs) {
    // The peer auto-joins invites, but with Rust crypto on the invite's membership event was
    // seen to go missing about one run in five: join (again) ourselves, the server is the truth.
    if (membershipOf(client.getRoom(roomId), ownUserId) !== "join") await client.joinRoom(roomId);
    await waitFor(() => membershipOf(client.getRoom(roomId), ownUserId) === "join", timeoutMs, `joining ${roomId}`);
    await client.waitUntilRoomReadyForGroupCalls(roomId);
  }
  function groupOf(roomId) {
    const gc = client.getGroupCallForRoom(roomId);
    if (!gc) throw new Error(`no group call in ${roomId}`);
    return gc;
  }

  async function peerStats(c) {
    const out = { packets_sent: 0, packets_received: 0 };
    const pc = c.peerConn;
    if (!pc || pc.signalingState === "closed") return { out, ice: null, connection: null };
    const report = await pc.getStats();
    report.forEach((s) => {
      if ((s.kind || s.mediaType) !== "audio") return;
      if (s.type === "inbound-rtp") out.packets_received += s.packetsReceived || 0;
      if (s.type === "outbound-rtp") out.packets_sent += s.packetsSent || 0;
    });
    return { out, ice: pc.iceConnectionState, connection: pc.connectionState };
  }

  return {
    async group_create(cmd) {
      await joinedRoom(cmd.room, cmd.timeout_ms ?? 20000);
      const type = cmd.video ? GroupCallType.Video : GroupCallType.Voice;
      const gc = await client.createGroupCall(cmd.room, type, false, GroupCallIntent.Room);
      watchGroup(gc);
      return { conf_id: gc.groupCallId };
    },
    async group_enter(cmd) {
      const timeout = cmd.timeout_ms ?? 20000;
      await joinedRoom(cmd.room, timeout);
      const gc = await waitFor(() => client.getGroupCallForRoom(cmd.room), timeout, `a group call in ${cmd.room}`);
      watchGroup(gc);
      enteredAt.set(cmd.room, Date.now());
      await gc.enter();
      return { conf_id: gc.groupCallId };
    },
    async group_leave(cmd) {
      groupOf(cmd.room).leave();
      return {};
    },
    async group_stats(cmd) {
      const gc = groupOf(cmd.room);
      const calls = [];
      gc.forEachCall((c) => calls.push(c));
      const peers = [];
      for (const c of calls) {
        const { out, ice, connection } = await peerStats(c);
        const feed = c.remoteUsermediaFeed;
        peers.push({
          ...describe(gc, c),
          state: c.state,
          ice,
          connection,
          audio: out,
          remote_audio_muted: feed ? feed.isAudioMuted() : null,
          remote_video_muted: feed ? feed.isVideoMuted() : null,
        });
      }
      emit({ event: "group_stats", room_id: cmd.room, conf_id: gc.groupCallId, state: gc.state, peers });
      return null;
    },
  };
}
