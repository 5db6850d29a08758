/* SPDX-License-Identifier: GPL-2.0 */
/* Whether a cgroup made beneath the kubelet's kubepods cgroups (or its
 * QoS ones) is a pod's: cgroupfs "pod<uid>", systemd
 * "kubepods-[<qos>-]pod<uid_>.slice"; not a QoS level ("burstable",
 * "kubepods-besteffort.slice"). Plain C, bounded: the same code runs in
 * bpf/proc.bpf.c and in the unit tests. s holds n bytes (no NUL needed). */
#ifndef AF_K8S_NAME_H
#define AF_K8S_NAME_H

#define AF_K8S_NAME_SCAN	96	/* AF_KPEND_NAME: longer names are no pod's */

static inline int af_k8s_pod_name(const char *s, unsigned int n)
{
	unsigned int i;

	if (n > AF_K8S_NAME_SCAN)
		return 0;
	if (n >= 4 && s[0] == 'p' && s[1] == 'o' && s[2] == 'd')
		return 1;
	if (n < 13 || s[0] != 'k' || s[8] != '-')	/* "kubepods-pod" + 1 */
		return 0;
	for (i = 8; i + 4 <= AF_K8S_NAME_SCAN; i++) {
		if (i + 4 > n)
			break;
		if (s[i] == '-' && s[i + 1] == 'p' && s[i + 2] == 'o' && s[i + 3] == 'd')
			return 1;
	}
	return 0;
}

#endif
