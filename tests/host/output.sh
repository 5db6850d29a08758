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

af_main "$@"
