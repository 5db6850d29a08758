# SPDX-License-Identifier: GPL-2.0
# Set-up the node's and the daemon's tests share (tests/host/node.sh,
# tests/vm/node.sh, tests/host/daemon.sh and tests/vm/daemon.sh, which
# source those). Sourced after tests/lib.sh; the caller has PIDS and
# IDS arrays (what cleanup kills and detaches), PY, and for hold_fence
# CTL (tests/helpers/fencectl), CG and BACKEND. Traffic: loopback only.

# ports: P1..P4, four free-looking loopback ports in a row.
ports() {
	P1=$((20000 + RANDOM % 10000)); P2=$((P1 + 1)); P3=$((P1 + 2)); P4=$((P1 + 3))
}

# serve PORT: a TCP server on 127.0.0.1:PORT that accepts and closes, in
# the background, once it listens.
serve() {
	$PY -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(128)
while True:
    c, _ = s.accept(); c.close()' "$1" &
	PIDS+=($!)
	for _ in $(seq 50); do
		[ -n "$(ss -Hltn "sport = :$1")" ] && return 0
		sleep 0.1
	done
	fail "no server on port $1"
}

# hold_fence NAME POLICY: a fence of $CG whose fencectl reads its events
# until SIGTERM (NAME.out, NAME.err; environment as the caller's, e.g.
# AF_RINGBUF_BYTES); sets ID and HOLD (the reader's pid).
hold_fence() {
	"$CTL" create "$CG" "$2" "$BACKEND" hold >"$1.out" 2>"$1.err" &
	HOLD=$!
	PIDS+=("$HOLD")
	# The first fence of a guest loads the node: on a loaded machine's
	# TCG guest that took more than 10 s. Bounded by the test's scale.
	local i tries
	tries=$(awk -v f="${AF_TIME_FACTOR:-1}" 'BEGIN { printf "%d", 300 * (f < 1 ? 1 : f) }')
	for ((i = 0; i < tries; i++)); do
		[ -s "$1.out" ] && break
		af_running "$HOLD" || break
		sleep 0.1
	done
	ID=$(head -1 "$1.out")
	[ -n "$ID" ] || fail "create: $(cat "$1.err")"
	IDS+=("$ID")
}

# orphan_fence: SIGKILL the reader hold_fence started (the fence stays).
orphan_fence() {
	kill -9 "$HOLD"
	wait "$HOLD" 2>/dev/null
}
