// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "backend.h"
#include "cmds.h"
#include "json.h"
#include "util.h"

const char af_usage_doctor[] =
	"Usage: agentfence doctor [--json]\n"
	"\n"
	"Probe this kernel and say which enforcement backend a fence gets here,\n"
	"why the better ones are unavailable, and how to enable them. Each BPF LSM\n"
	"probe loads a program, triggers its hook and checks that it ran.\n"
	"Exit 0 when some backend can fence, 3 when none can.\n";

static const char *res(int err, const char *step, char *buf, size_t n)
{
	if (!err)
		return "works";
	snprintf(buf, n, "fails: %s: %s", step, err == -ENOTSUP ? "not supported" : strerror(-err));
	return buf;
}

static void json_kv(const char *k, const char *v, bool comma)
{
	printf("\"%s\":", k);
	json_str(stdout, v);
	if (comma)
		putchar(',');
}

int cmd_doctor(int argc, char **argv)
{
	const struct af_probe *p;
	enum af_backend best;
	char reason[512], a[256], b[256], ll[64];
	const char *cg, *gl;
	bool json = false;
	int i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			json = true;
			af_json_errors = true;
		} else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(af_usage_doctor, stdout);
			return AF_EXIT_OK;
		} else if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--verbose")) {
			af_verbose++;
		} else {
			af_err("unknown argument '%s'", argv[i]);
			fputs(af_usage_doctor, stderr);
			return AF_EXIT_USAGE;
		}
	}
	/* The truth, not this boot's cache of it (which this refreshes). */
	af_probe_fresh();
	p = af_probe_kernel();
	best = af_backend_best(p);
	af_probe_bpf_lsm_reason(p, reason, sizeof(reason));
	if (p->landlock_abi > 0)
		snprintf(ll, sizeof(ll), "abi %d", p->landlock_abi);
	else
		snprintf(ll, sizeof(ll), "unavailable: %s", strerror(-p->landlock_abi));
	cg = res(p->lsm_cgroup, p->lsm_cgroup_step, a, sizeof(a));
	gl = res(p->lsm_global, p->lsm_global_step, b, sizeof(b));

	if (json) {
		putchar('{');
		json_kv("kernel", p->kernel, true);
		json_kv("lsm", p->lsm_list, true);
		printf("\"btf\":%s,\"bpf_lsm_builtin\":%s,\"bpf_lsm_active\":%s,",
		       p->btf ? "true" : "false", p->bpf_lsm_builtin ? "true" : "false",
		       p->bpf_lsm_active ? "true" : "false");
		json_kv("lsm_cgroup", cg, true);
		json_kv("lsm_global", gl, true);
		printf("\"landlock_abi\":%d,", p->landlock_abi > 0 ? p->landlock_abi : 0);
		json_kv("cgroup2", p->cgroup2, true);
		json_kv("bpf_lsm", reason, true);
		json_kv("backend", af_backend_name(best), false);
		puts("}");
	} else {
		printf("kernel:            %s\n", p->kernel);
		printf("active LSMs:       %s\n", p->lsm_list_err ? "(unreadable)" : p->lsm_list);
		printf("BTF:               %s\n", p->btf ? "yes" : "no (CO-RE programs cannot load)");
		printf("BPF LSM built in:  %s\n", p->bpf_lsm_builtin ? "yes" : "no");
		printf("BPF LSM active:    %s\n", p->bpf_lsm_active ? "yes" : "no");
		printf("lsm_cgroup probe:  %s\n", cg);
		printf("lsm probe:         %s\n", gl);
		printf("landlock:          %s\n", ll);
		printf("cgroup2 mount:     %s\n", p->cgroup2[0] ? p->cgroup2 : "none");
		printf("backend:           %s\n", af_backend_name(best));
		if (best != AF_BACKEND_LSM_CGROUP)
			printf("why not BPF LSM:   %s\n", reason);
		if (best == AF_BACKEND_LANDLOCK)
			printf("landlock covers:   writes for `run` only, with a mount namespace for "
			       "chmod, chown, utimes, xattrs, inode flags, deny_read and protected "
			       "paths; not protected paths made later, mount, bpf(2), ptrace, signals\n");
	}
	return best == AF_BACKEND_NONE ? AF_EXIT_NOFENCE : AF_EXIT_OK;
}
