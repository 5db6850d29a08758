// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmds.h"
#include "compile.h"
#include "policy.h"
#include "util.h"

const char af_usage_policy[] =
	"Usage: agentfence policy check [--json] [--workspace DIR] FILE\n"
	"\n"
	"Validate a policy and print it normalized: variables expanded, paths\n"
	"made absolute. Errors name FILE:LINE:COLUMN. Exit 0 when valid, 1 when not.\n"
	"\n"
	"  --json            print the normalized policy (and errors) as JSON\n"
	"  --workspace DIR   value of ${WORKSPACE} (default: the current directory)\n";

int af_load_policy(const char *file, const char *workspace, bool warnings,
		   struct af_policy **out)
{
	struct af_policy_vars vars = { .workspace = workspace, .home = getenv("HOME") };
	char err[AF_ERR_MAX];
	struct af_entries *entries;
	struct af_idents ids;
	struct af_policy *p;
	size_t i;
	int ret;

	if (file)
		ret = af_policy_load_file(file, &vars, &p, err);
	else
		ret = af_policy_load_buf(af_default_policy, af_default_policy_len,
					 "<built-in coding-agent policy>", &vars, &p, err);
	if (ret) {
		af_err("%s", err);
		return ret;
	}
	/* What only compiling finds: the limits of the kernel's maps. */
	ret = af_resolve(p, &ids);
	if (!ret) {
		ret = af_compile(p, &ids, AF_BACKEND_NONE, &entries, err);
		af_idents_free(&ids);
		af_entries_free(entries);
	} else {
		snprintf(err, sizeof(err), "%s: out of memory", p->file);
	}
	if (ret) {
		af_err("%s", err);
		af_policy_free(p);
		return ret;
	}
	/* Each warning is located and says "warning:" itself; --json
	 * output carries them in its "warnings" array. */
	for (i = 0; i < p->n_warnings && warnings && !af_json_errors; i++)
		af_note("%s", p->warnings[i]);
	*out = p;
	return 0;
}

int cmd_policy(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "workspace", required_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	char cwd[PATH_MAX];
	const char *workspace = NULL;
	struct af_policy *p;
	bool json = false;
	int c;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(af_usage_policy, argc < 2 ? stderr : stdout);
		return argc < 2 ? AF_EXIT_USAGE : AF_EXIT_OK;
	}
	if (strcmp(argv[1], "check")) {
		af_err("unknown action '%s' (try: agentfence policy check FILE)", argv[1]);
		return AF_EXIT_USAGE;
	}
	argc--;
	argv++;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+jw:h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			af_json_errors = true;
			break;
		case 'w':
			workspace = optarg;
			break;
		case 'h':
			fputs(af_usage_policy, stdout);
			return AF_EXIT_OK;
		default:
			fputs(af_usage_policy, stderr);
			return AF_EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		af_err("expected exactly one policy file (see --help)");
		return AF_EXIT_USAGE;
	}
	if (!workspace) {
		if (!getcwd(cwd, sizeof(cwd))) {
			af_err("cannot get the current directory: %s", strerror(errno));
			return AF_EXIT_FAIL;
		}
		workspace = cwd;
	}
	if (af_load_policy(argv[optind], workspace, true, &p))
		return AF_EXIT_FAIL;
	af_policy_print(stdout, p, json);
	af_policy_free(p);
	return AF_EXIT_OK;
}
