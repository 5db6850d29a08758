// SPDX-License-Identifier: GPL-2.0
/* Fence membership and self-protection.
 *
 * Membership: userspace puts a fence's own cgroup into af_member; this
 * file adds every cgroup created beneath it before mkdir(2) returns, so
 * a task can never run in a fenced cgroup that global programs do not
 * know. Self-protection: a fenced task may not change its mount tree
 * (the fence decides "inside" through it), call bpf(2), load modules,
 * or ptrace or signal tasks outside its fence. */
#include "common.bpf.h"
#include "k8s.bpf.h"
#include "k8s_name.h"

char LICENSE[] SEC("license") = "GPL";

static __always_inline __u64 cgroup_id(struct cgroup *cgrp)
{
	return BPF_CORE_READ(cgrp, kn, id);
}

/* A pod cgroup made beneath a kubepods cgroup (bpf/k8s.bpf.h): a member
 * of the fence af_kpend names for it, held when none does (unless the
 * daemon said no hold), passed when the daemon decided it is no fence's.
 * Descendants of an af_kmember cgroup (the pod's containers) are members
 * of the same fence. A full af_kmember is counted (AF_CNT_WALK_BOUND,
 * as af_member's) and the cgroup waits for the daemon's attach. */
static __always_inline void k8s_mkdir(struct cgroup *cgrp, __u64 pid, __u64 id)
{
	struct af_kpend_key k = {};
	__u64 *fence, *hold;
	const char *name;
	long len;

	fence = bpf_map_lookup_elem(&af_kmember, &pid);
	if (fence) {
		if (bpf_map_update_elem(&af_kmember, &id, fence, BPF_ANY))
			af_count(AF_CNT_WALK_BOUND);
		return;
	}
	hold = bpf_map_lookup_elem(&af_kparent, &pid);
	if (!hold)
		return;
	name = BPF_CORE_READ(cgrp, kn, name);
	len = bpf_probe_read_kernel_str(k.name, sizeof(k.name), name);
	if (len <= 1 || !af_k8s_pod_name(k.name, len - 1))
		return;
	fence = bpf_map_lookup_elem(&af_kpend, &k);
	if (fence) {
		if (*fence && bpf_map_update_elem(&af_kmember, &id, fence, BPF_ANY))
			af_count(AF_CNT_WALK_BOUND);
		return;
	}
	if (!*hold)
		return;
	af_count(AF_CNT_K8S_HOLD);
	if (bpf_map_update_elem(&af_kmember, &id, hold, BPF_ANY))
		af_count(AF_CNT_WALK_BOUND);
}

SEC("raw_tp/cgroup_mkdir")
int BPF_PROG(af_cgroup_mkdir, struct cgroup *cgrp, const char *path)
{
	struct cgroup *parent = BPF_CORE_READ(cgrp, self.parent, cgroup);
	__u64 pid, id, *fence;

	if (!parent)
		return 0;
	pid = cgroup_id(parent);
	id = cgroup_id(cgrp);
	k8s_mkdir(cgrp, pid, id);
	fence = bpf_map_lookup_elem(&af_member, &pid);
	if (!fence)
		return 0;
	/* Full map: the new cgroup stays unknown, so lsm_cgroup programs
	 * deny everything in it (fail closed); count it for doctor. */
	if (bpf_map_update_elem(&af_member, &id, fence, BPF_ANY))
		af_count(AF_CNT_WALK_BOUND);
	return 0;
}

SEC("raw_tp/cgroup_rmdir")
int BPF_PROG(af_cgroup_rmdir, struct cgroup *cgrp, const char *path)
{
	__u64 id = cgroup_id(cgrp);

	bpf_map_delete_elem(&af_member, &id);
	bpf_map_delete_elem(&af_kmember, &id);
	return 0;
}

static __always_inline int deny_in_fence(__u32 op, __u64 arg)
{
	struct af_fence_cfg *cfg;
	__u64 fence_id;

	cfg = af_current_fence(&fence_id);
	if (!cfg)
		return 0;
	return af_lsm_ret(af_sys_decide(fence_id, cfg, op, arg));
}

/* Whether task t is outside the current task's fence. */
static __always_inline int deny_outside(__u32 op, struct task_struct *t, __u64 arg)
{
	struct af_fence_cfg *cfg;
	__u64 fence_id, cgid, *other;

	cfg = af_current_fence(&fence_id);
	if (!cfg)
		return 0;
	cgid = af_task_cgroup_id(t);
	other = bpf_map_lookup_elem(&af_member, &cgid);
	if (other && *other == (fence_id & AF_KEY_ID_MASK))
		return 0;
	return af_lsm_ret(af_sys_decide(fence_id, cfg, op, arg));
}

SEC("lsm/sb_mount")
int BPF_PROG(lsm_sb_mount, const char *dev, const struct path *path,
	     const char *type, unsigned long flags, void *data, int ret)
{
	if (ret)
		return ret;
	return deny_in_fence(AF_OP_MOUNT, flags);
}

SEC("lsm/sb_umount")
int BPF_PROG(lsm_sb_umount, struct vfsmount *mnt, int flags, int ret)
{
	if (ret)
		return ret;
	return deny_in_fence(AF_OP_MOUNT, flags);
}

SEC("lsm/move_mount")
int BPF_PROG(lsm_move_mount, const struct path *from, const struct path *to, int ret)
{
	if (ret)
		return ret;
	return deny_in_fence(AF_OP_MOUNT, 0);
}

SEC("lsm/sb_pivotroot")
int BPF_PROG(lsm_sb_pivotroot, const struct path *old, const struct path *new, int ret)
{
	if (ret)
		return ret;
	return deny_in_fence(AF_OP_MOUNT, 0);
}

SEC("lsm/bpf")
int BPF_PROG(lsm_bpf, int cmd, union bpf_attr *attr, unsigned int size)
{
	/* The hook gained a "kernel" argument in 6.9, so the return value
	 * of an earlier program is not at a fixed position here: this
	 * program only ever denies, which cannot undo an earlier denial. */
	return deny_in_fence(AF_OP_BPF, cmd);
}

SEC("lsm/ptrace_access_check")
int BPF_PROG(lsm_ptrace, struct task_struct *child, unsigned int mode, int ret)
{
	if (ret)
		return ret;
	return deny_outside(AF_OP_PTRACE, child, BPF_CORE_READ(child, tgid));
}

SEC("lsm/task_kill")
int BPF_PROG(lsm_task_kill, struct task_struct *p, struct kernel_siginfo *info,
	     int sig, const struct cred *cred, int ret)
{
	if (ret)
		return ret;
	if (sig == 0)
		return 0;
	return deny_outside(AF_OP_SIGNAL, p, ((__u64)sig << 32) | BPF_CORE_READ(p, tgid));
}

SEC("lsm/kernel_read_file")
int BPF_PROG(lsm_kernel_read_file, struct file *file, enum kernel_read_file_id id,
	     bool contents, int ret)
{
	if (ret)
		return ret;
	if (id != bpf_core_enum_value(enum kernel_read_file_id, READING_MODULE))
		return 0;
	return deny_in_fence(AF_OP_MODULE, id);
}

SEC("lsm/kernel_load_data")
int BPF_PROG(lsm_kernel_load_data, enum kernel_load_data_id id, bool contents, int ret)
{
	if (ret)
		return ret;
	if (id != bpf_core_enum_value(enum kernel_load_data_id, LOADING_MODULE))
		return 0;
	return deny_in_fence(AF_OP_MODULE, id);
}

/* A module the kernel would load for the task (request_module): an
 * unknown socket family or protocol (net-pf-N, net-pf-N-proto-M), a
 * binary format, a tty line discipline, a char major, a crypto
 * algorithm... Each loads code into the kernel that a fence refuses to
 * use anyway, and the module's bugs become reachable: no autoload on a
 * fenced task's behalf. kernel_module_request is an LSM hook since
 * 2.6.3x; the kernel still runs modprobe for tasks outside. */
SEC("lsm/kernel_module_request")
int BPF_PROG(lsm_kmod_request, char *kmod_name, int ret)
{
	struct af_fence_cfg *cfg;
	struct af_ev_kmod *ev;
	bool audit;
	__u64 fence_id;

	if (ret)
		return ret;
	cfg = af_current_fence(&fence_id);
	if (!cfg)
		return 0;
	audit = cfg->flags & AF_FENCE_AUDIT;
	af_count(audit ? AF_CNT_AUDIT : AF_CNT_DENY);
	if (!audit)
		af_effects_denied();
	ev = af_reserve(fence_id, sizeof(*ev));
	if (!ev)
		return af_lsm_ret(!audit);
	af_fill_hdr(&ev->hdr, AF_EV_SYS, sizeof(*ev), fence_id);
	ev->op = AF_OP_MODULE_REQUEST;
	ev->verdict = audit ? AF_AUDITED : AF_DENIED;
	bpf_get_current_comm(ev->comm, sizeof(ev->comm));
	if (bpf_probe_read_kernel_str(ev->name, sizeof(ev->name), kmod_name) < 0)
		ev->name[0] = 0;
	bpf_ringbuf_submit(ev, 0);
	return af_lsm_ret(!audit);
}

/* An io_uring personality runs requests with other credentials: in a
 * fence that would make cred differ from real_cred, which the file
 * hooks read as the kernel acting on its own (af_kernel_override). */
SEC("lsm/uring_override_creds")
int BPF_PROG(lsm_uring_creds, const struct cred *new, int ret)
{
	if (ret)
		return ret;
	return deny_in_fence(AF_OP_URING_CREDS, 0);
}

/* ---- SIGIO and SIGURG of a file owner ---- */

/* Files whose owner (F_SETOWN, F_SETOWN_EX, FIOSETOWN, SIOCSPGRP) a
 * fenced task set, with its fence: the signal is sent later by whoever
 * makes the file ready, often from outside the fence (a peer's write,
 * a packet), so the fence that set the owner decides, not the sender's.
 *
 * Fail closed: the entry is made before the owner is, in file_fcntl and
 * file_ioctl (hooks that can refuse; file_set_fowner cannot), and when
 * the map is full the fcntl or ioctl is refused (-EPERM, counted:
 * AF_CNT_SIGIO_FULL, reported AF_OP_SIGIO_FULL). Not an LRU: an evicted
 * entry would hand the decision to the sender's fence. A file's entry
 * goes when the file is freed (file_free_security), so the map holds
 * only files that are open and owned. Capacity: AF_SIGIO_ENTRIES in
 * the loader's environment shrinks it for tests. */
SEC("lsm/file_fcntl")
int BPF_PROG(lsm_sigio_fcntl, struct file *file, unsigned int cmd, unsigned long arg, int ret)
{
	if (ret)
		return ret;
	if (cmd != F_SETOWN && cmd != F_SETOWN_EX)
		return 0;
	return af_sigio_reserve(file);
}

SEC("lsm/file_set_fowner")
int BPF_PROG(lsm_set_fowner, struct file *file)
{
	struct af_fence_cfg *cfg;
	__u64 key = (__u64)file, fence_id;

	cfg = af_current_fence(&fence_id);
	if (!cfg) {
		if (bpf_map_lookup_elem(&af_sigio, &key))
			bpf_map_delete_elem(&af_sigio, &key);
		return 0;
	}
	fence_id &= AF_KEY_ID_MASK;	/* the fence, whatever its generation then */
	/* The entry exists (sigio_reserve), so the update needs no room;
	 * an owner set by a path those hooks do not see (the kernel's own
	 * for F_SETLEASE and F_NOTIFY: the task itself) and a full map is
	 * counted. */
	if (bpf_map_update_elem(&af_sigio, &key, &fence_id, BPF_ANY))
		af_count(AF_CNT_SIGIO_FULL);
	return 0;
}

SEC("lsm/file_free_security")
int BPF_PROG(lsm_sigio_free, struct file *file)
{
	__u64 key = (__u64)file;

	/* Every file freed on the node: the lookup is lock-free. */
	if (bpf_map_lookup_elem(&af_sigio, &key))
		bpf_map_delete_elem(&af_sigio, &key);
	return 0;
}

/* fown_struct is allocated apart from its file since 6.12, and points
 * back at it; before, it was embedded in struct file. */
struct fown_struct___new {
	struct file *file;
} __attribute__((preserve_access_index));

SEC("lsm/file_send_sigiotask")
int BPF_PROG(lsm_sigiotask, struct task_struct *tsk, struct fown_struct *fown, int sig, int ret)
{
	struct af_fence_cfg *cfg;
	__u64 key, fence_id, cgid, *fid, *other;

	if (ret)
		return ret;
	if (bpf_core_field_exists(((struct fown_struct___new *)0)->file))
		key = (__u64)BPF_CORE_READ((struct fown_struct___new *)fown, file);
	else
		key = (__u64)fown - bpf_core_field_offset(struct file, f_owner);
	fid = bpf_map_lookup_elem(&af_sigio, &key);
	if (fid) {
		fence_id = *fid;
		cfg = bpf_map_lookup_elem(&af_fences, &fence_id);
	} else {
		cfg = af_current_fence(&fence_id);
	}
	if (!cfg)
		return 0;
	cgid = af_task_cgroup_id(tsk);
	other = bpf_map_lookup_elem(&af_member, &cgid);
	if (other && *other == fence_id)
		return 0;
	return af_lsm_ret(af_sys_decide(fence_id, cfg, AF_OP_SIGNAL,
					((__u64)sig << 32) | BPF_CORE_READ(tsk, tgid)));
}
