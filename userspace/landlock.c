// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/landlock.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "landlock.h"
#include "mountns.h"

#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)	/* ABI 3, 6.2 */
#endif

#ifndef LANDLOCK_SCOPE_SIGNAL
#define LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0)	/* ABI 6, 6.12 */
#define LANDLOCK_SCOPE_SIGNAL (1ULL << 1)		/* ABI 6, 6.12 */
#endif

/* struct landlock_ruleset_attr as of ABI 6; the kernel takes a prefix
 * of it (the size says which fields we know), older headers lack the
 * last two. */
struct af_ruleset_attr {
	__u64 handled_access_fs;
	__u64 handled_access_net;	/* ABI 4 */
	__u64 scoped;			/* ABI 6 */
};

/* Rights that change the filesystem, by the ABI that introduced them. */
#define WRITE_RIGHTS_V1 (LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_REMOVE_DIR | \
			 LANDLOCK_ACCESS_FS_REMOVE_FILE | LANDLOCK_ACCESS_FS_MAKE_CHAR | \
			 LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_MAKE_REG | \
			 LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_MAKE_FIFO | \
			 LANDLOCK_ACCESS_FS_MAKE_BLOCK | LANDLOCK_ACCESS_FS_MAKE_SYM)
/* Rights that apply to a file itself (a rule on a file may hold only these). */
#define FILE_RIGHTS (LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_TRUNCATE)

static __u64 write_rights(int abi)
{
	__u64 r = WRITE_RIGHTS_V1;

	if (abi >= 2)
		r |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		r |= LANDLOCK_ACCESS_FS_TRUNCATE;
	return r;
}

int af_landlock_abi(void)
{
	long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);

	return abi < 0 ? -errno : (int)abi;
}

int af_landlock_restrict(const struct af_policy *p, const char **why)
{
	struct af_ruleset_attr attr = {};
	size_t attr_size = sizeof(__u64);
	int abi, ruleset, fd, ret = 0;
	size_t i;

	abi = af_landlock_abi();
	if (abi < 0) {
		*why = "landlock_create_ruleset";
		return abi;
	}
	attr.handled_access_fs = write_rights(abi);
	/* Signals (kill, tgkill, pidfd, SIGIO/SIGURG of a file owner) and
	 * abstract unix sockets reach only processes in this domain or
	 * beneath it: not run, not its watcher, nothing else outside. */
	if (abi >= 6) {
		attr.scoped = LANDLOCK_SCOPE_SIGNAL | LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET;
		attr_size = sizeof(attr);
	}
	ruleset = syscall(SYS_landlock_create_ruleset, &attr, attr_size, 0);
	if (ruleset < 0) {
		*why = "landlock_create_ruleset";
		return -errno;
	}
	for (i = 0; i < p->n_writable; i++) {
		struct landlock_path_beneath_attr rule = {};
		struct stat st;

		fd = open(p->writable[i].path, O_PATH | O_CLOEXEC);
		if (fd < 0 || fstat(fd, &st)) {
			ret = -errno;
			*why = "open a writable root";
			goto out;
		}
		rule.parent_fd = fd;
		rule.allowed_access = attr.handled_access_fs;
		if (!S_ISDIR(st.st_mode))
			rule.allowed_access &= FILE_RIGHTS;
		if (syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &rule, 0)) {
			ret = -errno;
			close(fd);
			*why = "landlock_add_rule";
			goto out;
		}
		close(fd);
	}
	/* Without CAP_SYS_ADMIN Landlock requires no_new_privs. */
	if (syscall(SYS_landlock_restrict_self, ruleset, 0) &&
	    (errno != EPERM || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
	     syscall(SYS_landlock_restrict_self, ruleset, 0))) {
		ret = -errno;
		*why = "landlock_restrict_self";
	}
out:
	close(ruleset);
	return ret;
}

static void add_gap(char *buf, size_t size, const char *what)
{
	size_t len = strlen(buf);

	if (what[0])
		snprintf(buf + len, size - len, "%s%s", len ? ", " : "", what);
}

const char *af_landlock_uncovered(const struct af_policy *p, int abi)
{
	static char buf[1024];

	buf[0] = '\0';
	if (abi < 3)
		add_gap(buf, sizeof(buf), "truncate");
	/* chmod, chown, utimes, xattrs, inode flags, deny_read and
	 * protected paths: the mount namespace (userspace/mountns.c). */
	add_gap(buf, sizeof(buf), af_mountns_uncovered(p));
	if (abi < 6)
		add_gap(buf, sizeof(buf), "signals and abstract unix sockets outside the fence (Landlock ABI 6)");
	if (p->has_network) {
		add_gap(buf, sizeof(buf), "sockets passed into the fence");
		/* Socket families are refused by the seccomp filter here
		 * (userspace/sysfilter.c); what a netlink route socket sends
		 * is judged by capabilities alone. */
		add_gap(buf, sizeof(buf), "netlink route messages (judged by capabilities only)");
		add_gap(buf, sizeof(buf), "unix socket paths by identity (a symlink in an allowed directory)");
	}
	return buf;
}
