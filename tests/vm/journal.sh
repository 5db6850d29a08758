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
	assert_exit 0 "$AF" run --backend "$BACKEND" --policy p.yaml --workspace ws --journal "$j" -- \
		sh -c "echo in >$T/ws/a; sh -c 'echo x >$T/out/f' 2>/dev/null; true"
	assert_contains "$ERR" "denied write $T/out/f" "printed denial"
	assert_exit 0 "$AF" log verify "$j"
	$PY - "$j" "$T" <<-'PYEOF' || fail "journal: $(cut -c1-400 "$j")"
	import json, sys
	recs = [json.loads(l) for l in open(sys.argv[1])]
	t = sys.argv[2]
	deny = [r for r in recs if r["type"] == "deny" and r.get("verdict") == "denied"]
	assert deny, recs
	d = deny[0]
	assert d["effect"] == "denied write %s/out/f" % t, d
	assert d["argv"] == ["sh", "-c", "echo x >%s/out/f" % t], d
	assert len(d["ancestry"]) == 2 and d["ancestry"][1] == recs[1]["pid"], d
	files = [r for r in recs if r["type"] == "file" and r["verdict"] == "ok"]
	assert any(r["path"] == "%s/ws/a" % t for r in files), files
	assert recs[-1]["type"] == "fence_end" and recs[-1]["denials"] >= 1, recs[-1]
	PYEOF
}

for BACKEND in ${AF_VM_BACKENDS:-lsm_cgroup lsm}; do
	export BACKEND AF_TEST_TAG=" [$BACKEND]"
	af_main "$@"
done
