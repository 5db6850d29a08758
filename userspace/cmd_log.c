// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmds.h"
#include "journal.h"
#include "json.h"
#include "util.h"

/* Exit status of log verify when every chain is intact but one ends
 * without its fence_end record or with a cut line (documented). */
#define AF_EXIT_INCOMPLETE 4

const char af_usage_log[] =
	"Usage: agentfence log verify [--json] FILE...\n"
	"\n"
	"Check the hash chain of each journal: every record's own hash, its seq and its\n"
	"link to the previous record, through the rotated FILE.N.gz files in order, then\n"
	"FILE. Reports the first broken record and why (edited, deleted, reordered,\n"
	"truncated). A rotated file names the journal it belongs to.\n"
	"Exit status: 0 intact, 1 broken (or unreadable), 4 intact but incomplete (no\n"
	"fence_end record, or a cut last line: the fence is running or crashed).\n"
	"\n"
	"      --json             one JSON object per journal on standard output\n";

static void report(const char *base, const struct af_verify *v, bool json)
{
	static const char *const status[] = { "intact", "broken", "incomplete" };

	if (json) {
		printf("{\"journal\":");
		json_str(stdout, base);
		printf(",\"status\":\"%s\",\"records\":%llu,\"files\":%u,\"head\":\"%s\"",
		       status[v->status], (unsigned long long)v->records, v->files, v->head);
		if (v->first_seq)
			printf(",\"first_seq\":%llu", (unsigned long long)v->first_seq);
		if (v->status != AF_VERIFY_INTACT) {
			printf(",\"seq\":%llu,\"file\":", (unsigned long long)v->bad_seq);
			json_str(stdout, v->file);
			printf(",\"line\":%lu,\"why\":", v->line);
			json_str(stdout, v->why);
		}
		printf("}\n");
		return;
	}
	if (v->status == AF_VERIFY_INTACT) {
		printf("%s: intact: %llu records in %u file%s, head %s", base,
		       (unsigned long long)v->records, v->files, v->files == 1 ? "" : "s", v->head);
		if (v->first_seq)
			printf(" (seq 0 to %llu removed by retention, as the journal says)",
			       (unsigned long long)v->first_seq - 1);
		printf("\n");
		return;
	}
	printf("%s: %s at seq %llu (%s line %lu): %s\n", base, status[v->status],
	       (unsigned long long)v->bad_seq, v->file, v->line, v->why);
}

static int verify(int argc, char **argv, bool json)
{
	char (*seen)[PATH_MAX] = calloc(argc, sizeof(*seen));
	int i, k, nseen = 0, ret = AF_EXIT_OK;

	if (!seen)
		return AF_EXIT_FAIL;
	for (i = 0; i < argc; i++) {
		struct af_verify v;

		af_journal_base(argv[i], seen[nseen], sizeof(seen[nseen]));
		for (k = 0; k < nseen && strcmp(seen[k], seen[nseen]); k++)
			;
		if (k < nseen)
			continue;	/* FILE and FILE.1.gz are one journal */
		af_journal_verify(seen[nseen], &v);
		report(seen[nseen], &v, json);
		if (v.status == AF_VERIFY_BROKEN)
			ret = AF_EXIT_FAIL;
		else if (v.status == AF_VERIFY_INCOMPLETE && ret == AF_EXIT_OK)
			ret = AF_EXIT_INCOMPLETE;
		nseen++;
	}
	free(seen);
	return ret;
}

/* Returns -1 to go on, else the exit status (--help, bad option). */
static int parse_opts(int argc, char **argv, bool *json)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+jh", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			*json = true;
			break;
		case 'h':
			fputs(af_usage_log, stdout);
			return AF_EXIT_OK;
		default:
			fputs(af_usage_log, stderr);
			return AF_EXIT_USAGE;
		}
	}
	return -1;
}

int cmd_log(int argc, char **argv)
{
	bool json = false;
	int ret;

	ret = parse_opts(argc, argv, &json);
	if (ret >= 0)
		return ret;
	if (optind >= argc) {
		af_err("no subcommand (usage: agentfence log verify FILE...)");
		return AF_EXIT_USAGE;
	}
	if (strcmp(argv[optind], "verify")) {
		af_err("unknown subcommand '%s' (usage: agentfence log verify FILE...)", argv[optind]);
		return AF_EXIT_USAGE;
	}
	/* Options may follow the subcommand too: log verify --json FILE. */
	argc -= optind;
	argv += optind;
	ret = parse_opts(argc, argv, &json);
	if (ret >= 0)
		return ret;
	if (optind >= argc) {
		af_err("no journal to verify (usage: agentfence log verify FILE...)");
		return AF_EXIT_USAGE;
	}
	return verify(argc - optind, argv + optind, json);
}
