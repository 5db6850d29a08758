# SPDX-License-Identifier: GPL-2.0
# The journal of `run`: process records with the right pid, ppid, argv
# and ancestry; `log verify` on intact and tampered journals; rotation;
# where the journal may live; `tail`.
source "$(dirname "$0")/../lib.sh"

PY=/usr/bin/python3

setup() {
	mkdir -p ws state
	cat >p.yaml <<-YAML
	apiVersion: agentfence/v1
	kind: Policy
	metadata: {name: journaltest}
	spec:
	  filesystem:
	    writable: ["\${WORKSPACE}", /dev/null]
	YAML
	J=$T/state/j.jsonl
	FENCE=("$AF" run --policy "$T/p.yaml" --workspace "$T/ws" --journal "$J")
}

# Skip when this host cannot load the tracepoint programs at all.
need_process_events() {
	case $ERR in
	*"no process events"*) skip "this host cannot load the tracepoint programs: $ERR" ;;
	esac
}

# A script that writes, deletes and spawns children, two levels deep.
SCRIPT='echo hi >a; rm a; /bin/echo one two >/dev/null; sh -c "/bin/true x; exit 4"; exit 3'

test_exec_records_pid_ppid_argv() {
	setup
	assert_exit 3 "${FENCE[@]}" -- sh -c "$SCRIPT"
	need_process_events
	assert_contains "$ERR" "journal $J: " "summary"
	assert_contains "$ERR" "processes started: 5, execs: 5" "summary counts"
	$PY - "$J" "$SCRIPT" <<-'EOF' || fail "journal content: $(cut -c1-300 "$J")"
	import json, sys
	recs = [json.loads(l) for l in open(sys.argv[1])]
	assert [r["seq"] for r in recs] == list(range(len(recs))), "seq"
	start, end = recs[0], recs[-1]
	assert start["type"] == "fence_start" and start["backend"] and start["kernel"], start
	assert start["command"] == ["sh", "-c", sys.argv[2]], start["command"]
	assert end["type"] == "fence_end" and end["exit_status"] == 3, end
	execs = [r for r in recs if r["type"] == "exec"]
	by_argv = {tuple(r["argv"]): r for r in execs}
	root = by_argv[("sh", "-c", sys.argv[2])]
	assert root["ppid"] == start["supervisor_pid"], root
	assert root["ancestry"] == [root["pid"]], root
	echo = by_argv[("/bin/echo", "one", "two")]
	assert echo["ppid"] == root["pid"] and echo["filename"] == "/bin/echo", echo
	assert echo["ancestry"] == [echo["pid"], root["pid"]], echo
	inner = by_argv[("sh", "-c", "/bin/true x; exit 4")]
	true = by_argv[("/bin/true", "x")]
	assert inner["ppid"] == root["pid"], inner
	assert true["ppid"] == inner["pid"], (true, inner)
	assert true["ancestry"] == [true["pid"], inner["pid"], root["pid"]], true
	exits = {r["pid"]: r for r in recs if r["type"] == "exit"}
	assert exits[inner["pid"]]["status"] == 4, exits[inner["pid"]]
	assert exits[root["pid"]]["status"] == 3, exits[root["pid"]]
	forks = [r for r in recs if r["type"] == "fork"]
	assert {f["child"] for f in forks} >= {echo["pid"], inner["pid"], true["pid"]}, forks
	assert end["execs"] == 5 and end["lost"] == 0 and end["records"] == len(recs), end
	EOF
}

test_file_effects_and_refusals() {
	setup
	# Relative paths are resolved while their process lives: the shell
	# does; the short-lived commands get absolute paths.
	local ws=$T/ws
	assert_exit 0 "${FENCE[@]}" -- sh -c "echo hi >a; mkdir $ws/d; mv $ws/a $ws/d/b; rm $ws/d/b
		rmdir $ws/d; ln -s rel $ws/l; echo x >$T/outside 2>/dev/null; rm $T/p.yaml 2>/dev/null; true"
	need_process_events
	assert_contains "$ERR" "denials: 2, lost events: 0" "summary"
	assert_exit 0 "$AF" tail --journal "$J" --type file,deny
	assert_contains "$OUT" "sh              create/open for write $ws/a" "create"
	assert_contains "$OUT" "mkdir           mkdir $ws/d" "mkdir"
	assert_contains "$OUT" "mv              rename $ws/a to $ws/d/b" "rename"
	assert_contains "$OUT" "rm              unlink $ws/d/b" "unlink"
	assert_contains "$OUT" "rmdir           rmdir $ws/d" "rmdir"
	assert_contains "$OUT" "ln              symlink $ws/l -> rel" "symlink"
	assert_contains "$OUT" "refused create/open for write $T/outside (Permission denied)" "refused create"
	assert_contains "$OUT" "refused unlink $T/p.yaml (Permission denied)" "refused unlink"
	assert_missing "$T/outside" "outside file"
	$PY - "$J" <<-'EOF' || fail "records: $(grep '"deny"' "$J")"
	import json, sys
	recs = [json.loads(l) for l in open(sys.argv[1])]
	deny = [r for r in recs if r["type"] == "deny"]
	assert len(deny) == 2 and all(r["verdict"] == "refused" and r["ret"] == -13 for r in deny), deny
	rm = [r for r in deny if r["op"] == "unlink"][0]
	assert rm["argv"][0] == "rm" and rm["ancestry"][-1] == recs[1]["pid"], rm
	end = recs[-1]
	files = [r for r in recs if r["type"] == "file"]
	assert end["file_effects"] == len(files) + 2 and end["refused"] == 2, end
	EOF
}

# 100000 failing unlinks pour in faster than the journal takes them:
# the ring buffer overflows, and what was lost is said, to the event.
test_flood_lost_records_add_up() {
	setup
	assert_exit 0 "${FENCE[@]}" -- $PY -c '
import os
for i in range(100000):
    try: os.unlink("nx")
    except OSError: pass'
	need_process_events
	$PY - "$J" <<-'EOF' || fail "counts: $(tail -1 "$J")"
	import json, sys
	recs = [json.loads(l) for l in open(sys.argv[1])]
	unlinks = sum(1 for r in recs if r["type"] == "file" and r["op"] == "unlink")
	lost = sum(r["count"] for r in recs if r["type"] == "lost")
	end = recs[-1]
	assert end["lost"] == lost, (end, lost)
	# A dropped event is an unlink, or now and then python's own exit
	# (the buffer may still be full when it ends).
	assert 100000 <= unlinks + lost <= 100001, (unlinks, lost)
	print("unlinks %d lost %d" % (unlinks, lost))
	EOF
	assert_exit 0 "$AF" log verify "$J"
}

test_log_verify_intact_and_tampered() {
	setup
	assert_exit 0 "${FENCE[@]}" -- sh -c 'for i in 1 2 3; do /bin/true $i; done'
	assert_exit 0 "$AF" log verify "$J"
	assert_contains "$OUT" "$J: intact: " "intact"
	n=$(wc -l <"$J")
	[ "$n" -ge 3 ] || fail "too few records: $n"
	assert_exit 0 "$AF" log verify --json "$J"
	printf '%s' "$OUT" | $PY -c 'import json,sys; d=json.load(sys.stdin); assert d["status"] == "intact", d' ||
		fail "--json: $OUT"

	cp "$J" orig
	# Edit one byte inside record 1.
	sed '2s/"type"/"typf"/' orig >"$J"
	assert_exit 1 "$AF" log verify "$J"
	assert_contains "$OUT" "broken at seq 1 ($J line 2): record edited" "edited"
	# Delete record 1.
	sed '2d' orig >"$J"
	assert_exit 1 "$AF" log verify "$J"
	assert_contains "$OUT" "broken at seq 2 ($J line 2): records deleted: seq 2 follows seq 0" "deleted"
	# Swap records 1 and 2.
	awk 'NR == 2 { held = $0; next } NR == 3 { print; print held; next } 1' orig >"$J"
	assert_exit 1 "$AF" log verify "$J"
	assert_contains "$OUT" "records reordered: seq 2 follows seq 0, and seq 1 comes later" "reordered"
	# Cut in the middle of the last line: a crash, not tampering.
	head -c -7 orig >"$J"
	assert_exit 4 "$AF" log verify "$J"
	assert_contains "$OUT" "incomplete at seq $((n - 1))" "truncated"
	assert_contains "$OUT" "truncated last line" "truncated"
	# The last record gone.
	head -n -1 orig >"$J"
	assert_exit 4 "$AF" log verify "$J"
	assert_contains "$OUT" "no fence_end record" "tail lost"
	# Several journals: the worst status decides.
	cp orig "$T/state/good.jsonl"
	assert_exit 4 "$AF" log verify "$T/state/good.jsonl" "$J"
	assert_exit 2 "$AF" log verify
	assert_exit 2 "$AF" log frob x
	assert_exit 1 "$AF" log verify "$T/state/none.jsonl"
	assert_contains "$OUT" "cannot read: No such file or directory" "missing file"
}

test_rotation_chain_continues() {
	setup
	FENCE+=(--journal-max 4K)
	assert_exit 0 "${FENCE[@]}" -- sh -c 'for i in $(seq 1 40); do /bin/true $i; done'
	need_process_events
	[ -e "$J.1.gz" ] && [ -e "$J.2.gz" ] || fail "no rotated files: $(ls state)"
	gzip -t "$J.1.gz" || fail "$J.1.gz is not gzip"
	assert_exit 0 "$AF" log verify "$J"
	assert_contains "$OUT" "intact" "rotated journal"
	assert_exit 0 "$AF" log verify "$J.2.gz"
	mv "$J.2.gz" "$T/moved.gz"
	assert_exit 1 "$AF" log verify "$J"
	assert_contains "$OUT" "$J.2.gz is missing" "deleted rotated file"
	assert_exit 2 "$AF" run --journal-max 1x -- true
	assert_contains "$ERR" "not a size" "bad size"
}

test_journal_outside_writable_paths() {
	setup
	assert_exit 2 "$AF" run --policy p.yaml --workspace ws --journal ws/j.jsonl -- true
	assert_contains "$ERR" "--journal $T/ws/j.jsonl lies beneath the writable path $T/ws" "inside workspace"
	ln -s ws link
	assert_exit 2 "$AF" run --policy p.yaml --workspace ws --journal "$T/link/sub/j.jsonl" -- true
	assert_contains "$ERR" "lies beneath the writable path" "through a symlink"
	XDG_STATE_HOME=$T/ws/state assert_exit 2 "$AF" run --policy p.yaml --workspace ws -- true
	assert_contains "$ERR" "the journal $T/ws/state/agentfence/" "default under workspace"
	touch state/exists.jsonl
	assert_exit 2 "$AF" run --policy p.yaml --workspace ws --journal state/exists.jsonl -- true
	assert_contains "$ERR" "exists: a journal is never appended to" "existing file"
	assert_no_leftovers
	# The default place, and none at all with --no-journal.
	XDG_STATE_HOME=$T/xdg assert_exit 0 "$AF" run --policy p.yaml --workspace ws -- true
	ls xdg/agentfence/*.jsonl >/dev/null 2>&1 || fail "no journal under XDG_STATE_HOME: $(ls -R xdg)"
	XDG_STATE_HOME=$T/xdg2 assert_exit 0 "$AF" run --no-journal --policy p.yaml --workspace ws -- true
	assert_missing xdg2 "--no-journal"
	assert_not_contains "$ERR" "journal" "--no-journal summary"
}

test_tail_lines_types_json() {
	setup
	assert_exit 0 "${FENCE[@]}" -- sh -c '/bin/echo tailme >/dev/null'
	need_process_events
	assert_exit 0 "$AF" tail --journal "$J"
	assert_contains "$OUT" "exec /bin/echo tailme" "exec line"
	assert_contains "$OUT" "fence end: exit 0" "end line"
	assert_not_contains "$OUT" $'\033[' "no colours when not a tty"
	assert_exit 0 "$AF" tail --journal "$J" --type exec
	assert_not_contains "$OUT" "fence end" "--type exec"
	assert_eq 2 "$(printf '%s\n' "$OUT" | wc -l)" "two execs"
	assert_exit 0 "$AF" tail --json --type exit,exec --journal "$J"
	printf '%s\n' "$OUT" | $PY -c '
import json, sys
types = {json.loads(l)["type"] for l in sys.stdin}
assert types == {"exec", "exit"}, types' || fail "--json: $OUT"
	assert_exit 2 "$AF" tail
	assert_exit 1 "$AF" tail --journal "$T/none"
}

test_tail_follow_sees_live_records() {
	setup
	"${FENCE[@]}" -- sh -c 'sleep 0.5; /bin/echo late >/dev/null; sleep 0.3' >run.out 2>run.err &
	local run=$! i
	for i in $(seq 50); do [ -s "$J" ] && break; sleep 0.05; done
	[ -s "$J" ] || fail "no journal appeared: $(cat run.err)"
	timeout 10 "$AF" tail --follow --journal "$J" >tail.out 2>tail.err &
	local tail=$!
	# The exec happens after tail started; tail must show it before the end.
	for i in $(seq 100); do grep -q "exec /bin/echo late" tail.out && break; sleep 0.02; done
	grep -q "exec /bin/echo late" tail.out || { kill $tail; fail "tail --follow missed the exec: $(cat tail.out tail.err)"; }
	grep -q "fence end" tail.out && fail "the record arrived only at the end"
	wait $run || fail "run failed: $(cat run.err)"
	wait $tail || fail "tail --follow did not stop at fence_end: $(cat tail.err)"
	assert_contains "$(cat tail.out)" "fence end: exit 0" "follow ends at fence_end"
}

test_exec_label_attributes_subtree() {
	setup
	assert_exit 0 "${FENCE[@]}" -- sh -c "
		$AF exec --label 'tool=Bash id=toolu_01' -- sh -c '/bin/true a; $AF exec -l inner -- /bin/echo b >/dev/null; (sleep 0.2 &)'
		/bin/true c"
	need_process_events
	$PY - "$J" <<-'EOF' || fail "labels: $("$AF" tail --journal "$J")"
	import json, sys
	recs = [json.loads(l) for l in open(sys.argv[1])]
	execs = {tuple(r["argv"]): r for r in recs if r["type"] == "exec"}
	def label(*argv):
	    return execs[argv].get("label")
	assert label("/bin/true", "a") == "tool=Bash id=toolu_01", execs
	assert label("/bin/echo", "b") == "inner"
	assert label("/bin/true", "c") is None
	sleep = execs[("sleep", "0.2")]
	assert sleep["label"] == "tool=Bash id=toolu_01", sleep
	# The daemonized sleep outlived its tool call; its exit keeps the label.
	ex = [r for r in recs if r["type"] == "exit" and r["pid"] == sleep["pid"]]
	assert ex and ex[0]["label"] == "tool=Bash id=toolu_01", ex
	EOF
	assert_exit 0 "$AF" tail --journal "$J" --label inner --type exec
	assert_contains "$OUT" "exec /bin/echo b  [inner]" "tail --label"
	assert_not_contains "$OUT" "/bin/true" "tail --label filters"
}

test_exec_usage() {
	assert_exit 2 "$AF" exec -- true
	assert_contains "$ERR" "agentfence exec: no label" "no label"
	assert_exit 2 "$AF" exec --label $'a\tb' -- true
	assert_contains "$ERR" "control characters" "control characters"
	assert_exit 2 "$AF" exec --label "$(printf 'x%.0s' $(seq 201))" -- true
	assert_exit 2 "$AF" exec --label x
	assert_exit 5 "$AF" exec --label x -- sh -c 'exit 5'
	assert_exit 127 "$AF" exec --label x -- no-such-command-af
	assert_exit 0 "$AF" exec --help
}

af_main "$@"
