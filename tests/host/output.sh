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

af_main "$@"
