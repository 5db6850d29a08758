/* SPDX-License-Identifier: GPL-2.0 */
/* Coalescing of repeated file effects (bpf/events.h, AF_FOF_COALESCED):
 * per thread, in its task storage, the last AF_FXCO_SLOTS objects it
 * opened for writing, each with the record of its first open and the
 * repeats counted since. Per thread, so one writer: a thread's programs
 * never run at once (no atomics, no lock), and its exit (bpf/events.bpf.c
 * af_proc_exit) flushes what it counted. Included by effects.bpf.c and
 * events.bpf.c. */
#ifndef AF_FXCO_BPF_H
#define AF_FXCO_BPF_H

#include "events.h"

/* A thread's slots: AF_FXCO_SETS sets of AF_FXCO_WAYS, the set chosen
 * by a hash of the object (a loop over 64 files, bench/micro openw,
 * mostly stays within them). 7 KiB per thread that opened a file for
 * writing in a fence, freed with the thread. */
#define AF_FXCO_SETS	32	/* a power of two */
#define AF_FXCO_WAYS	4
#define AF_FXCO_IDLE_NS	(10ULL * 1000 * 1000)	/* a way unused that long may be taken */

struct af_fxslot {
	__u64 fence_id;		/* 0: free */
	__u64 ino;
	__u64 name;		/* struct af_fileop_co's */
	__u32 dev;
	__s32 sysno;
	__u32 flags;
	__u32 count;		/* repeats since the slot's last record */
	__u64 first;		/* the first of those repeats */
	__u64 last;		/* the last of them, or the first record */
};
_Static_assert(sizeof(struct af_fxslot) == 56, "af_fxslot layout");

struct af_fxset {
	struct af_fxslot w[AF_FXCO_WAYS];
};

struct af_fxco {
	struct af_fxset s[AF_FXCO_SETS];
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct af_fxco);
} af_fxco SEC(".maps") __weak;

/* The coalescing part of a file effect record (struct af_fileop_co,
 * after its AF_FILEOP_SHORT bytes). */
static __always_inline void af_fxco_fill(struct af_ev_fileop *ev, struct af_fxslot *s, __u64 count)
{
	struct af_fileop_co *co = (void *)ev + AF_FILEOP_SHORT;

	ev->dflags |= AF_FOF_COALESCED;
	co->count = count;
	co->first = count ? s->first : 0;
	co->last = count ? s->last : 0;
	co->ino = s->ino;
	co->name = s->name;
	co->dev = s->dev;
	co->pad = 0;
}

/* The record of slot s's repeats, and the slot's count back to 0: the
 * object by (dev, ino), its path in the recorder's memory of the first
 * record (count 0). A record that does not fit the ring buffer is
 * counted lost (af_reserve's counters), as any event is. */
static __always_inline void af_fxco_flush(struct af_fxslot *s, __u64 now)
{
	struct af_ev_fileop *ev;

	if (!s->fence_id || !s->count)
		return;
	ev = af_reserve(s->fence_id, AF_FILEOP_CO_SIZE);
	if (ev) {
		af_fill_hdr(&ev->hdr, AF_EV_FILEOP, AF_FILEOP_CO_SIZE, s->fence_id);
		ev->hdr.ktime = now;
		ev->sysno = s->sysno;
		ev->ret = 0;
		ev->flags = s->flags;
		ev->dfd = ev->dfd2 = 0;
		ev->dir_len = ev->dir2_len = 0;
		ev->dflags = 0;
		ev->pad = 0;
		bpf_get_current_comm(ev->comm, sizeof(ev->comm));
		ev->path[0] = 0;
		ev->dir[0] = 0;
		af_fxco_fill(ev, s, s->count);
		bpf_ringbuf_submit(ev, 0);
	}
	s->count = 0;
}

static int fxco_exit_cb(__u32 i, void *ctx)
{
	struct af_fxco *c = bpf_task_storage_get(&af_fxco, bpf_get_current_task_btf(), 0, 0);
	__u64 now = bpf_ktime_get_ns();
	struct af_fxset *set;

	if (!c)
		return 1;
	set = &c->s[i & (AF_FXCO_SETS - 1)];	/* i < AF_FXCO_SETS: bounded for the verifier */
	for (int w = 0; w < AF_FXCO_WAYS; w++)
		af_fxco_flush(&set->w[w], now);
	return 0;
}

/* At the thread's exit: every count it holds. */
static __always_inline void af_fxco_exit(void)
{
	struct af_fxco *c = bpf_task_storage_get(&af_fxco, bpf_get_current_task_btf(), 0, 0);

	if (c)	/* each set looks the storage up again: bpf_loop's context is the stack */
		bpf_loop(AF_FXCO_SETS, fxco_exit_cb, NULL, 0);
}

/* Allowed connects (bpf/net.bpf.c), per thread: the sock_addr programs
 * have no task storage, so a hash by thread id, its entry made at the
 * thread's first allowed connect and removed at its exit (af_proc_exit).
 * Full: ordinary records, nothing lost. */
#define AF_NCO_SLOTS	4	/* a power of two */
#define AF_NCO_THREADS	8192

struct af_nslot {
	__u64 fence_id;		/* 0: free */
	__u8 addr[16];
	__u16 family, port, protocol, op;
	__u32 flags;		/* the first record's enum af_net_ev_flags */
	__u32 count;		/* repeats since the slot's last record */
	__u64 first, last;
};
_Static_assert(sizeof(struct af_nslot) == 56, "af_nslot layout");

struct af_nco {
	__u32 next;
	__u32 pad;
	struct af_nslot s[AF_NCO_SLOTS];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, AF_NCO_THREADS);
	__type(key, __u64);		/* pid_tgid */
	__type(value, struct af_nco);
} af_nco SEC(".maps") __weak;

/* Never written: the zeroed value a thread's entry starts from. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct af_nco);
} af_nco_zero SEC(".maps") __weak;

static __always_inline void af_nco_flush(struct af_nslot *s, __u64 now)
{
	struct af_ev_net *ev;
	struct af_net_co *co;

	if (!s->fence_id || !s->count)
		return;
	ev = af_reserve(s->fence_id, AF_EV_NET_CO_SIZE);
	if (ev) {
		af_fill_hdr(&ev->hdr, AF_EV_NET, AF_EV_NET_CO_SIZE, s->fence_id);
		ev->hdr.ktime = now;
		ev->op = s->op;
		ev->verdict = AF_ALLOWED;
		ev->family = s->family;
		ev->port = s->port;
		ev->protocol = s->protocol;
		ev->path_len = 0;
		ev->flags = s->flags | AF_NETF_COALESCED;
		ev->pad = 0;
		__builtin_memcpy(ev->addr, s->addr, 16);
		bpf_get_current_comm(ev->comm, sizeof(ev->comm));
		ev->path[0] = 0;
		co = (void *)ev + sizeof(*ev);
		co->count = s->count;
		co->first = s->first;
		co->last = s->last;
		bpf_ringbuf_submit(ev, 0);
	}
	s->count = 0;
}

/* At the thread's exit: its counts, and its entry removed. */
static __always_inline void af_nco_exit(void)
{
	__u64 id = bpf_get_current_pid_tgid(), now;
	struct af_nco *c = bpf_map_lookup_elem(&af_nco, &id);

	if (!c)
		return;
	now = bpf_ktime_get_ns();
	for (int i = 0; i < AF_NCO_SLOTS; i++)
		af_nco_flush(&c->s[i], now);
	bpf_map_delete_elem(&af_nco, &id);
}

#endif /* AF_FXCO_BPF_H */
