# SPDX-License-Identifier: GPL-2.0
# The test runner's clock, shared by tests/run and tests/lib.sh.

af_now() {	# seconds since the epoch, with microseconds
	echo "${EPOCHREALTIME/,/.}"
}

af_elapsed() {	# T0: seconds since T0 (from af_now), one decimal
	awk -v a="$1" -v b="$(af_now)" 'BEGIN { printf "%.1f", b - a }'
}
