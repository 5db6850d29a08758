# SPDX-License-Identifier: GPL-2.0
# The terminal is not a channel: the command has a session of its own
# and, when run's stdio is a terminal, a pty that run relays (sudo's
# use_pty). Nothing inside holds the outer terminal, TIOCSTI is refused
# (seccomp) even with CAP_SYS_ADMIN, and the relay behaves like a
# terminal: size, ^C, input, exit status, modes restored. Verdict on
# every backend: held.
# vm backends: lsm_cgroup (what holds these routes is the box, set up
# in userspace the same way whatever the BPF backend: one is enough)
source "$(dirname "$0")/../lib.sh"
source "$TOP/tests/helpers/escape.bash"

PTYRUN=$TOP/tests/helpers/ptyrun.py

on_tty() {	# [ptyrun options --] CMD...: esc_fence on a fresh terminal
	assert_exit 0 $PY "$PTYRUN" "$@"
}

fence_cmd() {
	echo "$AF" run ${BACKEND:+--backend "$BACKEND"} --policy "$T/p.yaml" --workspace "$T/ws" --no-journal -q --
}

test_own_session_and_pty() {
	esc_policy
	on_tty -- $(fence_cmd) sh -c 'echo "inner $(tty) $(ps -o sid= -p $$)"; echo "outer $(ps -o tty=,sid= -p $PPID)"'
	local inner outer
	inner=$(echo "$OUT" | awk '$1 == "inner"')
	outer=$(echo "$OUT" | awk '$1 == "outer"')
	[ -n "$inner" ] && [ -n "$outer" ] || fail "no answer: $OUT"
	# The command's terminal is not run's, its session neither.
	[ "$(echo "$inner" | awk '{ print $2 }')" != "/dev/$(echo "$outer" | awk '{ print $2 }')" ] ||
		fail "the command shares run's terminal: $inner / $outer"
	[ "$(echo "$inner" | awk '{ print $3 }')" != "$(echo "$outer" | awk '{ print $3 }')" ] ||
		fail "the command shares run's session: $inner / $outer"
}

test_no_session_without_tty() {
	esc_policy
	assert_exit 0 esc_fence sh -c 'echo "$(ps -o sid= -p $$) $(ps -o sid= -p $PPID) $(ps -o tty= -p $$)"'
	local a b tty
	read -r a b tty <<<"$OUT"
	[ "$a" != "$b" ] || fail "the command shares run's session ($a)"
	assert_eq "?" "$tty" "the command's controlling terminal"
}

test_tiocsti_own_terminal_refused() {
	esc_policy
	on_tty -- $(fence_cmd) $PY -c '
import fcntl, termios
try:
    fcntl.ioctl(0, termios.TIOCSTI, b"x"); print("ESCAPED")
except OSError as e:
    print("held", e.errno)'
	assert_contains "$OUT" "held 1" "TIOCSTI on the command's terminal"
}

# The outer terminal by name: TIOCSTI needs it to be the controlling
# terminal or CAP_SYS_ADMIN; grant every capability run has, so the
# filter is what refuses.
test_tiocsti_outer_terminal_refused() {
	esc_policy "  process: {capabilities: $(all_caps)}"
	on_tty -- $(fence_cmd) sh -c 'exec '"$PY"' -c "
import fcntl, os, sys, termios
outer = \"/dev/\" + os.popen(\"ps -o tty= -p %d\" % os.getppid()).read().strip()
fd = os.open(outer, os.O_RDONLY | os.O_NOCTTY)
try:
    fcntl.ioctl(fd, termios.TIOCSTI, b\"x\"); print(\"ESCAPED\", outer)
except OSError as e:
    print(\"held\", e.errno, outer)"'
	assert_contains "$OUT" "held 1 /dev/pts/" "TIOCSTI on run's terminal"
}

test_tioclinux_refused() {
	esc_policy
	on_tty -- $(fence_cmd) $PY -c '
import fcntl
try:
    fcntl.ioctl(0, 0x541C, b"\x02"); print("ESCAPED")
except OSError as e:
    print("held", e.errno)'
	assert_contains "$OUT" "held 1" "TIOCLINUX"
}

test_window_size() {
	esc_policy
	on_tty --size 33 77 --winch 40 100 -- $(fence_cmd) sh -c 'echo "start $(stty size)"; trap "echo \"winch \$(stty size)\"; exit 0" WINCH; echo ready; i=0; while [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; echo nowinch'
	assert_contains "$OUT" "start 33 77" "initial size"
	assert_contains "$OUT" "winch 40 100" "size after SIGWINCH"
}

test_raw_outside_restored_after() {
	esc_policy
	on_tty -- $(fence_cmd) sh -c 'echo ready; sleep 0.5'
	assert_contains "$OUT" "outer at ready raw" "the outer terminal while the command runs"
	assert_contains "$OUT" "termios same" "the outer terminal's modes after"
}

# run dies with the terminal in raw mode: its watcher puts the modes back
# (and freezes the fence, supervisor.sh).
test_supervisor_killed_terminal_restored() {
	esc_policy
	on_tty --kill-at-ready -- $(fence_cmd) sh -c 'echo ready; sleep 30'
	local pid cg
	pid=$(echo "$OUT" | awk '$1 == "run" && $2 == "pid" { print $3 }')
	cg=$(cgroup2_mount)/agentfence/run-$pid
	[ -d "$cg" ] && { echo 1 >"$cg/cgroup.kill"; sleep 0.3; rmdir "$cg"; }
	assert_contains "$OUT" "outer at ready raw" "the terminal while the command ran"
	assert_contains "$OUT" "termios same" "the terminal after run was killed"
	assert_exit 0 esc_fence true	# collects the dead fence's pins
	assert_no_leftovers
}

test_exit_status_through_pty() {
	esc_policy
	on_tty -- $(fence_cmd) sh -c 'exit 7'
	assert_contains "$OUT" "status 7" "exit status"
}

test_input_relayed() {
	esc_policy
	on_tty --on-ready 'hello\n' -- $(fence_cmd) sh -c 'echo ready; read x; echo "got $x"'
	assert_contains "$OUT" "got hello" "input through the pty"
}

test_ctrl_c_reaches_command() {
	esc_policy
	on_tty --on-ready '\x03' -- $(fence_cmd) sh -c 'echo ready; sleep 10; echo survived'
	assert_contains "$OUT" "status 130" "^C"
	assert_not_contains "$OUT" "survived" "^C"
}

test_pipes_stay_pipes() {
	esc_policy
	OUT=$(echo hi | esc_fence sh -c 'read x; echo "$x"; [ -t 0 ] || echo stdin-not-tty; [ -p /proc/self/fd/1 ] && echo stdout-pipe' | cat)
	assert_contains "$OUT" "hi" "stdin through a pipe"
	assert_contains "$OUT" "stdin-not-tty" "stdin"
	assert_contains "$OUT" "stdout-pipe" "stdout"
}

test_dev_tty_without_terminal() {
	esc_policy
	assert_exit 0 esc_fence sh -c '( exec 3</dev/tty ) 2>/dev/null && echo ESCAPED || echo held' </dev/null
	assert_eq held "$OUT" "open /dev/tty with no controlling terminal"
}

af_main "$@"
