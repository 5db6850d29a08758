// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"
#include "cmds.h"
#include "control.h"
#include "fence.h"
#include "fences.h"
#include "json.h"
#include "util.h"

const char af_usage_stop[] =
	"Usage: agentfence stop [OPTIONS] FENCE\n"
	"\n"
	"Stop fence FENCE (its id, from agentfence status): kill everything that runs in\n"
	"it and remove it. A fence a daemon holds is stopped by the daemon, which\n"
	"journals its end; a run's fence ends with its command (run journals it); an\n"
	"orphaned fence's cgroup and pins are removed.\n"
	"\n"
	"      --control PATH     the daemon's control socket (default: " AF_CTL_SOCK ")\n";

int af_parse_fence_id(const char *s, uint64_t *id)
{
	unsigned long v;

	if (af_parse_ulong(s, ULONG_MAX, &v) || !v) {
		af_err("'%s' is not a fence id (a number; see agentfence status)", s);
		return -EINVAL;
	}
	*id = v;
	return 0;
}

int af_parse_fence_args(int argc, char **argv, const char *cmd, const char *usage,
			bool with_policy, struct af_fence_args *a)
{
	static const struct option opts[] = {
		{ "policy", required_argument, NULL, 'p' },
		{ "control", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	int c;

	*a = (struct af_fence_args){};
	optind = 1;
	while ((c = getopt_long(argc, argv, with_policy ? "p:h" : "h", with_policy ? opts : opts + 1,
				NULL)) != -1) {
		switch (c) {
		case 'p':
			a->policy = optarg;
			break;
		case 'c':
			a->control = optarg;
			break;
		case 'h':
			fputs(usage, stdout);
			return AF_EXIT_OK;
		default:
			fputs(usage, stderr);
			return AF_EXIT_USAGE;
		}
	}
	if (optind + 1 != argc || (with_policy && !a->policy)) {
		if (with_policy)
			af_err("a fence id and --policy FILE expected (usage: agentfence %s FENCE "
			       "--policy FILE)", cmd);
		else
			af_err("one fence id expected (usage: agentfence %s [OPTIONS] FENCE)", cmd);
		return AF_EXIT_USAGE;
	}
	if (af_parse_fence_id(argv[optind], &a->id))
		return AF_EXIT_USAGE;
	return -1;
}

/* Ask the daemon for op on fence id: 0 done, -ENOENT when no daemon
 * holds the fence (or none runs), else failed (said). */
int af_fence_op_daemon(const char *control, const char *op, uint64_t id, const char *policy,
		       size_t policy_len, const char *policy_file)
{
	struct af_ctl_line l;
	struct af_json *w;
	char *reply = NULL;
	int err;

	w = af_ctl_line_begin(&l, op);
	if (!w)
		return -ENOMEM;
	af_json_u64(w, "fence", id);
	if (policy) {
		af_json_strn(w, "policy", policy, policy_len);
		if (policy_file)
			af_json_str(w, "policy_file", policy_file);
	}
	if (af_ctl_line_finish(&l))
		return -ENOMEM;
	err = af_ctl_ask(control, l.buf, l.len, &reply);
	free(l.buf);
	if (err == -ENOENT || err == -ECONNREFUSED)
		return -ENOENT;
	if (err) {
		af_err("the daemon at %s: %s", control ? control : AF_CTL_SOCK, strerror(-err));
		return err;
	}
	if (strstr(reply, "\"errno\":\"ENOENT\"")) {
		free(reply);
		return -ENOENT;
	}
	err = af_ctl_reply_ok(reply);
	free(reply);
	return err ? err : 0;
}

static int find_fence(uint64_t id, struct af_fence_info *out)
{
	struct af_fence_info *v = NULL;
	size_t n = 0, i;
	int err = af_fence_list(&v, &n);

	if (err)
		return err;
	for (i = 0, err = -ENOENT; i < n; i++) {
		if (v[i].id == id) {
			*out = v[i];
			err = 0;
		}
	}
	free(v);
	return err;
}

/* A cgroup agentfence made: beneath <cgroup2>/agentfence/. */
static bool owned(const char *cgroup)
{
	char mnt[PATH_MAX], dir[PATH_MAX + 16];

	if (af_cgroup2_mount(mnt, sizeof(mnt)))
		return false;
	snprintf(dir, sizeof(dir), "%s/agentfence/", mnt);
	return !strncmp(cgroup, dir, strlen(dir));
}

static bool pins_gone(uint64_t id)
{
	char pin[PATH_MAX];

	snprintf(pin, sizeof(pin), AF_PIN_ROOT "/%llu", (unsigned long long)id);
	return access(pin, F_OK) != 0;
}

int cmd_stop(int argc, char **argv)
{
	struct af_fence_args a;
	struct af_fence_info fi;
	char why[512];
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	uint64_t id;
	int err, i;

	err = af_parse_fence_args(argc, argv, "stop", af_usage_stop, false, &a);
	if (err >= 0)
		return err;
	id = a.id;
	err = af_fence_op_daemon(a.control, "stop", id, NULL, 0, NULL);
	if (!err)
		return AF_EXIT_OK;
	if (err != -ENOENT)
		return AF_EXIT_FAIL;
	/* No daemon holds it: a run's, or an orphan. */
	err = find_fence(id, &fi);
	if (err) {
		af_err("no fence %llu on this node (agentfence status)", (unsigned long long)id);
		return AF_EXIT_FAIL;
	}
	if (!owned(fi.cgroup)) {
		af_err("fence %llu fences %s, which agentfence did not make: agentfence detach %llu",
		       (unsigned long long)id, fi.cgroup, (unsigned long long)id);
		return AF_EXIT_FAIL;
	}
	/* Killing the cgroup's tasks ends a run's command: run then takes
	 * its fence down and journals the end. An orphan has no run. */
	err = fi.cgroup_alive ? af_cgroup_destroy(fi.cgroup) : 0;
	if (err && err != -ENOENT) {
		af_err("cannot kill what runs in fence %llu (%s): %s", (unsigned long long)id,
		       fi.cgroup, strerror(-err));
		return AF_EXIT_FAIL;
	}
	for (i = 0; i < 250 && !pins_gone(id) && fi.supervisor_alive; i++)
		nanosleep(&ts, NULL);
	if (!pins_gone(id) && af_fence_detach(id, why, sizeof(why))) {
		af_err("fence %llu: cannot remove its pins: %s", (unsigned long long)id, why);
		return AF_EXIT_FAIL;
	}
	af_sup_meta_remove(id);
	return AF_EXIT_OK;
}
