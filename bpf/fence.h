/* SPDX-License-Identifier: GPL-2.0 */
/* Types shared by the fence's BPF programs and the userspace loader. */
#ifndef AF_FENCE_H
#define AF_FENCE_H

/* BPF code has the kernel's own types from vmlinux.h. */
#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define AF_PATH_MAX	256	/* bytes of dentry names carried by an event */
#define AF_NAME_MAX	128	/* bytes of the syscall's own path argument */
#define AF_COMM_LEN	16
#define AF_WALK_MAX	128	/* ancestors visited before failing closed */

/* Root kinds; the nearest root found walking up decides. */
enum af_root_kind {
	AF_ROOT_WRITABLE = 1,
	AF_ROOT_DENY_READ = 2,
};

enum af_mode_bits {
	AF_FENCE_AUDIT = 1 << 0,	/* allow, but report what would be denied */
	AF_FENCE_DENY_READ = 1 << 1,	/* some deny_read root exists: check reads */
};

struct af_root_key {
	__u64 fence_id;		/* cgroup id of the fence's cgroup */
	__u64 ino;
	__u32 dev;		/* kernel-internal dev_t: major << 20 | minor */
	__u32 pad;
};
_Static_assert(sizeof(struct af_root_key) == 24, "af_root_key layout");

struct af_root_val {
	__u32 kind;		/* enum af_root_kind */
	__u32 pad;
};
_Static_assert(sizeof(struct af_root_val) == 8, "af_root_val layout");

struct af_fence_cfg {
	__u32 flags;		/* enum af_mode_bits */
	__u32 pad;
};
_Static_assert(sizeof(struct af_fence_cfg) == 8, "af_fence_cfg layout");

/* Counters, one per-CPU array slot each. */
enum af_counter {
	AF_CNT_RB_DROP = 0,	/* ring buffer reserve failed */
	AF_CNT_WALK_BOUND,	/* ancestor walk hit AF_WALK_MAX: denied */
	AF_CNT_DENY,
	AF_CNT_AUDIT,
	AF_CNT_MAX,
};

enum af_event_type {
	AF_EV_FILE = 1,		/* a filesystem decision that denied (or would) */
	AF_EV_SYS = 2,		/* a self-protection decision (mount, bpf, ...) */
};

enum af_op {
	AF_OP_OPEN_WRITE = 1,	/* open for write, O_TRUNC, O_APPEND */
	AF_OP_OPEN_READ,	/* open of a deny_read object */
	AF_OP_DIR_WRITE,	/* create, delete or rename an entry of a directory */
	AF_OP_SETATTR,		/* chmod, chown, truncate, utimes */
	AF_OP_LINK,		/* hard link of an outside object */
	AF_OP_XATTR,		/* set or remove an extended attribute or ACL */
	AF_OP_MOUNT,		/* mount, umount, move_mount, pivot_root */
	AF_OP_BPF,		/* bpf(2) */
	AF_OP_PTRACE,		/* ptrace of a task outside the fence */
	AF_OP_SIGNAL,		/* signal to a task outside the fence */
	AF_OP_MODULE,		/* kernel module load */
	AF_OP_MAX,
};

enum af_verdict {
	AF_DENIED = 0,
	AF_AUDITED = 1,		/* audit mode: allowed, would have been denied */
};

enum af_ev_flags {
	AF_EVF_PATH_TRUNC = 1 << 0,	/* path names did not all fit */
	AF_EVF_WALK_BOUND = 1 << 1,	/* denied because the walk hit its bound */
};

/* Every event starts with this header. */
struct af_hdr {
	__u16 type;		/* enum af_event_type */
	__u16 size;		/* whole event, header included */
	__u32 pid;		/* thread id */
	__u64 ktime;		/* bpf_ktime_get_ns() */
	__u64 fence_id;
	__u32 tgid;
	__u32 pad;
};
_Static_assert(sizeof(struct af_hdr) == 32, "af_hdr layout");

/* path holds the names from the object up to its filesystem's root,
 * leaf first, each NUL-terminated; userspace reverses them and finds
 * the mount point from the device. name is the path argument of the
 * system call in progress, when the hook could tell. */
struct af_ev_file {
	struct af_hdr hdr;
	__u32 op;		/* enum af_op */
	__u32 verdict;		/* enum af_verdict */
	__u32 dev;
	__u32 flags;		/* enum af_ev_flags */
	__u64 ino;
	__s64 sysno;		/* x86_64 syscall number, -1 when unknown */
	__u32 path_len;
	__u32 pad;
	char comm[AF_COMM_LEN];
	char name[AF_NAME_MAX];
	char path[AF_PATH_MAX * 2];	/* twice: keeps every bounded write in range */
};
_Static_assert(sizeof(struct af_ev_file) == 32 + 40 + 16 + 128 + 512, "af_ev_file layout");

struct af_ev_sys {
	struct af_hdr hdr;
	__u32 op;		/* enum af_op */
	__u32 verdict;
	__u64 arg;		/* bpf cmd, target pid, signal, ... */
	char comm[AF_COMM_LEN];
};
_Static_assert(sizeof(struct af_ev_sys) == 32 + 16 + 16, "af_ev_sys layout");

#endif /* AF_FENCE_H */
