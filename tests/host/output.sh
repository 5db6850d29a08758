# SPDX-License-Identifier: GPL-2.0
# What the user sees (issue 12): what came from the fenced command
# (argv, paths, comm) printed escaped, on run's live lines and in tail.
source "$(dirname "$0")/../lib.sh"

PY=/usr/bin/python3

setup() {
	mkdir -p ws out state
	cat >p.yaml <<-YAML
	apiVersion: agentfence/v1
	kind: Policy
	metadata: {name: outputtest}
	spec:
	  filesystem:
	    writable: ["\${WORKSPACE}", /dev/null]
	  network:
	    unix: {allow: ["\${WORKSPACE}"]}
	YAML
	J=$T/state/j.jsonl
	FENCE=("$AF" run --policy "$T/p.yaml" --workspace "$T/ws" --journal "$J")
}

# no_forgery TEXT WHAT: no terminal control byte, and every line is one
# agentfence (or the probe) printed itself.
no_forgery() {
	local line
	case $1 in
	*$'\e'*|*$'\r'*|*$'\x9b'*) fail "$2: a control byte got through: $(printf '%s' "$1" | od -c | head -20)" ;;
	esac
	while IFS= read -r line; do
		case $line in
		*"forged by"*) case $line in " agentfence"*|"agentfence: forged"*) fail "$2: forged line: $line" ;; esac ;;
		esac
	done <<<"$1"
}

# An argv, a socket path, a file name and a command name, each with an
# escape sequence, a newline and a line that would pass for ours.
test_forged_lines_escaped() {
	setup
	local evil=$'x\e[2J\n agentfence: forged by argv\r' sock=$T/out/$'s\n agentfence: forged by path\e[2J.sock'
	local file=$T/out/$'f\n agentfence: forged by file'
	# Outside the fence: a socket file that is there (a connect to an
	# absent one is denied without a line).
	$PY -S -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$sock"
	cat >probe.py <<-'PYEOF'
	import ctypes, os, socket, sys
	ctypes.CDLL(None).prctl(15, b"\x1b[2J\nagentfence", 0, 0, 0)	# PR_SET_NAME
	try: socket.socket(socket.AF_UNIX).connect(sys.argv[1])
	except OSError as e: print("connect", e.errno)
	try: open(sys.argv[2], "w")
	except OSError as e: print("open", e.errno)
	os.execv("/bin/true", ["/bin/true", sys.argv[3]])
	PYEOF
	assert_exit 0 "${FENCE[@]}" -- $PY -S "$T/probe.py" "$sock" "$file" "$evil"
	assert_contains "$OUT" "connect 1" "the connect was denied"
	no_forgery "$ERR" "run's live lines"
	assert_contains "$ERR" 'agentfence: denied unix connect '"$T"'/out/s\n agentfence: forged by path\x1b[2J.sock (\x1b[2J\nagentfence pid ' "escaped denial line"
	assert_exit 0 "$AF" tail --journal "$J"
	no_forgery "$OUT" "tail"
	assert_contains "$OUT" 'exec /bin/true x\x1b[2J\n agentfence: forged by argv\r' "escaped argv"
	assert_contains "$OUT" '\x1b[2J\nagentfence refused create/open for write '"$T"'/out/f\n agentfence: forged by file' "escaped comm and file name"
	assert_contains "$OUT" '\x1b[2J\nagentfence denied unix connect '"$T"'/out/s\n' "escaped path"
	# --json stays the records as they are: JSON escapes, one line each.
	assert_exit 0 "$AF" tail --journal "$J" --json
	no_forgery "$OUT" "tail --json"
	printf '%s\n' "$OUT" | $PY -c '
import json, sys
recs = [json.loads(l) for l in sys.stdin]
assert any(r.get("argv") == ["/bin/true", sys.argv[1]] for r in recs), recs' "$evil" || fail "--json: $OUT"
}

# Workspaces that make the fence guard nothing: refused, exit 2, before
# anything is made. The command runs as root here (no sudo): its home is
# root's, from the passwd entry, whatever HOME says.
test_workspace_footguns_refused() {
	setup
	local home
	home=$(getent passwd root | cut -d: -f6)
	[ -d "$home" ] && [ "$home" != / ] || skip "root's home is '$home'"
	assert_exit 2 "$AF" run --no-journal --workspace / -- true
	assert_contains "$ERR" "agentfence run: workspace /: is /: " "workspace /"
	assert_contains "$ERR" "(--workspace DIR" "hint"
	assert_exit 2 env HOME=$T "$AF" run --no-journal --workspace "$home" -- true
	assert_contains "$ERR" "agentfence run: workspace $home: is the home of root ($home)" "workspace \$HOME"
	ln -s "$home" homelink
	assert_exit 2 "$AF" run --no-journal --workspace homelink -- true
	assert_contains "$ERR" "workspace homelink: is the home of root" "through a symlink"
	# The default workspace, cwd, in the home: said as such.
	(cd "$home" && exec "$AF" run --no-journal -- true) >run.out 2>run.err
	assert_eq 2 "$?" "default workspace in \$HOME: exit"
	assert_contains "$(cat run.err)" "workspace $home: the default workspace, the current directory, is the home of root" "default workspace"
	# The journal inside a workspace the policy does not make writable.
	cat >nows.yaml <<-YAML
	apiVersion: agentfence/v1
	kind: Policy
	metadata: {name: nows}
	spec:
	  filesystem:
	    writable: [/dev/null]
	YAML
	assert_exit 2 "$AF" run --policy nows.yaml --workspace ws --journal ws/sub/j.jsonl -- true
	assert_contains "$ERR" "agentfence run: workspace ws: contains the journal $T/ws/sub/j.jsonl: " "journal inside"
	assert_missing ws/sub "nothing made"
	XDG_STATE_HOME=$T/ws/state assert_exit 2 "$AF" run --policy nows.yaml --workspace ws -- true
	assert_contains "$ERR" "contains the journal $T/ws/state/agentfence/" "default journal inside"
	assert_exit 0 "$AF" run --policy nows.yaml --workspace ws --journal "$T/state/ok.jsonl" -- true
	assert_exit 0 "$AF" run --help
	assert_contains "$OUT" "not /, the user's home" "--help documents it"
}

# What policy check warns about is said by run, with --quiet and
# --no-journal too; missing deny_read paths only with -v.
test_policy_warnings_not_hidden() {
	setup
	cat >cap.yaml <<-YAML
	apiVersion: agentfence/v1
	kind: Policy
	metadata: {name: cap}
	spec:
	  filesystem:
	    writable: ["\${WORKSPACE}", /dev/null]
	    deny_read: [$T/no-such-secret]
	  process:
	    capabilities: [CAP_SYS_ADMIN]
	YAML
	local args
	for args in "--no-journal" "--no-journal --quiet" "--journal $T/state/w.jsonl"; do
		# shellcheck disable=SC2086
		assert_exit 0 "$AF" run $args --policy cap.yaml --workspace ws -- true
		assert_contains "$ERR" "cap.yaml:9:20: warning: spec.process.capabilities grants sys_admin" "warning with $args"
		assert_not_contains "$ERR" "no-such-secret" "missing deny_read without -v ($args)"
	done
	assert_exit 0 "$AF" run -v --no-journal --policy cap.yaml --workspace ws -- true
	assert_contains "$ERR" "deny_read path '$T/no-such-secret' does not exist" "missing deny_read with -v"
}

# tail: an unknown --type is an error that lists the known ones; FILE
# alone is --journal FILE.
test_tail_types_and_file_argument() {
	setup
	assert_exit 0 "${FENCE[@]}" -- /bin/echo tailme
	assert_exit 2 "$AF" tail --journal "$J" --type exec,bogus
	assert_contains "$ERR" "agentfence tail: --type bogus: unknown record type (fence_start, exec, fork" "unknown type"
	assert_contains "$ERR" "attach, attach_end, retention, k8s_pod, k8s_held, k8s_container, fence_end)" \
		"the attach and Kubernetes types listed"
	assert_eq "" "$OUT" "nothing printed"
	# An attach's records (tests/host/attach.sh tails a real one): known
	# types, and a journal without them prints nothing for them.
	assert_exit 0 "$AF" tail "$J" --type attach,attach_end,retention
	assert_eq "" "$OUT" "no attach records in a run's journal"
	assert_exit 2 "$AF" tail "$J" --type 'x'$'\e''[2J'
	no_forgery "$ERR" "--type's message"
	assert_exit 0 "$AF" tail "$J" --type exec
	assert_contains "$OUT" "exec /bin/echo tailme" "tail FILE"
	assert_exit 2 "$AF" tail "$J" --journal "$J"
	assert_exit 2 "$AF" tail "$J" "$J"
	assert_exit 2 "$AF" tail --last "$J"
	assert_contains "$ERR" "exclude each other" "--last and FILE"
}

# tail --last: the journal written last in run's default directory.
test_tail_last() {
	setup
	mkdir -p xdg
	XDG_STATE_HOME=$T/xdg assert_exit 1 "$AF" tail --last
	assert_contains "$ERR" "--last: cannot read the journal directory $T/xdg/agentfence" "no directory"
	XDG_STATE_HOME=$T/xdg assert_exit 0 "$AF" run -q --policy p.yaml --workspace ws -- /bin/echo first
	XDG_STATE_HOME=$T/xdg assert_exit 0 "$AF" run -q --policy p.yaml --workspace ws -- /bin/echo second
	XDG_STATE_HOME=$T/xdg assert_exit 0 "$AF" tail --last --type exec
	assert_contains "$OUT" "exec /bin/echo second" "the newest"
	assert_not_contains "$OUT" "first" "not the older"
	# Rotated files and supervisor-exit records are not journals of their own.
	touch "xdg/agentfence/zzz.jsonl.1.gz" "xdg/agentfence/zzz.jsonl.supervisor-exit"
	XDG_STATE_HOME=$T/xdg assert_exit 0 "$AF" tail --last --type exec
	assert_contains "$OUT" "exec /bin/echo second" "still the newest journal"
}

# Local time with its date, as TZ says; --utc.
test_tail_local_time_and_utc() {
	setup
	assert_exit 0 "${FENCE[@]}" -- true
	local utc local_ raw
	raw=$($PY -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["time"])' "$J")
	TZ=UTC0 assert_exit 0 "$AF" tail "$J" --type fence_start --utc
	utc=$(printf '%s' "$OUT" | cut -d' ' -f1-2)
	# A POSIX TZ needs no tzdata: 5:30 east of UTC.
	TZ=XYZ-5:30 assert_exit 0 "$AF" tail "$J" --type fence_start
	local_=$(printf '%s' "$OUT" | cut -d' ' -f1-2)
	$PY - "$raw" "$utc" "$local_" <<-'PYEOF' || fail "times: raw $raw, --utc '$utc', TZ=XYZ-5:30 '$local_'"
	import datetime, sys
	raw, utc, loc = sys.argv[1:]
	t = datetime.datetime.strptime(raw[:23], "%Y-%m-%dT%H:%M:%S.%f")
	assert utc == t.strftime("%Y-%m-%d %H:%M:%S.%f")[:23] + "Z", (utc, t)
	l = t + datetime.timedelta(hours=5, minutes=30)
	assert loc == l.strftime("%Y-%m-%d %H:%M:%S.%f")[:23], (loc, l)
	PYEOF
}

# A rotated journal reads as one: FILE.1.gz (the oldest) first, then
# .2.gz, ..., then FILE; a rotated file named alone is read alone.
test_tail_reads_rotated_files_in_order() {
	setup
	assert_exit 0 "${FENCE[@]}" --journal-max 4K -- sh -c 'for i in $(seq 1 40); do /bin/true $i; done'
	[ -e "$J.2.gz" ] || fail "no rotation: $(ls state)"
	assert_exit 0 "$AF" tail "$J" --type exec
	assert_eq "$(seq 1 40 | tr '\n' ' ')" "$(printf '%s\n' "$OUT" | awk '$NF ~ /^[0-9]+$/ && /exec \/bin\/true/ { printf "%s ", $NF }')" "execs in order"
	assert_exit 0 "$AF" tail "$J" --type fence_start,fence_end
	assert_eq 2 "$(printf '%s\n' "$OUT" | wc -l)" "one start, one end"
	assert_exit 0 "$AF" tail --json "$J"
	printf '%s\n' "$OUT" | $PY -c '
import json, sys
seqs = [json.loads(l)["seq"] for l in sys.stdin]
assert seqs == list(range(len(seqs))), seqs' || fail "seq not in order"
	assert_exit 0 "$AF" tail "$J.2.gz" --json
	printf '%s\n' "$OUT" | $PY -c '
import json, sys
recs = [json.loads(l) for l in sys.stdin]
assert recs and all(r["type"] != "fence_start" for r in recs), recs' || fail "$J.2.gz alone"
}

# The same denial 20 times in a burst: one line and its count (live),
# one line with the total at the end (summary), none (off); the journal
# has all 20 whichever.
test_denials_deduplicated_and_modes() {
	setup
	local sock=$T/out/d.sock mode
	$PY -S -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$sock"
	local probe='import socket, sys
for i in range(20):
    try: socket.socket(socket.AF_UNIX).connect(sys.argv[1])
    except OSError as e: assert e.errno == 1, e
print("done")'
	for mode in live summary off; do
		rm -f "$J"
		assert_exit 0 "${FENCE[@]}" --denials $mode -- $PY -S -c "$probe" "$sock"
		assert_eq done "$OUT" "$mode: the probe ran"
		assert_eq 20 "$(grep -c '"effect":"denied unix connect' "$J")" "$mode: every denial journaled"
		local lines
		lines=$(printf '%s\n' "$ERR" | grep -c "agentfence: denied unix connect $sock")
		case $mode in
		live)
			assert_eq 2 "$lines" "live: the first and the count"
			assert_contains "$ERR" "denied unix connect $sock (python3 pid " "live: first line"
			assert_contains "$ERR" ") [19 more within 3s]" "live: the count"
			;;
		summary)
			assert_eq 1 "$lines" "summary: one line"
			assert_contains "$ERR" ") [20 times]"$'\n'"agentfence: journal $J" "summary: before the journal's"
			;;
		off)
			assert_eq 0 "$lines" "off: none"
			;;
		esac
	done
	assert_exit 2 "${FENCE[@]}" --denials loud -- true
	assert_contains "$ERR" "agentfence run: --denials 'loud': not a mode (live, summary, off)" "bad mode"
}

# On the Landlock backend, which reports nothing, a refused write is
# seen at the call's exit: EACCES/EPERM outside the writable paths, or
# EROFS (the read-only mounts). The same dedup and modes as the BPF
# backends' lines; a refusal inside the workspace (the file's own mode,
# for a user the fence runs as) is the file's, not the fence's: no line.
test_landlock_denials_live() {
	setup
	local probe mode lines
	probe='import os, sys
out = sys.argv[1]
for i in range(5):
    try: open(out + "/x", "w")
    except OSError as e: assert e.errno in (13, 1, 30), e
try: os.unlink(out + "/keep")
except OSError as e: assert e.errno in (13, 1, 30), e
open("mine", "w").close(); os.chmod("mine", 0)
try: open("mine", "w")
except OSError: pass
print("done")'
	touch out/keep
	assert_exit 0 "${FENCE[@]}" --denials live -- $PY -S -c "$probe" "$T/out"
	case $ERR in *"filesystem fence via Landlock"*) ;; *) skip "the backend is not landlock here" ;; esac
	assert_eq done "$OUT" "the probe ran"
	lines=$(printf '%s\n' "$ERR" | grep -c "agentfence: denied create/open for write $T/out/x (python3 pid ")
	assert_eq 2 "$lines" "live: the first and the count"
	assert_contains "$ERR" "$T/out/x (python3 pid " "live line"
	assert_contains "$ERR" ") [4 more within 3s]" "live: the count"
	assert_contains "$ERR" "agentfence: denied unlink $T/out/keep (python3 pid " "unlink"
	assert_not_contains "$ERR" "mine" "the workspace file's own refusal"
	assert_eq 7 "$(grep -c '"type":"deny"' "$J")" "every refusal journaled (the workspace's too)"
	rm -f "$J" ws/mine
	assert_exit 0 "${FENCE[@]}" --denials summary -- $PY -S -c "$probe" "$T/out"
	assert_contains "$ERR" "denied create/open for write $T/out/x (python3 pid " "summary line"
	assert_contains "$ERR" ") [5 times]" "summary count"
	rm -f "$J" ws/mine
	assert_exit 0 "${FENCE[@]}" --denials off -- $PY -S -c "$probe" "$T/out"
	assert_not_contains "$ERR" "denied" "off"
	[ -e out/keep ] && [ ! -e out/x ] || fail "the fence let a write through"
}

# The "N more" line comes when its window is over, by a timer, not with
# the next denial or the end of the run: here it precedes a mark the
# command prints after a pause longer than the window.
test_denial_count_by_timer() {
	setup
	local probe='import sys, time
for i in range(3):
    try: open(sys.argv[1] + "/x", "w")
    except OSError: pass
time.sleep(4.5)
print("MARK", file=sys.stderr, flush=True)'
	assert_exit 0 "${FENCE[@]}" --denials live -- $PY -S -c "$probe" "$T/out"
	case $ERR in *"filesystem fence via Landlock"*) ;; *) skip "the backend is not landlock here" ;; esac
	assert_contains "$ERR" ") [2 more within 3s]"$'\n'"MARK" "the count before the mark"
}

# argv once per exec: the file records of a long command line name its
# exec record instead of repeating it (a venv creation was 4.1 MB).
test_argv_once_per_exec() {
	setup
	local pad
	pad=$(printf "x%.0s" $(seq 800))
	assert_exit 0 "${FENCE[@]}" -- $PY -S -c "# $pad
for i in range(50): open('f%d' % i, 'w').close()"
	$PY - "$J" <<-'PYEOF' || fail "records: $(cut -c1-300 "$J" | head -5)"
	import json, sys
	lines = open(sys.argv[1]).read().splitlines()
	recs = [json.loads(l) for l in lines]
	files = [(r, len(l)) for r, l in zip(recs, lines) if r["type"] == "file"]
	assert len(files) >= 50, len(files)
	for r, n in files:
	    assert "argv" not in r and n < 1000, (n, r)
	    ex = recs[r["exec_seq"]]
	    assert ex["type"] == "exec" and ex["pid"] == r["pid"] and len(ex["argv"][3]) > 800, ex["seq"]
	PYEOF
}

# While run relays the command's pty the terminal is raw ("\n" does not
# return the carriage): a live line ends in CR LF, and starts a line.
test_live_line_on_raw_terminal() {
	setup
	local sock=$T/out/t.sock
	$PY -S -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$sock"
	assert_exit 0 $PY "$TOP/tests/helpers/ptyrun.py" --bytes -- "${FENCE[@]}" --no-journal -- $PY -S -c '
import socket, sys, time
try: socket.socket(socket.AF_UNIX).connect(sys.argv[1])
except OSError: pass
time.sleep(0.3)' "$sock"
	printf '%s' "$OUT" | $PY -c '
import sys
out = sys.stdin.buffer.read()
i = out.find(b"agentfence: denied unix connect ")
assert i >= 0, out
end = out.find(b"\n", i)
assert out[end - 1:end] == b"\r", out[i:end + 1]' || fail "the live line on a raw terminal: $(printf '%s' "$OUT" | od -c | head -20)"
}

af_main "$@"
