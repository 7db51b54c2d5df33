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
for expect in "already running" "logged in as device" "bob's device rings" "alice connected" "bob hears audio" "audio flowed both ways" "demo finished"; do
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
