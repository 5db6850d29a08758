# SPDX-License-Identifier: GPL-2.0
# The journal is complete and true (issue 10, principle 10): every file
# effect is recorded whichever system call made it (fd-based ones too),
# with the path as the kernel resolved it at the call, not later from
# /proc: a directory descriptor swapped right after the call, or by
# another thread while opens run, or a cwd changed, cannot make a record
# name another directory. Refusals by the box itself (seccomp, a missing
# capability) are records too. Verdict: the same on every backend (the
# records come from the syscall tracepoints, which every backend loads).
source "$(dirname "$0")/escape.inc"

jpolicy() {
	esc_policy '  filesystem:' '    writable: ["${WORKSPACE}", /dev/null]' \
		'  events: [exec, file]'
	rm -f "$T/j.jsonl"
}

jfence() {
	local b=${BACKEND:-host}
	[ "$b" = host ] && b=
	assert_exit "${JEXIT:-0}" "$AF" run ${b:+--backend "$b"} --policy "$T/p.yaml" --workspace "$T/ws" \
		--journal "$T/j.jsonl" -q -- "$@"
}

# check PY-CODE: run PY-CODE with recs (the journal's records) and ws;
# it prints "ok" or what is wrong.
check() {
	assert_exit 0 $PY - "$T/j.jsonl" "$T/ws" <<-PY
	import json, os, sys
	recs = [json.loads(l) for l in open(sys.argv[1])]
	ws = os.path.realpath(sys.argv[2])
	files = [r for r in recs if r["type"] in ("file", "deny") and "path" in r]
	$1
	PY
	assert_eq ok "$(tail -n1 <<<"$OUT")" "the journal ($OUT)"
}

# mkdirat and openat relative to a directory descriptor, which is then
# made to name another directory (dup2) before the next call: the
# recorder reads events later, so /proc would name the other one.
test_dirfd_swapped_after_each_call() {
	jpolicy
	mkdir -p ws/a ws/b
	jfence $PY -S -c '
import os, sys
b = os.open("b", os.O_RDONLY | os.O_DIRECTORY)
for i in range(60):
    a = os.open("a", os.O_RDONLY | os.O_DIRECTORY)
    os.mkdir("d%d" % i, dir_fd=a)
    os.close(os.open("f%d" % i, os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=a))
    os.unlink("f%d" % i, dir_fd=a)
    os.dup2(b, a)
    os.close(a)
'
	check '
mk = [r for r in files if r["op"] == "mkdir"]
cr = [r for r in files if r["op"].startswith("create")]
ul = [r for r in files if r["op"] == "unlink"]
want = lambda k, i: ws + "/a/%s%d" % (k, i)
assert [r["path"] for r in mk] == [want("d", i) for i in range(60)], [r["path"] for r in mk][:5]
assert [r["path"] for r in cr] == [want("f", i) for i in range(60)], [r["path"] for r in cr][:5]
assert [r["path"] for r in ul] == [want("f", i) for i in range(60)], [r["path"] for r in ul][:5]
assert not any(r.get("path_unresolved") or r.get("path_truncated") for r in files)
print("ok")'
}

# Another thread swaps the descriptor back and forth as fast as it can
# while opens run: an open's record names the file the kernel opened
# (the descriptor it returned), wherever that is.
test_dirfd_swapped_by_a_thread() {
	jpolicy
	mkdir -p ws/a ws/b
	# Thread switches every 0.1 ms (not the GIL's 5): the swap must race
	# the opens, which take tens of microseconds each.
	jfence $PY -S -c '
import os, sys, threading
sys.setswitchinterval(0.0001)
a0 = os.open("a", os.O_RDONLY | os.O_DIRECTORY)
b0 = os.open("b", os.O_RDONLY | os.O_DIRECTORY)
fd = os.dup(a0)
stop = False
def swap():
    n = 0
    while not stop and n < 2000000:
        os.dup2(b0 if n & 1 else a0, fd)
        n += 1
t = threading.Thread(target=swap)
t.start()
for i in range(300):
    try:
        os.close(os.open("f%d" % i, os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd))
    except OSError:
        pass
stop = True
t.join()
'
	check '
cr = {os.path.basename(r["path"]): r["path"] for r in files if r["op"].startswith("create")}
where = {}
for d in ("a", "b"):
    for n in os.listdir(os.path.join(ws, d)):
        where[n] = os.path.join(ws, d, n)
assert len(where) > 100, len(where)
both = [n for n in where if n in cr]
assert len(both) == len(where), (len(both), len(where))
wrong = [(cr[n], where[n]) for n in where if cr[n] != where[n]]
assert not wrong, wrong[:5]
inb = sum(1 for n in where if "/b/" in where[n])
print("ok" if inb and inb < len(where) else "the swap never raced: %d of %d in b" % (inb, len(where)))'
}

# A cwd-relative path, the cwd changed right after the call.
test_cwd_changed_after_call() {
	jpolicy
	mkdir -p ws/a ws/b
	jfence $PY -S -c '
import os, time
os.chdir("b")
for i in range(30):
    os.chdir("../a"); os.mkdir("c%d" % i); os.chdir("../b")
    time.sleep(0.02)
'
	check '
mk = [r["path"] for r in files if r["op"] == "mkdir"]
assert mk == [ws + "/a/c%d" % i for i in range(30)], mk[:4]
print("ok")'
}

# Effects through a descriptor: the record names the descriptor's file.
test_fd_based_effects() {
	jpolicy
	jfence $PY -S -c '
import os
fd = os.open("g", os.O_RDWR | os.O_CREAT, 0o644)
os.ftruncate(fd, 3)
os.fchmod(fd, 0o600)
os.fchown(fd, os.getuid(), os.getgid())
os.posix_fallocate(fd, 0, 4096)
# Recorded whether the filesystem has user xattrs or not (tmpfs before
# 6.6 has none): the record says ok or failed.
for f, a in ((os.setxattr, ("user.af", b"1")), (os.removexattr, ("user.af",))):
    try:
        f(fd, *a)
    except OSError:
        pass
os.rename("g", "h")
os.ftruncate(fd, 1)
'
	check '
got = [(r["op"], r["path"]) for r in files if r["syscall"] in (77, 91, 93, 285, 190, 199)]
g, h = ws + "/g", ws + "/h"
assert got == [("truncate", g), ("chmod", g), ("chown", g), ("fallocate", g), ("setxattr", g),
               ("removexattr", g), ("truncate", h)], got
rn = [(r["path"], r["path2"]) for r in files if r["op"] == "rename"]
assert rn == [(g, h)], rn
print("ok")'
}

# A directory too deep for the event: the record says it is truncated.
test_deep_path_truncated() {
	jpolicy
	local d=ws i
	for i in $(seq 12); do d=$d/dddddddddddddddddddddddddddddd$i; done
	mkdir -p "$d"
	jfence sh -c "cd '${d#ws/}' && mkdir deep"
	check '
mk = [r for r in files if r["op"] == "mkdir"]
assert len(mk) == 1 and mk[0].get("path_truncated") and mk[0]["path"].startswith("..."), mk
assert mk[0]["path"].endswith("dddddddddddddddddddddddddddddd12/deep"), mk
print("ok")'
}

# Refusals by the box: the seccomp filter (init_module, open_by_handle_at,
# io_uring) and a capability the fence does not grant (chroot).
test_box_refusals_journaled() {
	jpolicy
	jfence sh -c "$HELPERS/escape sys init_module open_by_handle_at io_uring_setup; $PY -S -c 'import os
try: os.chroot(\"/\")
except OSError as e: print(\"chroot\", e.errno)'"
	assert_contains "$OUT" "chroot 1" "chroot without CAP_SYS_CHROOT"
	check '
den = [r for r in recs if r["type"] == "deny" and "reason" in r]
got = [(r["syscall"], r["reason"]) for r in den]
for want in (("init_module", "seccomp"), ("open_by_handle_at", "seccomp"),
             ("io_uring_setup", "seccomp"), ("chroot", "capability")):
    assert want in got, (want, got)
ch = [r for r in den if r["syscall"] == "chroot"][0]
assert ch["capability"] == "sys_chroot" and ch["verdict"] == "denied" and ch["ret"] == -1, ch
print("ok")'
}

# The control: a granted capability's -EPERM is not the box's refusal,
# calls seccomp allows are no refusal at all, and neither is clone3's
# ENOSYS (how glibc's threads and posix_spawn are sent to clone).
test_granted_capability_not_a_refusal() {
	jpolicy
	printf '  process: {capabilities: [sys_chroot]}\n' >>p.yaml
	jfence sh -c "$HELPERS/escape sys getpid clone3 pthread; $PY -S -c 'import os; os.chroot(\"/\")'"
	check '
den = [r for r in recs if r["type"] == "deny" and "reason" in r]
assert not den, den
print("ok")'
}

# io_uring runs its file operations in kernel workers, past the
# tracepoints the journal is made from: the box refuses the ring itself
# (seccomp), so a liburing program falls back or fails, and the refusal
# is a record. The control: outside the fence the same program creates
# and writes the file.
test_io_uring_refused_and_journaled() {
	jpolicy
	[ -x "$HELPERS/uring_lib" ] || fail "missing helper $HELPERS/uring_lib (liburing-dev: scripts/deps)"
	JEXIT=3 jfence "$HELPERS/uring_lib" "$T/ws/u"
	assert_contains "$OUT" "liburing init: Operation not permitted" "io_uring in the fence"
	assert_missing "$T/ws/u" "the file io_uring would have made"
	check '
den = [r for r in recs if r.get("reason") == "seccomp"]
assert [r["syscall"] for r in den] == ["io_uring_setup"], den
print("ok")'
	assert_exit 0 "$HELPERS/uring_lib" "$T/ws/u"
	assert_contains "$OUT" "liburing openat: fd" "io_uring outside a fence"
}

for BACKEND in $(esc_backends); do
	export BACKEND AF_TEST_TAG=$(esc_tag)
	af_main "$@"
done
