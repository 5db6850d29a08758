// SPDX-License-Identifier: GPL-2.0
/* agentfence: fence autonomous agents in the kernel, per cgroup. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <bpf/libbpf.h>

#include "cmds.h"
#include "util.h"

#ifndef AF_VERSION
#define AF_VERSION "0.1.0"
#endif

struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *usage;
	const char *summary;
};

static const struct cmd cmds[] = {
	{ "run", cmd_run, af_usage_run, "run a command inside a new fence" },
	{ "policy", cmd_policy, af_usage_policy, "check a policy and print it normalized" },
	{ "doctor", cmd_doctor, af_usage_doctor, "say which enforcement this kernel gives, and why" },
	{ "log", cmd_log, af_usage_log, "verify the hash chain of fence journals" },
	{ "tail", cmd_tail, af_usage_tail, "show a fence journal's records, or follow them" },
	{ "exec", cmd_exec, af_usage_exec, "run a command as a labelled tool call of a fenced agent" },
	{ "hook", cmd_hook, af_usage_hook, "an agent's PreToolUse hook: label its shell tool calls" },
	{ "daemon", cmd_daemon, af_usage_daemon, "hold the node's fences behind a control socket" },
	{ "status", cmd_status, af_usage_status, "list every fence on the node" },
	{ "stop", cmd_stop, af_usage_stop, "kill what runs in a fence and remove it" },
	{ "update", cmd_update, af_usage_update, "swap a fence's policy atomically" },
	{ "attach", cmd_attach, af_usage_attach, "fence processes that already run (a container)" },
	{ "detach", cmd_detach, af_usage_detach, "remove enforcement from a cgroup agentfence did not make" },
	{ "gc", cmd_gc, af_usage_gc, "remove what no fence needs (--node: this build's idle node)" },
};

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "Usage: agentfence [-v] COMMAND [ARGS...]\n"
		   "       agentfence COMMAND --help\n\nCommands:\n");
	for (i = 0; i < ARRAY_SIZE(cmds); i++)
		fprintf(f, "  %-8s %s\n", cmds[i].name, cmds[i].summary);
	fprintf(f, "\n  -v, --verbose   debug output, libbpf's included\n"
		   "  --version       print the version\n\nSee agentfence(1).\n");
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG && af_verbose < 2)
		return 0;
	if (!af_verbose)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

int main(int argc, char **argv)
{
	size_t i;

	libbpf_set_print(libbpf_print);
	while (argc > 1 && (!strcmp(argv[1], "-v") || !strcmp(argv[1], "--verbose"))) {
		af_verbose++;
		argc--;
		argv++;
	}
	if (argc < 2) {
		usage(stderr);
		return AF_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return AF_EXIT_OK;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("agentfence %s\n", AF_VERSION);
		return AF_EXIT_OK;
	}
	for (i = 0; i < ARRAY_SIZE(cmds); i++) {
		if (!strcmp(argv[1], cmds[i].name)) {
			af_cmd = cmds[i].name;
			return cmds[i].fn(argc - 1, argv + 1);
		}
	}
	af_err("unknown command '%s' (see agentfence --help)", argv[1]);
	return AF_EXIT_USAGE;
}
