#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# An agent-like job in DIR (emptied first): unpack a source tarball, build a
# library out of it, and run a git commit cycle over the sources.
#
#   bench/real.sh full TARBALL DIR [CACHE]
#                                    binutils' tarball: unpack all of it, then
#                                    zlib/configure && make -j2 in a build dir,
#                                    git: import + 5 commits. CACHE: configure's
#                                    answers (--cache-file), used when it exists,
#                                    made by this run when it does not (run that
#                                    one unfenced: a warm-up)
#   bench/real.sh mini TARBALL DIR   a small tar: unpack it, no build, git: import
#                                    + 2 commits (smoke, VM)
#
# Prints one JSON line: seconds per phase and in all.
set -euo pipefail
mode=$1 tarball=$2 dir=$3 cache=${4:-}
rm -rf "$dir"
mkdir -p "$dir"
cd "$dir"

t() { echo "${EPOCHREALTIME/./}"; }	# microseconds
t0=$(t)
tar -xf "$tarball" --no-same-owner
src=$(ls -d ./*/ | head -1)
src=${src%/}
t1=$(t)
if [ "$mode" = full ]; then
	mkdir build
	# configure's answers, copied: the fence keeps the run inside DIR.
	[ -n "$cache" ] && [ -s "$cache" ] && cp "$cache" build/config.cache
	(cd build && "../$src/zlib/configure" --cache-file=config.cache >configure.log 2>&1 &&
		make -j2 >make.log 2>&1) ||
		{ tail -n 20 build/configure.log build/make.log >&2; exit 1; }
	if [ -n "$cache" ] && [ ! -s "$cache" ]; then
		cp build/config.cache "$cache"
	fi
	[ -f build/libz.a ] || { echo "real.sh: no libz.a was built" >&2; exit 1; }
	repo=$src/zlib changes=5
else
	repo=$src changes=2
fi
t2=$(t)
git() { command git -c user.name=bench -c user.email=bench@localhost -c init.defaultBranch=main "$@"; }
(
	cd "$repo"
	git init -q
	git add -A
	git commit -qm import
	for i in $(seq "$changes"); do
		echo "/* change $i */" >>"$(ls ./*.c | sed -n "${i}p")"
		git commit -qam "change $i"
	done
	[ "$(git rev-list --count HEAD)" = $((changes + 1)) ] || { echo "real.sh: git history is wrong" >&2; exit 1; }
)
t3=$(t)
printf '{"unpack":%s,"build":%s,"git":%s,"seconds":%s}\n' \
	"$(((t1 - t0) / 1000))e-3" "$(((t2 - t1) / 1000))e-3" "$(((t3 - t2) / 1000))e-3" "$(((t3 - t0) / 1000))e-3"
