# SPDX-License-Identifier: GPL-2.0
# The journal with BPF LSM: the fence's own denials become deny records,
# attributed to their process, next to the process and file records.
source "$(dirname "$0")/../lib.sh"

PY=/usr/bin/python3

test_denials_in_journal() {
	mkdir -p ws out state
	echo orig >out/f
	cat >p.yaml <<-YAML
	apiVersion: agentfence/v1
	kind: Policy
	metadata: {name: vmjournal}
	spec:
	  filesystem:
	    writable: ["\${WORKSPACE}", /dev/null]
	YAML
	local j=$T/state/j.jsonl
	assert_exit 0 "$AF" run -v --backend "$BACKEND" --policy p.yaml --workspace ws --journal "$j" -- \
		sh -c "echo in >$T/ws/a; sh -c 'echo x >$T/out/f' 2>/dev/null; true"
	assert_contains "$ERR" "denied write $T/out/f" "printed denial"
	# File effects came from the per-syscall tracepoints, not raw_syscalls.
	assert_not_contains "$ERR" "file effects from raw_syscalls" "tracepoints attached"
	assert_exit 0 "$AF" log verify "$j"
	$PY - "$j" "$T" <<-'PYEOF' || fail "journal: $(cut -c1-400 "$j")"
	import json, sys
	recs = [json.loads(l) for l in open(sys.argv[1])]
	t = sys.argv[2]
	deny = [r for r in recs if r["type"] == "deny" and r.get("verdict") == "denied"]
	assert deny, recs
	d = deny[0]
	assert d["effect"] == "denied write %s/out/f" % t, d
	assert recs[d["exec_seq"]]["argv"] == ["sh", "-c", "echo x >%s/out/f" % t], d
	assert len(d["ancestry"]) == 2 and d["ancestry"][1] == recs[1]["pid"], d
	files = [r for r in recs if r["type"] == "file" and r["verdict"] == "ok"]
	assert any(r["path"] == "%s/ws/a" % t for r in files), files
	assert recs[-1]["type"] == "fence_end" and recs[-1]["denials"] >= 1, recs[-1]
	# One denial, one record: the syscall tracepoint adds no "refused"
	# record for what the LSM already reported.
	refused = [r for r in recs if r.get("verdict") == "refused"]
	assert not refused, refused
	assert len([r for r in deny if r["effect"].endswith("/out/f")]) == 1, deny
	PYEOF
}

# spec.events off: the kernel reports none of those kinds; denials stay.
test_events_off_journal() {
	mkdir -p ws out state
	cat >p.yaml <<-YAML
	apiVersion: agentfence/v1
	kind: Policy
	metadata: {name: vmevents}
	spec:
	  filesystem:
	    writable: ["\${WORKSPACE}", /dev/null]
	  events: [exec, deny]
	YAML
	echo orig >out/f
	local j=$T/state/j.jsonl
	assert_exit 0 "$AF" run -v --backend "$BACKEND" --policy p.yaml --workspace ws --journal "$j" -- \
		sh -c "echo in >$T/ws/a; rm $T/ws/a; sh -c 'echo x >$T/out/f' 2>/dev/null; true"
	assert_not_contains "$ERR" "file effects from raw_syscalls" "tracepoints attached"
	$PY - "$j" "$T" <<-'PYEOF' || fail "journal: $("$AF" tail --journal "$j")"
	import json, sys
	recs = [json.loads(l) for l in open(sys.argv[1])]
	types = [r["type"] for r in recs]
	assert not {"fork", "exit", "file"} & set(types), types
	assert "exec" in types, types
	deny = [r for r in recs if r["type"] == "deny"]
	assert len(deny) == 1 and deny[0]["effect"] == "denied write %s/out/f" % sys.argv[2], deny
	PYEOF
}

# tail --fence --follow on a BPF-LSM fence: the live denial.
test_tail_fence_journal_live_denial() {
	mkdir -p ws out state
	cat >p.yaml <<-YAML
	apiVersion: agentfence/v1
	kind: Policy
	metadata: {name: vmtail}
	spec:
	  filesystem:
	    writable: ["\${WORKSPACE}", /dev/null]
	YAML
	echo orig >out/f
	"$AF" run -v --backend "$BACKEND" --policy p.yaml --workspace ws --journal "$T/state/j.jsonl" -- \
		sh -c "sleep 2; echo x >$T/out/f 2>/dev/null; sleep 1" >run.out 2>run.err &
	local run=$! id= i
	for i in $(seq 100); do
		id=$(sed -n 's/.*agentfence tail --fence \([0-9]*\) --follow.*/\1/p' run.err | head -1)
		[ -n "$id" ] && [ -S "/run/agentfence/$id.sock" ] && break
		sleep 0.1
	done
	[ -n "$id" ] || { kill $run; fail "no fence id: $(grep -v libbpf run.err | tail -3)"; }
	assert_exit 0 timeout 30 "$AF" tail --fence "$id" --follow --type deny,fence_end
	assert_contains "$OUT" "denied write $T/out/f" "live denial"
	assert_contains "$OUT" "fence end" "ends"
	wait $run || fail "run failed"
}

# Repeated opens for writing of one file by one thread are coalesced in
# the file_open hook as on the Landlock backend (bpf/fxco.bpf.h): one
# record at once, then records of the repeats' count (none lost, none
# counted twice, each naming the first); another process's opens have
# their own; a loop longer than the 500 ms window has its counts
# recorded while it runs; a denied open between the repeats is denied
# and has its own record, never coalesced.
test_repeated_opens_coalesced() {
	mkdir -p ws out state
	echo orig >out/f
	cat >p.yaml <<-YAML
	apiVersion: agentfence/v1
	kind: Policy
	metadata: {name: vmcoalesce}
	spec:
	  filesystem:
	    writable: ["\${WORKSPACE}", /dev/null]
	YAML
	local j=$T/state/j.jsonl
	assert_exit 0 "$AF" run --backend "$BACKEND" --policy p.yaml --workspace ws --journal "$j" -- \
		$PY -c '
import os, sys, time
ws, out = sys.argv[1], sys.argv[2]
W = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
for i in range(1000):
    if i == 500:
        try:
            os.open(out, os.O_WRONLY)
            sys.exit("opened " + out)
        except PermissionError:
            pass
    os.close(os.open(ws + "/a", W))
if os.fork() == 0:
    for i in range(100):
        os.close(os.open(ws + "/a", W))
    os._exit(0)
os.wait()
t = time.monotonic()
n = 0
while time.monotonic() - t < 1.3:
    os.close(os.open(ws + "/b", os.O_WRONLY | os.O_CREAT | os.O_APPEND))
    n += 1
    time.sleep(0.002)
open(ws + "/nb", "w").write(str(n))
' "$T/ws" "$T/out/f"
	assert_file_eq out/f orig "outside file unchanged"
	assert_exit 0 "$AF" log verify "$j"
	PYTHONPATH=$TOP/tests/helpers $PY - "$j" "$T" <<-'PYEOF' || fail "records: $(grep -c '"coalesced"' "$j") coalesced; $(tail -1 "$j")"
	import sys
	from coalesced import load, opens as opens_of, effects
	recs, files, py, child = load(sys.argv[1])
	opens = lambda path, pid: opens_of(files, path, pid)
	t = sys.argv[2]
	ws = t + "/ws"
	nb = int(open(ws + "/nb").read())
	n, co = opens(ws + "/a", py)
	assert n == 1000 and len(co) >= 1, (n, co)
	n, co = opens(ws + "/a", child)
	assert n == 100, n
	n, co = opens(ws + "/b", py)
	assert n == nb, (n, nb)
	assert len(co) >= 2, co	# recorded while the loop ran
	deny = [r for r in recs if r["type"] == "deny" and r["effect"] == "denied write %s/out/f" % t]
	assert len(deny) == 1 and "coalesced" not in deny[0] and deny[0]["pid"] == py, deny
	end = recs[-1]
	total = effects(files, end)
	assert end["type"] == "fence_end" and end["file_effects"] == total, (end, total)
	assert end["denials"] == 1 and end["lost"] == 0, end
	PYEOF
}

for BACKEND in ${AF_VM_BACKENDS:-lsm_cgroup lsm}; do
	export BACKEND AF_TEST_TAG=" [$BACKEND]"
	af_main "$@"
done
