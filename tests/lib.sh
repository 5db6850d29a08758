# SPDX-License-Identifier: GPL-2.0
# Test library for tests/host/*.sh and tests/vm/*.sh, in the manner of
# the kernel selftests: a file defines test_* functions and ends with
# `af_main "$@"`; each test runs in its own subshell with a fresh $T and
# reports one line: "ok - FILE: NAME", "not ok - FILE: NAME: WHY" or
# "skip - FILE: NAME: WHY". Assertions print what was expected and seen.

set -u
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
AF_BUILD=${AF_BUILD:-$TOP/build}
AF=${AF:-$AF_BUILD/agentfence}
HELPERS=$AF_BUILD/tests/helpers
# Journals of `run` go here, not to root's ~/.local/state. Not under
# /tmp, nor under the build dir (a CI clone may lie in /tmp): the
# built-in policy makes /tmp writable, and run refuses a journal the
# fenced command could write.
export XDG_STATE_HOME=${AF_TEST_STATE:-/var/tmp/agentfence-tests}
# Under sudo, run fences its command as the invoking user (SUDO_UID):
# the tests choose their users themselves (--user, tests/host/agents.sh).
unset SUDO_UID SUDO_GID SUDO_USER SUDO_COMMAND
AF_SKIP=77

fail() {
	printf '%s\n' "$*" >&2
	exit 1
}

skip() {
	printf '%s\n' "$*" >"$T/.skip"
	exit $AF_SKIP
}

assert_eq() {	# expected actual what
	[ "$1" = "$2" ] || fail "$3: expected '$1', got '$2'"
}

assert_contains() {	# haystack needle what
	case "$1" in
	*"$2"*) ;;
	*) fail "$3: expected to contain '$2', got: $(printf '%s' "$1" | head -c 2000)" ;;
	esac
}

assert_not_contains() {	# haystack needle what
	case "$1" in
	*"$2"*) fail "$3: expected not to contain '$2', got: $(printf '%s' "$1" | head -c 2000)" ;;
	esac
}

# assert_exit CODE CMD...: run CMD, capture its output in $OUT and $ERR.
assert_exit() {
	local want=$1 got=0
	shift
	"$@" >"$T/.out" 2>"$T/.err" || got=$?
	OUT=$(cat "$T/.out")
	ERR=$(cat "$T/.err")
	[ "$got" = "$want" ] || fail "exit status of '$*': expected $want, got $got
stdout: $(head -c 2000 "$T/.out")
stderr: $(head -c 2000 "$T/.err")"
}

assert_file_eq() {	# file content what
	[ -e "$1" ] || fail "$3: $1 does not exist"
	assert_eq "$2" "$(cat "$1")" "$3"
}

assert_missing() {	# path what
	[ ! -e "$1" ] && [ ! -L "$1" ] || fail "$2: $1 exists"
}

# The cgroup2 mount, from mountinfo: never assume /sys/fs/cgroup.
cgroup2_mount() {
	awk '{ for (i = 1; i <= NF; i++) if ($i == "-") { if ($(i+1) == "cgroup2") { print $5; exit } break } }' /proc/self/mountinfo
}

# Nothing of a fence may be left: no run cgroup, no pin.
assert_no_leftovers() {
	local cg
	cg=$(cgroup2_mount)
	local left
	left=$(ls -d "$cg"/agentfence/run-* /sys/fs/bpf/agentfence/* 2>/dev/null || true)
	[ -z "$left" ] || fail "left behind: $left"
}

# Time limits. A slow machine is not a failure; a hung test is. Every
# test has a limit: af_limit's or AF_LIMIT_DEFAULT seconds, as measured
# on the reference machine, times AF_TIME_FACTOR, the runner's
# calibration of this machine against it (tests/calibrate; never below
# 1). A test past its limit is stopped (TERM, then KILL, to its whole
# process group) and fails with its name and limit; the others run on.
# The default: a minute on the host, two in a guest (where a fence's
# start and teardown alone take seconds under TCG).
if [ -n "${VMTEST:-}" ]; then
	AF_LIMIT_DEFAULT=${AF_LIMIT_DEFAULT:-120}
else
	AF_LIMIT_DEFAULT=${AF_LIMIT_DEFAULT:-60}
fi
AF_TIME_FACTOR=${AF_TIME_FACTOR:-1}
declare -A AF_LIMITS=()

# af_limit NAME SECONDS: test NAME may take up to SECONDS on the
# reference machine. Call it before af_main.
af_limit() {
	AF_LIMITS[$1]=$2
}

# The scaled limit of test NAME, in whole seconds.
af_test_limit() {
	local base=${AF_LIMITS[$1]:-$AF_LIMIT_DEFAULT}
	awk -v b="$base" -v f="$AF_TIME_FACTOR" 'BEGIN { l = b * (f < 1 ? 1 : f); printf "%d\n", l == int(l) ? l : int(l) + 1 }'
}

. "$(dirname "${BASH_SOURCE[0]}")/clock.bash"

# Whether a process of group PGID still runs (zombies do not count).
af_group_running() {
	local st
	for st in /proc/[0-9]*/stat; do
		# fields after the ")" of comm: state ppid pgrp
		awk -v g="$1" '{ sub(/.*\) /, ""); if ($3 == g && $1 != "Z") f = 1 } END { exit !f }' "$st" 2>/dev/null &&
			return 0
	done
	return 1
}

# af_node_counter NAME: counter NAME (bpf/fence.h enum af_counter, e.g.
# AF_CNT_ROOT_CACHED) of this machine's nodes, summed over their CPUs
# and the nodes (0 before any is loaded: a node's counters start at 0).
# The index is read from the enum, so that a counter added before it
# does not make a test read another.
af_node_counter() {
	local pin sum=0 v idx
	idx=$(awk -v name="$1" '/^enum af_counter \{/ { on = 1; next }
		on && /^\}/ { exit }
		on && match($0, /^[ \t]*AF_CNT_[A-Z0-9_]+/) {
			n = substr($0, RSTART, RLENGTH); gsub(/[ \t]/, "", n)
			if (n == name) { print i + 0; exit }
			i++ }' "$TOP/bpf/fence.h")
	[ -n "$idx" ] || { echo "af_node_counter: no counter $1 in bpf/fence.h" >&2; return 1; }
	for pin in /sys/fs/bpf/agentfence-nodes/*/maps/af_counters; do
		[ -e "$pin" ] || continue
		v=$(bpftool -j map lookup pinned "$pin" key "$idx" 0 0 0 | /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)
d = d[0] if isinstance(d, list) else d
def val(v):
    v = v.get("value", v)
    return v if isinstance(v, int) else int.from_bytes(bytes(int(b, 16) for b in v), "little")
print(sum(val(c) for c in d.get("values", d.get("formatted", {}).get("values", []))))') || return 1
		sum=$((sum + v))
	done
	echo "$sum"
}

# Whether process PID still runs (a zombie does not).
af_running() {
	[ -r "/proc/$1/stat" ] && ! awk '{ sub(/.*\) /, ""); exit $1 != "Z" }' "/proc/$1/stat" 2>/dev/null
}

af_run_test() {	# file name
	local file=$1 name=$2 rc=0 id limit t0 t1 pid wd
	id="$file: $name${AF_TEST_TAG:-}"
	limit=$(af_test_limit "$name")
	T=$(mktemp -d /tmp/aftest.XXXXXX)
	export T
	# The runner's watchdog reads this: which test runs, for how long.
	echo "# start $id (limit ${limit}s)"
	t0=$(af_now)
	# Job control gives the test its own process group, so that a
	# stopped test takes everything it started with it.
	# Neither the test nor its watchdog holds the host-test lock (fd 9,
	# af_main's): whatever outlives them (a daemon a test started, a
	# sleep) must not keep the other checkouts' tests waiting.
	set -m
	(
		cd "$T" || exit 1
		"$name"
	) >"$T/.log" 2>&1 </dev/null 9>&- &
	pid=$!
	(
		# The TERM may come between the fork of a sleep and the wait
		# (the trap runs then): the sleep goes with the watchdog.
		trap 'kill $! 2>/dev/null; exit 0' TERM
		sleep "$limit" & wait $!
		touch "$T/.timeout"
		kill -TERM -- "-$pid" 2>/dev/null
		sleep 5 & wait $!
		kill -KILL -- "-$pid" 2>/dev/null
	) >/dev/null 2>&1 9>&- &
	wd=$!
	set +m
	wait "$pid" || rc=$?
	kill -TERM -- "-$wd" 2>/dev/null
	wait "$wd" 2>/dev/null
	# A stopped test's group may outlive its shell (TERM caught or not
	# yet delivered): the watchdog's KILL was cancelled with it, so
	# send it now and wait, bounded, until nothing of the group runs.
	if [ -e "$T/.timeout" ]; then
		kill -KILL -- "-$pid" 2>/dev/null
		local i
		for ((i = 0; i < 50; i++)); do
			af_group_running "$pid" || break
			sleep 0.1
		done
	fi
	t1=$(af_now)
	if [ -e "$T/.timeout" ]; then
		echo "not ok - $id: timeout: stopped after its limit of ${limit}s (af_limit, AF_TIME_FACTOR=$AF_TIME_FACTOR)"
		sed 's/^/#   /' "$T/.log" | tail -n 40
	else
		case $rc in
		0) echo "ok - $id" ;;
		"$AF_SKIP") echo "skip - $id: $(cat "$T/.skip" 2>/dev/null || echo 'no reason given')" ;;
		*)
			echo "not ok - $id (exit $rc)"
			sed 's/^/#   /' "$T/.log" | tail -n 40
			;;
		esac
	fi
	awk -v a="$t0" -v b="$t1" -v l="$limit" -v id="$id" \
		'BEGIN { printf "# time %.2f %d %s\n", b - a, l, id }'
	# Unmount what a test mounted beneath $T before removing it.
	grep -o " $T[^ ]*" /proc/self/mounts 2>/dev/null | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
	rm -rf "$T"
}

af_main() {
	local file name only=${AF_TEST_FILTER:-}
	# The file bash runs, which may source another's tests (vm/net.sh).
	file=$(cd "$(dirname "$0")" && basename "$(pwd)")/$(basename "$0")
	# Host tests share the machine's cgroups, pins and /run/agentfence
	# (assert_no_leftovers looks at all of them): two checkouts testing
	# at once take turns, file by file. A guest has its own machine.
	if [ -z "${VMTEST:-}" ] && [ -z "${AF_TEST_LOCKED:-}" ]; then
		mkdir -p /run/lock
		exec 9>/run/lock/agentfence-tests.lock
		flock 9
		export AF_TEST_LOCKED=1
	fi
	for name in $(declare -F | awk '{ print $3 }' | grep '^test_'); do
		[ -z "$only" ] || [[ $name == *$only* ]] || continue
		# A guest that hung is booted again to go on after the test
		# that hung (tests/run): skip up to and including it.
		if [ -n "${AF_TEST_RESUME:-}" ]; then
			[ "$AF_TEST_RESUME" = "$file: $name${AF_TEST_TAG:-}" ] && AF_TEST_RESUME=
			continue
		fi
		af_run_test "$file" "$name"
	done
}
