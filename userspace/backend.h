/* SPDX-License-Identifier: GPL-2.0 */
/* Which enforcement this kernel gives, probed once per process. */
#ifndef AF_BACKEND_H
#define AF_BACKEND_H

#include <stdbool.h>
#include <stddef.h>

struct btf;

enum af_backend {
	AF_BACKEND_NONE = 0,
	AF_BACKEND_LSM_CGROUP,	/* lsm_cgroup programs on the fence's cgroup */
	AF_BACKEND_LSM,		/* global lsm programs filtered by membership */
	AF_BACKEND_LANDLOCK,	/* the child restricts itself; writes only */
};

struct af_probe {
	char kernel[128];		/* uname -r */
	char lsm_list[256];		/* /sys/kernel/security/lsm, "" if unreadable */
	int lsm_list_err;		/* -errno reading it */
	bool bpf_lsm_builtin;		/* CONFIG_BPF_LSM: vmlinux BTF has bpf_lsm_file_open */
	bool bpf_lsm_active;		/* "bpf" in the active list */
	bool btf;			/* /sys/kernel/btf/vmlinux */
	int lsm_cgroup;			/* 0 works, else -errno of the failed step */
	const char *lsm_cgroup_step;	/* which step failed */
	int lsm_global;
	const char *lsm_global_step;
	int landlock_abi;		/* >0 ABI, else -errno */
	char cgroup2[256];		/* mount point, "" if none */
};

/* The running kernel's BTF, parsed once per process (it is megabytes;
 * the probes, program selection and the socket attach types all read
 * it). NULL with errno set when the kernel has none. Do not free. */
const struct btf *af_kernel_btf(void);

/* Probe once; later calls return the cached result. */
const struct af_probe *af_probe_kernel(void);

enum af_backend af_backend_best(const struct af_probe *p);
const char *af_backend_name(enum af_backend b);
int af_backend_parse(const char *s, enum af_backend *b);	/* "auto" -> NONE */

/* Why BPF LSM cannot be used here, with the fix when there is one. */
void af_probe_bpf_lsm_reason(const struct af_probe *p, char *buf, size_t size);

#endif /* AF_BACKEND_H */
