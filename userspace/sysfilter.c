// SPDX-License-Identifier: GPL-2.0
/*
 * The seccomp filter beneath every backend. The LSM programs and
 * Landlock judge what a fenced process does to files and sockets; this
 * refuses, before any of that, the system calls through which it could
 * change the kernel, the mount tree, the namespaces or the terminal it
 * was started from. Capabilities are gone too (caps.c): most entries
 * would fail for want of one; the filter holds when a policy grants one,
 * and for the calls no capability guards (bpf with unprivileged BPF,
 * TIOCSTI before 6.2, userfaultfd, keyrings, personality).
 *
 * Only the native ABI is allowed: a system call made through int 0x80
 * (i386) or with the x32 bit set would reach other numbers and other
 * argument layouts, so they kill the process rather than be filtered
 * twice (a fenced agent has no need of 32-bit binaries).
 *
 * clone3 passes its flags in memory, where seccomp cannot look: it
 * fails with ENOSYS, glibc then falls back to clone(2), whose flags are
 * a register and are filtered. That also closes CLONE_INTO_CGROUP, the
 * only way to clone into another cgroup.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/capability.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#ifndef SECCOMP_FILTER_FLAG_SPEC_ALLOW
#define SECCOMP_FILTER_FLAG_SPEC_ALLOW (1UL << 2)	/* 4.17 */
#endif
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sysfilter.h"
#include "../bpf/fence.h"

#define NS_FLAGS (CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | \
		  CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWTIME)

/* Personality flags that weaken the next exploit of a fenced process. */
#define PERSONA_FLAGS ((unsigned long long)(ADDR_NO_RANDOMIZE | MMAP_PAGE_ZERO | READ_IMPLIES_EXEC))

enum cond {
	ALWAYS,
	FAMILY,		/* socket families but unix, inet, inet6, netlink route/sock_diag and spec.network.families (Landlock) */
	ARG_EQ32,	/* (arg & 0xffffffff) == val: ioctl numbers are 32 bits */
	ARG_ANY_BIT,	/* arg & val != 0, one rule per bit of val */
	PERSONA,	/* personality(persona) with a PERSONA_FLAGS bit, not a query */
};

struct entry {
	const char *name;
	enum cond cond;
	unsigned int arg;
	unsigned long long val;
	int err;
	const char *when;
	const char *why;
};

/* The one table. Every entry has a route in tests/escape/seccomp.sh. */
static const struct entry table[] = {
	/* The kernel image and its modules. */
	{ "init_module", ALWAYS, 0, 0, EPERM, "", "loads code into the kernel" },
	{ "finit_module", ALWAYS, 0, 0, EPERM, "", "loads code into the kernel" },
	{ "delete_module", ALWAYS, 0, 0, EPERM, "", "unloads a module others rely on (a security module)" },
	{ "kexec_load", ALWAYS, 0, 0, EPERM, "", "replaces the running kernel" },
	{ "kexec_file_load", ALWAYS, 0, 0, EPERM, "", "replaces the running kernel" },
	{ "reboot", ALWAYS, 0, 0, EPERM, "", "stops the node (and arms kexec)" },
	{ "swapon", ALWAYS, 0, 0, EPERM, "", "hands the kernel a device to write memory to" },
	{ "swapoff", ALWAYS, 0, 0, EPERM, "", "node-wide memory configuration" },
	{ "iopl", ALWAYS, 0, 0, EPERM, "", "raw port I/O: reaches hardware past every hook" },
	{ "ioperm", ALWAYS, 0, 0, EPERM, "", "raw port I/O: reaches hardware past every hook" },
	/* BPF and tracing: the fence is made of BPF. */
	{ "bpf", ALWAYS, 0, 0, EPERM, "", "could detach, read or overwrite the fence's own programs and maps" },
	{ "perf_event_open", ALWAYS, 0, 0, EPERM, "", "kernel and other processes' profiling, a side channel and a frequent exploit path" },
	{ "lookup_dcookie", ALWAYS, 0, 0, EPERM, "", "resolves kernel dentry cookies (profiling)" },
	/* The mount tree: "inside" is decided through it. */
	{ "mount", ALWAYS, 0, 0, EPERM, "", "a bind mount moves what a path names" },
	{ "umount2", ALWAYS, 0, 0, EPERM, "", "uncovers what a mount hid" },
	{ "pivot_root", ALWAYS, 0, 0, EPERM, "", "replaces the root the paths are judged from" },
	{ "mount_setattr", ALWAYS, 0, 0, EPERM, "", "makes a read-only mount writable, changes propagation" },
	{ "fsopen", ALWAYS, 0, 0, EPERM, "", "new mount API: a filesystem context" },
	{ "fspick", ALWAYS, 0, 0, EPERM, "", "new mount API: reconfigures a mounted filesystem" },
	{ "fsconfig", ALWAYS, 0, 0, EPERM, "", "new mount API: sets a filesystem's options" },
	{ "fsmount", ALWAYS, 0, 0, EPERM, "", "new mount API: turns a context into a mount" },
	{ "open_tree", ALWAYS, 0, 0, EPERM, "", "new mount API: clones a mount tree (a detached bind mount)" },
	{ "move_mount", ALWAYS, 0, 0, EPERM, "", "new mount API: attaches a mount anywhere" },
	/* Namespaces: a new user namespace gives every capability inside it,
	 * new mount/net namespaces a view the fence did not judge. */
	{ "clone3", ALWAYS, 0, 0, ENOSYS, "", "flags in memory (CLONE_NEWUSER, CLONE_INTO_CGROUP) cannot be filtered: glibc falls back to clone" },
	{ "clone", ARG_ANY_BIT, 0, NS_FLAGS, EPERM, "flags & CLONE_NEW*", "a new namespace (user: every capability in it)" },
	{ "unshare", ARG_ANY_BIT, 0, NS_FLAGS, EPERM, "flags & CLONE_NEW*", "a new namespace (user: every capability in it)" },
	{ "setns", ALWAYS, 0, 0, EPERM, "", "enters another process's namespaces (the host's)" },
	/* The terminal agentfence was started from. */
	{ "ioctl", ARG_EQ32, 1, TIOCSTI, EPERM, "cmd == TIOCSTI", "pushes input into a terminal: commands typed into the shell outside" },
	{ "ioctl", ARG_EQ32, 1, TIOCLINUX, EPERM, "cmd == TIOCLINUX", "console selection paste: the same injection on a virtual console" },
	{ "ioctl", ARG_EQ32, 1, TIOCCONS, EPERM, "cmd == TIOCCONS", "redirects the system console into this terminal" },
	/* Kernel objects shared with processes outside the fence. */
	{ "keyctl", ALWAYS, 0, 0, EPERM, "", "kernel keyrings are per user, not per fence: root's keys outside" },
	{ "add_key", ALWAYS, 0, 0, EPERM, "", "kernel keyrings are per user, not per fence" },
	{ "request_key", ALWAYS, 0, 0, EPERM, "", "kernel keyrings are per user, not per fence (and upcalls to userspace helpers)" },
	{ "userfaultfd", ALWAYS, 0, 0, EPERM, "", "stalls the kernel mid-copy at will: the usual exploit primitive" },
	{ "open_by_handle_at", ALWAYS, 0, 0, EPERM, "", "opens a file by handle, without a path for the fence to judge" },
	/* io_uring: its requests open, write, rename, unlink and connect
	 * from kernel workers, past the syscall tracepoints the journal is
	 * made from (so on the Landlock backend nothing would be recorded),
	 * and it has been the kernel's most exploited interface (Docker's
	 * default profile and Google's kernels refuse it too). Programs
	 * that use it fall back to ordinary system calls on EPERM. */
	{ "io_uring_setup", ALWAYS, 0, 0, EPERM, "", "io_uring: file and socket operations the journal's tracepoints do not see; a frequent exploit path" },
	{ "io_uring_enter", ALWAYS, 0, 0, EPERM, "", "io_uring: a ring passed in from outside the fence" },
	{ "io_uring_register", ALWAYS, 0, 0, EPERM, "", "io_uring: registered files and personalities of a ring passed in" },
	/* Socket families (Landlock backend only, for a policy with a
	 * network section: the BPF LSM backends judge them then in
	 * lsm/socket_create and report each): creating a socket of a
	 * family makes the kernel load its module (net-pf-N), and Landlock
	 * has no control over families. Routes: tests/escape/families.sh. */
	{ "socket", FAMILY, 0, 0, EPERM, "family not unix, inet, inet6, netlink route/sock_diag nor in spec.network.families, or an inet protocol but IP, ICMP, TCP, UDP, ICMPv6, UDP-Lite, raw, MPTCP (Landlock backend)", "packet, netlink configuration, vsock, ... sockets, SCTP, DCCP, L2TP, and the module autoload they trigger" },
	{ "socketpair", FAMILY, 0, 0, EPERM, "family not unix, inet, inet6, netlink route/sock_diag nor in spec.network.families (Landlock backend)", "the same families, and their module autoload" },
	/* Node-wide settings. */
	{ "settimeofday", ALWAYS, 0, 0, EPERM, "", "the node's clock (journal timestamps, certificates)" },
	{ "clock_settime", ALWAYS, 0, 0, EPERM, "", "the node's clock (journal timestamps, certificates)" },
	{ "acct", ALWAYS, 0, 0, EPERM, "", "process accounting: the kernel writes a file of our choosing" },
	{ "quotactl", ALWAYS, 0, 0, EPERM, "", "disk quotas of every user" },
	{ "quotactl_fd", ALWAYS, 0, 0, EPERM, "", "disk quotas of every user" },
	{ "syslog", ALWAYS, 0, 0, EPERM, "", "reads and clears the kernel log (kernel addresses)" },
	{ "vhangup", ALWAYS, 0, 0, EPERM, "", "hangs up the terminal of others" },
	{ "personality", PERSONA, 0, 0, EPERM, "persona & (ADDR_NO_RANDOMIZE|MMAP_PAGE_ZERO|READ_IMPLIES_EXEC), not a query", "ADDR_NO_RANDOMIZE, READ_IMPLIES_EXEC, MMAP_PAGE_ZERO weaken the next exploit" },
};

#define AFN_UNIX	1
#define AFN_INET	2
#define AFN_INET6	10
#define AFN_NETLINK	16

/* inet and inet6 protocols whose code is always in the kernel: IP's
 * default (0), ICMP, TCP, UDP, ICMPv6, UDP-Lite, raw, MPTCP. Another
 * protocol (SCTP 132, DCCP 33, L2TP 115, ...) makes the kernel load its
 * module after socket_create; Landlock has no hook there. */
static const unsigned int inet_protocols[] = { 0, 1, 6, 17, 58, 136, 255, 262 };

/* Refuse socket(AF_INET or AF_INET6, any type, protocol) for every
 * protocol (as the kernel reads it: an int, the low 32 bits) not in
 * inet_protocols: each gap between them is cut into aligned blocks,
 * one masked comparison each. */
static int add_inet_protocols(scmp_filter_ctx ctx, int err_no, int nr)
{
	static const unsigned int fams[] = { AFN_INET, AFN_INET6 };
	unsigned long long lo, hi, size;
	size_t i, f;
	int err;

	for (i = 0; i < sizeof(inet_protocols) / sizeof(inet_protocols[0]); i++) {
		lo = inet_protocols[i] + 1ULL;
		hi = i + 1 < sizeof(inet_protocols) / sizeof(inet_protocols[0]) ?
		     inet_protocols[i + 1] : 0x100000000ULL;	/* [lo, hi) refused */
		while (lo < hi) {
			for (size = 1ULL << 32; size > 1 && ((lo & (size - 1)) || lo + size > hi); size >>= 1)
				;
			for (f = 0; f < 2; f++) {
				err = seccomp_rule_add_exact(ctx, SCMP_ACT_ERRNO(err_no), nr, 2,
							     SCMP_CMP(0, SCMP_CMP_MASKED_EQ, 0xffffffffULL, fams[f]),
							     SCMP_CMP(2, SCMP_CMP_MASKED_EQ,
								      0xffffffffULL & ~(size - 1), lo));
				if (err)
					return err;
			}
			lo += size;
		}
	}
	return 0;
}

static int add(scmp_filter_ctx ctx, const struct entry *e, int nr, const struct af_seccomp_opts *o)
{
	unsigned long long bits;
	int err, i;

	switch (e->cond) {
	case FAMILY:
		if (!o || !o->families_filter)
			return 1;	/* not in this filter */
		/* One rule per refused family number: the kernel knows
		 * fewer than 64 (AF_MAX), and takes family as an int. */
		for (i = 0; i < 64; i++) {
			if (i == AFN_UNIX || i == AFN_INET || i == AFN_INET6 ||
			    ((o->families >> i) & 1) || i == AFN_NETLINK)
				continue;
			err = seccomp_rule_add_exact(ctx, SCMP_ACT_ERRNO(e->err), nr, 1,
						     SCMP_CMP(0, SCMP_CMP_MASKED_EQ, 0xffffffffULL, i));
			if (err)
				return err;
		}
		if (nr == seccomp_syscall_resolve_name("socket")) {
			err = add_inet_protocols(ctx, e->err, nr);
			if (err)
				return err;
		}
		if ((o->families >> AFN_NETLINK) & 1)
			return 0;
		/* netlink: NETLINK_ROUTE (0) and NETLINK_SOCK_DIAG (4) read
		 * the node's state (getaddrinfo, ip, ss); the rest change it.
		 * Upper bits of protocol only make it larger: refused. */
		for (i = 1; i <= 3; i++) {
			err = seccomp_rule_add_exact(ctx, SCMP_ACT_ERRNO(e->err), nr, 2,
						     SCMP_CMP(0, SCMP_CMP_MASKED_EQ, 0xffffffffULL, AFN_NETLINK),
						     SCMP_CMP(2, SCMP_CMP_EQ, i));
			if (err)
				return err;
		}
		return seccomp_rule_add_exact(ctx, SCMP_ACT_ERRNO(e->err), nr, 2,
					      SCMP_CMP(0, SCMP_CMP_MASKED_EQ, 0xffffffffULL, AFN_NETLINK),
					      SCMP_CMP(2, SCMP_CMP_GE, 5));
	case ALWAYS:
		return seccomp_rule_add_exact(ctx, SCMP_ACT_ERRNO(e->err), nr, 0);
	case ARG_EQ32:
		return seccomp_rule_add_exact(ctx, SCMP_ACT_ERRNO(e->err), nr, 1,
					      SCMP_CMP(e->arg, SCMP_CMP_MASKED_EQ, 0xffffffffULL, e->val));
	case ARG_ANY_BIT:
		for (bits = e->val, i = 0; bits; bits >>= 1, i++) {
			if (!(bits & 1))
				continue;
			err = seccomp_rule_add_exact(ctx, SCMP_ACT_ERRNO(e->err), nr, 1,
						     SCMP_CMP(e->arg, SCMP_CMP_MASKED_EQ,
							      1ULL << i, 1ULL << i));
			if (err)
				return err;
		}
		return 0;
	case PERSONA:
		/* persona is an unsigned int and 0xffffffff a query, which
		 * has every bit set; libseccomp allows one comparison per
		 * argument and rule. So: refuse when a flag bit f is set
		 * and some other bit b is clear, for every b: 31 rules a
		 * flag, and the query (or high bits, ignored by the kernel)
		 * matches none. */
		for (bits = PERSONA_FLAGS; bits; bits &= bits - 1) {
			unsigned long long f = bits & -bits;

			for (i = 0; i < 32; i++) {
				if ((1ULL << i) == f)
					continue;
				err = seccomp_rule_add_exact(ctx, SCMP_ACT_ERRNO(e->err), nr, 1,
							     SCMP_CMP(e->arg, SCMP_CMP_MASKED_EQ,
								      f | (1ULL << i), f));
				if (err)
					return err;
			}
		}
		return 0;
	}
	return -EINVAL;
}

int af_seccomp_build(struct af_seccomp *s, char *why, size_t why_size)
{
	return af_seccomp_build_opts(s, NULL, why, why_size);
}

static int seccomp_build_opts(struct af_seccomp *s, const struct af_seccomp_opts *o, char *why,
			      size_t why_size);

/* The filter is a function of the options alone (for one binary and
 * one libseccomp), and libseccomp takes ~2 ms of CPU to build one, a
 * quarter of a run's: a process keeps the programs it built (a daemon
 * makes many fences; a few option sets at most), and root's runs share
 * them through /run/agentfence/seccomp-<key> (root's own files only, as
 * the probe cache; the kernel checks the program again when it loads). */
#define SECCOMP_CACHE 4
#define SECCOMP_CACHE_DIR "/run/agentfence"

static uint64_t key_mix(uint64_t h, const void *data, size_t n)
{
	const unsigned char *c = data;

	while (n--)
		h = (h ^ *c++) * 0x100000001b3ULL;
	return h;
}

static bool file_key(const struct af_seccomp_opts *o, char *name, size_t n)
{
	const struct scmp_version *v = seccomp_version();
	uint64_t h = 0xcbf29ce484222325ULL;
	struct stat st;
	uint64_t parts[8];

	if (geteuid() || stat("/proc/self/exe", &st) || !v)
		return false;
	parts[0] = st.st_dev;
	parts[1] = st.st_ino;
	parts[2] = st.st_size;
	parts[3] = st.st_mtim.tv_sec;
	parts[4] = st.st_mtim.tv_nsec;
	parts[5] = (uint64_t)v->major << 32 | v->minor << 16 | v->micro;
	parts[6] = o->families_filter;
	parts[7] = o->families;
	h = key_mix(h, parts, sizeof(parts));
	snprintf(name, n, "seccomp-%016llx", (unsigned long long)h);
	return true;
}

struct file_head {
	char magic[8];
	uint32_t rules;
	uint32_t pad;
};

static int file_read(const char *name, struct af_seccomp *s)
{
	struct file_head fh;
	struct stat st;
	void *buf = NULL;
	int dfd, fd = -1, err = -ENOENT;

	dfd = open(SECCOMP_CACHE_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	if (fstat(dfd, &st) || st.st_uid || (st.st_mode & 022))
		goto out;
	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) || st.st_uid || (st.st_mode & 022) || !S_ISREG(st.st_mode) ||
	    st.st_size <= (off_t)sizeof(fh))
		goto out;
	st.st_size -= sizeof(fh);
	if (st.st_size % sizeof(struct sock_filter) ||
	    st.st_size / sizeof(struct sock_filter) > BPF_MAXINSNS ||
	    pread(fd, &fh, sizeof(fh), 0) != sizeof(fh) || memcmp(fh.magic, "afseccp1", 8))
		goto out;
	buf = malloc(st.st_size);
	if (!buf || pread(fd, buf, st.st_size, sizeof(fh)) != st.st_size)
		goto out;
	memset(s, 0, sizeof(*s));
	s->insns = buf;
	s->len = st.st_size / sizeof(struct sock_filter);
	s->rules = fh.rules;
	af_sha256_hex(buf, st.st_size, s->sha256);
	buf = NULL;
	err = 0;
out:
	free(buf);
	if (fd >= 0)
		close(fd);
	close(dfd);
	return err;
}

static void file_write(const char *name, const struct af_seccomp *s)
{
	char tmp[128], path[160];
	int fd;

	snprintf(tmp, sizeof(tmp), SECCOMP_CACHE_DIR "/.%s.%d", name, (int)getpid());
	snprintf(path, sizeof(path), SECCOMP_CACHE_DIR "/%s", name);
	if (mkdir(SECCOMP_CACHE_DIR, 0700) && errno != EEXIST)
		return;
	struct file_head fh = { .magic = "afseccp1", .rules = s->rules };

	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	if (write(fd, &fh, sizeof(fh)) != sizeof(fh) || write(fd, s->insns, s->len * sizeof(*s->insns)) != (ssize_t)(s->len * sizeof(*s->insns)) ||
	    close(fd) || rename(tmp, path))
		unlink(tmp);
}

int af_seccomp_build_opts(struct af_seccomp *s, const struct af_seccomp_opts *o, char *why,
			  size_t why_size)
{
	static struct {
		struct af_seccomp_opts o;
		struct af_seccomp s;
	} cache[SECCOMP_CACHE];
	static unsigned int next;
	char name[64];
	bool have_name;
	unsigned int i;
	int err;
	const struct af_seccomp_opts none = {};

	if (!o)
		o = &none;

	for (i = 0; i < SECCOMP_CACHE; i++) {
		if (!cache[i].s.insns || cache[i].o.families_filter != o->families_filter ||
		    cache[i].o.families != o->families)
			continue;
		*s = cache[i].s;
		s->insns = malloc(s->len * sizeof(*s->insns));
		if (!s->insns) {
			snprintf(why, why_size, "seccomp filter: out of memory");
			return -ENOMEM;
		}
		memcpy(s->insns, cache[i].s.insns, s->len * sizeof(*s->insns));
		return 0;
	}
	have_name = file_key(o, name, sizeof(name));
	if (!have_name || file_read(name, s)) {
		err = seccomp_build_opts(s, o, why, why_size);
		if (err)
			return err;
		if (have_name)
			file_write(name, s);
	}
	i = next++ % SECCOMP_CACHE;
	free(cache[i].s.insns);
	cache[i].o = *o;
	cache[i].s = *s;
	cache[i].s.insns = malloc(s->len * sizeof(*s->insns));
	if (cache[i].s.insns)
		memcpy(cache[i].s.insns, s->insns, s->len * sizeof(*s->insns));
	return 0;
}

static int seccomp_build_opts(struct af_seccomp *s, const struct af_seccomp_opts *o, char *why,
			      size_t why_size)
{
	scmp_filter_ctx ctx;
	char *buf = NULL;
	size_t i, size = 0;
	int nr, err, fd = -1;

	memset(s, 0, sizeof(*s));
	ctx = seccomp_init(SCMP_ACT_ALLOW);
	if (!ctx) {
		snprintf(why, why_size, "seccomp_init: out of memory");
		return -ENOMEM;
	}
	/* Foreign ABIs are not in the filter: a call through one kills. */
	err = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	if (!err)
		err = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
	/* A binary tree of system call numbers: every allowed call pays a
	 * few comparisons, not a walk of the table. */
	if (!err)
		err = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
	if (err) {
		snprintf(why, why_size, "seccomp_attr_set: %s", strerror(-err));
		goto out;
	}
	for (i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		nr = seccomp_syscall_resolve_name(table[i].name);
		if (nr == __NR_SCMP_ERROR) {
			snprintf(why, why_size, "unknown system call %s", table[i].name);
			err = -EINVAL;
			goto out;
		}
		err = add(ctx, &table[i], nr, o);
		if (err == 1)
			continue;
		if (err) {
			snprintf(why, why_size, "seccomp rule for %s: %s", table[i].name,
				 strerror(-err));
			goto out;
		}
		s->rules++;
	}
	fd = memfd_create("af-seccomp", MFD_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		snprintf(why, why_size, "memfd_create: %s", strerror(errno));
		goto out;
	}
	err = seccomp_export_bpf(ctx, fd);
	if (err) {
		snprintf(why, why_size, "seccomp_export_bpf: %s", strerror(-err));
		goto out;
	}
	size = lseek(fd, 0, SEEK_END);
	if (size == 0 || size % sizeof(struct sock_filter) || size / sizeof(struct sock_filter) > BPF_MAXINSNS ||
	    !(buf = malloc(size)) || pread(fd, buf, size, 0) != (ssize_t)size) {
		err = -EIO;
		snprintf(why, why_size, "seccomp_export_bpf: a program of %zu bytes", size);
		goto out;
	}
	s->insns = (struct sock_filter *)buf;
	s->len = size / sizeof(struct sock_filter);
	af_sha256_hex(buf, size, s->sha256);
	buf = NULL;
	err = 0;
out:
	free(buf);
	if (fd >= 0)
		close(fd);
	seccomp_release(ctx);
	return err;
}

int af_seccomp_install(const struct af_seccomp *s)
{
	struct sock_fprog prog = { .len = s->len, .filter = s->insns };

	/* TSYNC is not needed: the child is single-threaded here.
	 * SPEC_ALLOW: seccomp would otherwise turn on the Speculative Store
	 * Bypass mitigation for the task, which guards the task's own
	 * secrets against others and costs every fenced system call;
	 * the box guards the node against the task. */
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_SPEC_ALLOW, &prog))
		return -errno;
	return 0;
}

void af_seccomp_free(struct af_seccomp *s)
{
	free(s->insns);
	s->insns = NULL;
	s->len = 0;
}

void af_seccomp_describe(af_seccomp_entry_fn fn, void *ctx)
{
	size_t i;

	for (i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		fn(ctx, table[i].name, table[i].when, table[i].err == ENOSYS ? "ENOSYS" : "EPERM",
		   table[i].why);
}

/* System calls that fail -EPERM for want of a capability, and which:
 * a fenced task's -EPERM from one of them is journaled as a refusal by
 * the box ("capability"), unless the policy grants the capability. */
static const struct {
	const char *name;
	unsigned int cap;
} cap_table[] = {
	{ "sethostname", CAP_SYS_ADMIN }, { "setdomainname", CAP_SYS_ADMIN },
	{ "chroot", CAP_SYS_CHROOT },
	{ "setuid", CAP_SETUID }, { "setreuid", CAP_SETUID }, { "setresuid", CAP_SETUID },
	{ "setgid", CAP_SETGID }, { "setregid", CAP_SETGID }, { "setresgid", CAP_SETGID },
	{ "setgroups", CAP_SETGID }, { "capset", CAP_SETPCAP },
	{ "adjtimex", CAP_SYS_TIME }, { "clock_adjtime", CAP_SYS_TIME },
	{ "setrlimit", CAP_SYS_RESOURCE }, { "prlimit64", CAP_SYS_RESOURCE },
	{ "sched_setscheduler", CAP_SYS_NICE }, { "sched_setparam", CAP_SYS_NICE },
	{ "sched_setattr", CAP_SYS_NICE }, { "ioprio_set", CAP_SYS_NICE },
	/* Not socket (raw and packet sockets want CAP_NET_RAW): cgroup/
	 * sock_create refuses and reports those on every backend first. */
};

void af_sysclass_fill(uint8_t *class, size_t n)
{
	size_t i;
	int nr;

	memset(class, 0, n);
	for (i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		/* clone3's ENOSYS is the way to clone(2), not a refusal:
		 * every pthread_create and posix_spawn of glibc meets it. */
		if (table[i].err == ENOSYS)
			continue;
		nr = seccomp_syscall_resolve_name(table[i].name);
		if (nr >= 0 && (size_t)nr < n)
			class[nr] |= AF_SC_SECCOMP;
	}
	for (i = 0; i < sizeof(cap_table) / sizeof(cap_table[0]); i++) {
		nr = seccomp_syscall_resolve_name(cap_table[i].name);
		if (nr >= 0 && (size_t)nr < n)
			class[nr] |= AF_SC_CAP;
	}
}

int af_syscall_cap(int nr)
{
	size_t i;

	for (i = 0; i < sizeof(cap_table) / sizeof(cap_table[0]); i++)
		if (seccomp_syscall_resolve_name(cap_table[i].name) == nr)
			return cap_table[i].cap;
	return -1;
}

void af_syscall_name(int nr, char *buf, size_t n)
{
	char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);

	if (name)
		snprintf(buf, n, "%s", name);
	else
		snprintf(buf, n, "syscall %d", nr);
	free(name);
}
