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

for BACKEND in ${AF_VM_BACKENDS:-lsm_cgroup lsm}; do
	export BACKEND AF_TEST_TAG=" [$BACKEND]"
	af_main "$@"
done
