#!/usr/bin/env python3
"""bench/ab.py: two agentfence builds side by side on the host's micro rows.

usage: bench/ab.py [--rounds N] [--iters N] [--rows openw,openw-nj,openw1,openw1-nj,connect]
                   BEFORE_TREE AFTER_TREE

Each tree is a built checkout (its build/agentfence and build/bench/micro).
Per row, each round runs the micro loop once unfenced and once under each
tree's `agentfence run -q -p bench/policy.yaml -w WS --` (openw-nj: with
--no-journal), in an order that rotates from round to round, as bench/run
does; a ratio is fenced/unfenced within one round (the unfenced loop is the
AFTER tree's micro). Prints per row and tree the median [min, max] of the
ratios and of ns per operation (micro's fastest batch), and the median of
after/before within a round, as JSON (--json) or text.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

ROWS = {
    "openw": (["openw", "{ws}"], False),
    "openw-nj": (["openw", "{ws}"], True),
    "openw1": (["openw1", "{ws}"], False),
    "openw1-nj": (["openw1", "{ws}"], True),
    "connect": (["connect", "127.0.0.1"], False),
}


def run(argv):
    p = subprocess.run(argv, capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
    lines = p.stdout.strip().splitlines()
    if p.returncode or not lines:
        raise SystemExit("bench/ab.py: %s: exit %d: %s" % (" ".join(argv), p.returncode,
                                                          p.stderr.strip()[-300:]))
    return json.loads(lines[-1])["ns_min"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--iters", type=int, default=60000)
    ap.add_argument("--rows", default="openw,openw-nj,connect")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("before")
    ap.add_argument("after")
    a = ap.parse_args()
    ws = tempfile.mkdtemp(prefix="af-ab-", dir="/var/tmp")
    trees = {"before": os.path.abspath(a.before), "after": os.path.abspath(a.after)}
    micro = os.path.join(trees["after"], "build", "bench", "micro")
    policy = os.path.join(trees["after"], "bench", "policy.yaml")
    out = {}
    for row in a.rows.split(","):
        args, nj = ROWS[row]
        args = [x.format(ws=ws) for x in args]
        configs = ["none", "before", "after"]
        ns = {c: [] for c in configs}
        for r in range(a.rounds):
            order = configs[r % 3:] + configs[:r % 3]
            for c in order:
                prefix = [] if c == "none" else (
                    [os.path.join(trees[c], "build", "agentfence"), "run", "-q"] +
                    (["--no-journal"] if nj else []) + ["-p", policy, "-w", ws, "--"])
                ns[c].append(run(prefix + [micro] + args + [str(a.iters)]))
        res = {"iters": a.iters, "rounds": a.rounds, "ns": ns}
        for c in ("before", "after"):
            rat = [f / b for f, b in zip(ns[c], ns["none"])]
            res[c] = {"median": statistics.median(rat), "min": min(rat), "max": max(rat)}
        ab = [x / y for x, y in zip(ns["after"], ns["before"])]
        res["after_over_before"] = {"median": statistics.median(ab), "min": min(ab), "max": max(ab)}
        out[row] = res
        if not a.json:
            print("%-9s none %.0f ns | before %.3f [%.3f, %.3f] | after %.3f [%.3f, %.3f] | "
                  "after/before %.3f [%.3f, %.3f]" % (
                      row, statistics.median(ns["none"]),
                      res["before"]["median"], res["before"]["min"], res["before"]["max"],
                      res["after"]["median"], res["after"]["min"], res["after"]["max"],
                      res["after_over_before"]["median"], res["after_over_before"]["min"],
                      res["after_over_before"]["max"]), flush=True)
    if a.json:
        json.dump(out, sys.stdout)
        print()


if __name__ == "__main__":
    main()
