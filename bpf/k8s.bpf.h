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
 * cgroup mounts and pivots), the daemon's attach adds that then. */
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

#endif
