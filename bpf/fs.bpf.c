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

char LICENSE[] SEC("license") = "GPL";

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

/* Report a decision against d and return whether to deny. */
static __always_inline bool file_verdict(__u64 fence_id, struct af_fence_cfg *cfg,
					 __u32 op, struct dentry *d, __u32 flags)
{
	bool audit = cfg->flags & AF_FENCE_AUDIT;
	struct names_ctx nc = { .dentry = (__u64)d };
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
	bpf_loop(AF_WALK_MAX, names_step, &nc, 0);
	ev->path_len = nc.off;
	if (nc.trunc)
		ev->flags |= AF_EVF_PATH_TRUNC;
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
	return file_verdict(fence_id, cfg, op, d, kind < 0 ? AF_EVF_WALK_BOUND : 0);
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
	kind = nearest_root(fence_id, d, &depth);
	if (fmode & FMODE_WRITE) {
		mode = BPF_CORE_READ(d, d_inode, i_mode);
		/* A block device is writable only when listed itself: a
		 * device node beneath a root must not open the disk. */
		if (kind == AF_ROOT_WRITABLE &&
		    ((mode & S_IFMT) != S_IFBLK || depth == 0))
			return false;
		return file_verdict(fence_id, cfg, AF_OP_OPEN_WRITE, d,
				    kind < 0 ? AF_EVF_WALK_BOUND : 0);
	}
	if (kind == AF_ROOT_DENY_READ || kind < 0)
		return file_verdict(fence_id, cfg, AF_OP_OPEN_READ, d,
				    kind < 0 ? AF_EVF_WALK_BOUND : 0);
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
	return check_write(fence_id, cfg, AF_OP_DIR_WRITE, d);
}

static __always_inline bool decide_setattr(struct dentry *d, bool cg)
{
	struct af_fence_cfg *cfg;
	__u64 fence_id;

	if (af_kernel_override())
		return false;
	cfg = af_current_fence(&fence_id);
	if (!cfg)
		return cg;
	return check_write(fence_id, cfg, AF_OP_SETATTR, d);
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

/* ---- lsm_cgroup entry points: 1 allows, 0 denies with EPERM ---- */

SEC("lsm_cgroup/file_open")
int BPF_PROG(cg_file_open, struct file *file)
{
	return decide_file_open(file, true) ? 0 : 1;
}

SEC("lsm_cgroup/inode_permission")
int BPF_PROG(cg_inode_perm, struct inode *inode, int mask)
{
	return decide_inode_permission(inode, mask, true) ? 0 : 1;
}

/* inode_setattr gained an idmap first argument in 6.8. */
SEC("lsm_cgroup/inode_setattr")
int BPF_PROG(cg_setattr, struct dentry *d, struct iattr *attr)
{
	return decide_setattr(d, true) ? 0 : 1;
}

SEC("lsm_cgroup/inode_setattr")
int BPF_PROG(cg_setattr_idmap, void *idmap, struct dentry *d, struct iattr *attr)
{
	return decide_setattr(d, true) ? 0 : 1;
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
	return af_lsm_ret(decide_inode_permission(inode, mask, false));
}

SEC("lsm/inode_setattr")
int BPF_PROG(lsm_setattr, struct dentry *d, struct iattr *attr, int ret)
{
	if (ret)
		return ret;
	return af_lsm_ret(decide_setattr(d, false));
}

SEC("lsm/inode_setattr")
int BPF_PROG(lsm_setattr_idmap, void *idmap, struct dentry *d, struct iattr *attr, int ret)
{
	if (ret)
		return ret;
	return af_lsm_ret(decide_setattr(d, false));
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
 * used other than by mkdir. */
static __always_inline int pname_check(struct inode *dir, struct dentry *d, enum pname_use use)
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
	if (!v || (v->kind == AF_PN_WAY && use == PNU_MKDIR))
		return 0;
	return af_lsm_ret(file_verdict(fence_id, cfg, AF_OP_DIR_WRITE, d, 0));
}

SEC("lsm/inode_create")
int BPF_PROG(lsm_inode_create, struct inode *dir, struct dentry *d, umode_t mode, int ret)
{
	if (ret)
		return ret;
	return pname_check(dir, d, PNU_OTHER);
}

SEC("lsm/inode_mkdir")
int BPF_PROG(lsm_inode_mkdir, struct inode *dir, struct dentry *d, umode_t mode, int ret)
{
	if (ret)
		return ret;
	return pname_check(dir, d, PNU_MKDIR);
}

SEC("lsm/inode_symlink")
int BPF_PROG(lsm_inode_symlink, struct inode *dir, struct dentry *d, const char *old, int ret)
{
	if (ret)
		return ret;
	return pname_check(dir, d, PNU_OTHER);
}

SEC("lsm/inode_unlink")
int BPF_PROG(lsm_inode_unlink, struct inode *dir, struct dentry *d, int ret)
{
	if (ret)
		return ret;
	return pname_check(dir, d, PNU_OTHER);
}

SEC("lsm/inode_rmdir")
int BPF_PROG(lsm_inode_rmdir, struct inode *dir, struct dentry *d, int ret)
{
	if (ret)
		return ret;
	return pname_check(dir, d, PNU_OTHER);
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
	return pname_check(new_dir, new, PNU_OTHER);
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
	struct chain_ctx c = {};
	struct af_pname_val *v;
	struct dentry *parent;
	__u64 fence_id;

	if (!inode || !af_current_fence(&fence_id))
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

		bpf_map_update_elem(&af_roots, &rk, &rv, BPF_NOEXIST);
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
	return pname_check(dir, new, PNU_OTHER);
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
		return pname_check(dir, d, PNU_OTHER);
	cfg = af_current_fence(&fence_id);
	if (!cfg)
		return 0;
	/* Reported like any change of the directory's entries. */
	return af_lsm_ret(file_verdict(fence_id, cfg, AF_OP_DIR_WRITE, BPF_CORE_READ(d, d_parent), 0));
}

/* xattr hooks gained a user namespace first argument in 5.12. */
SEC("lsm/inode_setxattr")
int BPF_PROG(lsm_setxattr, void *userns, struct dentry *d, const char *name,
	     const void *value, size_t size, int flags, int ret)
{
	if (ret)
		return ret;
	return cold_check(AF_OP_XATTR, d);
}

SEC("lsm/inode_removexattr")
int BPF_PROG(lsm_removexattr, void *userns, struct dentry *d, const char *name, int ret)
{
	if (ret)
		return ret;
	return cold_check(AF_OP_XATTR, d);
}

/* POSIX ACLs have their own hooks since 6.2. */
SEC("lsm/inode_set_acl")
int BPF_PROG(lsm_set_acl, void *idmap, struct dentry *d, const char *name, void *acl, int ret)
{
	if (ret)
		return ret;
	return cold_check(AF_OP_XATTR, d);
}

SEC("lsm/inode_remove_acl")
int BPF_PROG(lsm_remove_acl, void *idmap, struct dentry *d, const char *name, int ret)
{
	if (ret)
		return ret;
	return cold_check(AF_OP_XATTR, d);
}
