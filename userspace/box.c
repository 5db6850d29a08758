// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include <errno.h>
#include <linux/capability.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "box.h"
#include "json.h"
#include "caps.h"
#include "cgroup.h"
#include "landlock.h"

/* Whether one path is the other or beneath it, by components. */
static bool covers(const char *dir, const char *path)
{
	size_t n = strlen(dir);

	if (n == 1 && dir[0] == '/')
		return true;
	return !strncmp(dir, path, n) && (path[n] == '/' || path[n] == '\0');
}

int af_box_prepare(struct af_box *b, const struct af_policy *p, bool landlock,
		   char *why, size_t why_size)
{
	int err;

	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct have[2] = {};
	uint64_t missing;
	char names[512], cg2[4096];

	memset(b, 0, sizeof(*b));
	b->policy = p;
	b->landlock = landlock;
	b->caps = p->caps;
	/* A capability is granted by keeping it: what run lacks it cannot
	 * give, and a fence with less than its policy says is refused. */
	if (syscall(SYS_capget, &hdr, have)) {
		snprintf(why, why_size, "capget: %s", strerror(errno));
		return -errno;
	}
	missing = b->caps & ~((uint64_t)have[1].permitted << 32 | have[0].permitted);
	if (missing) {
		af_caps_format(missing, names, sizeof(names));
		snprintf(why, why_size, "spec.process.capabilities grants %s, which agentfence "
			 "itself does not hold (see CapPrm in /proc/self/status)", names);
		return -EPERM;
	}
	/* Landlock has no rule for "this cgroup and beneath": a writable
	 * cgroupfs would let the command move out of the fence (the BPF
	 * backends judge each cgroupfs write, bpf/proc.bpf.c). */
	if (landlock && !af_cgroup2_mount(cg2, sizeof(cg2))) {
		size_t i;

		for (i = 0; i < p->n_writable; i++) {
			if (covers(p->writable[i].path, cg2) || covers(cg2, p->writable[i].path)) {
				snprintf(why, why_size, "the writable path %s opens the cgroup filesystem "
					 "%s: Landlock cannot keep the fence's cgroup a one-way door "
					 "(remove it, or use a BPF LSM backend)", p->writable[i].path, cg2);
				return -EPERM;
			}
		}
	}
	/* Landlock has no socket-family control: the filter takes it,
	 * for a policy with a network section, as the BPF backends'
	 * lsm/socket_create does (bpf/net.bpf.c). */
	err = af_seccomp_build_opts(&b->filter, &(struct af_seccomp_opts){
					    .families_filter = landlock && p->has_network,
					    .families = p->families },
				    why, why_size);
	if (err)
		return err;
	err = af_pty_open(&b->pty, why, why_size);
	if (err)
		af_seccomp_free(&b->filter);
	return err;
}

int af_box_session(const struct af_box *b, const char **why)
{
	/* Out of run's session: no signal from the terminal outside, no
	 * way to it through /dev/tty (TIOCSTI needs the controlling tty). */
	if (setsid() < 0) {
		*why = "setsid";
		return -errno;
	}
	return af_pty_child(b->pty, why);
}

int af_box_enter(const struct af_box *b, const char **why)
{
	/* Hard limit 0: a file core_pattern is written by the kernel with
	 * the task's credentials overridden (so not judged as the task),
	 * and it is the only thing that stops it; PR_SET_DUMPABLE is reset
	 * by execve and the task may set it again. A pipe core_pattern
	 * gets the limit as %c (systemd-coredump then stores nothing). */
	static const struct rlimit no_core = { 0, 0 };
	int err;

	/* SysV shared memory, semaphores and message queues of processes
	 * outside are out of reach (ipcs shows none). */
	if (unshare(CLONE_NEWIPC)) {
		*why = "unshare(CLONE_NEWIPC)";
		return -errno;
	}
	if (setrlimit(RLIMIT_CORE, &no_core)) {
		*why = "setrlimit(RLIMIT_CORE, 0)";
		return -errno;
	}
	/* Whatever else needs privileges (a private mount namespace) goes
	 * here: below this point the task has given them up and the filter
	 * refuses unshare, mount and setns. A uid change goes inside
	 * af_caps_apply (caps.c says where). */
	if (b->landlock) {
		err = af_landlock_restrict(b->policy, why);
		if (err)
			return err;
	}
	err = af_caps_apply(b->caps, b->cred, why);
	if (err)
		return err;
	err = af_seccomp_install(&b->filter);
	if (err)
		*why = "seccomp(SECCOMP_SET_MODE_FILTER)";
	return err;
}

void af_box_json(struct af_json *w, const char *key, const struct af_box *b)
{
	char caps[512];

	af_caps_format(b->caps, caps, sizeof(caps));
	af_json_object(w, key);
	af_json_object(w, "capabilities");
	af_json_str(w, "bounding", caps);
	af_json_str(w, "permitted", caps);
	af_json_str(w, "effective", caps);
	af_json_str(w, "inheritable", caps);
	af_json_str(w, "ambient", caps);
	af_json_str(w, "securebits", "noroot,no_setuid_fixup,keep_caps_locked");
	af_json_end(w);
	af_json_object(w, "user");
	af_json_u64(w, "uid", b->cred && b->cred->set ? b->cred->uid : 0);
	af_json_u64(w, "gid", b->cred && b->cred->set ? b->cred->gid : 0);
	af_json_array(w, "groups");
	for (size_t i = 0; b->cred && b->cred->set && i < b->cred->ngroups; i++)
		af_json_u64(w, NULL, b->cred->groups[i]);
	af_json_end(w);
	af_json_end(w);
	af_json_bool(w, "no_new_privs", true);
	af_json_object(w, "seccomp");
	af_json_str(w, "sha256", b->filter.sha256);
	af_json_u64(w, "rules", b->filter.rules);
	af_json_u64(w, "instructions", b->filter.len);
	af_json_str(w, "foreign_abi", "kill");
	af_json_end(w);
	af_json_object(w, "namespaces");
	af_json_str(w, "ipc", "private");
	af_json_str(w, "new", "refused");
	af_json_end(w);
	af_json_str(w, "session", "own");
	af_json_str(w, "tty", b->pty || b->remote_pty ? "pty" : "none");
	af_json_str(w, "core_dumps", "off");
	af_json_str(w, "on_supervisor_exit", af_on_exit_name(b->policy->on_supervisor_exit));
	af_json_end(w);
}

void af_box_print(FILE *f, const struct af_box *b, const char *in)
{
	char caps[1024];

	af_caps_format(b->caps, caps, sizeof(caps));
	fprintf(f, "%scapabilities:      %s (bounding, permitted, effective, inheritable, "
		"ambient); securebits noroot, locked\n", in, caps[0] ? caps : "none");
	if (b->cred && b->cred->set)
		fprintf(f, "%suser:              uid %u, gid %u, %zu supplementary groups\n", in,
			(unsigned)b->cred->uid, (unsigned)b->cred->gid, b->cred->ngroups);
	else
		fprintf(f, "%suser:              root (uid 0), without its capabilities\n", in);
	fprintf(f, "%sno_new_privs:      yes\n", in);
	fprintf(f, "%sseccomp:           %u rules, %u instructions, sha256 %s\n", in,
		b->filter.rules, b->filter.len, b->filter.sha256);
	fprintf(f, "%sforeign ABIs:      %s\n", in, AF_SECCOMP_BADARCH);
	fprintf(f, "%snamespaces:        private IPC; new ones refused (clone, unshare, "
		"setns; clone3 ENOSYS)\n", in);
	fprintf(f, "%ssession:           its own; a relayed pty when run's stdio is a terminal\n", in);
	fprintf(f, "%score dumps:        off (RLIMIT_CORE 0, hard)\n", in);
	fprintf(f, "%ssupervisor exit:   %s the fence\n", in,
		b->policy->on_supervisor_exit == AF_ON_EXIT_KILL ? "kill" : "freeze");
}

void af_box_free(struct af_box *b)
{
	af_seccomp_free(&b->filter);
	af_pty_close(b->pty);
	b->pty = NULL;
}
