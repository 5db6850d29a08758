/* SPDX-License-Identifier: GPL-2.0 */
/* The nearest root of a directory (fs.bpf.h nearest_root), kept in the
 * directory's inode storage, for the BPF-LSM hooks (bpf/fs.bpf.c). A
 * decision of a file beneath walks its dentries up to a root; an
 * openw loop walked the same four directories on every open (half of
 * file_open's cost, bench/HOT.md). Kept, a repeat costs a roots lookup
 * for the file itself and one for its directory's storage.
 *
 * What the walk's answer depends on, and what says it changed:
 *  - the dentries' parents up to the filesystem's root: every change of
 *    a parent (rename, exchange, a disconnected dentry spliced in) is a
 *    d_move under the kernel's rename_lock, whose sequence counts
 *    them; the walk reads it before it starts, an odd one (a move
 *    under way) keeps nothing, and an answer is good only while the
 *    sequence is the one it was found with. Mounts do not matter: the
 *    walk stays on one filesystem (roots are inodes).
 *  - the fence's roots: its key (a policy update flips AF_KEY_GEN, and
 *    the key comes back after two), and cfg->rver, set anew with each
 *    write of its entries and bumped by lsm_d_instantiate when a
 *    protected path made or looked up later becomes a root.
 * A directory has exactly one dentry, so its inode names one place; a
 * file's own name is looked up as a root each time, not kept (a file
 * may have other links elsewhere). Without rename_lock's address (a
 * kernel without CONFIG_KALLSYMS_ALL) nothing is kept: every decision
 * walks, as before. */
#ifndef AF_ROOTCACHE_BPF_H
#define AF_ROOTCACHE_BPF_H

#include "fs.bpf.h"

/* rename_lock's address, 0 when unknown (defined in bpf/fs.bpf.c). */
extern const volatile __u64 af_rename_lock;

struct af_rcache {
	struct bpf_spin_lock lock;	/* two fences may decide in one directory at once */
	__u32 rseq;		/* rename_lock's sequence when found (even) */
	__s32 kind;		/* nearest_root's answer (>= 0) */
	__u32 pad;
	__u64 key;		/* the fence's key */
	__u64 rver;		/* its cfg->rver */
};

struct {
	__uint(type, BPF_MAP_TYPE_INODE_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct af_rcache);
} af_rcache SEC(".maps") __weak;

/* rename_lock's sequence now; false while a move is under way or when
 * it cannot be read. */
static __always_inline bool rename_seq(__u32 *seq)
{
	if (!af_rename_lock ||
	    bpf_probe_read_kernel(seq, sizeof(*seq), (const void *)af_rename_lock))
		return false;
	return !(*seq & 1);
}

/* nearest_root of directory dir (inode di, a BTF pointer: the storage
 * helper takes no other), for fence key of cfg. */
static __always_inline int nearest_root_dir(__u64 key, const struct af_fence_cfg *cfg,
					    struct dentry *dir, struct inode *di)
{
	struct af_rcache *c = NULL;
	__u64 rver = cfg->rver;
	__u32 seq, depth;
	int kind = -1;

	if (di && rename_seq(&seq))
		c = bpf_inode_storage_get(&af_rcache, di, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (c) {
		bpf_spin_lock(&c->lock);
		if (c->rseq == seq && c->key == key && c->rver == rver)
			kind = c->kind;
		bpf_spin_unlock(&c->lock);
		if (kind >= 0) {
			af_count(AF_CNT_ROOT_CACHED);
			return kind;
		}
	}
	kind = nearest_root(key, dir, &depth);
	/* The bound hit: not an answer to keep. */
	if (c && kind >= 0) {
		bpf_spin_lock(&c->lock);
		c->rseq = seq;
		c->key = key;
		c->rver = rver;
		c->kind = kind;
		bpf_spin_unlock(&c->lock);
	}
	return kind;
}

/* nearest_root of d (its inode di) in fence key of cfg: d itself a
 * root, or its directory's, kept. *depth: 0 when d is the root. */
static __always_inline int nearest_root_kept(__u64 key, const struct af_fence_cfg *cfg,
					     struct dentry *d, struct inode *di, __u32 *depth)
{
	struct af_root_key rk = {
		.fence_id = key,
		.ino = BPF_CORE_READ(di, i_ino),
		.dev = BPF_CORE_READ(d, d_sb, s_dev),
	};
	struct af_root_val *v = bpf_map_lookup_elem(&af_roots, &rk);
	struct dentry *parent;

	*depth = 0;
	if (v)
		return v->kind;
	if ((BPF_CORE_READ(di, i_mode) & S_IFMT) == S_IFDIR)
		return nearest_root_dir(key, cfg, d, di);
	parent = d->d_parent;
	if (!parent || parent == d)
		return nearest_root(key, d, depth);	/* a disconnected file: walked, fails closed */
	*depth = 1;
	return nearest_root_dir(key, cfg, parent, parent->d_inode);
}

#endif
