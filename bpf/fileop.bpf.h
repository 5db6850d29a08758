/* SPDX-License-Identifier: GPL-2.0 */
/* File effect records into the ring buffer, packed (AF_EV_FILEOP_PK in
 * bpf/events.h): a record is made whole in a per-CPU struct
 * af_ev_fileop (af_fileop_begin), its names read with their lengths
 * (af_fileop_name), and packed into the fence's ring buffer
 * (af_fileop_submit). Shared by the Landlock backend's syscall exit
 * (bpf/effects.bpf.c), the BPF-LSM hooks (bpf/fs.bpf.c) and the
 * coalesced repeats' records (bpf/fxco.bpf.h). The programs that use it
 * run to completion on their CPU (tracepoints, LSM hooks: no sleeping,
 * not from interrupts), one record at a time, as the dentry walk's
 * scratch (bpf/dpath.bpf.h) does. */
#ifndef AF_FILEOP_BPF_H
#define AF_FILEOP_BPF_H

#include "common.bpf.h"
#include "events.h"

#define AF_FILEOP_PK_BUF	4096	/* > AF_FILEOP_PK_MAX: the masks below keep every copy in it */

struct af_fileop_scratch {
	struct af_ev_fileop ev;		/* the record being made */
	char pk[AF_FILEOP_PK_BUF];	/* and packed */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct af_fileop_scratch);
} af_fileop_scr SEC(".maps") __weak;

/* The record to fill, or NULL (counted as a drop of fence_id's). */
static __always_inline struct af_ev_fileop *af_fileop_begin(__u64 fence_id)
{
	__u32 zero = 0;
	struct af_fileop_scratch *s = bpf_map_lookup_elem(&af_fileop_scr, &zero);

	if (!s) {
		af_fcount(fence_id & AF_KEY_ID_MASK, AF_FC_DROPS);
		af_count(AF_CNT_RB_DROP);
		return NULL;
	}
	return &s->ev;
}

/* Read the caller's name at uptr (0: none) into dst (AF_PATH_MAX
 * bytes): its bytes without the NUL, 0 (and dst "") when it did not
 * read. */
static __always_inline __u32 af_fileop_name(char *dst, __u64 uptr)
{
	long n = uptr ? bpf_probe_read_user_str(dst, AF_PATH_MAX, (void *)uptr) : 0;

	if (n <= 0) {
		dst[0] = 0;
		return 0;
	}
	return n - 1;
}

/* Copy n bytes (at most AF_PATH_MAX) of src to pk at *off. */
static __always_inline void pk_put(char *pk, __u32 *off, const void *src, __u32 n)
{
	__u32 o = *off & 2047;

	if (n > AF_PATH_MAX)
		n = AF_PATH_MAX;
	n &= 511;
	if (n && bpf_probe_read_kernel(pk + o, n, src))
		n = 0;
	*off = o + n;
}

/* Pack ev (af_fileop_begin's, filled: hdr.size says whether it has two
 * names, dflags whether the coalescing part follows its AF_FILEOP_SHORT
 * bytes) into fence_id's ring buffer. 0, or < 0 when it did not fit
 * (counted: af_output). */
static __always_inline long af_fileop_submit(__u64 fence_id, struct af_ev_fileop *ev)
{
	struct af_fileop_scratch *s = (struct af_fileop_scratch *)ev;	/* its first member */
	bool two = ev->hdr.size >= sizeof(*ev);
	__u32 off = AF_FILEOP_HEAD;
	struct af_hdr *h;

	__builtin_memcpy(s->pk, ev, AF_FILEOP_HEAD);
	if (ev->dflags & AF_FOF_COALESCED) {
		__builtin_memcpy(s->pk + AF_FILEOP_HEAD, (char *)ev + AF_FILEOP_SHORT,
				 sizeof(struct af_fileop_co));
		off += sizeof(struct af_fileop_co);
	}
	pk_put(s->pk, &off, ev->path, ev->lens & AF_PK_LEN_MASK);
	pk_put(s->pk, &off, ev->dir, ev->dir_len);
	if (two) {
		pk_put(s->pk, &off, ev->path2, (ev->lens >> AF_PK_LEN2_SHIFT) & AF_PK_LEN_MASK);
		pk_put(s->pk, &off, ev->dir2, ev->dir2_len);
		((struct af_ev_fileop *)s->pk)->lens |= AF_PK_TWO;
	}
	h = (struct af_hdr *)s->pk;
	h->type = AF_EV_FILEOP_PK;
	off &= 2047;
	h->size = off;
	return af_output(fence_id, s->pk, off);
}

#endif
