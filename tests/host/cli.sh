# SPDX-License-Identifier: GPL-2.0
# The command line: usage, errors and exit codes, policy check, doctor,
# and that the man page documents every option --help shows.
source "$(dirname "$0")/../lib.sh"

MAN=$TOP/Documentation/agentfence.1.scd
PY=/usr/bin/python3

good_policy() {
	mkdir -p ws
	cat >p.yaml <<-YAML
	apiVersion: agentfence/v1
	kind: Policy
	metadata: {name: clitest}
	spec:
	  filesystem:
	    writable: ["\${WORKSPACE}", /tmp]
	YAML
}

test_usage() {
	assert_exit 2 "$AF"
	assert_contains "$ERR" "Usage: agentfence" "usage on stderr"
	assert_exit 0 "$AF" --help
	assert_contains "$OUT" "run" "commands listed"
	assert_exit 0 "$AF" --version
	assert_exit 2 "$AF" frobnicate
	assert_contains "$ERR" "agentfence: unknown command 'frobnicate'" "message"
}

test_run_usage_errors() {
	good_policy
	assert_exit 2 "$AF" run
	assert_contains "$ERR" "agentfence run: no command to run" "no command"
	assert_exit 2 "$AF" run --backend bogus -- true
	assert_contains "$ERR" "unknown backend 'bogus'" "bad backend"
	assert_exit 2 "$AF" run --workspace "$T/nope" -- true
	assert_contains "$ERR" "workspace $T/nope: No such file or directory" "missing workspace"
	assert_exit 2 "$AF" run --workspace "$T/p.yaml" -- true
	assert_contains "$ERR" "not a directory" "workspace is a file"
	assert_exit 2 "$AF" run --frob -- true
	assert_exit 0 "$AF" run --help
}

test_run_bad_policy() {
	mkdir ws
	printf 'apiVersion: agentfence/v1\nkind: Policy\nmetadata: {name: x}\nspec:\n  filesystem:\n    writeable: [/tmp]\n' >bad.yaml
	assert_exit 1 "$AF" run --policy bad.yaml --workspace ws -- true
	assert_contains "$ERR" "bad.yaml:6:5: unknown key 'writeable'" "located error"
	assert_exit 1 "$AF" run --policy "$T/missing.yaml" --workspace ws -- true
	assert_contains "$ERR" "missing.yaml" "missing policy file"
	assert_no_leftovers
}

test_policy_check_host_rules() {
	good_policy
	printf '  network:\n    allow:\n      - {cidr: 10.0.0.0/8}\n      - {host: "*.example.com", ports: [443]}\n' >>p.yaml
	assert_exit 0 "$AF" policy check --workspace "$T/ws" p.yaml
	assert_contains "$OUT" "*.example.com" "host rule shown"
	printf '      - {host: "a.*.example.com"}\n' >>p.yaml
	assert_exit 1 "$AF" policy check --workspace "$T/ws" p.yaml
	assert_contains "$ERR" "p.yaml:11:16: wildcard in host 'a.*.example.com' is only allowed as a whole first label" \
		"bad wildcard, located"
}

test_run_not_executable() {
	good_policy
	printf 'x' >ws/notexec
	assert_exit 126 "$AF" run --policy p.yaml --workspace ws -- "$T/ws/notexec"
	assert_contains "$ERR" "cannot execute" "message"
	assert_exit 127 "$AF" run --policy p.yaml --workspace ws -- no-such-command-af
}

test_policy_check() {
	good_policy
	assert_exit 0 "$AF" policy check --workspace "$T/ws" p.yaml
	assert_contains "$OUT" "$T/ws" "workspace expanded"
	assert_contains "$OUT" "clitest" "name"
	assert_exit 0 "$AF" policy check --json --workspace "$T/ws" p.yaml
	printf '%s' "$OUT" | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["name"] == "clitest", d' ||
		fail "policy check --json is not the JSON expected: $OUT"
	for f in "$TOP"/policies/*.yaml; do
		assert_exit 0 "$AF" policy check --workspace "$T/ws" "$f"
	done
}

test_policy_check_errors() {
	printf 'apiVersion: agentfence/v2\nkind: Policy\nmetadata: {name: x}\nspec: {}\n' >v2.yaml
	assert_exit 1 "$AF" policy check v2.yaml
	assert_contains "$ERR" "v2.yaml:1:13:" "located error"
	assert_exit 1 "$AF" policy check --json v2.yaml
	printf '%s' "$ERR" | /usr/bin/python3 -c 'import json,sys; json.loads(sys.stdin.readline())' ||
		fail "--json error is not JSON: $ERR"
	assert_exit 2 "$AF" policy check
	assert_exit 2 "$AF" policy check a b
	assert_exit 2 "$AF" policy frob x
	assert_exit 2 "$AF" policy
}

# Limits of the kernel's maps are found by compiling, not parsing: policy
# check reports them located, and run refuses the same policy before any
# fence exists.
test_policy_check_kernel_limits() {
	local p1 p2
	p1=$(seq -s, 1000 1031)
	p2=$(seq -s, 2000 2031)
	cat >ports.yaml <<-YAML
	apiVersion: agentfence/v1
	kind: Policy
	metadata: {name: ports}
	spec:
	  filesystem:
	    writable: ["\${WORKSPACE}"]
	  network:
	    allow:
	      - {cidr: 10.0.0.0/8, ports: [$p1]}
	      - {cidr: 10.1.0.0/16, ports: [$p2]}
	YAML
	assert_exit 0 "$AF" policy check ports.yaml
	echo "      - {cidr: 10.1.2.0/24, ports: [3000]}" >>ports.yaml
	assert_exit 1 "$AF" policy check ports.yaml
	assert_contains "$ERR" "ports.yaml:11:9: more than 64 distinct ports for one address range" "located limit"
	assert_exit 1 "$AF" policy check --json ports.yaml
	assert_contains "$ERR" '"error":"ports.yaml:11:9: more than 64' "--json limit"
	mkdir -p ws
	assert_exit 1 "$AF" run --policy ports.yaml --workspace ws --no-journal -- true
	assert_contains "$ERR" "ports.yaml:11:9: more than 64 distinct ports" "run refuses it"
}

test_doctor() {
	assert_exit 0 "$AF" doctor
	assert_contains "$OUT" "backend:" "doctor"
	assert_contains "$OUT" "active LSMs:" "doctor"
	assert_exit 0 "$AF" doctor --json
	printf '%s' "$OUT" | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["backend"] in ("lsm_cgroup","lsm","landlock"), d' ||
		fail "doctor --json: $OUT"
	assert_exit 2 "$AF" doctor --frob
}

# agentfence hook: a Bash call's command, however quoted, runs unchanged
# under exec --label with the call's id; other input leaves the call as
# it is (no output, exit 0), never blocks it.
test_hook_rewrites_bash_calls() {
	local cmd out
	cmd=$'printf "%s|" "a b" \'c\'"d" $((1+1)) "$HOME" \\n; echo "\u00e9"\nprintf "line2"'
	out=$($PY -c 'import json,sys; print(json.dumps({"session_id":"s","tool_name":"Bash","tool_input":{"command":sys.argv[1],"description":"d","timeout":5},"tool_use_id":"toolu_01AB"}))' "$cmd" |
		"$AF" hook claude-code) || fail "hook failed"
	printf '%s' "$out" | $PY -c '
import json, sys
o = json.load(sys.stdin)["hookSpecificOutput"]
assert o["hookEventName"] == "PreToolUse", o
i = o["updatedInput"]
assert i["description"] == "d" and i["timeout"] == 5, i
open(sys.argv[1], "w").write(i["command"])' "$T/rewritten" || fail "hook output: $out"
	assert_contains "$(cat "$T/rewritten")" "exec --label 'tool=Bash id=toolu_01AB' -- " "label"
	assert_eq "$(bash -c "$cmd")" "$(bash -c "$(cat "$T/rewritten")")" "the rewritten command does what the call did"
	assert_exit 0 sh -c 'echo "{\"tool_name\":\"Write\",\"tool_input\":{\"file_path\":\"/x\"},\"tool_use_id\":\"t1\"}" | "$0" hook codex' "$AF"
	assert_eq "" "$OUT" "other tools: unchanged"
	# An id that could break out of the label or the command is refused.
	assert_exit 0 sh -c 'echo "{\"tool_name\":\"Bash\",\"tool_input\":{\"command\":\"true\"},\"tool_use_id\":\"x'"'"'; rm -rf /\"}" | "$0" hook claude-code' "$AF"
	assert_eq "" "$OUT" "bad id: unchanged"
	assert_contains "$ERR" "tool call left unlabelled" "said why"
	assert_exit 0 sh -c 'echo "not json" | "$0" hook claude-code' "$AF"
	assert_eq "" "$OUT" "bad input: unchanged"
	assert_exit 0 sh -c 'echo "{\"tool_name\":\"Bash\",\"tool_input\":{\"command\":[1]},\"tool_use_id\":\"t\"}" | "$0" hook claude-code' "$AF"
	assert_eq "" "$OUT" "command not a string: unchanged"
	assert_exit 2 "$AF" hook
	assert_exit 2 "$AF" hook frob
	assert_exit 0 "$AF" hook --help
}

test_man_page_documents_every_option() {
	[ -f "$MAN" ] || fail "no man page at $MAN"
	local cmd opt
	for cmd in run policy doctor log tail exec hook daemon status stop update attach detach gc; do
		assert_contains "$(cat "$MAN")" "*$cmd*" "man page section for $cmd"
		for opt in $("$AF" $cmd --help | grep -o -- '--[a-z][a-z-]*' | sort -u); do
			grep -q -- "$opt" "$MAN" || fail "man page does not document '$cmd $opt'"
		done
	done
}

# gc --node takes this build's idle node away (its global programs with
# it: the syscall tracepoints every process pays for), never one a
# fence uses.
test_gc_node_removes_only_an_idle_node() {
	local build
	build=$("$AF" doctor --json 2>/dev/null | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["build"])')
	[ -n "$build" ] || fail "doctor --json gave no build id"
	mkdir -p "$T/ws"
	"$AF" run -q -w "$T/ws" --no-journal -- sh -c "echo up >$T/up; exec sleep 30" 2>/dev/null &
	local i pid=$!
	for ((i = 0; i < 100; i++)); do
		[ -s "$T/up" ] && break
		sleep 0.1
	done
	[ -s "$T/up" ] || fail "the fence did not start"
	OUT=$("$AF" gc --node 2>&1)
	assert_contains "$OUT" "node $build-" "the used node is named"
	assert_contains "$OUT" "stays: 1 fence uses it" "a used node stays"
	ls -d /sys/fs/bpf/agentfence-nodes/"$build"-* >/dev/null 2>&1 || fail "gc removed a node in use"
	kill "$pid"
	wait "$pid"
	assert_exit 0 "$AF" gc --node
	assert_contains "$ERR" "removed 1 node" "the idle node goes"
	ls -d /sys/fs/bpf/agentfence-nodes/"$build"-* 2>/dev/null && fail "this build's node is still pinned"
	assert_exit 2 "$AF" gc extra
	assert_contains "$ERR" "unexpected argument 'extra'" "usage"
}

af_main "$@"
