// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cmds.h"
#include "journal.h"
#include "json_read.h"
#include "util.h"

const char af_usage_tail[] =
	"Usage: agentfence tail --journal FILE [--follow] [--json] [--type TYPE,...] [--label L]\n"
	"\n"
	"Print the records of a fence journal, one line each: time, process, effect,\n"
	"tool-call label. Types: fence_start, exec, fork, exit, file, deny, connect,\n"
	"lost, fence_end.\n"
	"\n"
	"  -j, --journal FILE     the journal to read (the live file)\n"
	"  -f, --follow           keep reading as records arrive, like tail -f; stop after\n"
	"                         the fence_end record\n"
	"      --json             print the records as they are (JSON Lines)\n"
	"  -t, --type LIST        only records of these types (comma-separated)\n"
	"  -l, --label TEXT       only records of tool calls whose label contains TEXT\n";

struct tail_opts {
	const char *journal;
	const char *label;	/* only records whose label contains this */
	bool follow, json, color;
	char types[256];	/* ",exec,deny," or "" for all */
};

static bool wanted(const struct tail_opts *o, const char *type)
{
	char pat[64];

	if (!o->types[0])
		return true;
	snprintf(pat, sizeof(pat), ",%s,", type);
	return strstr(o->types, pat) != NULL;
}

static const char *color_of(const char *type, const char *effect)
{
	if (!strcmp(type, "deny"))
		return strncmp(effect, "would", 5) ? "\033[31m" : "\033[33m";
	if (!strcmp(type, "lost"))
		return "\033[1;33m";
	if (!strcmp(type, "exec"))
		return "\033[1m";
	if (!strncmp(type, "fence_", 6))
		return "\033[36m";
	return "";
}

/* Print one record; returns true for the fence_end record. */
static bool show(const struct tail_opts *o, const char *line, size_t len)
{
	char type[32] = "", when[40] = "", effect[4096] = "", comm[64] = "", label[256] = "";
	unsigned long long pid = 0;
	const char *col;

	if (json_get_str(line, len, "type", type, sizeof(type)))
		return false;	/* not a record: a cut line of a crashed fence */
	if (o->label)
		json_get_str(line, len, "label", label, sizeof(label));
	if (wanted(o, type) && (!o->label || strstr(label, o->label))) {
		if (o->json) {
			fwrite(line, 1, len, stdout);
			fputc('\n', stdout);
		} else {
			json_get_str(line, len, "time", when, sizeof(when));
			json_get_str(line, len, "effect", effect, sizeof(effect));
			json_get_str(line, len, "comm", comm, sizeof(comm));
			json_get_str(line, len, "label", label, sizeof(label));
			json_get_u64(line, len, "pid", &pid);
			col = o->color ? color_of(type, effect) : "";
			/* 2026-11-23T16:00:00.123456Z: show the time of day to the ms. */
			char who[24] = "";

			if (pid)
				snprintf(who, sizeof(who), "%llu", pid);
			printf("%.12s  %7s %-15s %s%s%s%s%s%s\n", strlen(when) > 11 ? when + 11 : when,
			       who, comm, col, effect, col[0] ? "\033[0m" : "", label[0] ? "  [" : "", label,
			       label[0] ? "]" : "");
		}
		fflush(stdout);
	}
	return !strcmp(type, "fence_end");
}

/* Show the complete records available; true once fence_end was shown.
 * A cut last line (a crashed writer) is no record: it is skipped. */
static bool drain(const struct tail_opts *o, struct af_lines *l)
{
	const char *line;
	size_t len;
	bool complete;

	while ((line = af_lines_next(l, &len, &complete)))
		if (complete && show(o, line, len))
			return true;
	return false;
}

static int tail_journal(const struct tail_opts *o)
{
	struct af_lines *l = af_lines_open(o->journal);
	struct stat st0, st;
	bool ended = false;

	if (!l || stat(o->journal, &st0)) {
		af_err("cannot read the journal %s: %s", o->journal, strerror(errno));
		af_lines_close(l);
		return AF_EXIT_FAIL;
	}
	if (o->follow)
		af_lines_follow(l);
	for (;;) {
		ended = drain(o, l);
		if (!o->follow || ended)
			break;
		usleep(20 * 1000);
		/* Rotation replaced the live file: the old one is read to its
		 * end above; go on with the new one from its start. */
		if (!stat(o->journal, &st) && (st.st_ino != st0.st_ino || st.st_dev != st0.st_dev)) {
			struct af_lines *n = af_lines_open(o->journal);

			af_lines_more(l);
			if (drain(o, l)) {
				af_lines_close(n);
				break;
			}
			if (n) {
				af_lines_close(l);
				l = n;
				af_lines_follow(l);
				st0 = st;
			}
			continue;
		}
		af_lines_more(l);
	}
	af_lines_close(l);
	return AF_EXIT_OK;
}

int cmd_tail(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "journal", required_argument, NULL, 'j' },
		{ "follow", no_argument, NULL, 'f' },
		{ "json", no_argument, NULL, 'J' },
		{ "type", required_argument, NULL, 't' },
		{ "label", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct tail_opts o = {};
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "j:ft:l:h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			o.journal = optarg;
			break;
		case 'f':
			o.follow = true;
			break;
		case 'J':
			o.json = true;
			break;
		case 't':
			if (snprintf(o.types, sizeof(o.types), ",%s,", optarg) >= (int)sizeof(o.types)) {
				af_err("--type: list too long");
				return AF_EXIT_USAGE;
			}
			break;
		case 'l':
			o.label = optarg;
			break;
		case 'h':
			fputs(af_usage_tail, stdout);
			return AF_EXIT_OK;
		default:
			fputs(af_usage_tail, stderr);
			return AF_EXIT_USAGE;
		}
	}
	if (!o.journal || optind < argc) {
		af_err("%s (usage: agentfence tail --journal FILE [--follow] [--json])",
		       o.journal ? "unexpected argument" : "no journal given: --journal FILE");
		return AF_EXIT_USAGE;
	}
	o.color = isatty(STDOUT_FILENO) && !getenv("NO_COLOR");
	return tail_journal(&o);
}
