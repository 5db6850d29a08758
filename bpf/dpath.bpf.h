/* SPDX-License-Identifier: GPL-2.0 */
/* Paths as the kernel resolved them, for file effect records: shared by
 * the syscall tracepoints (bpf/effects.bpf.c, the Landlock backend) and
 * the LSM hooks that emit the same records on the BPF-LSM backends
 * (bpf/fs.bpf.c). */
#ifndef AF_DPATH_BPF_H
#define AF_DPATH_BPF_H

#include "common.bpf.h"
#include "syscalls.h"

/* The system calls whose file effects are journaled. */
static __always_inline bool traced(long nr)
{
	switch (nr) {
	case AF_NR_open: case AF_NR_creat: case AF_NR_openat: case AF_NR_openat2:
	case AF_NR_unlink: case AF_NR_rmdir: case AF_NR_mkdir: case AF_NR_chmod:
	case AF_NR_chown: case AF_NR_lchown: case AF_NR_truncate: case AF_NR_mknod:
	case AF_NR_unlinkat: case AF_NR_mkdirat: case AF_NR_fchmodat: case AF_NR_fchmodat2:
	case AF_NR_fchownat: case AF_NR_mknodat: case AF_NR_rename: case AF_NR_link:
	case AF_NR_symlink: case AF_NR_renameat: case AF_NR_renameat2: case AF_NR_linkat:
	case AF_NR_symlinkat: case AF_NR_ftruncate: case AF_NR_fchmod: case AF_NR_fchown:
	case AF_NR_fallocate: case AF_NR_fsetxattr: case AF_NR_fremovexattr:
		return true;
	default:
		return false;
	}
}

/* ---- paths as the kernel resolved them ---- */

#define FD_NONE	(-1000)	/* no descriptor: the call has no directory argument */

/* Scratch for a path walk: twice AF_PATH_MAX keeps every bounded write
 * in range; one per CPU (a program runs on one CPU throughout). */
struct dscratch {
	char buf[AF_PATH_MAX * 2];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct dscratch);
} af_dscratch SEC(".maps") __weak;

struct dpath_ctx {
	__u64 dentry;		/* struct dentry * */
	__u64 mnt;		/* struct mount * */
	__u64 root_dentry, root_mnt;	/* the task's root (chroot) */
	__u32 off;
	__u32 flags;		/* AF_FOF_TRUNC, AF_FOF_DISCONNECTED, AF_FOF_UNREACHABLE */
	bool done;
};

static __always_inline struct mount *real_mount(struct vfsmount *m)
{
	return (struct mount *)((void *)m - bpf_core_field_offset(struct mount, mnt));
}

/* One step up: a name, or a mount crossed to where it is mounted. */
static long dpath_step(__u32 i, void *data)
{
	struct dpath_ctx *c = data;
	struct dentry *d = (struct dentry *)c->dentry, *parent;
	struct mount *m = (struct mount *)c->mnt, *pm;
	struct dscratch *s;
	const unsigned char *name;
	__u32 zero = 0;
	long n;

	if (c->dentry == c->root_dentry && c->mnt == c->root_mnt) {
		c->done = true;
		return 1;
	}
	if (d == BPF_CORE_READ(m, mnt.mnt_root)) {
		pm = BPF_CORE_READ(m, mnt_parent);
		if (!pm || pm == m) {
			/* The namespace's root mount, and the task's root
			 * was not on the way (the test above): the object
			 * lies outside what the task sees as "/" (a chroot's
			 * task given a descriptor from outside it). Said,
			 * as the kernel's d_path says "(unreachable)". */
			c->flags |= AF_FOF_UNREACHABLE;
			c->done = true;
			return 1;
		}
		c->dentry = (__u64)BPF_CORE_READ(m, mnt_mountpoint);
		c->mnt = (__u64)pm;
		return 0;
	}
	parent = BPF_CORE_READ(d, d_parent);
	if (!parent || parent == d) {
		/* A filesystem root that is not its mount's root: a
		 * dentry outside what the mount shows (disconnected). */
		c->flags |= AF_FOF_DISCONNECTED;
		return 1;
	}
	s = bpf_map_lookup_elem(&af_dscratch, &zero);
	if (!s)
		return 1;
	name = BPF_CORE_READ(d, d_name.name);
	n = bpf_probe_read_kernel_str(&s->buf[c->off & (AF_PATH_MAX - 1)], AF_PATH_MAX, name);
	if (n <= 0)
		return 1;
	if (c->off + n > AF_PATH_MAX) {
		c->flags |= AF_FOF_TRUNC;
		return 1;
	}
	c->off += n;
	c->dentry = (__u64)parent;
	return 0;
}

/* The names of path p, leaf first, up to the current task's root (its
 * chroot or container root: fs->root, dentry and mount), into dir
 * (AF_PATH_MAX bytes); returns the bytes used, flags: AF_FOF_TRUNC,
 * AF_FOF_DISCONNECTED, AF_FOF_UNREACHABLE (outside the task's root:
 * the names run to the mount namespace's root). */
static __always_inline __u32 dpath(struct dentry *dentry, struct vfsmount *vfsmnt, char *dir,
				   __u32 *flags)
{
	struct task_struct *t = bpf_get_current_task_btf();
	struct dpath_ctx c = {
		.dentry = (__u64)dentry,
		.mnt = (__u64)real_mount(vfsmnt),
		.root_dentry = (__u64)BPF_CORE_READ(t, fs, root.dentry),
		.root_mnt = (__u64)real_mount(BPF_CORE_READ(t, fs, root.mnt)),
	};
	struct dscratch *s;
	__u32 zero = 0;

	*flags = 0;
	if (!dentry || !vfsmnt) {
		*flags = AF_FOF_UNRESOLVED;
		return 0;
	}
	bpf_loop(AF_WALK_MAX, dpath_step, &c, 0);
	if (!c.done && !(c.flags & AF_FOF_DISCONNECTED))
		c.flags |= AF_FOF_TRUNC;	/* the bound, or a name that did not read */
	s = bpf_map_lookup_elem(&af_dscratch, &zero);
	if (!s) {
		*flags = AF_FOF_UNRESOLVED;
		return 0;
	}
	__builtin_memcpy(dir, s->buf, AF_PATH_MAX);
	*flags = c.flags;
	return c.off;
}

/* The file open as descriptor fd in the current task, or NULL. */
static __always_inline struct file *fd_file(int fd)
{
	struct task_struct *t = bpf_get_current_task_btf();
	struct fdtable *fdt = BPF_CORE_READ(t, files, fdt);
	struct file **fds, *f = NULL;

	if (fd < 0 || !fdt || fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	fds = BPF_CORE_READ(fdt, fd);
	if (bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]))
		return NULL;
	return f;
}

#endif /* AF_DPATH_BPF_H */
