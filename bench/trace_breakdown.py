#!/usr/bin/env python3
"""Per-call phases of a traced call-setup run.

    MXCALL_BENCH_TRACE=1 build/bench/mxcall_bench_call_setup 10 2> trace.log
    bench/trace_breakdown.py trace.log

(run the benchmark inside a loopback-only namespace, as scripts/bench does). Prints, for each
mxcall call, milliseconds since place_call at which: the invite left, the callee rang, the callee
answered, the answer left, the caller had it, ICE was up at each end, and audio was decoded at
each end; then the medians of the phases and of the floor's matching phases.
"""
import re
import statistics
import sys
from datetime import datetime

LINE = re.compile(r"(\d+:\d+:\d+\.\d+) \w+\s+(.*)")
STEPS = [
    ("invite_out", "creating_offer -> invite_sent"),
    ("rang", ": ringing, from"),
    ("answering", "ringing -> creating_answer"),
    ("answer_out", "creating_answer -> connecting"),
    ("answer_in", ": answered by"),
    ("ice_up", "connecting -> connected"),
]


def stamp(text):
    t = datetime.strptime(text, "%H:%M:%S.%f")
    return (t.hour * 3600 + t.minute * 60 + t.second) * 1000 + t.microsecond / 1000


def calls_of(lines):
    calls, order = {}, []
    for line in lines:
        m = LINE.match(line)
        if not m:
            continue
        t, msg = stamp(m.group(1)), m.group(2)
        call = re.search(r"call (\S+?):? ", msg + " ")
        media = re.match(r"calls: media event (\d+) for call (\S+)", msg)
        cid = media.group(2) if media else call.group(1) if call else None
        if cid is None:
            continue
        if cid not in calls:
            calls[cid] = {}
            order.append(cid)
        c = calls[cid]
        if "placing a" in msg:
            c["placed"] = t
        if media and media.group(1) == "8":  # FirstMediaDecoded: the last one is the callee's
            c.setdefault("audio_first_end", t)
            c["audio"] = t
        for name, needle in STEPS:
            if needle in msg:
                c.setdefault(name, t)
                if name == "ice_up":
                    c["ice_both"] = t
    return [(cid, calls[cid]) for cid in order if "placed" in calls[cid] and "audio" in calls[cid]]


def main():
    lines = open(sys.argv[1]).read().splitlines()
    rows = calls_of(lines)
    keys = [k for k, _ in STEPS] + ["ice_both", "audio"]
    phases = {"offer": [], "hop 1": [], "callee": [], "hop 2": [], "ice": [], "dtls+audio": []}
    for cid, c in rows:
        t0 = c["placed"]
        print(cid[:20], " ".join(f"{k}={c[k] - t0:.1f}" for k in keys if k in c))
        if all(k in c for k in keys):
            phases["offer"].append(c["invite_out"] - t0)
            phases["hop 1"].append(c["rang"] - c["invite_out"])
            phases["callee"].append(c["answer_out"] - c["rang"])
            phases["hop 2"].append(c["answer_in"] - c["answer_out"])
            phases["ice"].append(c["ice_both"] - c["answer_in"])
            phases["dtls+audio"].append(c["audio"] - c["ice_both"])
    print("mxcall medians:", ", ".join(f"{k} {statistics.median(v):.1f}" for k, v in phases.items() if v))
    floor = {}
    run = -1
    for line in lines:
        m = re.match(r"floor\s+([\d.]+) (\d) (\d+)( ice (\d))?", line)
        if not m:
            continue
        t, side, ev = float(m.group(1)), m.group(2), m.group(3)
        if ev == "0" and side == "0":
            run += 1
        f = floor.setdefault(run, {})
        if ev == "0":
            f.setdefault("offer" if side == "0" else "answer", t)
        if ev == "1" and side == "0":
            f.setdefault("answer_in", t)
        if m.group(5) in ("2", "3"):
            f["ice_both"] = t
        if ev == "8" and side == "1":
            f.setdefault("audio", t)
    done = [f for f in floor.values() if len(f) == 5]
    if done:
        med = lambda xs: statistics.median(xs)
        print(f"floor medians: offer {med([f['offer'] for f in done]):.1f}, "
              f"answer {med([f['answer'] - f['offer'] for f in done]):.1f}, "
              f"ice {med([f['ice_both'] - f['answer_in'] for f in done]):.1f}, "
              f"dtls+audio {med([f['audio'] - f['ice_both'] for f in done]):.1f}, "
              f"total {med([f['audio'] for f in done]):.1f}")


if __name__ == "__main__":
    main()
