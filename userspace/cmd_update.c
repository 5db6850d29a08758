// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmds.h"
#include "control.h"
#include "util.h"

const char af_usage_update[] =
	"Usage: agentfence update [OPTIONS] FENCE --policy FILE\n"
	"\n"
	"Replace the policy of fence FENCE, held by the daemon, with FILE: compiled and\n"
	"swapped at once (no moment where neither or both apply), journaled with both\n"
	"policies' hashes. On failure the old policy stays in force.\n"
	"\n"
	"  -p, --policy FILE      the new policy (its ${WORKSPACE} is the fence's)\n"
	"      --control PATH     the daemon's control socket (default: " AF_CTL_SOCK ")\n";

static int read_file(const char *path, char **out, size_t *len)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t cap = 0, n = 0, k;

	if (!f)
		return -errno;
	for (;;) {
		if (n + 4096 > cap) {
			char *b = realloc(buf, cap = cap ? 2 * cap : 8192);

			if (!b || cap > (1 << 20)) {
				free(b ? b : buf);
				fclose(f);
				return b ? -EFBIG : -ENOMEM;
			}
			buf = b;
		}
		k = fread(buf + n, 1, cap - n, f);
		n += k;
		if (!k)
			break;
	}
	fclose(f);
	*out = buf;
	*len = n;
	return 0;
}

int cmd_update(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "policy", required_argument, NULL, 'p' },
		{ "control", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	const char *control = NULL, *file = NULL;
	char *buf = NULL;
	size_t len = 0;
	uint64_t id;
	int c, err;

	optind = 1;
	while ((c = getopt_long(argc, argv, "p:h", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			file = optarg;
			break;
		case 'c':
			control = optarg;
			break;
		case 'h':
			fputs(af_usage_update, stdout);
			return AF_EXIT_OK;
		default:
			fputs(af_usage_update, stderr);
			return AF_EXIT_USAGE;
		}
	}
	if (optind + 1 != argc || !file) {
		af_err("a fence id and --policy FILE expected (usage: agentfence update FENCE --policy FILE)");
		return AF_EXIT_USAGE;
	}
	if (af_parse_fence_id(argv[optind], &id))
		return AF_EXIT_USAGE;
	err = read_file(file, &buf, &len);
	if (err) {
		af_err("--policy %s: %s", file, strerror(-err));
		return AF_EXIT_FAIL;
	}
	err = af_fence_op_daemon(control, "update", id, buf, len, file);
	free(buf);
	if (err == -ENOENT) {
		af_err("no daemon holds fence %llu: only the supervisor that holds a fence can swap "
		       "its policy (agentfence status)", (unsigned long long)id);
		return AF_EXIT_FAIL;
	}
	return err ? AF_EXIT_FAIL : AF_EXIT_OK;
}
