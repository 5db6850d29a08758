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
	struct af_fence_args a;
	char *buf = NULL;
	size_t len = 0;
	int err;

	err = af_parse_fence_args(argc, argv, "update", af_usage_update, true, &a);
	if (err >= 0)
		return err;
	err = read_file(a.policy, &buf, &len);
	if (err) {
		af_err("--policy %s: %s", a.policy, strerror(-err));
		return AF_EXIT_FAIL;
	}
	err = af_fence_op_daemon(a.control, "update", a.id, buf, len, a.policy);
	free(buf);
	if (err == -ENOENT) {
		af_err("no daemon holds fence %llu: only the supervisor that holds a fence can swap "
		       "its policy (agentfence status)", (unsigned long long)a.id);
		return AF_EXIT_FAIL;
	}
	return err ? AF_EXIT_FAIL : AF_EXIT_OK;
}
