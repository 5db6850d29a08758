// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmds.h"
#include "util.h"

const char af_usage_exec[] =
	"Usage: agentfence exec --label LABEL -- COMMAND [ARG...]\n"
	"\n"
	"Run COMMAND (in place: same pid, same stdio, its exit status) as one tool call\n"
	"of the agent, inside a fence: the fence's journal records LABEL on COMMAND and\n"
	"on every process it starts, by their fork lineage. A nested exec --label\n"
	"relabels its own subtree. Outside a fence, it just runs COMMAND.\n"
	"\n"
	"  -l, --label LABEL      the tool call, e.g. 'tool=Bash id=toolu_01' (printable,\n"
	"                         at most 200 bytes)\n";

/* The label travels in this process's command line, which the fence
 * reads from the kernel's exec event (bounded to 1023 bytes): keep it
 * short and early. */
#define AF_LABEL_MAX 200

bool af_exec_label(void *ctx, const char *filename, const char *argv, size_t len,
		   char *out, size_t n)
{
	const char *args[8], *base;
	struct stat self, exe;
	size_t off = 0, k = 0, i;

	(void)ctx;
	/* Whole arguments only: the kernel's copy may cut the last one (a
	 * long command after "--"), which must not cost the label. */
	while (off < len && k < ARRAY_SIZE(args)) {
		size_t n = strnlen(argv + off, len - off);

		if (n == len - off)
			break;
		args[k++] = argv + off;
		off += n + 1;
	}
	if (k < 3 || strcmp(args[1], "exec"))
		return false;
	/* This very program, by name or by identity. */
	base = strrchr(filename, '/');
	base = base ? base + 1 : filename;
	if (strcmp(base, "agentfence") &&
	    (stat("/proc/self/exe", &self) || stat(filename, &exe) ||
	     self.st_dev != exe.st_dev || self.st_ino != exe.st_ino))
		return false;
	for (i = 2; i < k && strcmp(args[i], "--"); i++) {
		if ((!strcmp(args[i], "--label") || !strcmp(args[i], "-l")) && i + 1 < k)
			return !af_strlcpy(out, args[i + 1], n);
		if (!strncmp(args[i], "--label=", 8))
			return !af_strlcpy(out, args[i] + 8, n);
		if (!strncmp(args[i], "-l", 2) && args[i][2])
			return !af_strlcpy(out, args[i] + 2, n);
	}
	return false;
}

int cmd_exec(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "label", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	const char *label = NULL, *s;
	int c, err;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+l:h", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			label = optarg;
			break;
		case 'h':
			fputs(af_usage_exec, stdout);
			return AF_EXIT_OK;
		default:
			fputs(af_usage_exec, stderr);
			return AF_EXIT_USAGE;
		}
	}
	if (!label || !label[0]) {
		af_err("no label: --label LABEL (usage: agentfence exec --label LABEL -- COMMAND)");
		return AF_EXIT_USAGE;
	}
	if (strlen(label) > AF_LABEL_MAX) {
		af_err("--label: longer than %d bytes", AF_LABEL_MAX);
		return AF_EXIT_USAGE;
	}
	for (s = label; *s; s++) {
		if ((unsigned char)*s < 0x20 || *s == 0x7f) {
			af_err("--label: control characters are not allowed");
			return AF_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		af_err("no command to run (usage: agentfence exec --label LABEL -- COMMAND)");
		return AF_EXIT_USAGE;
	}
	execvp(argv[optind], argv + optind);
	err = errno;
	af_err("cannot execute '%s': %s", argv[optind], strerror(err));
	return err == ENOENT ? AF_EXIT_NOTFOUND : AF_EXIT_NOEXEC;
}
