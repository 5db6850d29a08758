/* SPDX-License-Identifier: GPL-2.0 */
/* The filesystem fence's path decisions, shared by fs.bpf.c and
 * fdwrite.bpf.c: the walk up a dentry's ancestors to the nearest root,
 * and the walk that names an object for an event. */
#ifndef AF_FS_BPF_H
#define AF_FS_BPF_H

#include "common.bpf.h"
#include "dpath.bpf.h"

/* Scratch space for building a file event: too big for the stack. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct af_ev_file);
} af_scratch SEC(".maps") __weak;

struct walk_ctx {
	__u64 dentry;		/* struct dentry *, read with BPF_CORE_READ */
	__u64 fence_id;
	__u32 kind;		/* nearest root's kind, 0 while none */
	__u32 depth;		/* where it was found: 0 is the object itself */
	bool at_top;		/* reached the filesystem's root */
};

static long walk_step(__u32 i, void *data)
{
	struct walk_ctx *c = data;
	struct dentry *d = (struct dentry *)c->dentry, *parent;
	struct af_root_key key = {};
	struct af_root_val *val;

	key.fence_id = c->fence_id;
	key.ino = BPF_CORE_READ(d, d_inode, i_ino);
	key.dev = BPF_CORE_READ(d, d_sb, s_dev);
	val = bpf_map_lookup_elem(&af_roots, &key);
	if (val) {
		c->kind = val->kind;
		c->depth = i;
		return 1;
	}
	parent = BPF_CORE_READ(d, d_parent);
	if (!parent || parent == d) {
		/* A root that is not its filesystem's is a disconnected
		 * dentry (open_by_handle_at of an uncached inode): where it
		 * lies is unknown, so the walk fails closed. */
		c->at_top = d == BPF_CORE_READ(d, d_sb, s_root);
		return 1;
	}
	c->dentry = (__u64)parent;
	return 0;
}

/* Kind of the nearest root above d (d included), 0 for none, -1 when
 * the bound was hit before an answer. */
static __always_inline int nearest_root(__u64 fence_id, struct dentry *d, __u32 *depth)
{
	struct walk_ctx c = {
		.dentry = (__u64)d,
		.fence_id = fence_id,
	};

	bpf_loop(AF_WALK_MAX, walk_step, &c, 0);
	*depth = c.depth;
	if (c.kind)
		return c.kind;
	if (c.at_top)
		return 0;
	af_count(AF_CNT_WALK_BOUND);
	return -1;
}

struct names_ctx {
	__u64 dentry;
	__u64 mnt;		/* its struct mount *; 0 unknown: names within d's filesystem */
	__u64 root, root_mnt;	/* the task's root: the walk stops there */
	__u32 off;
	bool trunc;
	bool rooted;		/* the names run to the task's root */
	bool unreachable;	/* to the namespace's root: outside the task's root */
	bool crossed;		/* a mount was crossed */
};

/* One step up, its name written straight into af_scratch's event (no
 * copy: 6.1's verifier would pay for one at every state). With the
 * mount known, a mount's root crosses to where it is mounted, as the
 * kernel's d_path does. */
static long names_step(__u32 i, void *data)
{
	struct names_ctx *c = data;
	struct dentry *d = (struct dentry *)c->dentry, *parent;
	struct mount *m = (struct mount *)c->mnt, *pm;
	struct af_ev_file *ev;
	const unsigned char *name;
	__u32 zero = 0;
	long n;

	if (c->dentry == c->root && (!m || c->mnt == c->root_mnt)) {
		c->rooted = true;
		return 1;
	}
	if (m && d == BPF_CORE_READ(m, mnt.mnt_root)) {
		pm = BPF_CORE_READ(m, mnt_parent);
		if (!pm || pm == m) {
			c->rooted = c->unreachable = true;
			return 1;
		}
		c->dentry = (__u64)BPF_CORE_READ(m, mnt_mountpoint);
		c->mnt = (__u64)pm;
		c->crossed = true;
		return 0;
	}
	parent = BPF_CORE_READ(d, d_parent);
	if (!parent || parent == d) {
		/* With a mount crossed, the names are of several
		 * filesystems: said as missing their top. */
		if (c->crossed)
			c->rooted = c->trunc = true;
		return 1;
	}
	if (c->off >= AF_PATH_MAX) {
		c->trunc = true;
		return 1;
	}
	ev = bpf_map_lookup_elem(&af_scratch, &zero);
	if (!ev)
		return 1;
	name = BPF_CORE_READ(d, d_name.name);
	n = bpf_probe_read_kernel_str(&ev->path[c->off & (AF_PATH_MAX - 1)], AF_PATH_MAX, name);
	if (n <= 0)
		return 1;
	c->off += n;
	c->dentry = (__u64)parent;
	return 0;
}

/* The path of d for a denial record, into ev->path and ev->path_len,
 * its flags into ev->flags; ev is af_scratch's element (names_step
 * writes there). With d's mount m known: up to the current task's root
 * (a chroot's, a container's: fs->root, dentry and mount), crossing
 * mounts, as the task sees it (AF_EVF_PATH_ROOTED; outside the task's
 * root also AF_EVF_PATH_UNREACHABLE: the names run to the namespace's
 * root). Without it: d's names within its filesystem, up to the task's
 * root dentry when the walk meets it (a container's root is its
 * overlay's root: ROOTED again), else to the filesystem's root, which
 * userspace places through the mount table. */
static __always_inline void deny_path(struct af_ev_file *ev, struct dentry *d, struct vfsmount *m)
{
	struct task_struct *t = bpf_get_current_task_btf();
	struct names_ctx nc = {
		.dentry = (__u64)d,
		.mnt = m ? (__u64)real_mount(m) : 0,
		.root = (__u64)BPF_CORE_READ(t, fs, root.dentry),
		.root_mnt = (__u64)real_mount(BPF_CORE_READ(t, fs, root.mnt)),
	};

	bpf_loop(AF_WALK_MAX, names_step, &nc, 0);
	ev->path_len = nc.off;
	if (nc.trunc)
		ev->flags |= AF_EVF_PATH_TRUNC;
	if (nc.rooted)
		ev->flags |= AF_EVF_PATH_ROOTED;
	if (nc.unreachable)
		ev->flags |= AF_EVF_PATH_UNREACHABLE;
}

#endif /* AF_FS_BPF_H */
