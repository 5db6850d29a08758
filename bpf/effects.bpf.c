// SPDX-License-Identifier: GPL-2.0
/* File effects of fenced processes from the syscall tracepoints: every
 * call that may change the filesystem (open for writing, create,
 * unlink, rename, mkdir, link, symlink, truncate, chmod, chown, mknod)
 * with its path arguments and its result. Tracepoints need no BPF LSM,
 * so the journal shows writes and Landlock's refusals (-EACCES, and
 * -EROFS from the read-only mounts beneath it) on hosts where the LSM
 * programs cannot load. Numbers: syscalls.h.
 *
 * One program for the entry and one for the exit, each attached to the
 * syscalls/sys_{enter,exit}_<name> tracepoint of every call in
 * af_effect_syscalls[] (userspace/fence.c): a system call not in that
 * list meets no program at all, unlike raw_syscalls/sys_enter, which
 * every system call of the machine pays for. Hosts that refuse
 * tracepoint programs get the raw_syscalls variants instead. */
#include "common.bpf.h"
#include "events.h"
#include "syscalls.h"

char LICENSE[] SEC("license") = "GPL";

#define O_WRITE_INTENT	(01 | 02 | 0100 | 01000 | 02000)	/* WRONLY RDWR CREAT TRUNC APPEND */
#define EACCES		13
#define EROFS		30	/* the Landlock backend's read-only mounts (userspace/mountns.c) */

/* The records of the syscalls/ tracepoints (their format files): the
 * common fields, the call number, then each argument in 8 bytes. */
struct sys_enter_rec {
	__u64 common;
	__s32 nr;
	__u32 pad;
	__u64 args[6];
};

struct sys_exit_rec {
	__u64 common;
	__s32 nr;
	__u32 pad;
	__s64 ret;
};

/* Whether the fence of the current task (if any) wants file effects. */
static __always_inline bool fenced(void)
{
	__u64 cgid = bpf_get_current_cgroup_id();
	struct af_fence_cfg *cfg;
	__u64 *fid;

	fid = bpf_map_lookup_elem(&af_member, &cgid);
	if (!fid)
		return false;
	cfg = bpf_map_lookup_elem(&af_fences, fid);
	return cfg && (cfg->flags & (AF_FENCE_EV_FILE | AF_FENCE_EV_REFUSED));
}

static __always_inline bool traced(long nr)
{
	switch (nr) {
	case AF_NR_open: case AF_NR_creat: case AF_NR_openat: case AF_NR_openat2:
	case AF_NR_unlink: case AF_NR_rmdir: case AF_NR_mkdir: case AF_NR_chmod:
	case AF_NR_chown: case AF_NR_lchown: case AF_NR_truncate: case AF_NR_mknod:
	case AF_NR_unlinkat: case AF_NR_mkdirat: case AF_NR_fchmodat: case AF_NR_fchmodat2:
	case AF_NR_fchownat: case AF_NR_mknodat: case AF_NR_rename: case AF_NR_link:
	case AF_NR_symlink: case AF_NR_renameat: case AF_NR_renameat2: case AF_NR_linkat:
	case AF_NR_symlinkat:
		return true;
	default:
		return false;
	}
}

/* Keep a traced call's arguments for its exit. */
static __always_inline int enter(long nr, const __u64 *a)
{
	struct af_pending p = { .dfd = AF_AT_FDCWD, .dfd2 = AF_AT_FDCWD };
	__u64 id, how_flags = 0;

	p.sysno = nr;
	switch (p.sysno) {
	case AF_NR_open:
		p.path = a[0];
		p.flags = a[1];
		break;
	case AF_NR_creat:
		p.path = a[0];
		p.flags = 01 | 0100 | 01000;
		break;
	case AF_NR_openat:
		p.dfd = a[0];
		p.path = a[1];
		p.flags = a[2];
		break;
	case AF_NR_openat2:	/* flags in struct open_how */
		p.dfd = a[0];
		p.path = a[1];
		bpf_probe_read_user(&how_flags, sizeof(how_flags), (void *)a[2]);
		p.flags = how_flags;
		break;
	case AF_NR_unlink: case AF_NR_rmdir: case AF_NR_mkdir: case AF_NR_chmod:
	case AF_NR_chown: case AF_NR_lchown: case AF_NR_truncate: case AF_NR_mknod:
		p.path = a[0];
		break;
	case AF_NR_unlinkat:
		p.dfd = a[0];
		p.path = a[1];
		p.flags = a[2];
		break;
	case AF_NR_mkdirat: case AF_NR_fchmodat: case AF_NR_fchmodat2: case AF_NR_fchownat:
	case AF_NR_mknodat:
		p.dfd = a[0];
		p.path = a[1];
		break;
	case AF_NR_rename: case AF_NR_link: case AF_NR_symlink:
		p.path = a[0];
		p.path2 = a[1];
		break;
	case AF_NR_renameat: case AF_NR_renameat2: case AF_NR_linkat:
		p.dfd = a[0];
		p.path = a[1];
		p.dfd2 = a[2];
		p.path2 = a[3];
		p.flags = p.sysno == AF_NR_renameat2 ? a[4] : 0;
		break;
	case AF_NR_symlinkat:
		p.path = a[0];
		p.dfd2 = a[1];
		p.path2 = a[2];
		break;
	default:
		return 0;
	}
	if ((p.sysno == AF_NR_open || p.sysno == AF_NR_openat || p.sysno == AF_NR_openat2) &&
	    !(p.flags & O_WRITE_INTENT))
		return 0;
	id = bpf_get_current_pid_tgid();
	bpf_map_update_elem(&af_pending, &id, &p, BPF_ANY);
	return 0;
}

/* Attached to the tracepoints of the traced calls only: the fence
 * check comes first. */
SEC("tracepoint")
int af_sys_enter(struct sys_enter_rec *ctx)
{
	__u64 a[5];

	if (!fenced())
		return 0;
	/* Not ctx->args[i]: the kernel refuses to attach a program whose
	 * context reads go past the shortest record it is attached to
	 * (unlink's has one argument). Past a call's own arguments, the
	 * bytes read are not used. */
	if (bpf_probe_read_kernel(a, sizeof(a), (void *)ctx + offsetof(struct sys_enter_rec, args)))
		return 0;
	return enter(ctx->nr, a);
}

/* Where tracepoint programs may not attach (some hosts refuse them
 * while allowing raw tracepoints): raw_syscalls, which every system
 * call of the machine meets, so the call number is checked first. */
SEC("raw_tp/sys_enter")
int BPF_PROG(af_sys_enter_raw, struct pt_regs *regs, long nr)
{
	__u64 a[5];

	if (!traced(nr) || !fenced())
		return 0;
	/* The syscall ABI's argument registers (x86_64). */
	a[0] = BPF_CORE_READ(regs, di);
	a[1] = BPF_CORE_READ(regs, si);
	a[2] = BPF_CORE_READ(regs, dx);
	a[3] = BPF_CORE_READ(regs, r10);
	a[4] = BPF_CORE_READ(regs, r8);
	return enter(nr, a);
}

static __always_inline int leave(__s64 ret)
{
	__u64 id = bpf_get_current_pid_tgid(), cgid, *fid;
	struct af_fence_cfg *cfg;
	struct af_ev_fileop *ev;
	struct af_pending *p;
	__u32 want;

	p = bpf_map_lookup_elem(&af_pending, &id);
	if (!p)
		return 0;
	cgid = bpf_get_current_cgroup_id();
	fid = bpf_map_lookup_elem(&af_member, &cgid);
	if (!fid)
		goto out;
	cfg = bpf_map_lookup_elem(&af_fences, fid);
	if (!cfg)
		goto out;
	want = ret == -EACCES || ret == -EPERM || ret == -EROFS ? AF_FENCE_EV_REFUSED :
	       AF_FENCE_EV_FILE;
	/* An LSM program of the fence denied the call and reported it. */
	if (!(cfg->flags & want) || (ret < 0 && p->denied))
		goto out;
	ev = af_reserve(*fid, sizeof(*ev));
	if (!ev)
		goto out;
	af_fill_hdr(&ev->hdr, AF_EV_FILEOP, sizeof(*ev), *fid);
	ev->sysno = p->sysno;
	ev->ret = ret;
	ev->flags = p->flags;
	ev->dfd = p->dfd;
	ev->dfd2 = p->dfd2;
	ev->pad = 0;
	bpf_get_current_comm(ev->comm, sizeof(ev->comm));
	/* The strings are still in the caller's memory at exit. */
	if (bpf_probe_read_user_str(ev->path, sizeof(ev->path), (void *)p->path) < 0)
		ev->path[0] = 0;
	ev->path2[0] = 0;
	if (p->path2 && bpf_probe_read_user_str(ev->path2, sizeof(ev->path2), (void *)p->path2) < 0)
		ev->path2[0] = 0;
	bpf_ringbuf_submit(ev, 0);
out:
	bpf_map_delete_elem(&af_pending, &id);
	return 0;
}

SEC("tracepoint")
int af_sys_exit(struct sys_exit_rec *ctx)
{
	return leave(ctx->ret);
}

SEC("raw_tp/sys_exit")
int BPF_PROG(af_sys_exit_raw, struct pt_regs *regs, long ret)
{
	return leave(ret);
}
