// SPDX-License-Identifier: GPL-2.0
/* Backend probes: a successful attach is no proof that a hook fires
 * (a kernel without "bpf" in its active LSM list attaches LSM programs
 * and never runs them), so each program counts the opens of one task,
 * and the prober opens a file and reads the count. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

const volatile __u32 target_tgid;

__u64 hits_cgroup;
__u64 hits_global;

/* Attached to a cgroup of its own that holds only the probe's child. */
SEC("lsm_cgroup/file_open")
int BPF_PROG(probe_cgroup, struct file *file)
{
	__sync_fetch_and_add(&hits_cgroup, 1);
	return 1;
}

SEC("lsm/file_open")
int BPF_PROG(probe_global, struct file *file, int ret)
{
	if ((bpf_get_current_pid_tgid() >> 32) == target_tgid)
		__sync_fetch_and_add(&hits_global, 1);
	return ret;
}
