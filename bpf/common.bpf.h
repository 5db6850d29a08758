/* SPDX-License-Identifier: GPL-2.0 */
/* Maps and helpers every fence program shares. The maps are __weak so
 * that each .bpf.c file can include this header and the BPF linker
 * (bpftool gen object) folds them into one. */
#ifndef AF_COMMON_BPF_H
#define AF_COMMON_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "fence.h"
#include "events.h"

#define EPERM		1
#define ENOENT		2
#define MAY_WRITE	0x00000002
#define FMODE_READ	0x1
#define FMODE_WRITE	0x2
#define S_IFMT		00170000
#define S_IFDIR		0040000
#define S_IFCHR		0020000
#define S_IFBLK		0060000

/* cgroup id -> fence id, for the fence's cgroup and all its descendants. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, __u64);
} af_member SEC(".maps") __weak;

/* fence id -> its config. Not preallocated: an element replaced by an
 * update is freed after an RCU grace period, never reused under a
 * program still reading it. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, AF_FENCES_MAX);
	__type(key, __u64);
	__type(value, struct af_fence_cfg);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} af_fences SEC(".maps") __weak;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, AF_ROOTS_MAX);
	__type(key, struct af_root_key);
	__type(value, struct af_root_val);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} af_roots SEC(".maps") __weak;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, AF_PNAMES_MAX);
	__type(key, struct af_pname_key);
	__type(value, struct af_pname_val);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} af_pnames SEC(".maps") __weak;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, AF_PNEXT_ENTRIES);
	__type(key, struct af_pnext_key);
	__type(value, struct af_pnext_val);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} af_pnext SEC(".maps") __weak;

/* The node's pool of ring buffers (kernel selftests'
 * test_ringbuf_multi): slot -> a ring buffer, and fence id -> the slot
 * of its own, so one fence's flood fills its own buffer only. Slots are
 * filled ahead of need and reused after their fence goes: an update of
 * a map-in-map element waits for an RCU grace period
 * (maybe_wait_bpf_programs), a fence's create and remove touch only
 * af_rslot (userspace/fence.c, "the ring pool"). The inner definition
 * is the template; each buffer is made by userspace, of any power-of-2
 * size. */
struct af_ring {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, AF_FENCES_MAX);
	__type(key, __u32);
	__array(values, struct af_ring);
} af_rings SEC(".maps") __weak;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, AF_FENCES_MAX);
	__type(key, __u64);
	__type(value, __u32);
} af_rslot SEC(".maps") __weak;

/* Userspace's book of the pool (no program reads them): slot -> its
 * buffer's size (0: empty), and slot -> who holds it (taken with
 * BPF_NOEXIST: one taker across processes). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, AF_FENCES_MAX);
	__type(key, __u32);
	__type(value, __u32);
} af_rpool SEC(".maps") __weak;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, AF_FENCES_MAX);
	__type(key, __u32);
	__type(value, struct af_rowner);
} af_rowner SEC(".maps") __weak;

/* The ring buffer of fence id (an id without the generation bit). */
static __always_inline void *af_ring_of(__u64 id)
{
	__u32 *slot = bpf_map_lookup_elem(&af_rslot, &id);

	return slot ? bpf_map_lookup_elem(&af_rings, slot) : NULL;
}

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, AF_FENCES_MAX);
	__type(key, __u64);
	__type(value, struct af_fcounts);
} af_fcounts SEC(".maps") __weak;

/* Userspace's per-fence state (struct af_fstate); no program reads it. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, AF_FENCES_MAX);
	__type(key, __u64);
	__type(value, struct af_fstate);
} af_fstate SEC(".maps") __weak;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, AF_CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} af_counters SEC(".maps") __weak;

/* A traced system call in progress (bpf/effects.bpf.c), by thread:
 * what its entry saw, for its exit. */
struct af_pending {
	__u64 path, path2;	/* user pointers */
	__s32 sysno, dfd, dfd2;
	__u32 flags;
	__u32 denied;		/* an LSM program denied it and reported so */
	__u16 dir_len, dir2_len;
	__u32 dflags;		/* enum af_fileop_dflags */
	char dir[AF_PATH_MAX];	/* as af_ev_fileop's, resolved at entry */
	char dir2[AF_PATH_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, __u64);
	__type(value, struct af_pending);
} af_pending SEC(".maps") __weak;

/* A system call of a class in af_sysclass in progress (raw sys_enter
 * reached), by thread: its exit without an entry here was refused by
 * seccomp before sys_enter (bpf/effects.bpf.c). */
struct af_boxent {
	__u32 nr;
	__u32 denied;		/* an LSM program denied it and reported so */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, __u64);
	__type(value, struct af_boxent);
} af_boxent SEC(".maps") __weak;

/* An LSM program denied the current call and reported it: the call's
 * exit then has nothing to add (one denial, one record). */
static __always_inline void af_effects_denied(void)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct af_pending *p = bpf_map_lookup_elem(&af_pending, &id);
	struct af_boxent *b = bpf_map_lookup_elem(&af_boxent, &id);

	if (p)
		p->denied = 1;
	if (b)
		b->denied = 1;
}

/* The verdict of a global lsm program. 6.9+ verifiers check the return
 * range of lsm programs but do not track BPF_NEG, so keep clang from
 * computing "deny ? -EPERM : 0" as -(deny & 1): the barrier gives the
 * deny path a block of its own, and each path a constant. */
static __always_inline int af_lsm_ret(bool deny)
{
	if (deny) {
		asm volatile("" ::: "memory");
		return -EPERM;
	}
	return 0;
}

static __always_inline void af_count(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&af_counters, &idx);

	if (v)
		*v += 1;
}

static __always_inline void af_fcount(__u64 fence_id, __u32 idx)
{
	struct af_fcounts *c;

	fence_id &= AF_KEY_ID_MASK;
	c = bpf_map_lookup_elem(&af_fcounts, &fence_id);
	if (c && idx < AF_FC_MAX)
		c->c[idx] += 1;
}

/* Reserve size bytes in the ring buffer of fence fence_id (an id or a
 * key id), counting the event and, when it does not fit, the drop. The
 * counts come before the reserve and on its NULL path only: 6.1's
 * verifier loses the reservation's reference when the reserved pointer
 * is tested once more to choose a counter. */
#define af_reserve(fence_id, size) ({						\
	__u64 __id = (fence_id) & AF_KEY_ID_MASK;				\
	void *__rb = af_ring_of(__id);					\
	void *__ev = NULL;							\
	af_fcount(__id, AF_FC_EVENTS);						\
	if (__rb)								\
		__ev = bpf_ringbuf_reserve(__rb, (size), 0);			\
	if (!__ev) {								\
		af_fcount(__id, AF_FC_DROPS);					\
		af_count(AF_CNT_RB_DROP);					\
	}									\
	__ev;									\
})

/* bpf_ringbuf_output's counterpart of af_reserve; returns 0 or < 0. */
static __always_inline long af_output(__u64 fence_id, void *data, __u64 size)
{
	__u64 id = fence_id & AF_KEY_ID_MASK;
	void *rb = af_ring_of(id);
	long err;

	af_fcount(id, AF_FC_EVENTS);
	err = rb ? bpf_ringbuf_output(rb, data, size, 0) : -ENOENT;
	if (err) {
		af_fcount(id, AF_FC_DROPS);
		af_count(AF_CNT_RB_DROP);
	}
	return err;
}

/* Whether the kernel is acting with credentials of its own on the
 * task's behalf: overlayfs on its layers (creator's creds), cachefiles,
 * access(2). The operation the task asked for met the hooks with its
 * own creds first (for permission checks the overlay's own inode is
 * checked right after), so these inner calls are not decisions of
 * their own. A task cannot make cred differ from real_cred itself;
 * io_uring personalities could, and are denied in a fence
 * (uring_override_creds). */
static __always_inline bool af_kernel_override(void)
{
	struct task_struct *t = bpf_get_current_task_btf();

	return BPF_CORE_READ(t, cred) != BPF_CORE_READ(t, real_cred);
}

/* The fence the current task belongs to, or NULL. *key: the key id of
 * its entries in this generation (AF_KEY_GEN; events take the id from
 * it with AF_KEY_ID_MASK). */
static __always_inline struct af_fence_cfg *af_current_fence(__u64 *key)
{
	__u64 cgid = bpf_get_current_cgroup_id();
	__u64 *fid = bpf_map_lookup_elem(&af_member, &cgid);
	struct af_fence_cfg *cfg;

	if (!fid)
		return NULL;
	cfg = bpf_map_lookup_elem(&af_fences, fid);
	if (cfg)
		*key = cfg->key;
	return cfg;
}

static __always_inline __u64 af_task_cgroup_id(struct task_struct *t)
{
	return BPF_CORE_READ(t, cgroups, dfl_cgrp, kn, id);
}

static __always_inline void af_fill_hdr(struct af_hdr *h, __u16 type, __u16 size, __u64 fence_id)
{
	__u64 id = bpf_get_current_pid_tgid();

	h->type = type;
	h->size = size;
	h->pid = (__u32)id;
	h->tgid = id >> 32;
	h->ktime = bpf_ktime_get_ns();
	h->fence_id = fence_id & AF_KEY_ID_MASK;
	h->cgroup = (__u32)bpf_get_current_cgroup_id();
}

/* A self-protection decision: report it and return whether to deny. */
static __always_inline bool af_sys_decide(__u64 fence_id, struct af_fence_cfg *cfg,
					  __u32 op, __u64 arg)
{
	bool audit = cfg->flags & AF_FENCE_AUDIT;
	struct af_ev_sys *ev;

	af_count(audit ? AF_CNT_AUDIT : AF_CNT_DENY);
	if (!audit)
		af_effects_denied();
	ev = af_reserve(fence_id, sizeof(*ev));
	if (!ev)
		return !audit;
	af_fill_hdr(&ev->hdr, AF_EV_SYS, sizeof(*ev), fence_id);
	ev->op = op;
	ev->verdict = audit ? AF_AUDITED : AF_DENIED;
	ev->arg = arg;
	bpf_get_current_comm(ev->comm, sizeof(ev->comm));
	bpf_ringbuf_submit(ev, 0);
	return !audit;
}

/* SIGIO owners (bpf/proc.bpf.c): the fence that set a file's owner. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, __u64);
} af_sigio SEC(".maps") __weak;

#define F_SETOWN	8
#define F_SETOWN_EX	15

/* Remember the fence of the current (fenced) task for file before an
 * owner is set: 0, or -EPERM when there is no room. */
static __always_inline int af_sigio_reserve(struct file *file)
{
	struct af_fence_cfg *cfg;
	__u64 key = (__u64)file, fence_id;

	cfg = af_current_fence(&fence_id);
	if (!cfg)
		return 0;
	if (!bpf_map_update_elem(&af_sigio, &key, &fence_id, BPF_ANY))
		return 0;
	af_count(AF_CNT_SIGIO_FULL);
	/* Not audit's to allow: the owner would then be judged by the
	 * sender's fence, which is the escape itself. */
	af_sys_decide(fence_id, cfg, AF_OP_SIGIO_FULL, 0);
	return af_lsm_ret(true);
}

#endif /* AF_COMMON_BPF_H */
