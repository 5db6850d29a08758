// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>

#include "attach.h"
#include "cmds.h"
#include "control.h"
#include "fence.h"
#include "fences.h"
#include "util.h"

const char af_usage_detach[] =
	"Usage: agentfence detach [OPTIONS] FENCE\n"
	"\n"
	"Remove the enforcement of fence FENCE from a cgroup agentfence did not make\n"
	"(one a daemon was asked to fence): its programs and map entries go, the cgroup\n"
	"and what runs in it stay. Fences of agentfence's own cgroups are stopped\n"
	"instead (agentfence stop). A fence agentfence attach supervises in the\n"
	"foreground is detached by it (SIGTERM); an orphaned one of attach's, here,\n"
	"its journal closed first (the events the kernel kept, the gap, attach_end).\n"
	"\n"
	"      --control PATH     the daemon's control socket (default: " AF_CTL_SOCK ")\n";

/* A fence of attach's that no daemon holds: its foreground attach
 * detaches it (and journals that), or, orphaned, it is detached here,
 * its journal closed first: what the kernel kept, the gap, attach_end
 * with the reason, fence_end. 0 when it is attach's (*err: how it
 * went), -ENOENT when not. */
static int detach_attached(const char *control, uint64_t id, int *err)
{
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	struct af_fence_info *v = NULL, fi = { 0 };
	struct af_attach_meta m;
	char path[64], why[512], reason[96];
	struct stat st;
	size_t n = 0, i;
	pid_t sup = 0;
	bool alive = false;

	if (af_attach_meta_read(id, &m))
		return -ENOENT;
	if (!af_fence_list(&v, &n))
		for (i = 0; i < n; i++)
			if (v[i].id == id) {
				fi = v[i];
				sup = v[i].supervisor;
				alive = v[i].supervisor_alive;
			}
	free(v);
	snprintf(path, sizeof(path), AF_PIN_ROOT "/%llu", (unsigned long long)id);
	if (alive && sup > 0 && sup != m.attacher) {
		af_err("fence %llu is held by the daemon (pid %d), which did not answer at %s "
		       "(agentfence detach --control PATH)", (unsigned long long)id, sup,
		       control ? control : AF_CTL_SOCK);
		*err = -EBUSY;
		return 0;
	}
	if (alive && sup > 0 && !kill(sup, SIGTERM)) {
		for (i = 0; i < 250 && !stat(path, &st); i++)
			nanosleep(&ts, NULL);
		if (!stat(path, &st)) {
			af_err("fence %llu: its attach (pid %d) did not detach it in 5 s",
			       (unsigned long long)id, sup);
			*err = -ETIMEDOUT;
		} else {
			*err = 0;
		}
		return 0;
	}
	if (fi.id != id) {
		af_err("fence %llu: not found among the node's fences (agentfence status)",
		       (unsigned long long)id);
		*err = -ESRCH;
		return 0;
	}
	snprintf(reason, sizeof(reason), "detached (orphaned: its supervisor, pid %d, was gone)", sup);
	*err = af_attach_end_orphan(&fi, &m, reason, why, sizeof(why));
	if (*err) {
		af_err("fence %llu: close its journal: %s (the fence stays; agentfence daemon "
		       "adopts it, then agentfence detach --control)", (unsigned long long)id, why);
		return 0;
	}
	af_attach_meta_remove(id);
	af_sup_meta_remove(id);
	af_note("fence %llu detached (it was orphaned%s%s)", (unsigned long long)id,
		fi.journal[0] ? "; its journal is closed: " : "", fi.journal);
	return 0;
}

int cmd_detach(int argc, char **argv)
{
	struct af_fence_args a;
	int err;

	err = af_parse_fence_args(argc, argv, "detach", af_usage_detach, false, &a);
	if (err >= 0)
		return err;
	err = af_fence_op_daemon(a.control, "detach", a.id, NULL, 0, NULL);
	if (err == -ENOENT && !detach_attached(a.control, a.id, &err))
		return err ? AF_EXIT_FAIL : AF_EXIT_OK;
	if (err == -ENOENT) {
		af_err("no daemon holds fence %llu (agentfence status)", (unsigned long long)a.id);
		return AF_EXIT_FAIL;
	}
	return err ? AF_EXIT_FAIL : AF_EXIT_OK;
}
