// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>

#include "cmds.h"
#include "control.h"
#include "util.h"

const char af_usage_detach[] =
	"Usage: agentfence detach [OPTIONS] FENCE\n"
	"\n"
	"Remove the enforcement of fence FENCE from a cgroup agentfence did not make\n"
	"(one a daemon was asked to fence): its programs and map entries go, the cgroup\n"
	"and what runs in it stay. Fences of agentfence's own cgroups are stopped\n"
	"instead (agentfence stop).\n"
	"\n"
	"      --control PATH     the daemon's control socket (default: " AF_CTL_SOCK ")\n";

int cmd_detach(int argc, char **argv)
{
	struct af_fence_args a;
	int err;

	err = af_parse_fence_args(argc, argv, "detach", af_usage_detach, false, &a);
	if (err >= 0)
		return err;
	err = af_fence_op_daemon(a.control, "detach", a.id, NULL, 0, NULL);
	if (err == -ENOENT) {
		af_err("no daemon holds fence %llu (agentfence status)", (unsigned long long)a.id);
		return AF_EXIT_FAIL;
	}
	return err ? AF_EXIT_FAIL : AF_EXIT_OK;
}
