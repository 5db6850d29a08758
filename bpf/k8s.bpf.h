/* SPDX-License-Identifier: GPL-2.0 */
/* Kubernetes pods fenced from their cgroup's creation (userspace/k8s.c,
 * Documentation/kubernetes.md "No window"). The daemon learns a pod when
 * it is bound to the node, before the kubelet makes its cgroup; it makes
 * the pod's fence then (its cgroup a placeholder) and names the pod's
 * cgroup in af_kpend. raw_tp/cgroup_mkdir (proc.bpf.c) makes the pod's
 * cgroup, and every cgroup beneath it, a member of that fence in
 * af_kmember before any task can run in it; the network programs
 * attached once at the kubepods cgroup (net.bpf.c, ak_*) judge members
 * of af_kmember by their fence's policy and let everything else pass.
 * A separate map from af_member: the global LSM programs do not see a
 * pod before its containers run (runc's own setup in the container's
 * cgroup mounts and pivots), the daemon's attach adds that then.
 *
 * The files: the pod's policy names paths in its containers, which the
 * kernel cannot resolve before a container's root exists. So a process
 * that execs in a cgroup of af_kmember (a pod not fenced whole: its own
 * fence is not attached yet) is stopped before the first instruction of
 * its new image (af_k8s_exec_hold: SIGSTOP from the exec, delivered on
 * the way back to user space) and named in af_kheld; af_kheld_rb wakes
 * the daemon, which attaches the pod's fence (the process's root is the
 * container's by then: runc sets it up in the cgroup and execs last),
 * and continues the process once its cgroup is in af_member
 * (userspace/k8s_held.c). Only an exec in a mount namespace other than
 * its parent's is held: the container runtime's own execs (runc init,
 * which runc 1.1 execs again from a memfd copy, while it may already be
 * in the cgroup) run in their parent's (runc's, the host's), before runc
 * unshares and pivots; a container's command runs in the container's,
 * its parent the runtime's shim (or runc) on the host. Before the pod's
 * fence is whole no process of the container has run an instruction,
 * so none can be the parent of another exec there. */
#ifndef AF_K8S_BPF_H
#define AF_K8S_BPF_H

/* cgroup id -> the fence id of a pod fenced from creation. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, __u64);
} af_kmember SEC(".maps") __weak;

/* A pod cgroup's name -> its fence id; 0: the daemon decided the pod
 * is not fenced (pass). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, struct af_kpend_key);
	__type(value, __u64);
} af_kpend SEC(".maps") __weak;

/* The kubepods cgroups pods are made in (kubepods, its QoS levels; both
 * drivers) -> the fence that holds a pod cgroup none of af_kpend names
 * (the daemon has not decided yet: deny-all network until it does); 0:
 * no hold (the daemon stopped cleanly). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u64);
	__type(value, __u64);
} af_kparent SEC(".maps") __weak;

/* tgid -> the process stopped at its exec (struct af_kheld_val). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct af_kheld_val);
} af_kheld SEC(".maps") __weak;

/* The tgid of each process af_kheld gains: the daemon's wake-up (a full
 * buffer loses only the wake-up: the daemon's tick finds it). */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} af_kheld_rb SEC(".maps") __weak;

#define AF_SIGKILL	9
#define AF_SIGSTOP	19

/* At every exec of the machine (events.bpf.c af_proc_exec): one lookup
 * outside pods fenced from creation. A process that cannot be named is
 * killed (fail closed: no one would continue it). */
static __always_inline void af_k8s_exec_hold(void)
{
	__u64 cgid = bpf_get_current_cgroup_id();
	struct task_struct *t;
	struct af_kheld_val v;
	__u32 tgid, *w;

	if (!bpf_map_lookup_elem(&af_kmember, &cgid))
		return;
	t = (struct task_struct *)bpf_get_current_task();
	if (BPF_CORE_READ(t, nsproxy, mnt_ns, ns.inum) ==
	    BPF_CORE_READ(t, real_parent, nsproxy, mnt_ns, ns.inum))
		return;
	tgid = bpf_get_current_pid_tgid() >> 32;
	v.cgroup = cgid;
	v.start = BPF_CORE_READ(t, start_boottime);
	v.held = bpf_ktime_get_boot_ns();
	/* Stopped before it is named: the daemon's SIGCONT, once it sees
	 * the entry, always comes after the SIGSTOP. */
	bpf_send_signal(AF_SIGSTOP);
	if (bpf_map_update_elem(&af_kheld, &tgid, &v, BPF_ANY)) {
		af_count(AF_CNT_K8S_HELD_FULL);
		bpf_send_signal(AF_SIGKILL);
		return;
	}
	af_count(AF_CNT_K8S_EXEC_HELD);
	w = bpf_ringbuf_reserve(&af_kheld_rb, sizeof(*w), 0);
	if (w) {
		*w = tgid;
		bpf_ringbuf_submit(w, 0);
	}
}

#endif
