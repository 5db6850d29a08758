/* SPDX-License-Identifier: GPL-2.0 */
/* Process events (bpf/events.bpf.c): what ran in a fence, from the
 * sched tracepoints, which every backend loads. Types only. */
#ifndef AF_EVENTS_H_BPF
#define AF_EVENTS_H_BPF

#include "fence.h"

#define AF_FILENAME_MAX	256	/* bytes of the exec'd file's name */
#define AF_ARGV_MAX	1024	/* bytes of the command line, NUL-separated */

/* Numbered apart from enum af_event_type's decisions (1..15). */
enum af_proc_event_type {
	AF_EV_EXEC = 16,
	AF_EV_FORK = 17,
	AF_EV_EXIT = 18,
	AF_EV_FILEOP = 19,
	AF_EV_FILEOP_PK = 20,	/* struct af_ev_fileop packed: only in the ring buffer */
};

enum af_exec_flags {
	AF_EXECF_ARGV_TRUNC = 1 << 0,	/* the command line did not fit */
};

/* hdr.pid/tgid: the process that exec'd, after the exec. */
struct af_ev_exec {
	struct af_hdr hdr;
	__u32 ppid;		/* real parent's tgid */
	__u32 uid;
	__u32 argv_len;		/* bytes of argv used */
	__u32 flags;		/* enum af_exec_flags */
	char comm[AF_COMM_LEN];
	char filename[AF_FILENAME_MAX];
	char argv[AF_ARGV_MAX];
};
_Static_assert(sizeof(struct af_ev_exec) == 32 + 16 + 16 + AF_FILENAME_MAX + AF_ARGV_MAX,
	       "af_ev_exec layout");

/* hdr.pid/tgid: the parent (the forking task); new processes only,
 * not threads. */
struct af_ev_fork {
	struct af_hdr hdr;
	__u32 child;		/* the new process's pid */
	__u32 pad;
	char comm[AF_COMM_LEN];
};
_Static_assert(sizeof(struct af_ev_fork) == 32 + 8 + 16, "af_ev_fork layout");

/* hdr.tgid: the process whose last thread exited. */
struct af_ev_exit {
	struct af_hdr hdr;
	__u32 ppid;
	__u32 code;		/* wait(2) status: exit code << 8 | signal */
	char comm[AF_COMM_LEN];
};
_Static_assert(sizeof(struct af_ev_exit) == 32 + 8 + 16, "af_ev_exit layout");

/* A filesystem-changing system call of a fenced process and its result,
 * from the syscalls/ tracepoints: writes and Landlock's refusals on
 * hosts without BPF LSM. path is the call's own (user) path argument;
 * dfd the directory it is relative to (AT_FDCWD: the cwd). The
 * directory is resolved by the kernel at the call (dir: names from the
 * directory up to the task's root, leaf first, NUL-terminated, crossing
 * mounts), not later from /proc: a descriptor swapped after the call
 * cannot change what the record names. A successful open is resolved
 * again at its exit from the descriptor it returned (AF_FOF_FULL: dir
 * names the file itself); an fd-based call (ftruncate, fchmod, ...)
 * from its descriptor at entry. */
#define AF_AT_FDCWD (-100)

enum af_fileop_dflags {
	AF_FOF_DIR = 1 << 0,		/* dir: the directory path is relative to */
	AF_FOF_FULL = 1 << 1,		/* dir: the object itself (path is not appended) */
	AF_FOF_TRUNC = 1 << 2,		/* dir: the names did not all fit (the top ones are missing) */
	AF_FOF_UNRESOLVED = 1 << 3,	/* relative path, but the directory could not be read */
	AF_FOF_DISCONNECTED = 1 << 4,	/* the walk met a dentry that is not under its mount */
	AF_FOF_UNREACHABLE = 1 << 5,	/* outside the task's root: names run to the namespace's root */
	/* The same six for dir2, shifted by AF_FOF_DIR2_SHIFT. */
};
#define AF_FOF_DIR2_SHIFT	8

struct af_ev_fileop {
	struct af_hdr hdr;
	__s32 sysno;		/* bpf/syscalls.h number */
	__s32 ret;		/* 0.. or -errno */
	__u32 flags;		/* open flags; unlinkat/renameat2 flags */
	__s32 dfd, dfd2;
	__u16 dir_len, dir2_len;	/* bytes of dir, dir2 used */
	__u32 dflags;		/* enum af_fileop_dflags */
	__u32 lens;		/* packing (AF_EV_FILEOP_PK): bytes of path and path2 */
	char comm[AF_COMM_LEN];
	char path[AF_PATH_MAX];
	char dir[AF_PATH_MAX];
	/* Only in an event of a call with two paths (rename, link,
	 * symlink: hdr.size is then the whole struct); a call with one
	 * ends here, at AF_FILEOP_SHORT bytes, so that a burst of them
	 * takes half the ring buffer. */
	char path2[AF_PATH_MAX];	/* the new name */
	char dir2[AF_PATH_MAX];
};
_Static_assert(sizeof(struct af_ev_fileop) == 32 + 32 + 16 + 4 * AF_PATH_MAX, "af_ev_fileop layout");
#define AF_FILEOP_SHORT	(32 + 32 + 16 + 2 * AF_PATH_MAX)
#define AF_FILEOP_HEAD	(32 + 32 + 16)	/* hdr to comm: the fixed fields */
_Static_assert(__builtin_offsetof(struct af_ev_fileop, path) == AF_FILEOP_HEAD, "af_ev_fileop head");
_Static_assert(__builtin_offsetof(struct af_ev_fileop, path2) == AF_FILEOP_SHORT, "af_ev_fileop short");

/* Repeats of one file effect, coalesced in the kernel (bpf/fxco.bpf.h):
 * a thread's successful opens for writing of one file (dev, ino, and the
 * name it was opened by), by the same call and flags (on the BPF-LSM
 * backends: the opens file_open allowed, their ret 0 like every record
 * of the hooks). The first is a record at once, with
 * AF_FOF_COALESCED and count 0 in its struct af_fileop_co (after its
 * AF_FILEOP_SHORT bytes): the object's key, for the recorder to name
 * the repeats by. The repeats only count; a record of them (count > 0,
 * path and dir empty: the first record's) follows when the thread
 * repeats it AF_FXCO_NS or more after the first repeat it counted, when its slot is
 * taken for another file, and when the thread exits. The opens are the
 * first plus the counts: none left out, none counted twice. Refusals
 * and failures are never coalesced: each has its own record. */
#define AF_FOF_COALESCED	(1u << 24)	/* dflags: struct af_fileop_co follows */
#define AF_FXCO_NS		(500ULL * 1000 * 1000)

struct af_fileop_co {
	__u64 count;		/* repeats since the object's previous record */
	__u64 first, last;	/* bpf_ktime_get_ns() of the first and the last of them */
	__u64 ino;
	__u64 name;		/* a hash of the name the file was opened by: its dentry,
				 * parent, name and the inode's generation (a deleted
				 * file's ino reused, a rename: another object) */
	__u32 dev;		/* kernel-internal dev_t */
	__u32 pad;
};
_Static_assert(sizeof(struct af_fileop_co) == 48, "af_fileop_co layout");
#define AF_FILEOP_CO_SIZE	(AF_FILEOP_SHORT + 48)

/* A file effect record as the ring buffer carries it (AF_EV_FILEOP_PK):
 * its names take their bytes, not AF_PATH_MAX each. Most names are a
 * few dozen bytes, so a burst of records fits the ring buffer four to
 * five times over what the struct would (bench/events e2e). Packed:
 * the AF_FILEOP_HEAD bytes of struct af_ev_fileop (hdr.size the packed
 * size, lens the bytes of path and path2 without their NULs, and
 * AF_PK_TWO for a call with two names), struct af_fileop_co if dflags
 * has AF_FOF_COALESCED, then path, dir (dir_len bytes), and with two
 * names path2 and dir2, back to back. The BPF side builds the struct
 * and packs it (bpf/fileop.bpf.h); the supervisor unpacks it before
 * anything reads it (userspace/events.c af_fileop_unpack), so the rest
 * sees struct af_ev_fileop only. */
#define AF_PK_LEN_MASK		0x3ffu
#define AF_PK_LEN2_SHIFT	10
#define AF_PK_TWO		(1u << 31)
#define AF_FILEOP_PK_MAX	(AF_FILEOP_HEAD + 48 + 4 * AF_PATH_MAX)

#endif /* AF_EVENTS_H_BPF */
