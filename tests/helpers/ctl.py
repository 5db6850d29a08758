#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
# Speak the daemon's control protocol (Documentation/control.md) in tests:
#   ctl.py SOCKET REQUEST...   each REQUEST a JSON object (or @FILE: its
#   lines, or a raw line with --raw); prints every line the daemon sends,
#   up to each reply. Exit 0 when every reply says "ok": true, 1 when one
#   does not, 3 when the daemon hung up first.
import json, socket, sys

def main():
    args = sys.argv[1:]
    raw = False
    if args and args[0] == "--raw":
        raw = True
        args = args[1:]
    path, reqs = args[0], args[1:]
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    f = s.makefile("rb")
    rc = 0
    for r in reqs:
        if r.startswith("@"):
            lines = open(r[1:], "rb").read().splitlines()
        else:
            lines = [r.encode()]
        for line in lines:
            try:
                s.sendall(line + b"\n")
            except OSError:
                pass    # refused: the daemon said why before it hung up
            while True:
                l = f.readline()
                if not l:
                    print("HANGUP")
                    return 3
                sys.stdout.write(l.decode("utf-8", "replace"))
                sys.stdout.flush()
                d = json.loads(l)
                if "ok" in d:
                    if not d["ok"]:
                        rc = 1
                    break
    return rc

sys.exit(main())
