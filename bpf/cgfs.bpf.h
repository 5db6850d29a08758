/* SPDX-License-Identifier: GPL-2.0 */
/* The cgroup is a one-way door: the check of writes to cgroupfs, made
 * by the inode_permission program of bpf/fs.bpf.c (one program on that
 * hook, which every path lookup of the machine meets). */
#ifndef AF_CGFS_BPF_H
#define AF_CGFS_BPF_H

#include "common.bpf.h"

#define CGROUP_SUPER_MAGIC	0x27e0eb
#define CGROUP2_SUPER_MAGIC	0x63677270

/* kernfs_node.parent became __parent (RCU) in 6.15. */
struct kernfs_node___new {
	struct kernfs_node *__parent;
} __attribute__((preserve_access_index));

/* Whether a write to a cgroupfs inode leaves the current task's fence:
 * a file of a cgroup outside it (cgroup.procs, cgroup.threads, but
 * also cgroup.kill, cgroup.freeze, limits), or a cgroup directory
 * outside it. The kernel asks this too, for the common ancestor's
 * cgroup.procs, when a process is moved (cgroup_may_write): so a
 * fenced task can neither move itself out nor pull a task in from
 * outside. A v1 hierarchy has no fence cgroups: every write refused. */
static __always_inline bool cgfs_write_leaves(struct inode *inode, int mask, __u64 *fence_id,
					      struct af_fence_cfg **cfg)
{
	struct kernfs_node *kn;
	__u64 magic, cgid, *other;

	if (!(mask & MAY_WRITE))
		return false;
	magic = BPF_CORE_READ(inode, i_sb, s_magic);
	if (magic != CGROUP2_SUPER_MAGIC && magic != CGROUP_SUPER_MAGIC)
		return false;
	*cfg = af_current_fence(fence_id);
	if (!*cfg)
		return false;
	kn = BPF_CORE_READ(inode, i_private);
	if (!kn)
		return true;
	/* A file belongs to the cgroup of its directory. */
	if ((BPF_CORE_READ(inode, i_mode) & S_IFMT) != S_IFDIR) {
		if (bpf_core_field_exists(((struct kernfs_node___new *)0)->__parent))
			kn = BPF_CORE_READ((struct kernfs_node___new *)kn, __parent);
		else
			kn = BPF_CORE_READ(kn, parent);
		if (!kn)
			return true;
	}
	if (magic != CGROUP2_SUPER_MAGIC)
		return true;
	cgid = BPF_CORE_READ(kn, id);
	other = bpf_map_lookup_elem(&af_member, &cgid);
	return !other || *other != (*fence_id & AF_KEY_ID_MASK);
}

#endif
