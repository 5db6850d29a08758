# SPDX-License-Identifier: GPL-2.0
# The test runner itself: a test past its time limit is stopped with
# everything it started, named, and the tests after it still run; the
# limit scales with AF_TIME_FACTOR; a resumed file goes on after the
# named test.
source "$(dirname "$0")/../lib.sh"

# A test file of its own, run the way tests/run runs one.
mkfile() {
	mkdir -p "$T/d/x"
	cat >"$T/d/x/t.sh" <<-EOF
	source $TOP/tests/lib.sh
	test_1_fast() { echo fast; }
	test_2_hangs() { sleep 300 & echo \$! >$T/bg; sh -c 'sleep 301'; }
	test_3_after() { echo after >$T/after; }
	af_limit test_2_hangs 1
	af_main
	EOF
}

test_hung_test_stopped_and_named() {
	mkfile
	assert_exit 0 env AF_TIME_FACTOR=2 AF_TEST_LOCKED=1 bash "$T/d/x/t.sh"
	assert_contains "$OUT" "ok - x/t.sh: test_1_fast" "the test before"
	assert_contains "$OUT" "not ok - x/t.sh: test_2_hangs: timeout: stopped after its limit of 2s" "the hung test, by name, limit scaled"
	assert_contains "$OUT" "ok - x/t.sh: test_3_after" "the test after"
	assert_file_eq "$T/after" after "the test after ran"
	local bg
	bg=$(cat "$T/bg")
	! af_running "$bg" || fail "a process the hung test started is still running ($bg)"
	pgrep -f 'sleep 301' >/dev/null && fail "the hung test's child is still running"
	# Every test reports its time and limit for the runner's summary.
	assert_contains "$OUT" "# time " "time lines"
	assert_contains "$(grep '# time' <<<"$OUT" | grep test_2_hangs)" " 2 x/t.sh: test_2_hangs" "time line: limit"
}

test_resume_after_named_test() {
	mkfile
	assert_exit 0 env AF_TEST_RESUME="x/t.sh: test_2_hangs" AF_TEST_LOCKED=1 bash "$T/d/x/t.sh"
	assert_not_contains "$OUT" "test_1_fast" "tests before the resumed one"
	assert_not_contains "$OUT" "test_2_hangs" "the resumed one"
	assert_contains "$OUT" "ok - x/t.sh: test_3_after" "the test after"
}

test_calibrate_is_a_factor() {
	assert_exit 0 "$TOP/tests/calibrate" host
	[[ $OUT =~ ^[0-9]+\.[0-9]+$ ]] || fail "calibrate printed '$OUT', not a number"
	awk -v f="$OUT" 'BEGIN { exit !(f >= 1) }' || fail "factor $OUT below 1"
}

af_main "$@"
