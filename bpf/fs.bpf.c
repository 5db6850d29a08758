// SPDX-License-Identifier: GPL-2.0
/* The filesystem fence: a write is allowed when the object, or for a
 * change of a directory's entries the directory, has a writable root
 * among its dentry ancestors. Roots are (dev, ino) pairs, so symlinks,
 * "..", bind mounts and /proc/self/fd reopen are all decided on the
 * object itself. The walk stays inside the object's filesystem: a
 * filesystem mounted beneath a root is not covered unless it is a root
 * itself (fail closed), and no mount can make an outside object inside.
 *
 * Each hot hook has two thin entry points over one decision function:
 * lsm_cgroup/ (attached to the fence's cgroup, returns 1 allow, 0 deny)
 * and lsm/ (global, for kernels without lsm_cgroup, filtered by the
 * membership map). Cold hooks are global lsm/ programs only. */
#include "common.bpf.h"
#include "fs.bpf.h"
#include "syscalls.h"
#include "dpath.bpf.h"
#include "fxco.bpf.h"
#include "cgfs.bpf.h"
#include "rootcache.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* seqlock_t rename_lock's address: its sequence is its first word. */
const volatile __u64 af_rename_lock = 0;

/* The path argument of the system call in progress, for the message. */
static __always_inline __s64 read_syscall_name(char *buf, __u32 size)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(task);
	__s64 nr = BPF_CORE_READ(regs, orig_ax);
	unsigned long arg;

	switch (nr) {
	case AF_NR_open: case AF_NR_creat: case AF_NR_mkdir: case AF_NR_rmdir:
	case AF_NR_unlink: case AF_NR_truncate: case AF_NR_chmod: case AF_NR_chown:
	case AF_NR_lchown: case AF_NR_utime: case AF_NR_utimes: case AF_NR_mknod:
	case AF_NR_setxattr: case AF_NR_lsetxattr: case AF_NR_removexattr:
	case AF_NR_lremovexattr: case AF_NR_rename:
		arg = BPF_CORE_READ(regs, di);
		break;
	case AF_NR_openat: case AF_NR_openat2: case AF_NR_mkdirat: case AF_NR_mknodat:
	case AF_NR_unlinkat: case AF_NR_fchownat: case AF_NR_fchmodat: case AF_NR_utimensat:
	case AF_NR_link: case AF_NR_symlink: case AF_NR_renameat: case AF_NR_renameat2:
		arg = BPF_CORE_READ(regs, si);
		break;
	case AF_NR_symlinkat:
		arg = BPF_CORE_READ(regs, dx);
		break;
	case AF_NR_linkat:
		arg = BPF_CORE_READ(regs, r10);
		break;
	default:
		return nr;
	}
	if (arg)
		bpf_probe_read_user_str(buf, size, (void *)arg);
	return nr;
}

static __always_inline bool is_access_check(void)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(task);
	__s64 nr = BPF_CORE_READ(regs, orig_ax);

	return nr == AF_NR_access || nr == AF_NR_faccessat || nr == AF_NR_faccessat2;
}


/* ---- file effects from the hooks (the BPF-LSM backends) ----
 *
 * On the BPF-LSM backends no syscall tracepoint is attached (while one
 * is, every task of the machine takes the slow system call path): the
 * hooks that allow a change emit its file effect record instead, for
 * fenced tasks only, with the fields the tracepoints give (bpf/events.h
 * af_ev_fileop): the call's number, flags and path arguments, and as
 * the directory the object itself as the kernel resolved it (AF_FOF_FULL).
 * The record is made when every permission check has passed and the
 * fence allowed the change, so ret is 0: a failure after that point
 * (ENOSPC, EIO) is not seen, nor a call refused before the hook
 * (ENOENT, DAC's EACCES: no effect either).
 *
 * The inode hooks do not see the mount; the path hook that precedes
 * each of them does: it leaves the mount here, by thread, for the
 * dentry it saw. */
struct af_fxmnt {
	__u64 dentry;		/* struct dentry * the path hook saw */
	__u64 mnt;		/* its struct vfsmount * */
};

/* LRU: a thread's entry stays until its slot is needed (threads exit,
 * and a path hook whose inode hook never comes leaves one); between the
 * two hooks of one call, 8192 other entries would have to be made. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u64);
	__type(value, struct af_fxmnt);
} af_fxmnt SEC(".maps");

static __always_inline void fx_stash(struct dentry *d, struct vfsmount *m)
{
	struct af_fxmnt v = { .dentry = (__u64)d, .mnt = (__u64)m };
	__u64 id, fence_id;

	if (!af_current_fence(&fence_id))
		return;
	id = bpf_get_current_pid_tgid();
	bpf_map_update_elem(&af_fxmnt, &id, &v, BPF_ANY);
}

/* The mount the path hook left for d, or NULL. */
static __always_inline struct vfsmount *fx_mnt(struct dentry *d)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct af_fxmnt *v = bpf_map_lookup_elem(&af_fxmnt, &id);

	if (!v || v->dentry != (__u64)d)
		return NULL;
	return (struct vfsmount *)v->mnt;
}

struct fx_args {
	__s64 nr;
	__u64 path, path2;	/* user pointers */
	__s32 dfd, dfd2;
	__u32 flags;
};

/* The arguments of the system call in progress, as the tracepoints
 * take them (bpf/effects.bpf.c enter()); false for a call whose
 * effects are not journaled (an open: file_open records it). */
static __always_inline bool fx_args(struct fx_args *x)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(task);
	__u64 a[5];

	x->nr = BPF_CORE_READ(regs, orig_ax);
	if (!traced(x->nr))
		return false;
	/* The syscall ABI's argument registers (x86_64). */
	a[0] = BPF_CORE_READ(regs, di);
	a[1] = BPF_CORE_READ(regs, si);
	a[2] = BPF_CORE_READ(regs, dx);
	a[3] = BPF_CORE_READ(regs, r10);
	a[4] = BPF_CORE_READ(regs, r8);
	x->path = x->path2 = 0;
	x->dfd = AF_AT_FDCWD;
	x->dfd2 = FD_NONE;
	x->flags = 0;
	switch (x->nr) {
	case AF_NR_open:
		x->path = a[0];
		x->flags = a[1];
		break;
	case AF_NR_creat:
		x->path = a[0];
		x->flags = 01 | 0100 | 01000;
		break;
	case AF_NR_openat:
		x->dfd = a[0];
		x->path = a[1];
		x->flags = a[2];
		break;
	case AF_NR_openat2: {
		__u64 how = 0;

		x->dfd = a[0];
		x->path = a[1];
		bpf_probe_read_user(&how, sizeof(how), (void *)a[2]);
		x->flags = how;
		break;
	}
	case AF_NR_unlink: case AF_NR_rmdir: case AF_NR_mkdir: case AF_NR_chmod:
	case AF_NR_chown: case AF_NR_lchown: case AF_NR_truncate: case AF_NR_mknod:
		x->path = a[0];
		break;
	case AF_NR_unlinkat:
		x->dfd = a[0];
		x->path = a[1];
		x->flags = a[2];
		break;
	case AF_NR_mkdirat: case AF_NR_fchmodat: case AF_NR_fchmodat2: case AF_NR_fchownat:
	case AF_NR_mknodat:
		x->dfd = a[0];
		x->path = a[1];
		break;
	case AF_NR_rename: case AF_NR_link:
		x->path = a[0];
		x->path2 = a[1];
		x->dfd2 = AF_AT_FDCWD;
		break;
	case AF_NR_symlink:
		x->dfd = FD_NONE;
		x->path = a[0];
		x->path2 = a[1];
		x->dfd2 = AF_AT_FDCWD;
		break;
	case AF_NR_renameat: case AF_NR_renameat2: case AF_NR_linkat:
		x->dfd = a[0];
		x->path = a[1];
		x->dfd2 = a[2];
		x->path2 = a[3];
		x->flags = x->nr == AF_NR_renameat2 ? a[4] : 0;
		break;
	case AF_NR_symlinkat:
		x->dfd = FD_NONE;
		x->path = a[0];
		x->dfd2 = a[1];
		x->path2 = a[2];
		break;
	default:	/* ftruncate, fchmod, fchown, fallocate, fsetxattr, fremovexattr */
		x->dfd = a[0];
		break;
	}
	return true;
}

static __always_inline bool fx_fd_call(__s64 nr)
{
	return nr == AF_NR_ftruncate || nr == AF_NR_fchmod || nr == AF_NR_fchown ||
	       nr == AF_NR_fallocate || nr == AF_NR_fsetxattr || nr == AF_NR_fremovexattr;
}

static __always_inline void fx_fill(struct af_ev_fileop *ev, const struct fx_args *x,
				    __u64 fence_id, __u16 size, struct dentry *d, struct vfsmount *m,
				    __s32 ret)
{
	__u32 fl = 0;

	af_fill_hdr(&ev->hdr, AF_EV_FILEOP, size, fence_id);
	ev->sysno = x->nr;
	ev->ret = ret;
	ev->flags = x->flags;
	ev->dfd = x->dfd;
	ev->dfd2 = x->dfd2;
	ev->dir_len = 0;
	ev->dflags = 0;
	if (d) {
		ev->dir_len = dpath(d, m, ev->dir, &fl);
		ev->dflags = fl | (fl & AF_FOF_UNRESOLVED ? 0 : AF_FOF_FULL);
	}
	bpf_get_current_comm(ev->comm, sizeof(ev->comm));
	ev->lens = af_fileop_name(ev->path, x->path);
}

/* Emit the record of the call in progress: its object d (on mount m;
 * NULL for a symlink's target, which is text) and, for a call with two
 * names, the new name d2 on m2; an open that took a coalescing slot
 * (bpf/fxco.bpf.h) carries its key. */
static __always_inline void fx_emit(__u64 fence_id, struct af_fence_cfg *cfg, const struct fx_args *x,
				    struct dentry *d, struct vfsmount *m,
				    struct dentry *d2, struct vfsmount *m2, __s32 ret,
				    struct af_fxslot *slot)
{
	struct af_ev_fileop *ev;
	__u32 fl = 0;

	if (!(cfg->flags & AF_FENCE_EV_FILE))
		return;
	ev = af_fxco_begin(fence_id, slot);
	if (!ev)
		return;
	if (x->path2) {
		fx_fill(ev, x, fence_id, sizeof(*ev), d, m, ret);
		ev->dir2_len = dpath(d2, m2, ev->dir2, &fl);
		ev->dflags |= (fl | (fl & AF_FOF_UNRESOLVED ? 0 : AF_FOF_FULL)) << AF_FOF_DIR2_SHIFT;
		ev->lens |= af_fileop_name(ev->path2, x->path2) << AF_PK_LEN2_SHIFT;
		af_fileop_submit(fence_id, ev);
	} else {
		fx_fill(ev, x, fence_id, slot ? AF_FILEOP_CO_SIZE : AF_FILEOP_SHORT, d, m, ret);
		ev->dir2_len = 0;
		af_fxco_submit(fence_id, ev, slot);
	}
}

/* An allowed change of d by the call in progress: its record, with the
 * mount the path hook left (or, for a call through a descriptor, the
 * descriptor's). */
static __always_inline void fx_change(__u64 fence_id, struct af_fence_cfg *cfg, struct dentry *d)
{
	struct vfsmount *m;
	struct fx_args x;

	if (!(cfg->flags & AF_FENCE_EV_FILE) || !fx_args(&x))
		return;
	switch (x.nr) {
	case AF_NR_open: case AF_NR_creat: case AF_NR_openat: case AF_NR_openat2:
		return;	/* file_open records the open (and its O_TRUNC, O_CREAT) */
	}
	m = fx_mnt(d);
	if (!m && fx_fd_call(x.nr)) {
		struct file *f = fd_file(x.dfd);

		if (f && BPF_CORE_READ(f, f_path.dentry) == d)
			m = BPF_CORE_READ(f, f_path.mnt);
	}
	if (!m) {
		af_count(AF_CNT_FX_NOMNT);
		return;
	}
	if (x.nr == AF_NR_symlink || x.nr == AF_NR_symlinkat)
		fx_emit(fence_id, cfg, &x, NULL, NULL, d, m, 0, NULL);
	else
		fx_emit(fence_id, cfg, &x, d, m, NULL, NULL, 0, NULL);
}

static __always_inline void fx_two(struct dentry *old, struct dentry *new);

/* An allowed open for writing: the record names the file opened. A
 * repeat by the thread of one it made of the same file (by the same
 * call and flags) is only counted (bpf/fxco.bpf.h): no walk for its
 * path, no record now. The decision was made before, for every open. */
static __always_inline void fx_open(__u64 fence_id, struct af_fence_cfg *cfg, struct file *file)
{
	struct af_fxslot *slot = NULL;
	struct fx_args x;

	if (!(cfg->flags & AF_FENCE_EV_FILE) || !fx_args(&x))
		return;
	switch (x.nr) {
	case AF_NR_open: case AF_NR_creat: case AF_NR_openat: case AF_NR_openat2:
		if (af_fxco_repeat(file, x.nr, x.flags, fence_id, &slot))
			return;
		fx_emit(fence_id, cfg, &x, BPF_CORE_READ(file, f_path.dentry),
			BPF_CORE_READ(file, f_path.mnt), NULL, NULL, 0, slot);
	}
}

/* The mount d was reached through in the call in progress, for a
 * denial's path, or NULL: the path hook's (d, or the directory of the
 * name it saw: inode_permission of the directory follows path_mknod,
 * path_unlink, ...). An fd call's (fchmod) is not looked up: the
 * system call's arguments (fx_args) made lsm/inode_setattr too complex
 * for 6.1's verifier; its names stop at the task's root dentry. */
static __always_inline struct vfsmount *deny_mnt(struct dentry *d)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct af_fxmnt *v = bpf_map_lookup_elem(&af_fxmnt, &id);
	struct dentry *seen;

	if (!v)
		return NULL;
	seen = (struct dentry *)v->dentry;
	if (seen == d || BPF_CORE_READ(seen, d_parent) == d)
		return (struct vfsmount *)v->mnt;
	return NULL;
}

/* Report a decision against d (on mount m, NULL when the hook does not
 * see it) and return whether to deny. */
static __always_inline bool file_verdict(__u64 fence_id, struct af_fence_cfg *cfg,
					 __u32 op, struct dentry *d, struct vfsmount *m, __u32 flags)
{
	bool audit = cfg->flags & AF_FENCE_AUDIT;
	struct af_ev_file *ev;
	__u32 zero = 0;

	af_count(audit ? AF_CNT_AUDIT : AF_CNT_DENY);
	if (!audit)
		af_effects_denied();
	/* access(2) asks whether a write would work: answer, don't report. */
	if (op == AF_OP_DIR_WRITE && is_access_check())
		return !audit;
	ev = bpf_map_lookup_elem(&af_scratch, &zero);
	if (!ev)
		return !audit;
	af_fill_hdr(&ev->hdr, AF_EV_FILE, sizeof(*ev), fence_id);
	ev->op = op;
	ev->verdict = audit ? AF_AUDITED : AF_DENIED;
	ev->dev = BPF_CORE_READ(d, d_sb, s_dev);
	ev->ino = BPF_CORE_READ(d, d_inode, i_ino);
	ev->flags = flags;
	ev->name[0] = 0;
	ev->sysno = read_syscall_name(ev->name, sizeof(ev->name));
	bpf_get_current_comm(ev->comm, sizeof(ev->comm));
	deny_path(ev, d, m ? m : deny_mnt(d));
	af_output(fence_id, ev, sizeof(*ev));
	return !audit;
}

/* Deny unless d lies beneath a writable root. */
static __always_inline bool check_write(__u64 fence_id, struct af_fence_cfg *cfg,
					__u32 op, struct dentry *d)
{
	__u32 depth;
	int kind = nearest_root(fence_id, d, &depth);

	if (kind == AF_ROOT_WRITABLE)
		return false;
	return file_verdict(fence_id, cfg, op, d, NULL, kind < 0 ? AF_EVF_WALK_BOUND : 0);
}

/* Whether a deny_read root may lie above a file on this device. */
static __always_inline bool deny_read_dev(const struct af_fence_cfg *cfg, __u32 dev)
{
	__u32 i, n = cfg->n_rdevs;

	if (n > AF_RDEVS_MAX)
		return true;	/* AF_RDEVS_ALL */
	for (i = 0; i < AF_RDEVS_MAX; i++) {
		if (i >= n)
			break;
		if (cfg->rdevs[i] == dev)
			return true;
	}
	return false;
}

static __always_inline bool decide_file_open(struct file *file, bool cg)
{
	struct af_fence_cfg *cfg;
	struct dentry *d;
	__u64 fence_id;
	__u32 depth;
	umode_t mode;
	int kind;
	unsigned int fmode = BPF_CORE_READ(file, f_mode);

	cfg = af_current_fence(&fence_id);
	/* An lsm_cgroup program runs only under a fence's cgroup: a task
	 * there that is not in the membership map fails closed. */
	if (!cfg)
		return cg;
	if (!(fmode & FMODE_WRITE) && !(cfg->flags & AF_FENCE_DENY_READ))
		return false;
	d = BPF_CORE_READ(file, f_path.dentry);
	/* Most reads are of files on a filesystem without a deny_read
	 * root: no walk for them. */
	if (!(fmode & FMODE_WRITE) && !deny_read_dev(cfg, BPF_CORE_READ(d, d_sb, s_dev)))
		return false;
	if (af_kernel_override())
		return false;
	kind = nearest_root_kept(fence_id, cfg, file->f_path.dentry, file->f_inode, &depth);
	if (fmode & FMODE_WRITE) {
		mode = BPF_CORE_READ(d, d_inode, i_mode);
		/* A block device is writable only when listed itself: a
		 * device node beneath a root must not open the disk. */
		if (kind == AF_ROOT_WRITABLE &&
		    ((mode & S_IFMT) != S_IFBLK || depth == 0)) {
			fx_open(fence_id, cfg, file);
			return false;
		}
		return file_verdict(fence_id, cfg, AF_OP_OPEN_WRITE, d,
				    BPF_CORE_READ(file, f_path.mnt), kind < 0 ? AF_EVF_WALK_BOUND : 0);
	}
	if (kind == AF_ROOT_DENY_READ || kind < 0)
		return file_verdict(fence_id, cfg, AF_OP_OPEN_READ, d,
				    BPF_CORE_READ(file, f_path.mnt), kind < 0 ? AF_EVF_WALK_BOUND : 0);
	return false;
}

static __always_inline bool decide_inode_permission(struct inode *inode, int mask, bool cg)
{
	struct af_fence_cfg *cfg;
	struct hlist_node *alias;
	struct dentry *d;
	__u64 fence_id;
	umode_t mode;

	if (!(mask & MAY_WRITE))
		return false;
	mode = BPF_CORE_READ(inode, i_mode);
	if ((mode & S_IFMT) != S_IFDIR)
		return false;	/* file writes meet file_open and inode_setattr */
	if (af_kernel_override())
		return false;
	cfg = af_current_fence(&fence_id);
	if (!cfg)
		return cg;
	/* A directory has exactly one dentry. */
	alias = BPF_CORE_READ(inode, i_dentry.first);
	if (!alias) {
		af_count(AF_CNT_WALK_BOUND);
		return true;
	}
	d = (struct dentry *)((void *)alias - bpf_core_field_offset(struct dentry, d_u.d_alias));
	if (nearest_root_dir(fence_id, cfg, d, inode) == AF_ROOT_WRITABLE)
		return false;
	return check_write(fence_id, cfg, AF_OP_DIR_WRITE, d);	/* walked again for its record */
}

/* inode_permission, the hook every path lookup of the machine meets
 * (seven times an openw iteration): one program for both of its checks,
 * so a task pays one trampoline hop, not two. A write to cgroupfs that
 * leaves the fence (bpf/cgfs.bpf.h) is refused as a self-protection
 * decision; then a write into a directory must be in a writable root. */
static __always_inline bool decide_inode_perm(struct inode *inode, int mask, bool cg)
{
	struct af_fence_cfg *cfg;
	__u64 fence_id;

	if (!(mask & MAY_WRITE))
		return false;
	if (cgfs_write_leaves(inode, mask, &fence_id, &cfg))
		return af_sys_decide(fence_id, cfg, AF_OP_CGROUP, BPF_CORE_READ(inode, i_ino));
	return decide_inode_permission(inode, mask, cg);
}

#define ATTR_FILE	(1 << 13)
#define ATTR_OPEN	(1 << 15)	/* the truncate of open(O_TRUNC) */

static __always_inline bool decide_setattr(struct dentry *d, struct iattr *attr, bool cg)
{
	struct af_fence_cfg *cfg;
	__u64 fence_id;
	struct file *f;

	if (af_kernel_override())
		return false;
	cfg = af_current_fence(&fence_id);
	if (!cfg)
		return cg;
	/* open(O_TRUNC) of a file it opened for writing: file_open allowed
	 * writing this inode in this very call, so no second walk (every
	 * open for writing with O_TRUNC met two). O_RDONLY|O_TRUNC has no
	 * FMODE_WRITE and is walked. */
	if ((BPF_CORE_READ(attr, ia_valid) & (ATTR_OPEN | ATTR_FILE)) == (ATTR_OPEN | ATTR_FILE)) {
		f = BPF_CORE_READ(attr, ia_file);
		if (f && (BPF_CORE_READ(f, f_mode) & FMODE_WRITE) && BPF_CORE_READ(f, f_path.dentry) == d)
			return false;
	}
	if (check_write(fence_id, cfg, AF_OP_SETATTR, d))
		return true;
	fx_change(fence_id, cfg, d);	/* chmod, chown, truncate */
	return false;
}

/* Cold hooks share this: in a fence, d must be beneath a writable root. */
static __always_inline int cold_check(__u32 op, struct dentry *d)
{
	struct af_fence_cfg *cfg;
	__u64 fence_id;

	if (af_kernel_override())
		return 0;
	cfg = af_current_fence(&fence_id);
	if (!cfg)
		return 0;
	return af_lsm_ret(check_write(fence_id, cfg, op, d));
}

/* The same, and the record of the allowed change (xattrs). */
static __always_inline int cold_check_fx(__u32 op, struct dentry *d)
{
	struct af_fence_cfg *cfg;
	__u64 fence_id;

	if (af_kernel_override())
		return 0;
	cfg = af_current_fence(&fence_id);
	if (!cfg)
		return 0;
	if (check_write(fence_id, cfg, op, d))
		return af_lsm_ret(true);
	fx_change(fence_id, cfg, d);
	return 0;
}

/* ---- lsm_cgroup entry points: 1 allows, 0 denies with EPERM ---- */

SEC("lsm_cgroup/file_open")
int BPF_PROG(cg_file_open, struct file *file)
{
	return decide_file_open(file, true) ? 0 : 1;
}

SEC("lsm_cgroup/inode_permission")
int BPF_PROG(cg_inode_perm, struct inode *inode, int mask)
{
	return decide_inode_perm(inode, mask, true) ? 0 : 1;
}

/* inode_setattr gained an idmap first argument in 6.8. */
SEC("lsm_cgroup/inode_setattr")
int BPF_PROG(cg_setattr, struct dentry *d, struct iattr *attr)
{
	return decide_setattr(d, attr, true) ? 0 : 1;
}

SEC("lsm_cgroup/inode_setattr")
int BPF_PROG(cg_setattr_idmap, void *idmap, struct dentry *d, struct iattr *attr)
{
	return decide_setattr(d, attr, true) ? 0 : 1;
}

/* ---- global lsm entry points of the same decisions ---- */

SEC("lsm/file_open")
int BPF_PROG(lsm_file_open, struct file *file, int ret)
{
	if (ret)
		return ret;
	return af_lsm_ret(decide_file_open(file, false));
}

SEC("lsm/inode_permission")
int BPF_PROG(lsm_inode_perm, struct inode *inode, int mask, int ret)
{
	if (ret)
		return ret;
	return af_lsm_ret(decide_inode_perm(inode, mask, false));
}

SEC("lsm/inode_setattr")
int BPF_PROG(lsm_setattr, struct dentry *d, struct iattr *attr, int ret)
{
	if (ret)
		return ret;
	return af_lsm_ret(decide_setattr(d, attr, false));
}

SEC("lsm/inode_setattr")
int BPF_PROG(lsm_setattr_idmap, void *idmap, struct dentry *d, struct iattr *attr, int ret)
{
	if (ret)
		return ret;
	return af_lsm_ret(decide_setattr(d, attr, false));
}

/* ---- cold hooks: global lsm on every BPF backend ---- */

/* ---- protected paths by name (bpf/fence.h, af_pnames) ---- */

/* What the name d has in its parent dir for the fence, or NULL. */
static __always_inline struct af_pname_val *pname_lookup(__u64 fence_id, struct inode *dir,
							   struct dentry *d)
{
	struct af_pname_key key = { .fence_id = fence_id };
	const unsigned char *name;

	if (BPF_CORE_READ(d, d_name.len) >= AF_PNAME_LEN)
		return NULL;	/* the policy holds no such name */
	name = BPF_CORE_READ(d, d_name.name);
	if (bpf_probe_read_kernel_str(key.name, sizeof(key.name), name) <= 0)
		return NULL;
	key.ino = BPF_CORE_READ(dir, i_ino);
	key.dev = BPF_CORE_READ(dir, i_sb, s_dev);
	return bpf_map_lookup_elem(&af_pnames, &key);
}

enum pname_use {
	PNU_MKDIR,	/* a directory on the way may be made */
	PNU_OTHER,	/* create, symlink, mknod, link, rename in, remove, rename away */
};

/* Deny when the name d in dir is a protected path, or one on its way
 * used other than by mkdir; else, with RECORD, the record of the allowed
 * change of d (create, mkdir, symlink, unlink, rmdir, mknod). */
static __always_inline int pname_judge(struct inode *dir, struct dentry *d, enum pname_use use,
				       bool record)
{
	struct af_fence_cfg *cfg;
	struct af_pname_val *v;
	__u64 fence_id;

	if (af_kernel_override())
		return 0;
	cfg = af_current_fence(&fence_id);
	if (!cfg)
		return 0;
	v = pname_lookup(fence_id, dir, d);
	if (v && !(v->kind == AF_PN_WAY && use == PNU_MKDIR))
		return af_lsm_ret(file_verdict(fence_id, cfg, AF_OP_DIR_WRITE, d, NULL, 0));
	if (record)
		fx_change(fence_id, cfg, d);
	return 0;
}

static __always_inline int pname_check(struct inode *dir, struct dentry *d, enum pname_use use)
{
	return pname_judge(dir, d, use, false);
}

static __always_inline int pname_check_fx(struct inode *dir, struct dentry *d, enum pname_use use)
{
	return pname_judge(dir, d, use, true);
}

SEC("lsm/inode_create")
int BPF_PROG(lsm_inode_create, struct inode *dir, struct dentry *d, umode_t mode, int ret)
{
	if (ret)
		return ret;
	return pname_check_fx(dir, d, PNU_OTHER);
}

SEC("lsm/inode_mkdir")
int BPF_PROG(lsm_inode_mkdir, struct inode *dir, struct dentry *d, umode_t mode, int ret)
{
	if (ret)
		return ret;
	return pname_check_fx(dir, d, PNU_MKDIR);
}

SEC("lsm/inode_symlink")
int BPF_PROG(lsm_inode_symlink, struct inode *dir, struct dentry *d, const char *old, int ret)
{
	if (ret)
		return ret;
	return pname_check_fx(dir, d, PNU_OTHER);
}

SEC("lsm/inode_unlink")
int BPF_PROG(lsm_inode_unlink, struct inode *dir, struct dentry *d, int ret)
{
	if (ret)
		return ret;
	return pname_check_fx(dir, d, PNU_OTHER);
}

SEC("lsm/inode_rmdir")
int BPF_PROG(lsm_inode_rmdir, struct inode *dir, struct dentry *d, int ret)
{
	if (ret)
		return ret;
	return pname_check_fx(dir, d, PNU_OTHER);
}

/* Both names: renamed away, and renamed into place (RENAME_EXCHANGE
 * meets the hook once each way). */
SEC("lsm/inode_rename")
int BPF_PROG(lsm_inode_rename, struct inode *old_dir, struct dentry *old, struct inode *new_dir,
	     struct dentry *new, int ret)
{
	if (ret)
		return ret;
	ret = pname_check(old_dir, old, PNU_OTHER);
	if (ret)
		return ret;
	ret = pname_check(new_dir, new, PNU_OTHER);
	if (!ret)
		fx_two(old, new);
	return ret;
}

struct chain_ctx {
	__u64 fence_id;
	__u64 ino;
	__u32 dev;
	__u32 node;
};

static long chain_step(__u32 i, void *data)
{
	struct chain_ctx *c = data;
	struct af_pnext_key nk = { .fence_id = c->fence_id, .node = c->node };
	struct af_pname_key key = { .fence_id = c->fence_id, .ino = c->ino, .dev = c->dev };
	struct af_pnext_val *next = bpf_map_lookup_elem(&af_pnext, &nk);

	__u32 k = i & (AF_PNEXT_MAX - 1);	/* AF_PNEXT_MAX is a power of 2 */

	if (!next || i >= next->n || i >= AF_PNEXT_MAX)
		return 1;
	__builtin_memcpy(key.name, next->kids[k].name, AF_PNAME_LEN);
	bpf_map_update_elem(&af_pnames, &key, &next->kids[k].val, BPF_ANY);
	return 0;
}

/* A directory on a protected path's way was made (or looked up) in a
 * fence: its children's names are now protected by its identity, and
 * a protected path that appeared is protected by its own. */
SEC("lsm/d_instantiate")
int BPF_PROG(lsm_d_instantiate, struct dentry *d, struct inode *inode)
{
	struct af_fence_cfg *cfg;
	struct chain_ctx c = {};
	struct af_pname_val *v;
	struct dentry *parent;
	__u64 fence_id;

	cfg = inode ? af_current_fence(&fence_id) : NULL;
	if (!cfg)
		return 0;
	parent = BPF_CORE_READ(d, d_parent);
	if (!parent || parent == d)
		return 0;
	v = pname_lookup(fence_id, BPF_CORE_READ(parent, d_inode), d);
	if (!v)
		return 0;
	c.fence_id = fence_id;
	c.ino = BPF_CORE_READ(inode, i_ino);
	c.dev = BPF_CORE_READ(inode, i_sb, s_dev);
	if (v->kind == AF_PN_FINAL) {
		struct af_root_key rk = { .fence_id = fence_id, .ino = c.ino, .dev = c.dev };
		struct af_root_val rv = { .kind = AF_ROOT_PROTECTED };

		/* Kept nearest roots beneath it are stale now. */
		if (!bpf_map_update_elem(&af_roots, &rk, &rv, BPF_NOEXIST))
			__sync_fetch_and_add(&cfg->rver, 1);
		return 0;
	}
	c.node = v->node;
	bpf_loop(AF_PNEXT_MAX, chain_step, &c, 0);
	return 0;
}

/* Inode flags and their kin change an inode through a descriptor that
 * may be open for reading only: judged as a write of the file. */
#define AF_FS_IOC_SETFLAGS		0x40086602
#define AF_FS_IOC32_SETFLAGS		0x40046602
#define AF_FS_IOC_SETVERSION		0x40087602
#define AF_FS_IOC32_SETVERSION		0x40047602
#define AF_FS_IOC_FSSETXATTR		0x401c5820
#define AF_FS_IOC_SET_ENCRYPTION_POLICY	0x800c6613
#define AF_FS_IOC_ENABLE_VERITY		0x40806685
#define AF_FS_IOC_SETFSLABEL		0x41009432

#define AF_S_IFSOCK	0140000

/* Socket ioctls 0x89xx that only read: the rest of the range (routes,
 * interface addresses, flags, MTU, names, ARP, bridges, tunnels,
 * ethtool, driver-private) changes the node, as netlink would. */
static __always_inline bool net_ioctl_reads(unsigned int cmd)
{
	if (cmd >= 0x8901 && cmd <= 0x8907)	/* owner, pgrp, atmark, timestamps */
		return true;
	switch (cmd) {
	case 0x8910: case 0x8912: case 0x8913: case 0x8915: case 0x8917: case 0x8919:
	case 0x891b: case 0x891d: case 0x891f: case 0x8921: case 0x8927: case 0x8933:
	case 0x8935: case 0x8938: case 0x8942: case 0x894b: case 0x8954: case 0x8970:
	case 0x8982: case 0x89b1:
		return true;
	}
	return false;
}

#define AF_FIOSETOWN	0x8901
#define AF_SIOCSPGRP	0x8902

static __always_inline int file_ioctl(struct file *file, unsigned int cmd)
{
	if (cmd == AF_FIOSETOWN || cmd == AF_SIOCSPGRP)
		return af_sigio_reserve(file);
	if (cmd >= 0x8900 && cmd <= 0x89ff && !net_ioctl_reads(cmd) &&
	    (BPF_CORE_READ(file, f_inode, i_mode) & S_IFMT) == AF_S_IFSOCK) {
		struct af_fence_cfg *cfg;
		__u64 fence_id;

		cfg = af_current_fence(&fence_id);
		if (!cfg)
			return 0;
		return af_lsm_ret(af_sys_decide(fence_id, cfg, AF_OP_NET_IOCTL, cmd));
	}
	switch (cmd) {
	case AF_FS_IOC_SETFLAGS: case AF_FS_IOC32_SETFLAGS:
	case AF_FS_IOC_SETVERSION: case AF_FS_IOC32_SETVERSION:
	case AF_FS_IOC_FSSETXATTR: case AF_FS_IOC_SET_ENCRYPTION_POLICY:
	case AF_FS_IOC_ENABLE_VERITY: case AF_FS_IOC_SETFSLABEL:
		return cold_check(AF_OP_SETATTR, BPF_CORE_READ(file, f_path.dentry));
	}
	return 0;
}

SEC("lsm/file_ioctl")
int BPF_PROG(lsm_file_ioctl, struct file *file, unsigned int cmd, unsigned long arg, int ret)
{
	if (ret)
		return ret;
	return file_ioctl(file, cmd);
}

/* The compat (32-bit) ioctl path, 6.8+: the same rules. A fenced task
 * cannot reach it anyway (the seccomp filter kills i386 and x32 system
 * calls), so a kernel without the hook loses nothing. */
SEC("lsm/file_ioctl_compat")
int BPF_PROG(lsm_file_ioctl_compat, struct file *file, unsigned int cmd, unsigned long arg, int ret)
{
	if (ret)
		return ret;
	return file_ioctl(file, cmd);
}

/* The source of a hard link: a link would give an outside inode a name
 * beneath the workspace. */
SEC("lsm/inode_link")
int BPF_PROG(lsm_inode_link, struct dentry *old, struct inode *dir, struct dentry *new, int ret)
{
	if (ret)
		return ret;
	ret = cold_check(AF_OP_LINK, old);
	if (ret)
		return ret;
	ret = pname_check(dir, new, PNU_OTHER);
	if (!ret)
		fx_two(old, new);
	return ret;
}

/* Device nodes: one created beneath the workspace would open the disk. */
SEC("lsm/inode_mknod")
int BPF_PROG(lsm_inode_mknod, struct inode *dir, struct dentry *d, umode_t mode, dev_t dev, int ret)
{
	struct af_fence_cfg *cfg;
	__u64 fence_id;

	if (ret)
		return ret;
	if ((mode & S_IFMT) != S_IFCHR && (mode & S_IFMT) != S_IFBLK)
		return pname_check_fx(dir, d, PNU_OTHER);
	cfg = af_current_fence(&fence_id);
	if (!cfg)
		return 0;
	/* Reported like any change of the directory's entries. */
	return af_lsm_ret(file_verdict(fence_id, cfg, AF_OP_DIR_WRITE, BPF_CORE_READ(d, d_parent), NULL, 0));
}

/* xattr hooks gained a user namespace first argument in 5.12. */
SEC("lsm/inode_setxattr")
int BPF_PROG(lsm_setxattr, void *userns, struct dentry *d, const char *name,
	     const void *value, size_t size, int flags, int ret)
{
	if (ret)
		return ret;
	return cold_check_fx(AF_OP_XATTR, d);
}

SEC("lsm/inode_removexattr")
int BPF_PROG(lsm_removexattr, void *userns, struct dentry *d, const char *name, int ret)
{
	if (ret)
		return ret;
	return cold_check_fx(AF_OP_XATTR, d);
}

/* POSIX ACLs have their own hooks since 6.2. */
SEC("lsm/inode_set_acl")
int BPF_PROG(lsm_set_acl, void *idmap, struct dentry *d, const char *name, void *acl, int ret)
{
	if (ret)
		return ret;
	return cold_check_fx(AF_OP_XATTR, d);
}

SEC("lsm/inode_remove_acl")
int BPF_PROG(lsm_remove_acl, void *idmap, struct dentry *d, const char *name, int ret)
{
	if (ret)
		return ret;
	return cold_check_fx(AF_OP_XATTR, d);
}

/* ---- the mount for the records of the inode hooks: the path hooks ---- */

/* A rename or link allowed: one record with both names, on the mount
 * the path hook left (the same for both: EXDEV otherwise). A
 * RENAME_EXCHANGE meets inode_rename twice, the second time with the
 * path hook's old name first: one record. */
static __always_inline void fx_two(struct dentry *old, struct dentry *new)
{
	struct af_fence_cfg *cfg;
	struct vfsmount *m;
	struct fx_args x;
	__u64 fence_id;

	if (af_kernel_override())
		return;
	cfg = af_current_fence(&fence_id);
	if (!cfg || !(cfg->flags & AF_FENCE_EV_FILE) || !fx_args(&x))
		return;
	m = fx_mnt(x.nr == AF_NR_link || x.nr == AF_NR_linkat ? new : old);
	if (m)
		fx_emit(fence_id, cfg, &x, old, m, new, m, 0, NULL);
}

SEC("lsm/path_mkdir")
int BPF_PROG(lsm_path_mkdir, const struct path *dir, struct dentry *d, umode_t mode, int ret)
{
	if (!ret)
		fx_stash(d, BPF_CORE_READ(dir, mnt));
	return ret;
}

SEC("lsm/path_mknod")
int BPF_PROG(lsm_path_mknod, const struct path *dir, struct dentry *d, umode_t mode,
	     unsigned int dev, int ret)
{
	if (!ret)
		fx_stash(d, BPF_CORE_READ(dir, mnt));
	return ret;
}

SEC("lsm/path_unlink")
int BPF_PROG(lsm_path_unlink, const struct path *dir, struct dentry *d, int ret)
{
	if (!ret)
		fx_stash(d, BPF_CORE_READ(dir, mnt));
	return ret;
}

SEC("lsm/path_rmdir")
int BPF_PROG(lsm_path_rmdir, const struct path *dir, struct dentry *d, int ret)
{
	if (!ret)
		fx_stash(d, BPF_CORE_READ(dir, mnt));
	return ret;
}

SEC("lsm/path_symlink")
int BPF_PROG(lsm_path_symlink, const struct path *dir, struct dentry *d, const char *old, int ret)
{
	if (!ret)
		fx_stash(d, BPF_CORE_READ(dir, mnt));
	return ret;
}

SEC("lsm/path_link")
int BPF_PROG(lsm_path_link, struct dentry *old, const struct path *new_dir, struct dentry *new,
	     int ret)
{
	if (!ret)
		fx_stash(new, BPF_CORE_READ(new_dir, mnt));
	return ret;
}

SEC("lsm/path_rename")
int BPF_PROG(lsm_path_rename, const struct path *old_dir, struct dentry *old,
	     const struct path *new_dir, struct dentry *new, unsigned int flags, int ret)
{
	if (!ret)
		fx_stash(old, BPF_CORE_READ(old_dir, mnt));
	return ret;
}

SEC("lsm/path_truncate")
int BPF_PROG(lsm_path_truncate, const struct path *path, int ret)
{
	if (!ret)
		fx_stash(BPF_CORE_READ(path, dentry), BPF_CORE_READ(path, mnt));
	return ret;
}

SEC("lsm/path_chmod")
int BPF_PROG(lsm_path_chmod, const struct path *path, umode_t mode, int ret)
{
	if (!ret)
		fx_stash(BPF_CORE_READ(path, dentry), BPF_CORE_READ(path, mnt));
	return ret;
}

SEC("lsm/path_chown")
int BPF_PROG(lsm_path_chown, const struct path *path, unsigned int uid, unsigned int gid, int ret)
{
	if (!ret)
		fx_stash(BPF_CORE_READ(path, dentry), BPF_CORE_READ(path, mnt));
	return ret;
}

/* fallocate meets no hook of its own (file_permission only): its exit,
 * which only fallocate calls meet. */
SEC("fexit/vfs_fallocate")
int BPF_PROG(fx_fallocate, struct file *file, int mode, loff_t offset, loff_t len, long ret)
{
	struct af_fence_cfg *cfg;
	struct fx_args x;
	__u64 fence_id;

	cfg = af_current_fence(&fence_id);
	if (!cfg || !(cfg->flags & AF_FENCE_EV_FILE) || !fx_args(&x) || x.nr != AF_NR_fallocate)
		return 0;
	fx_emit(fence_id, cfg, &x, BPF_CORE_READ(file, f_path.dentry), BPF_CORE_READ(file, f_path.mnt),
		NULL, NULL, ret, NULL);
	return 0;
}
