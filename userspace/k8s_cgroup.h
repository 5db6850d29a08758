/* SPDX-License-Identifier: GPL-2.0 */
/* Where the kubelet puts a pod's cgroup and its containers' (pure, but
 * af_k8s_pod_cgroup_find, which looks), for both cgroup drivers:
 *   cgroupfs  kubepods/<qos>/pod<uid>/<cid>
 *   systemd   kubepods.slice/kubepods-<qos>.slice/kubepods-<qos>-pod<uid_>.slice/
 *             cri-containerd-<cid>.scope
 * (Guaranteed pods have no <qos> level), beneath the cgroup2 mount (v2
 * or the unified hierarchy of a hybrid host). */
#ifndef AF_K8S_CGROUP_H
#define AF_K8S_CGROUP_H

#include <stddef.h>

enum af_k8s_driver {
	AF_K8S_CGROUPFS,
	AF_K8S_SYSTEMD,
};

enum af_k8s_qos {
	AF_K8S_GUARANTEED,
	AF_K8S_BURSTABLE,
	AF_K8S_BESTEFFORT,
};

/* status.qosClass ("Guaranteed", "Burstable", "BestEffort"): 0 or -EINVAL. */
int af_k8s_qos_parse(const char *s, enum af_k8s_qos *out);

/* The pod's cgroup, relative to the cgroup2 mount ("kubepods/besteffort/
 * pod<uid>"). uid must be a Kubernetes UID (hex and dashes). 0,
 * -EINVAL, -ENAMETOOLONG. */
int af_k8s_pod_cgroup(enum af_k8s_driver drv, enum af_k8s_qos qos, const char *uid,
		      char *out, size_t n);

/* A container's, from its status.containerStatuses[].containerID
 * ("containerd://<hex>", "cri-o://", "docker://"), relative too. */
int af_k8s_container_cgroup(enum af_k8s_driver drv, enum af_k8s_qos qos, const char *uid,
			    const char *container_id, char *out, size_t n);

/* The container id of a cgroup directory beneath a pod's: its name
 * "<cid>" (cgroupfs) or "cri-containerd-<cid>.scope", "crio-<cid>.scope",
 * "docker-<cid>.scope" (systemd); cid is hex. 0, or -EINVAL for any
 * other name (cri-o's "crio-conmon-<cid>.scope": its monitor, not a
 * container of the pod), -ENAMETOOLONG. */
int af_k8s_cgroup_container(const char *name, char *cid, size_t n);

/* The pod's cgroup as it exists beneath mnt (the cgroup2 mount): the
 * driver is the one whose directory is there. 0 and the absolute path,
 * -ENOENT (not made yet, or gone), -EINVAL. */
int af_k8s_pod_cgroup_find(const char *mnt, enum af_k8s_qos qos, const char *uid,
			   enum af_k8s_driver *drv, char *out, size_t n);

#endif
