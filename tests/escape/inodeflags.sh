# SPDX-License-Identifier: GPL-2.0
# Inode flags (chattr's FS_IOC_SETFLAGS, xfs_io's FS_IOC_FSSETXATTR)
# on a file opened read-only: no open for write, no setattr, no xattr
# hook sees them. Outside the writable paths, and on protected paths,
# every backend refuses them (BPF: lsm/file_ioctl; Landlock: the
# read-only mount, EROFS). Each route sets the flags the file already
# has, so a route that got through would change nothing.
source "$(dirname "$0")/escape.inc"

policy() {
	mkdir -p ws/.git
	echo x >ws/.git/config
	esc_policy '  filesystem:' \
		'    writable: ["${WORKSPACE}", /dev/null]' \
		'    protected: [.git/config]'
}

# ioctl_same PATH KIND: open PATH read-only, get its flags, set them back.
ioctl_same() {
	local get set fmt
	case $2 in
	flags) get=0x80086601 set=0x40086602 fmt=l ;;
	fsx) get=0x801c581f set=0x401c5820 fmt=28s ;;
	esac
	echo "$PY -c 'import fcntl, os, struct, sys
fd = os.open(\"$1\", os.O_RDONLY)
b = fcntl.ioctl(fd, $get, bytes(struct.calcsize(\"$fmt\")))
fcntl.ioctl(fd, $set, b)'"
}

have_flags() {	# the filesystem of $T supports the flags ioctl at all
	$PY -c "import fcntl, os; fd = os.open('$T/out/f', os.O_RDONLY); fcntl.ioctl(fd, 0x80086601, bytes(8))" 2>/dev/null ||
		skip "the filesystem of $T has no inode flags"
}

test_setflags_outside() {
	policy
	have_flags
	held "$(ioctl_same "$T/out/f" flags)"
	allowed "$(ioctl_same "$T/ws/f" flags)"
}

test_fssetxattr_outside() {
	policy
	have_flags
	held "$(ioctl_same "$T/out/f" fsx)"
	allowed "$(ioctl_same "$T/ws/f" fsx)"
}

test_setflags_outside_directory() {
	policy
	have_flags
	held "$(ioctl_same "$T/out" flags)"
}

test_setflags_protected() {
	policy
	have_flags
	held "$(ioctl_same "$T/ws/.git/config" flags)"
	held "$(ioctl_same "$T/ws/.git/config" fsx)"
}

# The compat ioctl path (a 32-bit process's ioctl) reaches the same
# flags past lsm/file_ioctl: lsm/file_ioctl_compat (6.8+) applies the
# same rules where the kernel has the hook, and the seccomp filter kills
# every i386/x32 system call, so a fenced process cannot reach the path
# at all. Checked: the program is attached exactly where the hook
# exists, and a 32-bit ioctl kills its caller.
test_compat_ioctl() {
	policy
	# The fence's pins and its node's programs and links (global lsm/
	# programs are the node's: bpf/fence.h, README "The node").
	assert_exit 0 fence -- sh -c "ls /sys/fs/bpf/agentfence/*/ 2>/dev/null
		for n in /sys/fs/bpf/agentfence/*/node; do
			ls /sys/fs/bpf/agentfence-nodes/\$(readlink \$n)/links /sys/fs/bpf/agentfence-nodes/\$(readlink \$n)/progs
		done 2>/dev/null; $HELPERS/escape sys i386_getpid"
	assert_contains "$OUT" "i386_getpid killed SYS" "a 32-bit system call in the fence"
	[ "$ESC_BACKEND" != landlock ] || skip "no BPF LSM here: the seccomp filter alone holds the compat path"
	if grep -qw bpf_lsm_file_ioctl_compat /proc/kallsyms; then
		assert_contains "$OUT" "lsm_file_ioctl_compat" "the compat hook's program where the hook exists"
	else
		assert_contains "$OUT" "lsm_file_ioctl" "the node's programs"
		assert_not_contains "$OUT" "lsm_file_ioctl_compat" "no compat program where there is no hook"
	fi
	assert_not_contains "$ERR" "compat" "run's note (nothing lost without the hook)"
}

for BACKEND in $(esc_backends); do
	export BACKEND AF_TEST_TAG=$(esc_tag)
	af_main "$@"
done
