// SPDX-License-Identifier: GPL-2.0
/* Writes that meet no open: a descriptor opened before the fence existed
 * (attach beneath a running container, or one passed in) is written
 * through without file_open, and a shared writable mapping writes
 * without write(2). file_permission (MAY_WRITE), mmap_file and
 * file_mprotect (shared and PROT_WRITE) judge those by the same rule as
 * an open for write: the file must lie beneath a writable root.
 *
 * Only in fences that ask for it (AF_FENCE_FDWRITE: attach's): run
 * passes its command nothing but its stdio, which may be a log file
 * outside the workspace on purpose.
 *
 * Decided once per open file, where it can be, in two ways. On the
 * lsm_cgroup backend the fence's file_permission link (whose kernel shim
 * costs every read and write of the fence ~13%, even with an empty
 * program) is kept only while a process of the fence holds a descriptor
 * it needs: when the fence is made or its policy changes, userspace
 * freezes the cgroup and runs fdw_scan_files and fdw_scan_tasks over
 * what its processes hold (userspace/fence.c, "descriptors opened
 * before the fence"); a descriptor that would be refused, a walk that
 * hit its bound or an io_uring instance (its fixed files are no
 * descriptors) keeps the link. A writable descriptor received later
 * (SCM_RIGHTS, pidfd_getfd, seccomp's addfd) is judged as it arrives
 * (file_receive). Opens are judged at open (fs.bpf.c).
 *
 * Each write, when it is judged, is decided as an open is: the file
 * itself a root, or its directory's nearest root, kept in the
 * directory's inode storage while no dentry moved and the fence's roots
 * stayed (bpf/rootcache.bpf.h). (A verdict kept per file, as before,
 * was the same for every link of a file, and outlived two policy
 * updates that brought the key back.) Only regular files and block devices are judged:
 * pipes, sockets, terminals and other character devices hold no file
 * data to protect (a process's own stdout keeps working). */
#include "common.bpf.h"
#include "fs.bpf.h"
#include "rootcache.bpf.h"

char LICENSE[] SEC("license") = "GPL";

#define MAY_WRITE_	0x00000002
#define PROT_WRITE	0x2
#define MAP_SHARED	0x01
#define MAP_SHARED_VALIDATE 0x03
#define MAP_TYPE	0x0f
#define VM_SHARED	0x00000008
#define S_IFREG		0100000

static __always_inline bool fdw_report(__u64 fence_id, struct af_fence_cfg *cfg, __u32 op,
				       struct file *file, __u32 flags)
{
	bool audit = cfg->flags & AF_FENCE_AUDIT;
	struct dentry *d = BPF_CORE_READ(file, f_path.dentry);
	struct af_ev_file *ev;
	__u32 zero = 0;

	af_count(audit ? AF_CNT_AUDIT : AF_CNT_DENY);
	if (!audit)
		af_effects_denied();
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
	ev->sysno = -1;
	bpf_get_current_comm(ev->comm, sizeof(ev->comm));
	deny_path(ev, d, BPF_CORE_READ(file, f_path.mnt));
	af_output(fence_id, ev, sizeof(*ev));
	return !audit;
}

/* Whether a write to a file of mode mode is outside the fence's writable
 * paths, its nearest root being kind at depth (0: the file itself). A
 * block device only when listed itself, as at open. */
static __always_inline bool fdw_deny(int kind, umode_t mode, __u32 depth)
{
	return !(kind == AF_ROOT_WRITABLE && ((mode & S_IFMT) != S_IFBLK || depth == 0));
}

/* The same for dentry d, walked (the scan's iterator: no inode storage
 * there). key: the fence's; *kind: the nearest root's. */
static __always_inline bool fdw_refused(__u64 key, struct dentry *d, umode_t mode, int *kind)
{
	__u32 depth;

	*kind = nearest_root(key, d, &depth);
	return fdw_deny(*kind, mode, depth);
}

/* Whether a write to file by the current task must be refused (and was
 * reported). cg: an lsm_cgroup program, which runs only in fences. The
 * file's directory's nearest root is kept (bpf/rootcache.bpf.h): a
 * write loop through one descriptor walks once. */
static __always_inline bool fdw_decide(struct file *file, __u32 op, bool cg)
{
	/* Read directly (BTF pointers): the inode storage helper takes them. */
	struct inode *inode = file->f_inode;
	umode_t mode = BPF_CORE_READ(inode, i_mode);
	struct af_fence_cfg *cfg;
	__u64 fence_id;
	__u32 depth;
	int kind;

	if ((mode & S_IFMT) != S_IFREG && (mode & S_IFMT) != S_IFBLK)
		return false;
	cfg = af_current_fence(&fence_id);
	if (!cfg)
		return cg;
	/* run passes its command stdio alone, on purpose (a log file). */
	if (!(cfg->flags & AF_FENCE_FDWRITE))
		return false;
	if (af_kernel_override())
		return false;
	kind = nearest_root_kept(fence_id, cfg, file->f_path.dentry, inode, &depth);
	if (!fdw_deny(kind, mode, depth))
		return false;
	return fdw_report(fence_id, cfg, op, file, kind < 0 ? AF_EVF_WALK_BOUND : 0);
}

static __always_inline bool shared_write(unsigned long prot, unsigned long flags)
{
	__u32 type = flags & MAP_TYPE;

	return (prot & PROT_WRITE) && (type == MAP_SHARED || type == MAP_SHARED_VALIDATE);
}

/* ---- lsm_cgroup (hot: every read and write): 1 allows, 0 denies ---- */

SEC("lsm_cgroup/file_permission")
int BPF_PROG(cg_file_perm, struct file *file, int mask)
{
	if (!(mask & MAY_WRITE_))
		return 1;
	return fdw_decide(file, AF_OP_FD_WRITE, true) ? 0 : 1;
}

/* ---- lsm (global), for kernels without lsm_cgroup ---- */

SEC("lsm/file_permission")
int BPF_PROG(lsm_file_perm, struct file *file, int mask, int ret)
{
	if (ret)
		return ret;
	if (!(mask & MAY_WRITE_))
		return 0;
	return af_lsm_ret(fdw_decide(file, AF_OP_FD_WRITE, false));
}

/* Cold: a shared writable mapping is rare, and checked first. */
SEC("lsm/mmap_file")
int BPF_PROG(lsm_fdw_mmap, struct file *file, unsigned long reqprot, unsigned long prot,
	     unsigned long flags, int ret)
{
	if (ret)
		return ret;
	if (!file || !shared_write(prot, flags))
		return 0;
	return af_lsm_ret(fdw_decide(file, AF_OP_MMAP_WRITE, false));
}

SEC("lsm/file_mprotect")
int BPF_PROG(lsm_fdw_mprotect, struct vm_area_struct *vma, unsigned long reqprot,
	     unsigned long prot, int ret)
{
	struct file *file;

	if (ret)
		return ret;
	if (!(prot & PROT_WRITE) || !(BPF_CORE_READ(vma, vm_flags) & VM_SHARED))
		return 0;
	file = vma->vm_file;
	if (!file)
		return 0;
	return af_lsm_ret(fdw_decide(file, AF_OP_MMAP_WRITE, false));
}

/* An io_uring instance's file (anon_inode "[io_uring]"): the files
 * registered with it are written through it, beyond any descriptor. */
static __always_inline bool is_uring(struct file *file)
{
	static const char want[] = "[io_uring]";
	char name[sizeof(want)] = "";

	bpf_probe_read_kernel_str(name, sizeof(name), BPF_CORE_READ(file, f_path.dentry, d_name.name));
	for (int i = 0; i < sizeof(want); i++)
		if (name[i] != want[i])
			return false;
	return true;
}

/* Cold: a writable descriptor passed into the fence after it was made
 * (SCM_RIGHTS, pidfd_getfd, seccomp's addfd) is judged as it arrives,
 * so that the scan's word for what the fence's processes hold stays
 * true: refused, the receiver gets no descriptor (recvmsg: MSG_CTRUNC). */
SEC("lsm/file_receive")
int BPF_PROG(lsm_fdw_receive, struct file *file, int ret)
{
	struct af_fence_cfg *cfg;
	__u64 key;

	if (ret)
		return ret;
	if (!(file->f_mode & FMODE_WRITE))
		return 0;
	if (is_uring(file)) {
		cfg = af_current_fence(&key);
		if (!cfg || !(cfg->flags & AF_FENCE_FDWRITE))
			return 0;
		return af_lsm_ret(fdw_report(key, cfg, AF_OP_FD_RECEIVE, file, 0));
	}
	return af_lsm_ret(fdw_decide(file, AF_OP_FD_RECEIVE, false));
}

/* ---- the scan: what the fence's processes hold (bpf_iter) ----
 *
 * One line per finding, for the fences that judge descriptors:
 * "<fence id> <tgid> <fd> <why> <path>", why: D (a write would be
 * refused), B (the walk hit its bound: undecided), U (an io_uring
 * instance: its registered files are beyond the scan). Userspace keeps
 * the fence's file_permission link when any line names the fence. */
static __always_inline struct af_fence_cfg *fdw_fence_of(struct task_struct *task)
{
	__u64 cgid = af_task_cgroup_id(task), *fid;
	struct af_fence_cfg *cfg;

	fid = bpf_map_lookup_elem(&af_member, &cgid);
	if (!fid)
		return NULL;
	cfg = bpf_map_lookup_elem(&af_fences, fid);
	return cfg && (cfg->flags & AF_FENCE_FDWRITE) ? cfg : NULL;
}

SEC("iter/task_file")
int fdw_scan_files(struct bpf_iter__task_file *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct task_struct *task = ctx->task;
	struct file *file = ctx->file;
	struct af_fence_cfg *cfg;
	char path[256] = "";
	umode_t mode;
	int kind;
	char why;

	if (!task || !file || !(file->f_mode & FMODE_WRITE))
		return 0;
	cfg = fdw_fence_of(task);
	if (!cfg)
		return 0;
	mode = BPF_CORE_READ(file, f_inode, i_mode);
	if ((mode & S_IFMT) == S_IFREG || (mode & S_IFMT) == S_IFBLK) {
		if (!fdw_refused(cfg->key, BPF_CORE_READ(file, f_path.dentry), mode, &kind))
			return 0;
		why = kind < 0 ? 'B' : 'D';
	} else if (is_uring(file)) {
		why = 'U';
	} else {
		return 0;	/* pipes, sockets, terminals: nothing to protect */
	}
	bpf_d_path(&file->f_path, path, sizeof(path));
	BPF_SEQ_PRINTF(seq, "%llu %d %u %c %s\n", cfg->key & AF_KEY_ID_MASK, task->tgid, ctx->fd,
		       why, path);
	return 0;
}

/* Every thread with an io_uring context, descriptors or none (a ring
 * registered with IORING_REGISTER_RING_FDS needs no descriptor). */
SEC("iter/task")
int fdw_scan_tasks(struct bpf_iter__task *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct task_struct *task = ctx->task;
	struct af_fence_cfg *cfg;

	if (!task || !BPF_CORE_READ(task, io_uring))
		return 0;
	cfg = fdw_fence_of(task);
	if (!cfg)
		return 0;
	BPF_SEQ_PRINTF(seq, "%llu %d -1 U [io_uring]\n", cfg->key & AF_KEY_ID_MASK, task->tgid);
	return 0;
}
