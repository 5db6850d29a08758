# SPDX-License-Identifier: GPL-2.0
# Read the daemon's /metrics (--listen) in tests.

# metric NAME [LABEL=VALUE...]: the sum of NAME's samples with those
# labels, from /metrics on $MPORT.
metric() {
	curl -sf "http://127.0.0.1:$MPORT/metrics" | /usr/bin/python3 -c '
import re, sys
name, want = sys.argv[1], dict(a.split("=", 1) for a in sys.argv[2:])
tot, seen = 0, False
for l in sys.stdin:
    m = re.match(r"([a-z_0-9]+)(?:\{(.*)\})? ([0-9]+)$", l.strip())
    if not m or m.group(1) != name:
        continue
    labels = dict(re.findall(r"([a-z_]+)=\"((?:[^\"\\]|\\.)*)\"", m.group(2) or ""))
    if all(labels.get(k) == v for k, v in want.items()):
        tot += int(m.group(3)); seen = True
print(tot if seen else "none")' "$@"
}
