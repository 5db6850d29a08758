# SPDX-License-Identifier: GPL-2.0
# The benchmarks build and run: `bench/run --smoke` (one round, few
# iterations, no VM) in every configuration, and writes well-formed
# results. Times are not checked: this host is shared and small.
source "$(dirname "$0")/../lib.sh"

PY=/usr/bin/python3

test_smoke_every_workload_has_numbers() {
	assert_exit 0 "$TOP/bench/run" --smoke --out "$T/out"
	[ -s "$T/out/RESULTS.md" ] || fail "no RESULTS.md"
	assert_contains "$(cat "$T/out/RESULTS.md")" "| openw: " "RESULTS.md table"
	# Every workload, in every configuration: a positive figure, no error.
	assert_exit 0 "$PY" - "$T/out/results.json" <<-'PYEOF'
	import json, sys
	doc = json.load(open(sys.argv[1]))
	host = doc["host"]
	bad = []
	for wl in host["workloads"]:
	    r = host["results"].get(wl)
	    if r is None:
	        bad.append(wl + ": no result")
	        continue
	    bad += ["%s/%s: %s" % (wl, c, e) for c, e in r["errors"].items()]
	    # Some workloads run in some configurations only (openw-nj).
	    for c in r.get("configs", host["configs"]):
	        v = r["runs"].get(c) or []
	        if len(v) != 1 or not v[0] > 0:
	            bad.append("%s/%s: runs %r" % (wl, c, v))
	        if c != "none" and not r.get("vs", {}).get(c, {}).get("ratio_median", 0) > 0:
	            bad.append("%s/%s: no ratio" % (wl, c))
	# Memory: every fence count measured, each fence's maps found.
	for n, m in host.get("memory", {"-": {"error": "no memory workload"}}).items():
	    if "error" in m:
	        bad.append("memory/%s: %s" % (n, m["error"]))
	    elif not (len(m["rss_kib"]) == int(n) and min(m["rss_kib"]) > 0 and
	              min(m["map_memlock_kib"]) > 0):
	        bad.append("memory/%s: %r" % (n, m))
	# The event pipeline and the DNS stub: measured, no error.
	for sec, key in (("events", "synth"), ("dns", "added_us")):
	    d = doc.get(sec) or {"error": "missing"}
	    if "error" in d or key not in d:
	        bad.append("%s: %s" % (sec, d.get("error", d)))
	print("\n".join(bad))
	sys.exit(1 if bad else 0)
	PYEOF
	assert_eq "" "$OUT" "workloads without a number"
}

# Every workload once, the memory, events, DNS, node and daemon sections: about a
# minute and a half on the reference machine, two when it is loaded.
af_limit test_smoke_every_workload_has_numbers 200
af_main "$@"
