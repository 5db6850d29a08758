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
	assert_contains "$OUT" "refused create/open for write $T/outside (Read-only file system)" "refused create"
	assert_contains "$OUT" "refused unlink $T/p.yaml (Read-only file system)" "refused unlink"
	assert_missing "$T/outside" "outside file"
	$PY - "$J" <<-'EOF' || fail "records: $(grep '"deny"' "$J")"
	import json, sys
	recs = [json.loads(l) for l in open(sys.argv[1])]
	deny = [r for r in recs if r["type"] == "deny"]
	# -EROFS: the read-only mounts beneath the Landlock backend (mountns.c)
	assert len(deny) == 2 and all(r["verdict"] == "refused" and r["ret"] == -30 for r in deny), deny
	rm = [r for r in deny if r["op"] == "unlink"][0]
	# argv once, on the exec record the others name.
	assert "argv" not in rm and recs[rm["exec_seq"]]["type"] == "exec", rm
	assert recs[rm["exec_seq"]]["argv"][0] == "rm" and recs[rm["exec_seq"]]["pid"] == rm["pid"], rm
	assert rm["ancestry"][-1] == recs[1]["pid"], rm
	assert all("argv" not in r for r in recs if r["type"] in ("file", "deny", "exit") and "exec_seq" in r)
	end = recs[-1]
	files = [r for r in recs if r["type"] == "file"]
	assert end["file_effects"] == len(files) + 2 and end["refused"] == 2, end
	EOF
}

# Repeated opens for writing of one file by one thread are coalesced in
# the kernel (bpf/fxco.bpf.h): one record at once, then records of the
# repeats with their count, none lost, none counted twice, each naming
# the first; another process's opens of the same file have their own
# records; a loop longer than the 500 ms window has its counts recorded
# while it runs; refusals are never coalesced (one record each).
test_repeated_opens_coalesced() {
	setup
	local ws=$T/ws
	assert_exit 0 "${FENCE[@]}" -- $PY -c '
import os, sys, time
ws, out = sys.argv[1], sys.argv[2]
W = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
for i in range(5000):
    os.close(os.open(ws + "/a", W))
if os.fork() == 0:
    for i in range(100):
        os.close(os.open(ws + "/a", W))
    os._exit(0)
os.wait()
t = time.monotonic()
n = 0
while time.monotonic() - t < 1.3:
    os.close(os.open(ws + "/b", W))
    n += 1
    time.sleep(0.001)
open(ws + "/nb", "w").write(str(n))
# Another name for the same file, and a deleted file whose ino may go to
# the next one: other objects, each its own first record.
for i in range(100):
    os.close(os.open(ws + "/c", W))
os.rename(ws + "/c", ws + "/d")
for i in range(100):
    os.close(os.open(ws + "/d", W))
os.unlink(ws + "/d")
for i in range(100):
    os.close(os.open(ws + "/e", W))
for i in range(50):
    try:
        os.open(out, W)
    except OSError:
        pass
' "$ws" "$T/outside"
	need_process_events
	assert_exit 0 "$AF" log verify "$J"
	PYTHONPATH=$TOP/tests/helpers $PY - "$J" "$ws" "$T/outside" <<-'EOF' || fail "records: $(grep -c '"coalesced"' "$J") coalesced; $(tail -1 "$J")"
	import sys
	from coalesced import load, opens as opens_of, effects
	j, ws, outside = sys.argv[1:4]
	recs, files, py, child = load(j)
	opens = lambda path, pid: opens_of(files, path, pid)
	nb = int(open(ws + "/nb").read())
	n, co = opens(ws + "/a", py)
	assert n == 5000 and len(co) >= 1, (n, co)
	n, co = opens(ws + "/a", child)
	assert n == 100, n
	n, co = opens(ws + "/b", py)
	assert n == nb, (n, nb)
	# Recorded while the loop ran: within about the window each.
	assert len(co) >= 2, co
	for f in ("c", "d", "e"):
	    n, co = opens(ws + "/" + f, py)
	    assert n == 100, (f, n)
	# Every refusal its own record.
	deny = [r for r in recs if r["type"] == "deny" and r["path"] == outside]
	assert len(deny) == 50 and not any("coalesced" in r for r in deny), len(deny)
	end = recs[-1]
	total = effects(files, end)
	assert end["file_effects"] == total + 50 and end["refused"] == 50 and end["lost"] == 0, (end, total)
	EOF
}

# Allowed connects to one destination, repeated by one thread: one record
# at once, then records of the repeats' count; a denied destination keeps
# a record per attempt.
test_repeated_connects_coalesced() {
	setup
	cat >>p.yaml <<-YAML
	  network:
	    allow:
	      - {cidr: 127.0.0.1/32, protocol: tcp}
	  events: [exec, fork, exit, file, deny, connect]
	YAML
	assert_exit 0 "${FENCE[@]}" -- $PY -c '
import socket
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(64)
port = srv.getsockname()[1]
for i in range(500):
    c = socket.create_connection(("127.0.0.1", port))
    srv.accept()[0].close()
    c.close()
for i in range(20):
    s = socket.socket()
    try:
        s.connect(("127.0.0.2", port))
    except OSError:
        pass
    s.close()
'
	assert_exit 0 "$AF" log verify "$J"
	$PY - "$J" <<-'EOF' || fail "records: $(grep -c '"connect"' "$J") connect; $(tail -1 "$J")"
	import json, sys
	recs = [json.loads(l) for l in open(sys.argv[1])]
	ok = [r for r in recs if r["type"] == "connect" and "127.0.0.1" in r["effect"]]
	assert len(ok) >= 2 and "coalesced" not in ok[0], ok[:3]
	assert sum(r["coalesced"]["count"] if "coalesced" in r else 1 for r in ok) == 500, ok
	deny = [r for r in recs if r["type"] == "deny" and "127.0.0.2" in r["effect"]]
	assert len(deny) == 20 and not any("coalesced" in r for r in deny), deny
	end = recs[-1]
	assert end["connects"] == 500 and end["lost"] == 0, end
	EOF
}

# 100000 failing unlinks pour in faster than the journal takes them:
# the ring buffer overflows, and what was lost is said, to the event.
test_flood_lost_records_add_up() {
	setup
	AF_RINGBUF_BYTES=16384 "${FENCE[@]}" -- $PY -c '
import os
for i in range(100000):
    try: os.unlink("nx")
    except OSError: pass' >run.out 2>run.err || fail "run: $(tail -3 run.err)"
	ERR=$(cat run.err)
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
	assert lost > 0, "a 16K ring buffer did not overflow"
	# The kernel's own drop counter, as run read it, agrees.
	import re
	warn = re.search(r"(\d+) events were lost", open("run.err").read())
	assert warn and int(warn.group(1)) == lost, (warn and warn.group(0), lost)
	print("unlinks %d lost %d" % (unlinks, lost))
	EOF
	assert_exit 0 "$AF" log verify "$J"
}

# Retention: a run's journal directory stays within --journal-keep.
# The old finished journal of another run goes by age, this journal's
# oldest rotated files by size, oldest first, with a retention record
# each time; a journal that never ended (running or crashed), a file that
# is not a journal and the live file stay. verify accepts the beginning
# retention journaled, and no other: a rotated file deleted by hand
# beyond it is a deletion.
test_retention_bounds_directory() {
	setup
	"$AF" run --policy p.yaml --workspace ws --journal "$T/state/old.jsonl" -- true 2>/dev/null ||
		fail "the old run"
	head -n 1 state/old.jsonl >state/crashed.jsonl
	printf '{"seq":0,"not":"a journal"}\n%.0s' $(seq 100) >state/notes.jsonl
	touch -d '100 days ago' state/old.jsonl state/crashed.jsonl state/notes.jsonl
	"${FENCE[@]}" --journal-max 64K --journal-keep 100K,90 -- $PY -c '
import os, time
for i in range(20000):
    try: os.unlink("nx")
    except OSError: pass
    # Time for the compression thread (lowest priority): retention
    # removes compressed files only, and with 64K files a flood outruns it.
    if i % 500 == 0: time.sleep(0.02)' >run.out 2>run.err || fail "run: $(tail -3 run.err)"
	ERR=$(cat run.err)
	need_process_events
	[ ! -e state/old.jsonl ] || fail "the old finished journal is still there"
	[ -e state/crashed.jsonl ] && [ -e state/notes.jsonl ] || fail "removed what is not a finished journal: $(ls state)"
	[ ! -e "$J.1.gz" ] && [ ! -e "$J.1" ] || fail "the oldest rotated file is still there: $(ls state)"
	local total
	total=$(cat state/j.jsonl* | wc -c)
	[ "$total" -le $((100 * 1024 + 2 * 65536 + 8192)) ] || fail "the directory holds $total bytes: $(ls -l state)"
	assert_exit 0 "$AF" log verify "$J"
	assert_contains "$OUT" "removed by retention, as the journal says" "verify says why it begins later"
	$PY - "$J" <<-'EOF' || fail "retention records"
	import glob, gzip, json, sys
	base = sys.argv[1]
	recs = [json.loads(l) for l in open(base)]
	for p in sorted(glob.glob(base + ".*.gz")):
	    recs += [json.loads(l) for l in gzip.open(p)]
	ret = [r for r in recs if r["type"] == "retention"]
	assert ret, "no retention record"
	# (old.jsonl's went with the first file, by size, later.)
	assert any("kept_from_seq" in r and r["reason"].startswith("size") for r in ret), ret
	assert not any(n in r["removed"] for r in ret for n in ("crashed.jsonl", "notes.jsonl", "j.jsonl")), ret
	print("records %d, lost %d" % (len(recs), recs[0]["lost"] if recs[0]["type"] == "fence_end" else -1))
	EOF
	# By age alone: a small directory, one finished journal 100 days old.
	"$AF" run --policy p.yaml --workspace ws --journal "$T/state/aged.jsonl" -- true 2>/dev/null ||
		fail "the aged run"
	touch -d '100 days ago' state/aged.jsonl
	"$AF" run --policy p.yaml --workspace ws --journal "$T/state/k.jsonl" --journal-keep 1G,90 -- true 2>/dev/null ||
		fail "the run by age"
	[ ! -e state/aged.jsonl ] || fail "the aged journal is still there"
	assert_contains "$(sed -n 2p state/k.jsonl)" '"type":"retention","removed":["aged.jsonl"],' "journaled"
	assert_contains "$(sed -n 2p state/k.jsonl)" '"reason":"age"' "by age"
	rm state/k.jsonl
	# Beyond what retention said: the oldest file left, deleted by hand.
	local first
	first=$(ls state | sed -n 's/^j\.jsonl\.\([0-9]*\)\.gz$/\1/p' | sort -n | head -1)
	[ -n "$first" ] || fail "no rotated file left: $(ls state)"
	rm "$J.$first.gz"
	assert_exit 1 "$AF" log verify "$J"
	assert_contains "$OUT" "no retention record of the journal says it begins there" "a deletion"
	assert_exit 2 "$AF" run --journal-keep 1X -- true
	assert_contains "$ERR" "--journal-keep '1X': not SIZE[,DAYS]" "bad value"
}

# Retention at a run's start reads the directory once: a directory of
# 400 finished journals under its bounds has none of them opened (each
# was read twice, and the directory once for each, at every start:
# 140 ms a run with 640 journals). Their access times tell: set back
# two days, a read would bring them forward (relatime).
test_retention_reads_no_journal_under_bounds() {
	setup
	"$AF" run --policy p.yaml --workspace ws --journal "$T/state/old.jsonl" -- true 2>/dev/null ||
		fail "the old run"
	touch -a -d '2 days ago' state/old.jsonl
	cat state/old.jsonl >/dev/null
	[ "$(stat -c %X state/old.jsonl)" -gt $(($(date +%s) - 3600)) ] ||
		skip "no access times on this filesystem (noatime): nothing would tell a read"
	local i
	for i in $(seq 400); do cp state/old.jsonl "state/f$i.jsonl"; done
	touch -a -d '2 days ago' state/f*.jsonl
	"${FENCE[@]}" --journal-keep 1G,90 -- true 2>run.err || fail "run: $(tail -3 run.err)"
	local read
	read=$(find state -name 'f*.jsonl' -amin -60 | wc -l)
	assert_eq 0 "$read" "journals read by the start's retention"
	assert_eq 400 "$(ls state/f*.jsonl | wc -l)" "journals kept under the bounds"
	# Over them, the oldest go: each is read then (finished or not),
	# and goes with its family; a name that only begins like it stays.
	echo a >state/f1.jsonl.1.gz
	echo b >state/f1.jsonl.supervisor-exit
	echo c >state/f1.jsonl.bak
	touch -d '100 days ago' state/f1.jsonl* state/f2.jsonl
	"$AF" run --policy p.yaml --workspace ws --journal "$T/state/k.jsonl" --journal-keep 1G,90 -- true 2>run.err ||
		fail "run: $(tail -3 run.err)"
	[ ! -e state/f1.jsonl ] && [ ! -e state/f2.jsonl ] || fail "the aged journals are still there"
	assert_eq 398 "$(ls state/f*.jsonl | wc -l)" "the others kept"
	[ ! -e state/f1.jsonl.1.gz ] && [ ! -e state/f1.jsonl.supervisor-exit ] ||
		fail "the aged journal's family is still there: $(ls state/f1.jsonl*)"
	[ -e state/f1.jsonl.bak ] || fail "removed a file that is not of the journal's family"
}

# What the watcher leaves of a SIGKILLed run: its fence, frozen.
stop_killed_fence() {
	[ -d "$KILLED_CG" ] || return 0
	AGENTFENCE_CONTROL= "$AF" stop "$(stat -c %i "$KILLED_CG")" >/dev/null 2>&1
	echo 1 >"$KILLED_CG/cgroup.kill" 2>/dev/null
	for _ in $(seq 50); do rmdir "$KILLED_CG" 2>/dev/null && break; [ -d "$KILLED_CG" ] || break; sleep 0.1; done
}

# Group commit: a supervisor killed (SIGKILL, no chance to flush) in
# the middle of a flood leaves a journal that verifies up to its last
# complete record: what is lost is the batch in memory at the kill and,
# when the kill comes inside the batch's write(2) (the kernel stops a
# write between pages for a fatal signal), the tail of the record it
# cut. Each whole record on disk verifies, the count of records verify
# reports is the files' whole lines, and verify calls the journal
# incomplete (no fence_end, or the cut line), never broken. The rotation
# at 1M is part of it: the kill may come while a rotated file is being
# compressed (FILE.N then stands for FILE.N.gz).
test_sigkill_mid_flood_verifies_to_last_record() {
	setup
	"${FENCE[@]}" --journal-max 1M -- $PY -c '
import os
for i in range(20000000):
    try: os.unlink("nx")
    except OSError: pass' >run.out 2>run.err 9>&- &
	local run=$! i size=0
	KILLED_CG=$(cgroup2_mount)/agentfence/run-$run
	trap stop_killed_fence EXIT
	for i in $(seq 300); do
		size=$(cat "$J" "$J".* 2>/dev/null | wc -c)
		[ "$size" -gt 3000000 ] && break
		sleep 0.05
	done
	[ "$size" -gt 3000000 ] || { kill -9 $run; ERR=$(cat run.err); need_process_events; fail "the journal did not grow: $size bytes"; }
	kill -9 $run
	wait $run 2>/dev/null
	# The watcher freezes the fence: nobody writes the journal now.
	for i in $(seq 100); do [ -e "$J.supervisor-exit" ] && break; sleep 0.1; done
	assert_contains "$(cat "$J.supervisor-exit")" '"result":"frozen"' "the watcher froze the fence"
	assert_exit 4 "$AF" log verify --json "$J"
	$PY - "$J" "$OUT" <<-'EOF' || fail "after the kill: $(tail -c 300 "$J"); $OUT"
	import glob, gzip, json, os, sys
	base, out = sys.argv[1], json.loads(sys.argv[2])
	def num(p):
	    return int(p[len(base) + 1:].split(".")[0])
	rot = sorted({num(p) for p in glob.glob(base + ".[0-9]*") if not p.endswith(".tmp")})
	assert rot, "no rotation at 1M"
	lines = []
	for n in rot:
	    p = base + ".%d.gz" % n
	    data = gzip.open(p).read() if os.path.exists(p) else open(base + ".%d" % n, "rb").read()
	    assert data.endswith(b"\n"), "rotated file %d cut" % n
	    lines += data.split(b"\n")[:-1]
	live = open(base, "rb").read()
	whole = live.split(b"\n")
	cut = whole[-1]
	lines += whole[:-1]
	assert out["status"] == "incomplete", out
	assert out["records"] == len(lines), (out["records"], len(lines))
	last = json.loads(lines[-1])
	assert last["seq"] == len(lines) - 1 and last["hash"] == out["head"], (last["seq"], out)
	if cut:
	    assert "truncated last line" in out["why"] and out["seq"] == len(lines), out
	else:
	    assert "no fence_end" in out["why"], out
	print("records %d in %d rotated files and the live one; cut tail: %d bytes" % (len(lines), len(rot), len(cut)))
	EOF
}

# One fence's flood costs another fence none of its events: fence A
# overflows a small ring buffer while fence B's every event arrives.
# B stays within what its own buffer holds (300 events of 592 bytes in
# the 256 KiB its policy asks: spec.event_buffer) even if its reader is
# slow: A's supervisor takes CPU. (Each fence has its own buffer today;
# the node must keep them apart.)
test_flood_isolation_between_fences() {
	setup
	mkdir -p wsa wsb
	sed 's/^spec:$/spec:\n  event_buffer: 256KiB/' p.yaml >pb.yaml
	AF_RINGBUF_BYTES=16384 "$AF" run --policy p.yaml --workspace wsa --journal "$T/state/a.jsonl" -- $PY -c '
import os
open("started", "w").close()
for i in range(3000000):
    if os.path.exists("done"): break
    try: os.unlink("nx")
    except OSError: pass' >a.out 2>a.err &
	local a=$! i
	for i in $(seq 300); do [ -e wsa/started ] && break; sleep 0.1; done
	if [ ! -e wsa/started ]; then
		touch wsa/done
		wait $a
		ERR=$(cat a.err)
		need_process_events
		fail "fence A did not start: $(tail -3 a.err)"
	fi
	"$AF" run --policy pb.yaml --workspace wsb --journal "$T/state/b.jsonl" -- $PY -c '
import os
for i in range(300):
    try: os.unlink("nx%d" % i)
    except OSError: pass' >b.out 2>b.err
	local brc=$?
	touch wsa/done
	wait $a || fail "fence A: $(tail -3 a.err)"
	[ $brc = 0 ] || fail "fence B: $(tail -3 b.err)"
	ERR=$(cat b.err)
	need_process_events
	$PY - "$T/state" <<-'EOF' || fail "isolation: $(tail -1 "$T/state/a.jsonl"; tail -1 "$T/state/b.jsonl")"
	import json, sys
	def recs(n):
	    return [json.loads(l) for l in open("%s/%s.jsonl" % (sys.argv[1], n))]
	a, b = recs("a"), recs("b")
	lost_a = sum(r["count"] for r in a if r["type"] == "lost")
	assert lost_a > 0 and a[-1]["lost"] == lost_a, ("fence A did not overflow", a[-1])
	unl = {r["path"].rsplit("/", 1)[-1] for r in b if r["type"] == "file" and r["op"] == "unlink"}
	assert unl == {"nx%d" % i for i in range(300)}, (len(unl), b[-1])
	assert b[-1]["lost"] == 0 and not [r for r in b if r["type"] == "lost"], b[-1]
	print("A lost %d; B got all %d" % (lost_a, len(unl)))
	EOF
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

# The fence id run -v prints, once the fence is up.
fence_id_of() {	# stderr-file
	local i id
	for i in $(seq 100); do
		id=$(sed -n 's/.*agentfence tail --fence \([0-9]*\) --follow.*/\1/p' "$1" | head -1)
		[ -n "$id" ] && [ -S "/run/agentfence/$id.sock" ] && { echo "$id"; return 0; }
		sleep 0.05
	done
	return 1
}

# tail --fence --follow shows a record of a running fence within 100 ms
# of the event (the record's kernel time against the time tail's line
# arrives), then stops at fence_end.
test_tail_fence_follow_latency() {
	setup
	"${FENCE[@]}" -v -- sh -c 'sleep 0.8; /bin/echo live-marker >/dev/null; sleep 0.3' >run.out 2>run.err &
	local run=$! id
	id=$(fence_id_of run.err) || { kill $run; fail "no fence id, no socket: $(grep -v libbpf run.err | tail -5)"; }
	$PY - "$AF" "$id" <<-'EOF' || { kill $run 2>/dev/null; fail "latency"; }
	import datetime, json, subprocess, sys, time
	p = subprocess.Popen([sys.argv[1], "tail", "--fence", sys.argv[2], "--follow", "--json"],
	                     stdout=subprocess.PIPE)
	seen = None
	for line in p.stdout:
	    now = time.time()
	    r = json.loads(line)
	    if r["type"] == "exec" and r["argv"] == ["/bin/echo", "live-marker"]:
	        t = datetime.datetime.strptime(r["time"], "%Y-%m-%dT%H:%M:%S.%fZ")
	        seen = now - t.replace(tzinfo=datetime.timezone.utc).timestamp()
	        last = r["type"]
	    last = r["type"]
	assert p.wait(10) == 0, p.returncode
	assert seen is not None, "the exec never came"
	assert last == "fence_end", last
	print("latency %.1f ms" % (seen * 1000))
	assert -0.005 < seen < 0.100, "latency %.1f ms" % (seen * 1000)
	EOF
	wait $run || fail "run failed: $(grep -v libbpf run.err | tail -5)"
	assert_missing "/run/agentfence/$id.sock" "socket removed at the end"
	# Without --follow: the records so far, from the journal.
	assert_exit 1 "$AF" tail --fence "$id"
	assert_contains "$ERR" "no running fence $id (agentfence tail --fence list" "gone fence"
}

test_tail_fence_list_backlog_errors() {
	setup
	"${FENCE[@]}" -v -- sh -c '/bin/echo before >/dev/null; sleep 3' >run.out 2>run.err &
	local run=$! id
	id=$(fence_id_of run.err) || { kill $run; fail "no fence id: $(grep -v libbpf run.err | tail -5)"; }
	[ "$(stat -c %a /run/agentfence)" = 700 ] || fail "/run/agentfence is $(stat -c %a /run/agentfence)"
	[ "$(stat -c %a "/run/agentfence/$id.sock")" = 600 ] || fail "socket mode"
	sleep 0.3
	assert_exit 0 "$AF" tail --fence list
	assert_contains "$OUT" "$id " "list shows the fence"
	assert_contains "$OUT" "$J" "list shows its journal"
	assert_contains "$OUT" '["sh","-c","/bin/echo before >/dev/null; sleep 3"]' "list shows its command"
	# No --follow: what was journaled before, then done.
	assert_exit 0 "$AF" tail --fence "$id"
	assert_contains "$OUT" "exec /bin/echo before" "backlog"
	assert_not_contains "$OUT" "fence end" "not ended yet"
	assert_exit 2 "$AF" tail --fence abc
	assert_contains "$ERR" "--fence 'abc': not a fence id" "bad id"
	assert_exit 1 "$AF" tail --fence 123456789012
	assert_contains "$ERR" "no running fence 123456789012" "unknown id"
	assert_exit 2 "$AF" tail --fence "$id" --journal "$J"
	assert_contains "$ERR" "exclude each other" "both"
	wait $run || fail "run failed"
}

# A fenced process may not subscribe: not to its own fence, nor another.
test_tail_fence_refused_inside_fence() {
	setup
	"${FENCE[@]}" -v -- sh -c 'sleep 1.5' >run.out 2>run.err &
	local run=$! id
	id=$(fence_id_of run.err) || { kill $run; fail "no fence id"; }
	cat >p2.yaml <<-YAML
	apiVersion: agentfence/v1
	kind: Policy
	metadata: {name: inner}
	spec:
	  filesystem:
	    writable: ["\${WORKSPACE}"]
	YAML
	assert_exit 0 "$AF" run --policy p2.yaml --workspace ws --no-journal -- sh -c "
		$AF tail --fence $id --follow >$T/ws/in.out 2>$T/ws/in.err; echo \$? >$T/ws/in.rc"
	assert_file_eq ws/in.rc 1 "tail inside a fence fails"
	assert_contains "$(cat ws/in.err)" "did not answer" "refused"
	wait $run || fail "run failed"
}

# spec.events off: no such records (the kernel sends none).
test_spec_events_off() {
	setup
	printf '  events: [exec, deny]\n' >>p.yaml
	assert_exit 0 "${FENCE[@]}" -- sh -c "echo a >x; rm x; /bin/true; echo no >$T/outside 2>/dev/null; true"
	need_process_events
	$PY - "$J" <<-'EOF' || fail "records: $("$AF" tail --journal "$J")"
	import json, sys
	recs = [json.loads(l) for l in open(sys.argv[1])]
	types = [r["type"] for r in recs]
	assert "exec" in types, types
	assert not {"fork", "exit", "file"} & set(types), types
	deny = [r for r in recs if r["type"] == "deny"]
	assert len(deny) == 1 and deny[0]["op"] == "create/open for write", deny
	end = recs[-1]
	assert end["file_effects"] == 1 and end["exits"] == 0 and end["lost"] == 0, end
	EOF
	printf '  events: [fork, file]\n' >>p.yaml
	sed -i '/events: \[exec, deny\]/d' p.yaml
	rm -f "$J"
	assert_exit 0 "${FENCE[@]}" -- sh -c "echo a >x; /bin/true"
	assert_exit 0 "$AF" policy check --workspace "$T/ws" p.yaml
	assert_contains "$OUT" "spec.events does not list 'deny'" "warning"
	$PY - "$J" <<-'EOF' || fail "records: $("$AF" tail --journal "$J")"
	import json, sys
	types = {json.loads(l)["type"] for l in open(sys.argv[1])}
	assert types == {"fence_start", "fork", "file", "fence_end"}, types
	EOF
}

# A subscriber that never reads: the supervisor journals on, the fence
# is not slowed; once it reads, a lost line says how many records it
# missed, and what it got plus what it lost is every record since.
test_tail_fence_stuck_subscriber() {
	setup
	"${FENCE[@]}" -v -- $PY -c '
import os, time
while not os.path.exists("go1"): time.sleep(0.01)
for i in range(30000):
    try: os.unlink("nx%d" % i)
    except OSError: pass
open("flooded", "w").close()
while not os.path.exists("go2"): time.sleep(0.01)
os.system("/bin/echo after >/dev/null")' >run.out 2>run.err &
	local run=$! id
	id=$(fence_id_of run.err) || { kill $run; fail "no fence id"; }
	$PY - "$id" "$T/ws" "$J" <<-'EOF' || { kill $run 2>/dev/null; fail "stuck subscriber"; }
	import json, os, socket, sys, time
	s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
	s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
	s.connect("/run/agentfence/%s.sock" % sys.argv[1])
	ws, j = sys.argv[2], sys.argv[3]
	open(ws + "/go1", "w").close()
	t0 = time.time()
	while not os.path.exists(ws + "/flooded"):
	    assert time.time() - t0 < 30, "the flood did not end"
	    time.sleep(0.01)
	# The supervisor keeps journaling while we do not read.
	def journaled():
	    n = 0
	    for l in open(j):
	        r = json.loads(l)
	        if r["type"] == "file" and r["op"] == "unlink": n += 1
	        if r["type"] == "lost": n += r["count"]
	    return n
	while journaled() < 30000:
	    assert time.time() - t0 < 30, "journal stalled at %d" % journaled()
	    time.sleep(0.05)
	# Now read everything, then let the fence end.
	s.setblocking(False)
	buf = b""
	def drain():
	    global buf
	    try:
	        while True:
	            d = s.recv(1 << 20)
	            if not d: return False
	            buf += d
	    except BlockingIOError:
	        return True
	drain()
	open(ws + "/go2", "w").close()
	s.setblocking(True)
	while True:
	    d = s.recv(1 << 20)
	    if not d: break
	    buf += d
	lines = [json.loads(l) for l in buf.decode().splitlines()]
	hello = lines[0]
	assert hello["type"] == "subscribed", hello
	got = [r for r in lines[1:] if r["type"] != "lost" or not r.get("subscriber")]
	lost = sum(r["count"] for r in lines[1:] if r["type"] == "lost" and r.get("subscriber"))
	recs = [json.loads(l) for l in open(j)]
	since = [r for r in recs if r["seq"] >= hello["next_seq"]]
	assert lost > 0, "no lost line"
	assert len(got) + lost == len(since), (len(got), lost, len(since))
	assert got[-1]["type"] == "fence_end", got[-1]
	assert [r["seq"] for r in got] == sorted(r["seq"] for r in got)
	assert any(r["type"] == "exec" and r["argv"] == ["/bin/echo", "after"] for r in got)
	print("got %d lost %d of %d" % (len(got), lost, len(since)))
	EOF
	wait $run || fail "run failed: $(grep -v libbpf run.err | tail -3)"
	assert_exit 0 "$AF" log verify "$J"
}

test_system_fence_journal_default() {
	setup
	env -u XDG_STATE_HOME "$AF" run --policy p.yaml --workspace ws -- true >run.out 2>run.err ||
		fail "run: $(cat run.err)"
	local j
	j=$(sed -n 's/^agentfence: journal \([^:]*\): .*/\1/p' run.err)
	case $j in
	/var/log/agentfence/*.jsonl) ;;
	*) fail "a root fence without XDG_STATE_HOME journals to '$j': $(cat run.err)" ;;
	esac
	[ -s "$j" ] || fail "$j is empty"
	rm -f "$j"
	[ "$(stat -c %a /var/log/agentfence)" = 750 ] || fail "/var/log/agentfence mode"
}

test_exec_label_attributes_subtree() {
	setup
	# The tool call leaves a daemonized sleep behind; the fence waits
	# (bounded) until it has exec'd, or the fence could end first.
	assert_exit 0 "${FENCE[@]}" -- sh -c "
		$AF exec --label 'tool=Bash id=toolu_01' -- sh -c '/bin/true a; $AF exec -l inner -- /bin/echo b >/dev/null; (sleep 0.2 & echo \$! >bg.pid)'
		read p <bg.pid
		i=0
		while [ \$i -lt 5000 ]; do
			read c </proc/\$p/comm 2>/dev/null && [ \"\$c\" = sleep ] && break
			i=\$((i + 1))
		done
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

# The journal's policy hash is of the bytes that were parsed: a policy
# from a pipe (/dev/stdin) cannot be read a second time to hash it.
test_policy_hash_of_parsed_bytes() {
	setup
	local want file_hash
	want=$(sha256sum <p.yaml | cut -d' ' -f1)
	"$AF" run --policy /dev/stdin --workspace ws --journal "$T/state/stdin.jsonl" -- true \
		<p.yaml >run.out 2>run.err || fail "run --policy /dev/stdin: $(cat run.err)"
	assert_exit 0 "$AF" run --policy p.yaml --workspace ws --journal "$T/state/file.jsonl" -- true
	# The built-in policy allows /tmp, where $T lies: journal outside it.
	local outside
	outside=$(mktemp -d /var/tmp/afjournal.XXXXXX)
	HOME=$T assert_exit 0 "$AF" run --workspace ws --journal "$outside/builtin.jsonl" -- true
	mv "$outside/builtin.jsonl" "$T/state/"
	rmdir "$outside"
	$PY - "$T/state" "$want" "$TOP/policies/coding-agent.yaml" <<-'EOF' || fail "policy hashes: $(head -c 600 "$T/state/stdin.jsonl")"
	import hashlib, json, sys
	d, want, builtin = sys.argv[1:4]
	def start(name):
	    return json.loads(open(f"{d}/{name}.jsonl").readline())["policy"]
	empty = hashlib.sha256(b"").hexdigest()
	s = start("stdin")
	assert s["sha256"] == want and s["sha256"] != empty, s
	assert s["file"] == "/dev/stdin" and s["name"] == "journaltest", s
	assert start("file")["sha256"] == want, start("file")
	b = start("builtin")
	assert b["sha256"] == hashlib.sha256(open(builtin, "rb").read()).hexdigest(), b
	EOF
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
