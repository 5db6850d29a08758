// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attach.h"
#include "cmds.h"
#include "fences.h"
#include "fence.h"
#include "util.h"

const char af_usage_gc[] =
	"Usage: agentfence gc [OPTIONS]\n"
	"\n"
	"Remove what no fence needs: fences whose supervisor is gone and whose cgroup is\n"
	"gone or empty (an orphan of agentfence attach has its journal closed first, with\n"
	"the reason), nodes of other builds that no fence uses, and the spare ring\n"
	"buffers of this build's node's pool beyond 8 (the pool keeps its high-water mark).\n"
	"\n"
	"      --node             this build's node too, when no fence uses it: its global\n"
	"                         programs go with it (the syscall tracepoints that every\n"
	"                         process of the machine pays for while they are attached);\n"
	"                         the next fence loads it again\n"
	"  -h, --help             this text\n";

/* Orphans of attach whose container is gone: their journals are closed
 * with the reason before the fences go (af_fence_gc would remove them
 * without a word in the journal). */
static void end_orphaned_attaches(void)
{
	struct af_fence_info *v = NULL;
	struct af_attach_meta m;
	const char *reason;
	char why[512];
	size_t n = 0, i;

	if (af_fence_list(&v, &n))
		return;
	for (i = 0; i < n; i++) {
		if (v[i].supervisor_alive || af_attach_meta_read(v[i].id, &m) ||
		    !(reason = af_attach_ended(&m)))
			continue;
		if (af_attach_end_orphan(&v[i], &m, reason, why, sizeof(why))) {
			af_warn("fence %llu: close its journal: %s", (unsigned long long)v[i].id, why);
			continue;	/* af_fence_gc removes it all the same */
		}
		af_attach_meta_remove(v[i].id);
		af_sup_meta_remove(v[i].id);
		af_note("removed fence %llu: %s; its journal is closed: %s",
			(unsigned long long)v[i].id, reason, v[i].journal[0] ? v[i].journal : "(none)");
	}
	free(v);
}

int cmd_gc(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "node", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	struct af_node_info *nodes = NULL;
	bool node = false;
	size_t n = 0, i;
	int c, removed = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			node = true;
			break;
		case 'h':
			fputs(af_usage_gc, stdout);
			return AF_EXIT_OK;
		default:
			fputs(af_usage_gc, stderr);
			return AF_EXIT_USAGE;
		}
	}
	if (optind != argc) {
		af_err("unexpected argument '%s' (usage: agentfence gc [--node])", argv[optind]);
		return AF_EXIT_USAGE;
	}
	if (geteuid() != 0) {
		af_err("needs root: fences and nodes are pinned in /sys/fs/bpf (sudo agentfence gc)");
		return AF_EXIT_FAIL;
	}
	end_orphaned_attaches();
	af_fence_gc();
	if (!node && (removed = af_node_trim()) > 0)
		af_note("freed %d spare ring buffer%s of the node's pool", removed, removed == 1 ? "" : "s");
	if (node) {
		removed = af_node_gc();
		if (removed < 0) {
			af_err("remove this build's node: %s", strerror(-removed));
			return AF_EXIT_FAIL;
		}
	}
	if (af_node_list(&nodes, &n) == 0)
		for (i = 0; i < n; i++)
			af_note("node %s stays: %u fence%s use%s it", nodes[i].name, nodes[i].fences,
				nodes[i].fences == 1 ? "" : "s", nodes[i].fences == 1 ? "s" : "");
	if (node)
		af_note("removed %d node%s", removed, removed == 1 ? "" : "s");
	free(nodes);
	return AF_EXIT_OK;
}
