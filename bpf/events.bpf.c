// SPDX-License-Identifier: GPL-2.0
/* Process events for the journal and tail: fork, exec (file name and
 * command line) and exit of every process in a fence, from the sched
 * raw tracepoints. They load on every backend (no BPF LSM needed), and
 * cost one hash lookup to processes outside fences, two to fenced ones
 * whose policy does not record the kind (spec.events). */
#include "common.bpf.h"
#include "events.h"
#include "fxco.bpf.h"
#include "k8s.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* A ring buffer event of a process in cgroup cgid, header filled, or
 * NULL when the cgroup is in no fence, its policy does not record this
 * kind (spec.events: flag), or the buffer is full (counted). */
static __always_inline void *proc_event(__u64 cgid, __u16 type, __u32 size, __u32 flag)
{
	__u64 *fid = bpf_map_lookup_elem(&af_member, &cgid);
	struct af_fence_cfg *cfg;
	struct af_hdr *h;

	if (!fid)
		return NULL;
	cfg = bpf_map_lookup_elem(&af_fences, fid);
	if (!cfg || !(cfg->flags & flag))
		return NULL;
	h = af_reserve(*fid, size);
	if (!h)
		return NULL;
	af_fill_hdr(h, type, size, *fid);
	return h;
}

SEC("raw_tp/sched_process_fork")
int BPF_PROG(af_proc_fork, struct task_struct *parent, struct task_struct *child)
{
	struct af_ev_fork *ev;

	/* Threads share their process's journal entry. */
	if (BPF_CORE_READ(child, pid) != BPF_CORE_READ(child, tgid))
		return 0;
	ev = proc_event(af_task_cgroup_id(child), AF_EV_FORK, sizeof(*ev), AF_FENCE_EV_FORK);
	if (!ev)
		return 0;
	ev->child = BPF_CORE_READ(child, tgid);
	ev->pad = 0;
	bpf_get_current_comm(ev->comm, sizeof(ev->comm));
	bpf_ringbuf_submit(ev, 0);
	return 0;
}

SEC("raw_tp/sched_process_exec")
int BPF_PROG(af_proc_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	unsigned long start, end;
	struct af_ev_exec *ev;
	struct mm_struct *mm;
	__u32 len;

	/* A pod not fenced whole yet: stopped here (bpf/k8s.bpf.h). */
	af_k8s_exec_hold();
	ev = proc_event(bpf_get_current_cgroup_id(), AF_EV_EXEC, sizeof(*ev), AF_FENCE_EV_EXEC);
	if (!ev)
		return 0;
	ev->ppid = BPF_CORE_READ(p, real_parent, tgid);
	ev->uid = (__u32)bpf_get_current_uid_gid();
	ev->flags = 0;
	bpf_get_current_comm(ev->comm, sizeof(ev->comm));
	if (bpf_probe_read_kernel_str(ev->filename, sizeof(ev->filename), BPF_CORE_READ(bprm, filename)) < 0)
		ev->filename[0] = 0;
	/* The new image's mm is in place: its argument area is the argv. */
	mm = BPF_CORE_READ(p, mm);
	start = BPF_CORE_READ(mm, arg_start);
	end = BPF_CORE_READ(mm, arg_end);
	len = end > start ? end - start : 0;
	if (len >= AF_ARGV_MAX) {
		len = AF_ARGV_MAX - 1;
		ev->flags |= AF_EXECF_ARGV_TRUNC;
	}
	/* A mask the verifier can follow (AF_ARGV_MAX is a power of 2). */
	len &= AF_ARGV_MAX - 1;
	if (len && bpf_probe_read_user(ev->argv, len, (void *)start))
		len = 0;
	ev->argv_len = len;
	bpf_ringbuf_submit(ev, 0);
	return 0;
}

SEC("raw_tp/sched_process_exit")
int BPF_PROG(af_proc_exit, struct task_struct *p)
{
	struct af_ev_exit *ev;

	/* Every thread: the repeats of file effects it counted. */
	af_fxco_exit();
	af_nco_exit();
	/* Only when the process's last thread exits. */
	if (BPF_CORE_READ(p, signal, live.counter) != 0)
		return 0;
	ev = proc_event(bpf_get_current_cgroup_id(), AF_EV_EXIT, sizeof(*ev), AF_FENCE_EV_EXIT);
	if (!ev)
		return 0;
	ev->ppid = BPF_CORE_READ(p, real_parent, tgid);
	ev->code = BPF_CORE_READ(p, exit_code);
	bpf_get_current_comm(ev->comm, sizeof(ev->comm));
	bpf_ringbuf_submit(ev, 0);
	return 0;
}
