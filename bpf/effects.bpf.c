// SPDX-License-Identifier: GPL-2.0
/* File effects of fenced processes on the Landlock backend, from
 * raw_syscalls: every call that may change the filesystem (open for
 * writing, create, unlink, rename, mkdir, link, symlink, truncate,
 * chmod, chown, mknod, and the fd-based ftruncate, fchmod, fchown,
 * fallocate, fsetxattr, fremovexattr) with its path arguments, the
 * directories they are relative to as the kernel resolved them at the
 * call, and its result. Tracepoints need no BPF LSM, so the journal
 * shows writes and Landlock's refusals (-EACCES, and -EROFS from the
 * read-only mounts beneath it) on hosts where the LSM programs cannot
 * load. Numbers: syscalls.h.
 *
 * On the BPF-LSM backends none of this is attached: the LSM hooks emit
 * the same records (bpf/fs.bpf.c) and fexit programs the box's
 * refusals (the end of this file). */
#include "common.bpf.h"
#include "events.h"
#include "syscalls.h"
#include "dpath.bpf.h"
#include "fxco.bpf.h"

char LICENSE[] SEC("license") = "GPL";

#define O_WRITE_INTENT	(01 | 02 | 0100 | 01000 | 02000)	/* WRONLY RDWR CREAT TRUNC APPEND */
#define EACCES		13
#define EROFS		30	/* the Landlock backend's read-only mounts (userspace/mountns.c) */

/* Resolve the directory of a path argument (dfd, path) or, with path
 * 0, the object of descriptor dfd itself. Returns flags. */
static __always_inline __u32 resolve_dir(int dfd, __u64 path, char *dir, __u16 *len)
{
	struct task_struct *t = bpf_get_current_task_btf();
	struct dentry *d;
	struct vfsmount *m;
	struct file *f;
	__u32 flags;
	char c0 = 0;

	*len = 0;
	if (dfd == FD_NONE)
		return 0;
	if (path) {
		if (bpf_probe_read_user(&c0, 1, (void *)path) || c0 == '/' || c0 == 0)
			return 0;	/* absolute (or empty: AT_EMPTY_PATH) */
	}
	if (dfd == AF_AT_FDCWD) {
		d = BPF_CORE_READ(t, fs, pwd.dentry);
		m = BPF_CORE_READ(t, fs, pwd.mnt);
	} else {
		f = fd_file(dfd);
		if (!f)
			return AF_FOF_UNRESOLVED;
		d = BPF_CORE_READ(f, f_path.dentry);
		m = BPF_CORE_READ(f, f_path.mnt);
	}
	*len = dpath(d, m, dir, &flags);
	if (flags & AF_FOF_UNRESOLVED)
		return flags;
	return flags | (path ? AF_FOF_DIR : AF_FOF_FULL);
}

/* The entry being built (too big for the stack). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct af_pending);
} af_pscratch SEC(".maps");

/* Keep a traced call's arguments for its exit. */
static __always_inline int enter(long nr, const __u64 *a)
{
	struct af_pending *pp, *tmpl;
	__u64 id, how_flags = 0;
	__u32 zero = 0, f2;

	tmpl = bpf_map_lookup_elem(&af_pscratch, &zero);
	if (!tmpl)
		return 0;
	tmpl->path = tmpl->path2 = 0;
	tmpl->dfd = tmpl->dfd2 = AF_AT_FDCWD;
	tmpl->flags = tmpl->denied = 0;
	tmpl->dir_len = tmpl->dir2_len = 0;
	tmpl->dflags = 0;
#define p (*tmpl)

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
	case AF_NR_ftruncate: case AF_NR_fchmod: case AF_NR_fchown: case AF_NR_fallocate:
	case AF_NR_fsetxattr: case AF_NR_fremovexattr:
		p.dfd = a[0];	/* the object is the descriptor's file */
		p.dfd2 = FD_NONE;
		break;
	default:
		return 0;
	}
	if ((p.sysno == AF_NR_open || p.sysno == AF_NR_openat || p.sysno == AF_NR_openat2) &&
	    !(p.flags & O_WRITE_INTENT))
		return 0;
	/* A symlink's target is text, not a path resolved now. */
	if (p.sysno == AF_NR_symlink || p.sysno == AF_NR_symlinkat)
		p.dfd = FD_NONE;
	if (!p.path2 && p.dfd2 == AF_AT_FDCWD)
		p.dfd2 = FD_NONE;
	id = bpf_get_current_pid_tgid();
	if (bpf_map_update_elem(&af_pending, &id, tmpl, BPF_ANY))
		return 0;
	/* The directories, now: resolved in place in the map's value (too
	 * big for the stack), before the call runs. */
	pp = bpf_map_lookup_elem(&af_pending, &id);
	if (!pp)
		return 0;
	pp->dflags = resolve_dir(p.dfd, p.path, pp->dir, &pp->dir_len);
	f2 = resolve_dir(p.dfd2, p.path2, pp->dir2, &pp->dir2_len);
	pp->dflags |= f2 << AF_FOF_DIR2_SHIFT;
	return 0;
#undef p
}

/* The fields every file effect event has (the first AF_FILEOP_SHORT
 * bytes). */
static __always_inline void fill_fileop(struct af_ev_fileop *ev, struct af_pending *p, __s64 ret,
					__u64 fence_id, __u16 size)
{
	af_fill_hdr(&ev->hdr, AF_EV_FILEOP, size, fence_id);
	ev->sysno = p->sysno;
	ev->ret = ret;
	ev->flags = p->flags;
	ev->dfd = p->dfd;
	ev->dfd2 = p->dfd2;
	ev->dflags = p->dflags;
	ev->dir_len = p->dir_len;
	__builtin_memcpy(ev->dir, p->dir, AF_PATH_MAX);
	/* An open that worked: what it opened is the descriptor it
	 * returned, the kernel's own answer (a directory or a symlink
	 * swapped meanwhile cannot change it). */
	if (ret >= 0 && (p->sysno == AF_NR_open || p->sysno == AF_NR_creat ||
			 p->sysno == AF_NR_openat || p->sysno == AF_NR_openat2)) {
		struct file *f = fd_file(ret);
		__u32 fl;

		if (f) {
			ev->dir_len = dpath(BPF_CORE_READ(f, f_path.dentry), BPF_CORE_READ(f, f_path.mnt),
					    ev->dir, &fl);
			ev->dflags = (ev->dflags & ~0xffu) | fl | AF_FOF_FULL;
		}
	}
	bpf_get_current_comm(ev->comm, sizeof(ev->comm));
	/* The strings are still in the caller's memory at exit. */
	ev->lens = af_fileop_name(ev->path, p->path);
}

static __always_inline bool is_open(__s32 nr)
{
	return nr == AF_NR_open || nr == AF_NR_creat || nr == AF_NR_openat || nr == AF_NR_openat2;
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
	/* Two sizes, each a constant for the verifier: the second path's
	 * half only for a call that has one. */
	if (p->path2) {
		ev = af_fileop_begin(*fid);
		if (!ev)
			goto out;
		fill_fileop(ev, p, ret, *fid, sizeof(*ev));
		ev->dir2_len = p->dir2_len;
		__builtin_memcpy(ev->dir2, p->dir2, AF_PATH_MAX);
		ev->lens |= af_fileop_name(ev->path2, p->path2) << AF_PK_LEN2_SHIFT;
		af_fileop_submit(*fid, ev);
	} else {
		struct af_fxslot *slot = NULL;

		/* Only what worked: a refusal or a failure is never coalesced. */
		if (ret >= 0 && is_open(p->sysno) &&
		    af_fxco_repeat(fd_file(ret), p->sysno, p->flags, *fid, &slot))
			goto out;
		ev = af_fxco_begin(*fid, slot);
		if (!ev)
			goto out;
		fill_fileop(ev, p, ret, *fid, slot ? AF_FILEOP_CO_SIZE : AF_FILEOP_SHORT);
		ev->dir2_len = 0;
		af_fxco_submit(*fid, ev, slot);
	}
out:
	bpf_map_delete_elem(&af_pending, &id);
	return 0;
}

/* ---- refusals by the box itself: seccomp and capabilities ---- */

/* enum af_sysclass_bits by system call number, from userspace's tables
 * (userspace/sysfilter.c af_sysclass_fill) before load. */
const volatile __u8 af_sysclass[AF_SYSCLASS_MAX] = {};

static __always_inline __u8 sysclass(long nr)
{
	if (nr < 0 || nr >= AF_SYSCLASS_MAX)
		return 0;
	return af_sysclass[nr & (AF_SYSCLASS_MAX - 1)];
}

/* Seccomp runs before the sys_enter tracepoint, and a call it refuses
 * with an errno skips it but still meets sys_exit: so a call of a
 * seccomp class that reaches sys_exit with no entry of its own in
 * af_boxent was refused by the filter, whatever errno the rule chose.
 * Both programs are on raw_syscalls, which every system call of the
 * machine meets: the class is one array read, checked first. */
static __always_inline void box_enter(long nr)
{
	struct af_boxent e = { .nr = nr };
	__u64 id = bpf_get_current_pid_tgid();

	if (bpf_map_update_elem(&af_boxent, &id, &e, BPF_ANY))
		af_count(AF_CNT_BOX_FULL);
}

/* The record of a refusal by the box (seccomp, a capability) of call NR
 * with result RET, on every backend. */
static __always_inline int emit_refusal(__u64 fence_id, struct pt_regs *regs, long nr, long ret,
					__u32 op)
{
	struct af_ev_refusal *ev;

	af_count(AF_CNT_DENY);
	ev = af_reserve(fence_id, sizeof(*ev));
	if (!ev)
		return 0;
	af_fill_hdr(&ev->hdr, AF_EV_REFUSAL, sizeof(*ev), fence_id);
	ev->op = op;
	ev->verdict = AF_DENIED;
	ev->sysno = nr;
	ev->ret = ret;
	/* The syscall ABI's argument registers (x86_64), unchanged by the
	 * call: what the rule looked at (a family, flags, an ioctl). */
	ev->args[0] = BPF_CORE_READ(regs, di);
	ev->args[1] = BPF_CORE_READ(regs, si);
	ev->args[2] = BPF_CORE_READ(regs, dx);
	bpf_get_current_comm(ev->comm, sizeof(ev->comm));
	bpf_ringbuf_submit(ev, 0);
	return 0;
}

static __always_inline int box_exit(struct pt_regs *regs, long nr, __u8 class, long ret)
{
	struct af_fence_cfg *cfg;
	struct af_boxent *e;
	__u64 id, fence_id;
	__u32 op;

	cfg = af_current_fence(&fence_id);
	if (!cfg)
		return 0;
	id = bpf_get_current_pid_tgid();
	e = bpf_map_lookup_elem(&af_boxent, &id);
	if (!e) {
		/* A fork's child returns from clone with no entry: 0. */
		if (ret >= 0 || !(class & AF_SC_SECCOMP))
			return 0;
		op = AF_OP_SECCOMP;
	} else {
		bool lsm = e->denied;

		bpf_map_delete_elem(&af_boxent, &id);
		if (ret != -EPERM || lsm || !(class & AF_SC_CAP))
			return 0;
		op = AF_OP_CAPABILITY;
	}
	return emit_refusal(fence_id, regs, nr, ret, op);
}

/* The Landlock backend's one pair of programs on raw_syscalls: the
 * box's refusals and the file effects, one dispatch per system call.
 * Every system call of the machine meets them while they are attached
 * (userspace/fence.c attaches them only while a fence of the node
 * exists): a call of neither class returns after one array read and one
 * switch, before any map lookup. Cheaper than the syscalls/ tracepoints
 * of each traced call, whose perf path every caller of those calls on
 * the machine paid on top of these. */
SEC("raw_tp/sys_enter")
int BPF_PROG(af_ll_enter, struct pt_regs *regs, long nr)
{
	__u8 class = sysclass(nr);
	struct af_fence_cfg *cfg;
	bool t = traced(nr);
	__u64 fence_id, a[5];

	if (!class && !t)
		return 0;
	cfg = af_current_fence(&fence_id);
	if (!cfg)
		return 0;
	if (class)
		box_enter(nr);
	if (!t || !(cfg->flags & (AF_FENCE_EV_FILE | AF_FENCE_EV_REFUSED)))
		return 0;
	/* The syscall ABI's argument registers (x86_64). */
	a[0] = BPF_CORE_READ(regs, di);
	a[1] = BPF_CORE_READ(regs, si);
	a[2] = BPF_CORE_READ(regs, dx);
	a[3] = BPF_CORE_READ(regs, r10);
	a[4] = BPF_CORE_READ(regs, r8);
	return enter(nr, a);
}

SEC("raw_tp/sys_exit")
int BPF_PROG(af_ll_exit, struct pt_regs *regs, long ret)
{
	long nr = BPF_CORE_READ(regs, orig_ax);
	__u8 class = sysclass(nr);

	if (traced(nr))
		leave(ret);	/* an entry in af_pending: a fenced task's */
	if (class)
		box_exit(regs, nr, class, ret);
	return 0;
}

/* ---- the same refusals on the BPF-LSM backends, off the syscall path ----
 *
 * raw_syscalls puts a program on every system call of the machine. On
 * the BPF-LSM backends (fentry/fexit work wherever BPF LSM does) the
 * seccomp refusals come from the exit of __secure_computing, which only
 * tasks with a seccomp filter meet (each fenced task, and whatever else
 * on the machine runs under seccomp), and the capability refusals from
 * the exit of each system call of the class, which only its callers
 * meet. */
static __always_inline int box_refusal(struct pt_regs *regs, long nr, long ret, __u32 op)
{
	struct af_fence_cfg *cfg;
	__u64 fence_id;

	cfg = af_current_fence(&fence_id);
	if (!cfg)
		return 0;
	return emit_refusal(fence_id, regs, nr, ret, op);
}

/* -1: the filter skipped the call (its errno is in the registers
 * already); a kill does not return. */
SEC("fexit/__secure_computing")
int BPF_PROG(af_seccomp_exit, const void *sd, int ret)
{
	struct pt_regs *regs;
	long nr;

	if (ret != -1)
		return 0;
	regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	nr = BPF_CORE_READ(regs, orig_ax);
	if (!(sysclass(nr) & AF_SC_SECCOMP))
		return 0;
	return box_refusal(regs, nr, BPF_CORE_READ(regs, ax), AF_OP_SECCOMP);
}

/* No LSM program of the fence refuses these calls: their -EPERM is the
 * capability's. */
#define AF_CAP_EXIT(name)							\
SEC("fexit/__x64_sys_" #name)							\
int BPF_PROG(af_cx_##name, struct pt_regs *regs, long ret)			\
{										\
	if (ret != -EPERM)							\
		return 0;							\
	return box_refusal(regs, BPF_CORE_READ(regs, orig_ax), ret, AF_OP_CAPABILITY); \
}

/* userspace/sysfilter.c cap_table */
AF_CAP_EXIT(sethostname)
AF_CAP_EXIT(setdomainname)
AF_CAP_EXIT(chroot)
AF_CAP_EXIT(setuid)
AF_CAP_EXIT(setreuid)
AF_CAP_EXIT(setresuid)
AF_CAP_EXIT(setgid)
AF_CAP_EXIT(setregid)
AF_CAP_EXIT(setresgid)
AF_CAP_EXIT(setgroups)
AF_CAP_EXIT(capset)
AF_CAP_EXIT(adjtimex)
AF_CAP_EXIT(clock_adjtime)
AF_CAP_EXIT(setrlimit)
AF_CAP_EXIT(prlimit64)
AF_CAP_EXIT(sched_setscheduler)
AF_CAP_EXIT(sched_setparam)
AF_CAP_EXIT(sched_setattr)
AF_CAP_EXIT(ioprio_set)
