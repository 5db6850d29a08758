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
	static const struct option opts[] = {
		{ "control", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	const char *control = NULL;
	uint64_t id;
	int c, err;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			control = optarg;
			break;
		case 'h':
			fputs(af_usage_detach, stdout);
			return AF_EXIT_OK;
		default:
			fputs(af_usage_detach, stderr);
			return AF_EXIT_USAGE;
		}
	}
	if (optind + 1 != argc) {
		af_err("one fence id expected (usage: agentfence detach [OPTIONS] FENCE)");
		return AF_EXIT_USAGE;
	}
	if (af_parse_fence_id(argv[optind], &id))
		return AF_EXIT_USAGE;
	err = af_fence_op_daemon(control, "detach", id, NULL, 0, NULL);
	if (err == -ENOENT) {
		af_err("no daemon holds fence %llu (agentfence status)", (unsigned long long)id);
		return AF_EXIT_FAIL;
	}
	return err ? AF_EXIT_FAIL : AF_EXIT_OK;
}
