#!/usr/bin/env bash
# The mxcall command line as a user runs it: homeserver start/register/status/stop and the demo,
# in a fresh directory, leaving no process behind.
set -uo pipefail
MXCALL="$1"
dir="$(mktemp -d /tmp/mxcall-it-cli-XXXXXX)"
fail() { echo "FAIL: $*"; "$MXCALL" -q homeserver stop --dir "$dir" >/dev/null 2>&1; rm -rf "$dir"; exit 1; }

url=$("$MXCALL" -q homeserver start --dir "$dir") || fail "start"
[[ "$url" =~ ^http://127\.0\.0\.1:[0-9]+$ ]] || fail "start printed '$url', not a base URL"
again=$("$MXCALL" -q homeserver start --dir "$dir") || fail "second start"
[ "$again" = "$url" ] || fail "second start gave $again, not the running $url"
curl -fsS "$url/_matrix/client/versions" | grep -q '"versions"' || fail "versions endpoint"

user=$("$MXCALL" -q homeserver register carol --password secret --dir "$dir") || fail "register"
[ "$user" = "@carol:localhost" ] || fail "register printed '$user'"
if "$MXCALL" -q homeserver register carol --password secret --dir "$dir" 2>/dev/null; then
  fail "registering a taken name succeeded"
fi
"$MXCALL" -q homeserver status --dir "$dir" >/dev/null || fail "status of a running server"

# The demo reuses the running server and leaves it running.
out=$("$MXCALL" demo --dir "$dir" --duration 2 2>/dev/null) || fail "demo: $out"
echo "$out"
for expect in "already running" "logged in as device" "bob's device rings" "alice connected" "bob hears audio" "audio flowed on every pair" "all 6 pairs connected" "demo finished"; do
  grep -q "$expect" <<<"$out" || fail "demo output lacks '$expect'"
done
# A second demo run restores the stored sessions instead of making new devices.
out2=$("$MXCALL" demo --dir "$dir" --duration 1 --json 2>&1) || fail "second demo"
grep -q "session: restored @alice:localhost" <<<"$out2" || fail "second demo did not restore alice's session"
# With --json the last stdout line is the summary object.
last=$(grep '^{' <<<"$out2" | grep '"event":"summary"' | tail -1)
python3 - "$last" <<'PY' || fail "the JSON summary is not what it should be: $last"
import json, sys
s = json.loads(sys.argv[1])
call = s["calls"][0]
assert s["ok"] and call["connected"], s
assert call["audio_packets_received"]["alice"] > 0 and call["audio_packets_received"]["bob"] > 0, s
assert call["setup_ms"]["invite_to_first_audio"] is not None, s
mesh = s["mesh"]
assert mesh["ok"] and mesh["participants"] == 4 and len(mesh["pairs"]) == 6, mesh
for p in mesh["pairs"]:
    assert p["connected"] and p["audio_packets_received"] > 0 and p["setup_ms"] is not None, p
PY

# mxcall bot answers; SIGINT ends its call with a hangup the caller sees (mxcall call --json).
"$MXCALL" -q homeserver register dave --password pw --dir "$dir" >/dev/null || fail "register dave"
"$MXCALL" -q homeserver register erin --password pw --dir "$dir" >/dev/null || fail "register erin"
"$MXCALL" -q bot --homeserver "$url" --user dave --password pw --answer --store "$dir/dave.db" --json >"$dir/bot.out" &
botpid=$!
wait_line() {  # file pattern: polls a file the other process appends to (up to 30 s)
  for _ in $(seq 300); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  return 1
}
wait_line "$dir/bot.out" '"event":"ready"' || fail "the bot never got ready"
"$MXCALL" -q call --homeserver "$url" --user erin --password pw --to @dave:localhost --duration 60 \
  --store "$dir/erin.db" --json >"$dir/call.out" &
callpid=$!
wait_line "$dir/bot.out" '"event":"connected"' || fail "the bot's call never connected: $(cat "$dir/bot.out")"
wait_line "$dir/call.out" '"event":"stats"' || fail "the caller saw no media stats"
kill -INT "$botpid"
wait "$botpid" || fail "the bot did not exit cleanly on SIGINT"
wait "$callpid" || fail "mxcall call exited non-zero although the call connected: $(tail -2 "$dir/call.out")"
grep '"event":"ended"' "$dir/call.out" | grep '"reason":"user_hangup"' | grep -q '"by_remote":true' ||
  fail "the caller did not see the bot's hangup: $(cat "$dir/call.out")"
summary=$(grep '"event":"summary"' "$dir/call.out")
python3 - "$summary" <<'PY' || fail "bad call summary: $summary"
import json, sys
s = json.loads(sys.argv[1])
assert s["connected"] and s["end_reason"] == "user_hangup", s
assert s["audio"]["packets_received"] > 0 and s["audio"]["packets_sent"] > 0, s
for k in ("invite_to_answer", "invite_to_ice_connected", "invite_to_first_audio"):
    assert s["setup_ms"][k] is not None, (k, s)
ice = s["ice"]
assert ice["ice_generation"] == 1 and ice["media_timeouts"] == 0, s
assert ice["local_candidates"] and all(c.startswith("candidate:") for c in ice["local_candidates"]), s
PY

"$MXCALL" -q homeserver stop --dir "$dir" || fail "stop"
"$MXCALL" -q homeserver status --dir "$dir" >/dev/null
[ $? -eq 3 ] || fail "status after stop should exit 3"
pgrep -f "$dir/homeserver.yaml" >/dev/null && fail "Synapse still running after stop"

# A demo that starts its own homeserver stops it at the end.
rm -rf "$dir"; mkdir -p "$dir"
"$MXCALL" -q demo --dir "$dir" --duration 1 >/dev/null || fail "demo on a fresh dir"
pgrep -f "$dir/homeserver.yaml" >/dev/null && fail "the demo left its Synapse running"
rm -rf "$dir"
echo "cli: all checks passed"
