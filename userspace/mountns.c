// SPDX-License-Identifier: GPL-2.0
/*
 * The mount namespace beneath the Landlock backend.
 *
 * Landlock judges writes by path, and only some of them: chmod, chown,
 * utimes, xattrs and inode flags are not rights it handles, it has no
 * right to read that can be taken away beneath an allowed directory,
 * and no rule that denies inside an allowed one. A private mount
 * namespace closes these the way bubblewrap does:
 *
 *   - every mount read-only (mount_setattr MOUNT_ATTR_RDONLY, recursive):
 *     a metadata change outside the writable paths fails with EROFS;
 *   - each writable path a read-write bind mount of itself (mounts
 *     beneath one stay read-only: as on the BPF backends, a filesystem
 *     mounted inside a root is not part of it);
 *   - each existing deny_read path hidden under an empty read-only mount;
 *   - each existing protected path a read-only bind mount of itself, and
 *     each directory between it and its writable path a read-write bind
 *     mount of itself, so that none of them can be renamed or removed
 *     (EBUSY) and replaced by one of the agent's making.
 *
 * The plan is made in the parent (af_mountns_prepare), the namespace in
 * the child between fork and exec (af_mountns_enter), before Landlock
 * and the seccomp filter, which then keep it as it is: Landlock denies
 * mount, umount and pivot_root to a restricted task, and the filter the
 * rest of the mount API.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/mount.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "mountns.h"
#include "util.h"

#ifndef __NR_mount_setattr
#define __NR_mount_setattr 442
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif

enum op_kind {
	OP_BIND_RW,	/* a writable path: read-write bind of itself */
	OP_PIN,		/* a directory on a protected path's way: read-write bind */
	OP_BIND_RO,	/* a protected path: read-only bind of itself */
	OP_HIDE_DIR,	/* a deny_read directory: empty read-only tmpfs over it */
	OP_HIDE_FILE,	/* a deny_read file: /dev/null, nodev, over it */
};

struct op {
	enum op_kind kind;
	int depth;	/* components: shallow mounts first */
	bool nodev;	/* OP_BIND_RW: a directory outside /dev */
	char *path;
};

static struct op *ops;
static size_t n_ops;
static bool prepared;
static bool all_writable;	/* "/" is writable: nothing to make read-only */

static int depth_of(const char *path)
{
	int d = 0;

	for (; *path; path++)
		d += *path == '/';
	return d;
}

static int add_op(enum op_kind kind, const char *path, char *err, size_t n)
{
	struct op *o;
	size_t i;

	for (i = 0; i < n_ops; i++) {
		if (strcmp(ops[i].path, path))
			continue;
		/* A protected path wins over a pin of the same directory
		 * (".git" protected, ".git/config" too). */
		if (kind == OP_BIND_RO || kind == OP_HIDE_DIR || kind == OP_HIDE_FILE)
			ops[i].kind = kind;
		return 0;
	}
	o = realloc(ops, (n_ops + 1) * sizeof(*ops));
	if (!o)
		goto oom;
	ops = o;
	ops[n_ops].path = strdup(path);
	if (!ops[n_ops].path)
		goto oom;
	ops[n_ops].kind = kind;
	ops[n_ops].depth = depth_of(path);
	n_ops++;
	return 0;
oom:
	snprintf(err, n, "out of memory");
	return -ENOMEM;
}

enum gap {
	GAP_MISSING,	/* does not exist yet: can be created */
	GAP_LINK,	/* a symlink, or beneath one or a file: can be replaced */
	GAP_MAX,
};

struct prot_ctx {
	char *err;
	size_t n;
	bool gaps;			/* af_mountns_uncovered: count, plan nothing */
	int count[GAP_MAX];
	char first[GAP_MAX][PATH_MAX];
};

static void add_gap(struct prot_ctx *c, const char *path, enum gap g)
{
	if (!c->count[g]++)
		af_strlcpy(c->first[g], path, sizeof(c->first[g]));
}

/* A protected path: pins for the directories on its way, a read-only
 * bind of itself. One that is missing or a symlink is a gap. */
static int plan_protected(void *ctx, const char *path, const char *root)
{
	struct prot_ctx *c = ctx;
	size_t rlen = strcmp(root, "/") ? strlen(root) : 0;
	char buf[PATH_MAX];
	struct stat st;
	char *s;
	int err;

	if (af_strlcpy(buf, path, sizeof(buf)))
		return 0;
	/* The directories between the root and the path. */
	for (s = buf + rlen + 1; (s = strchr(s, '/')); s++) {
		*s = 0;
		if (lstat(buf, &st)) {
			*s = '/';
			add_gap(c, path, GAP_MISSING);
			return 0;
		}
		if (!S_ISDIR(st.st_mode)) {
			*s = '/';
			add_gap(c, path, GAP_LINK);
			return 0;
		}
		if (!c->gaps && (err = add_op(OP_PIN, buf, c->err, c->n)))
			return err;
		*s = '/';
	}
	if (lstat(path, &st)) {
		add_gap(c, path, GAP_MISSING);
		return 0;
	}
	if (S_ISLNK(st.st_mode)) {
		add_gap(c, path, GAP_LINK);
		return 0;
	}
	return c->gaps ? 0 : add_op(OP_BIND_RO, path, c->err, c->n);
}

static int cmp_op(const void *a, const void *b)
{
	const struct op *x = a, *y = b;

	if (x->depth != y->depth)
		return x->depth - y->depth;
	return strcmp(x->path, y->path);
}

int af_mountns_prepare(const struct af_policy *p, char *err, size_t n)
{
	struct prot_ctx c = { .err = err, .n = n };
	struct stat st;
	size_t i;
	int ret;

	for (i = 0; i < p->n_writable; i++) {
		/* A mount over / is not seen from the root it hides. */
		if (!strcmp(p->writable[i].path, "/")) {
			all_writable = true;
			continue;
		}
		if ((ret = add_op(OP_BIND_RW, p->writable[i].path, err, n)))
			return ret;
		ops[n_ops - 1].nodev = !stat(p->writable[i].path, &st) && S_ISDIR(st.st_mode) &&
				       strcmp(p->writable[i].path, "/dev") &&
				       strncmp(p->writable[i].path, "/dev/", 5);
	}
	ret = af_policy_protected_each(p, plan_protected, &c);
	if (ret)
		return ret;
	for (i = 0; i < p->n_deny_read; i++) {
		const char *path = p->deny_read[i].path;

		if (stat(path, &st)) {
			if (errno == ENOENT || errno == ENOTDIR)
				continue;	/* nothing to hide; the policy warned */
			snprintf(err, n, "deny_read path %s: %s", path, strerror(errno));
			return -errno;
		}
		if ((ret = add_op(S_ISDIR(st.st_mode) ? OP_HIDE_DIR : OP_HIDE_FILE, path, err, n)))
			return ret;
	}
	qsort(ops, n_ops, sizeof(*ops), cmp_op);
	prepared = true;
	return 0;
}

const char *af_mountns_uncovered(const struct af_policy *p)
{
	static const char *const what[GAP_MAX] = {
		[GAP_MISSING] = "not there yet, which can be created",
		[GAP_LINK] = "that are symlinks or beneath one, which can be replaced",
	};
	static struct prot_ctx c;
	static char buf[2 * PATH_MAX + 256];
	size_t len = 0;
	int g;

	memset(&c, 0, sizeof(c));
	c.gaps = true;
	buf[0] = 0;
	af_policy_protected_each(p, plan_protected, &c);
	for (g = 0; g < GAP_MAX; g++) {
		if (!c.count[g])
			continue;
		len += snprintf(buf + len, sizeof(buf) - len, "%s%d protected paths %s (%s%s)",
				len ? ", " : "", c.count[g], what[g], c.first[g],
				c.count[g] > 1 ? ", ..." : "");
		if (len >= sizeof(buf))
			break;
	}
	return buf;
}

static int set_attr(const char *path, unsigned int flags, __u64 set, __u64 clr)
{
	struct mount_attr attr = { .attr_set = set, .attr_clr = clr };

	return syscall(__NR_mount_setattr, AT_FDCWD, path, flags, &attr, sizeof(attr)) ? -errno : 0;
}

#define STEP(cond, w, path) do {		\
		if (cond) {			\
			err = -errno;		\
			*why = (w);		\
			*where = (path);	\
			return err;		\
		}				\
	} while (0)

int af_mountns_enter(const char **why, const char **where)
{
	const __u64 hide = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC |
			   MOUNT_ATTR_NOSUID;
	size_t i;
	int err;

	*where = "/";
	if (!prepared) {
		*why = "the mount plan was not prepared";
		return -EINVAL;
	}
	STEP(unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)", "/");
	/* Nothing made here may reach the namespace outside. */
	STEP(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), "make / private", "/");
	for (i = 0; i < n_ops; i++) {
		const char *path = ops[i].path;

		switch (ops[i].kind) {
		case OP_BIND_RW:
		case OP_PIN:
		case OP_BIND_RO:
			STEP(mount(path, path, NULL, MS_BIND | MS_REC, NULL), "bind mount", path);
			break;
		case OP_HIDE_DIR:
			STEP(mount("agentfence-deny-read", path, "tmpfs",
				   MS_RDONLY | MS_NODEV | MS_NOSUID | MS_NOEXEC, "size=4k,mode=000"),
			     "hide a deny_read directory", path);
			break;
		case OP_HIDE_FILE:
			STEP(mount("/dev/null", path, NULL, MS_BIND, NULL),
			     "hide a deny_read file", path);
			break;
		}
	}
	err = all_writable ? 0 : set_attr("/", AT_RECURSIVE, MOUNT_ATTR_RDONLY, 0);
	STEP(err && (errno = -err), "make every mount read-only", "/");
	for (i = 0; i < n_ops; i++) {
		const char *path = ops[i].path;

		switch (ops[i].kind) {
		case OP_BIND_RW:
			/* A device node made in a writable directory must not
			 * open the disk (mknod as root): nodev, but not for the
			 * devices themselves (/dev/null, /dev/pts). */
			err = set_attr(path, 0, ops[i].nodev ? MOUNT_ATTR_NODEV : 0, MOUNT_ATTR_RDONLY);
			STEP(err && (errno = -err), "make a writable path read-write", path);
			break;
		case OP_PIN:
			err = set_attr(path, 0, MOUNT_ATTR_NODEV, MOUNT_ATTR_RDONLY);
			STEP(err && (errno = -err), "make a writable path read-write", path);
			break;
		case OP_HIDE_FILE:
			err = set_attr(path, 0, hide, 0);
			STEP(err && (errno = -err), "hide a deny_read file", path);
			break;
		default:
			break;
		}
	}
	return 0;
}
