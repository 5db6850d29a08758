/* SPDX-License-Identifier: GPL-2.0 */
/* Coalescing of repeated file effects (bpf/events.h, AF_FOF_COALESCED):
 * per thread, in its task storage, the last AF_FXCO_SLOTS objects it
 * opened for writing, each with the record of its first open and the
 * repeats counted since. Per thread, so one writer: a thread's programs
 * never run at once (no atomics, no lock), and its exit (bpf/events.bpf.c
 * af_proc_exit) flushes what it counted. Included by effects.bpf.c (the
 * Landlock backend's records), fs.bpf.c (the BPF-LSM backends': the
 * file_open hook) and events.bpf.c. */
#ifndef AF_FXCO_BPF_H
#define AF_FXCO_BPF_H

#include "events.h"
#include "fileop.bpf.h"

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
	ev = af_fileop_begin(s->fence_id);
	if (ev) {
		af_fill_hdr(&ev->hdr, AF_EV_FILEOP, AF_FILEOP_CO_SIZE, s->fence_id);
		ev->hdr.ktime = now;
		ev->sysno = s->sysno;
		ev->ret = 0;
		ev->flags = s->flags;
		ev->dfd = ev->dfd2 = 0;
		ev->dir_len = ev->dir2_len = 0;
		ev->dflags = 0;
		ev->lens = 0;
		bpf_get_current_comm(ev->comm, sizeof(ev->comm));
		ev->path[0] = 0;
		ev->dir[0] = 0;
		af_fxco_fill(ev, s, s->count);
		af_fileop_submit(s->fence_id, ev);
	}
	s->count = 0;
}

/* One more repeat in slot s (struct af_fxslot or af_nslot), recorded
 * by flush (af_fxco_flush, af_nco_flush) within AF_FXCO_NS of the first
 * repeat counted, or before the count would wrap. */
#define af_co_count(s, now, flush) do {						\
	if (!(s)->count)							\
		(s)->first = (now);						\
	(s)->count++;								\
	(s)->last = (now);							\
	if ((now) - (s)->first >= AF_FXCO_NS || (s)->count == 0xffffffffu)	\
		flush((s), (now));						\
} while (0)

/* An open for writing of file f that worked (effects.bpf.c: the
 * descriptor it returned) or was allowed (fs.bpf.c: file_open), by call
 * sysno with flags: a repeat of one the thread made of the same file, by
 * the same call and flags, is counted in its slot (true: no record now,
 * and no walk for its path); a new one takes a slot (*slotp: its record
 * carries the slot's key, count 0), the slot's old object's repeats
 * recorded first. */
static __always_inline bool af_fxco_repeat(struct file *f, __s32 sysno, __u32 flags,
					   __u64 fence_id, struct af_fxslot **slotp)
{
	struct af_fxslot *s;
	struct af_fxset *set;
	struct af_fxco *c;
	struct inode *in;
	struct dentry *d;
	__u64 now, ino, name;
	__u32 dev, h;

	*slotp = NULL;
	if (!f)
		return false;
	in = BPF_CORE_READ(f, f_inode);
	ino = BPF_CORE_READ(in, i_ino);
	dev = BPF_CORE_READ(in, i_sb, s_dev);
	/* The name it was opened by: a file deleted and its ino reused by
	 * another, or renamed, or linked elsewhere, is another object (the
	 * first record names one path). A rename of a directory above it
	 * is not seen: its repeats keep the first record's path. */
	d = BPF_CORE_READ(f, f_path.dentry);
	name = (__u64)(unsigned long)d * 0x9E3779B97F4A7C15ULL ^
	       (__u64)(unsigned long)BPF_CORE_READ(d, d_parent) * 0xC2B2AE3D27D4EB4FULL ^
	       BPF_CORE_READ(d, d_name.hash_len) * 0x165667B19E3779F9ULL ^
	       BPF_CORE_READ(in, i_generation);
	c = bpf_task_storage_get(&af_fxco, bpf_get_current_task_btf(), 0,
				 BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!c)
		return false;	/* no room: an ordinary record */
	h = (__u32)((ino ^ ((__u64)dev << 32) ^ flags) * 0x9E3779B97F4A7C15ULL >> 32);
	set = &c->s[h & (AF_FXCO_SETS - 1)];
	now = bpf_ktime_get_ns();
	fence_id &= AF_KEY_ID_MASK;
	for (int i = 0; i < AF_FXCO_WAYS; i++) {
		s = &set->w[i];
		if (s->fence_id != fence_id || s->ino != ino || s->name != name || s->dev != dev ||
		    s->sysno != sysno || s->flags != flags)
			continue;
		af_co_count(s, now, af_fxco_flush);
		return true;
	}
	/* A new object: a free way, or the one used longest ago if that
	 * was AF_FXCO_IDLE_NS ago (its repeats recorded first). A set
	 * whose ways are all busy keeps them: the new object's opens are
	 * ordinary records (more busy objects than ways must not make
	 * every one of them miss). */
	s = NULL;
	for (int i = 0; i < AF_FXCO_WAYS; i++) {
		struct af_fxslot *w = &set->w[i];

		if (!w->fence_id) {
			s = w;
			break;
		}
		if (!s || w->last < s->last)
			s = w;
	}
	if (!s || (s->fence_id && now - s->last < AF_FXCO_IDLE_NS))
		return false;
	af_fxco_flush(s, now);
	*s = (struct af_fxslot){ .fence_id = fence_id, .ino = ino, .name = name, .dev = dev,
				 .sysno = sysno, .flags = flags, .last = now };
	*slotp = s;
	return false;
}

/* The record of an open that took slot (NULL: none, or no open) to
 * fill, or NULL, and the slot freed (no first record: no repeats of
 * it). */
static __always_inline struct af_ev_fileop *af_fxco_begin(__u64 fence_id, struct af_fxslot *slot)
{
	struct af_ev_fileop *ev = af_fileop_begin(fence_id);

	if (!ev && slot)
		slot->fence_id = 0;
	return ev;
}

/* After the record's fields are filled: the slot's key, when it took
 * one, and the record into the ring buffer; one that does not fit
 * frees the slot, as above. */
static __always_inline void af_fxco_submit(__u64 fence_id, struct af_ev_fileop *ev,
					   struct af_fxslot *slot)
{
	if (slot)
		af_fxco_fill(ev, slot, 0);
	if (af_fileop_submit(fence_id, ev) && slot)
		slot->fence_id = 0;
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
