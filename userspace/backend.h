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
	bool cached;			/* lsm_* and bpf_lsm_builtin from this boot's cache */
};

/* The running kernel's BTF, parsed once per process (it is megabytes;
 * the probes, program selection and the socket attach types all read
 * it). NULL with errno set when the kernel has none. Do not free. */
const struct btf *af_kernel_btf(void);

/* Free it before libbpf loads an object (which parses its own copy,
 * then into the memory this one leaves); a later af_kernel_btf()
 * parses it again. */
void af_kernel_btf_free(void);

/* Fault in, with one madvise(), heap memory that freed BTF leaves for
 * the next parse (libbpf's, when it loads an object); af_kernel_btf()
 * does it first. Page faults cost more than parsing, most in a VM. */
void af_heap_prepare(void);

/* Give back that memory once the objects are loaded: it would
 * otherwise stay in the supervisor's RSS. */
void af_heap_trim(void);

/* Probe once; later calls return the cached result. The BPF LSM probes
 * are also cached per boot in /run/agentfence/probe (root's only). */
const struct af_probe *af_probe_kernel(void);

/* Make af_probe_kernel() ignore the per-boot cache (and rewrite it). */
void af_probe_fresh(void);

/* Forget the per-boot cache: a BPF LSM fence failed to load or attach. */
void af_probe_cache_drop(void);

enum af_backend af_backend_best(const struct af_probe *p);
const char *af_backend_name(enum af_backend b);
int af_backend_parse(const char *s, enum af_backend *b);	/* "auto" -> NONE */

/* Why BPF LSM cannot be used here, with the fix when there is one. */
void af_probe_bpf_lsm_reason(const struct af_probe *p, char *buf, size_t size);

#endif /* AF_BACKEND_H */
