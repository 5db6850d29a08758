// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "backend.h"
#include "sysfilter.h"
#include "cmds.h"
#include "json.h"
#include "util.h"

const char af_usage_doctor[] =
	"Usage: agentfence doctor [--json]\n"
	"\n"
	"Probe this kernel and say which enforcement backend a fence gets here,\n"
	"why the better ones are unavailable, and how to enable them. Each BPF LSM\n"
	"probe loads a program, triggers its hook and checks that it ran. Then the\n"
	"process box run applies on every backend, seccomp filter entries included.\n"
	"Exit 0 when some backend can fence, 3 when none can.\n";

static const char *res(int err, const char *step, char *buf, size_t n)
{
	if (!err)
		return "works";
	snprintf(buf, n, "fails: %s: %s", step, err == -ENOTSUP ? "not supported" : strerror(-err));
	return buf;
}

static void print_entry(void *ctx, const char *sc, const char *when, const char *action,
			const char *why)
{
	bool *json = ctx;

	if (!*json) {
		printf("  %-18s %-7s %s%s%s\n", sc, action, when[0] ? when : "", when[0] ? ": " : "", why);
		return;
	}
	printf("%s{\"syscall\":", json[1] ? "," : "");
	json_str(stdout, sc);
	printf(",\"when\":");
	json_str(stdout, when);
	printf(",\"action\":");
	json_str(stdout, action);
	printf(",\"why\":");
	json_str(stdout, why);
	putchar('}');
	json[1] = true;
}

/* What `run` does to every command, whatever the backend (box.h). */
static void print_box(bool json)
{
	struct af_seccomp sc;
	char why[256];
	bool ctx[2] = { json, false };
	int err = af_seccomp_build(&sc, why, sizeof(why));

	if (json) {
		printf("\"box\":{\"capabilities\":\"spec.process.capabilities (default: none) in "
		       "every set; securebits noroot, locked\",\"no_new_privs\":true,"
		       "\"namespaces\":{\"ipc\":\"private\",\"new\":\"refused\"},"
		       "\"session\":\"own; a relayed pty when stdio is a terminal\","
		       "\"core_dumps\":\"off\",\"on_supervisor_exit\":\"freeze (default) or kill\","
		       "\"seccomp\":{");
		if (err) {
			printf("\"error\":");
			json_str(stdout, why);
		} else {
			printf("\"sha256\":\"%s\",\"instructions\":%u,\"foreign_abi\":", sc.sha256, sc.len);
			json_str(stdout, AF_SECCOMP_BADARCH);
			printf(",\"rules\":[");
			af_seccomp_describe(print_entry, ctx);
			putchar(']');
		}
		printf("}},");
	} else {
		printf("process box (every backend):\n");
		printf("  capabilities:    spec.process.capabilities (default: none) in the bounding, "
		       "permitted, effective, inheritable and ambient sets; securebits noroot, locked\n");
		printf("  no_new_privs:    set\n");
		printf("  namespaces:      private IPC; new ones refused (clone, unshare, setns; clone3 ENOSYS)\n");
		printf("  session:         its own; a relayed pty when run's stdio is a terminal\n");
		printf("  core dumps:      off (RLIMIT_CORE 0, hard)\n");
		printf("  supervisor exit: the fence is frozen (default) or killed "
		       "(spec.process.on_supervisor_exit)\n");
		if (err) {
			printf("  seccomp:         cannot build the filter: %s\n", why);
		} else {
			printf("  seccomp:         %u instructions, sha256 %s; foreign ABIs %s\n", sc.len,
			       sc.sha256, AF_SECCOMP_BADARCH);
			af_seccomp_describe(print_entry, ctx);
		}
	}
	if (!err)
		af_seccomp_free(&sc);
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
		print_box(true);
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
			       "paths; not protected paths made later%s\n",
			       p->landlock_abi < 6 ? ", signals" : "");
		print_box(false);
	}
	return best == AF_BACKEND_NONE ? AF_EXIT_NOFENCE : AF_EXIT_OK;
}
