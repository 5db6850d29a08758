// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend.h"
#include "denials.h"
#include "cmds.h"
#include "recorder.h"
#include "run.h"
#include "util.h"

const char af_usage_run[] =
	"Usage: agentfence run [OPTIONS] -- COMMAND [ARG...]\n"
	"\n"
	"Run COMMAND in a new fence, starting in the workspace: it and everything it\n"
	"starts may write only beneath the policy's writable paths. Denials are\n"
	"printed as they happen; what the command leaves running dies with the fence.\n"
	"Exits with COMMAND's exit status (128+N when killed by signal N).\n"
	"\n"
	"  -p, --policy FILE      policy to enforce (default: the built-in coding-agent policy)\n"
	"  -w, --workspace DIR    value of ${WORKSPACE} (default: the current directory);\n"
	"                         not /, the user's home or above it, nor a directory\n"
	"                         holding the journal\n"
	"  -u, --user NAME|UID    run COMMAND as this user, with its groups and HOME\n"
	"                         (default: the user who ran sudo, from SUDO_UID; root only\n"
	"                         with --user root, or when started as root without sudo)\n"
	"  -b, --backend NAME     auto, lsm_cgroup, lsm or landlock (default: auto, the best\n"
	"                         this kernel has; see agentfence doctor)\n"
	"      --audit            allow everything, report what enforce would deny\n"
	"      --strict           refuse to run when the backend cannot enforce the whole policy\n"
	"      --journal FILE     write the journal to FILE, which must lie outside the\n"
	"                         writable paths (default: $XDG_STATE_HOME/agentfence/\n"
	"                         TIME-PID.jsonl; when XDG_STATE_HOME is unset, root's go to\n"
	"                         /var/log/agentfence, other users' to ~/.local/state)\n"
	"      --journal-max SIZE rotate the journal at SIZE bytes (suffix K, M or G;\n"
	"                         default 64M); rotated files are gzip-compressed\n"
	"      --journal-keep SIZE[,DAYS]\n"
	"                         bound the journal's directory (default 1G,90): after a\n"
	"                         rotation, the oldest finished journals there, then this\n"
	"                         one's oldest rotated files, are removed while the\n"
	"                         journals take more than SIZE or are older than DAYS\n"
	"                         (never a live file; journaled); 0 or off: no bound\n"
	"      --no-journal       write no journal (denials and policy warnings are still\n"
	"                         printed)\n"
	"  -q, --quiet            do not print denials nor the summary (policy warnings\n"
	"                         are still printed)\n"
	"      --denials MODE     how denials reach stderr: live (default: a line as each\n"
	"                         happens; the same denial again within 3s is counted, its\n"
	"                         count printed after), summary (one line per distinct\n"
	"                         denial, with its count, when COMMAND ends: for full-screen\n"
	"                         agents, whose terminal live lines would cut into), off\n"
	"  -v, --verbose          debug output, libbpf's included\n";

/* "4096", "512K", "64M", "1G". */
static int parse_size(const char *s, uint64_t *out)
{
	unsigned long long v;
	unsigned int shift = 0;
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	switch (*end) {
	case 'K': shift = 10; end++; break;
	case 'M': shift = 20; end++; break;
	case 'G': shift = 30; end++; break;
	}
	if (v > ULLONG_MAX >> shift)
		return -ERANGE;
	v <<= shift;
	if (*end || v < 4096)
		return -EINVAL;
	*out = v;
	return 0;
}

/* --journal-keep SIZE[,DAYS] | off: 0 in either place turns that bound
 * off (AF_KEEP_OFF); what is not said keeps its default (0). */
static int parse_keep(const char *s, uint64_t *bytes, uint64_t *days)
{
	char size[64], *comma;
	unsigned long d;

	if (!strcmp(s, "off")) {
		*bytes = *days = AF_KEEP_OFF;
		return 0;
	}
	if (af_strlcpy(size, s, sizeof(size)))
		return -EINVAL;
	comma = strchr(size, ',');
	if (comma) {
		*comma = 0;
		if (af_parse_ulong(comma + 1, 36500, &d))
			return -EINVAL;
		*days = d ? d : AF_KEEP_OFF;
	}
	if (!strcmp(size, "0"))
		*bytes = AF_KEEP_OFF;
	else if (parse_size(size, bytes))
		return -EINVAL;
	return 0;
}

int cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "policy", required_argument, NULL, 'p' },
		{ "workspace", required_argument, NULL, 'w' },
		{ "backend", required_argument, NULL, 'b' },
		{ "user", required_argument, NULL, 'u' },
		{ "audit", no_argument, NULL, 'A' },
		{ "strict", no_argument, NULL, 'S' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "journal", required_argument, NULL, 'J' },
		{ "journal-max", required_argument, NULL, 'M' },
		{ "journal-keep", required_argument, NULL, 'K' },
		{ "no-journal", no_argument, NULL, 'N' },
		{ "denials", required_argument, NULL, 'D' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct af_run_opts o = { .denials = AF_DENIALS_LIVE, .backend = AF_BACKEND_NONE };
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+p:w:b:u:qvh", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			o.policy_file = optarg;
			break;
		case 'w':
			o.ws_arg = optarg;
			break;
		case 'b':
			if (af_backend_parse(optarg, &o.backend)) {
				af_err("unknown backend '%s' (auto, lsm_cgroup, lsm, landlock)", optarg);
				return AF_EXIT_USAGE;
			}
			break;
		case 'u':
			o.user_arg = optarg;
			break;
		case 'A':
			o.audit = true;
			break;
		case 'S':
			o.strict = true;
			break;
		case 'q':
			o.quiet = true;
			break;
		case 'J':
			o.journal_arg = optarg;
			break;
		case 'M':
			if (parse_size(optarg, &o.journal_max)) {
				af_err("--journal-max '%s': not a size (4096, 512K, 64M, 1G)", optarg);
				return AF_EXIT_USAGE;
			}
			break;
		case 'K':
			if (parse_keep(optarg, &o.journal_keep_bytes, &o.journal_keep_days)) {
				af_err("--journal-keep '%s': not SIZE[,DAYS] (1G,90; 512M; off)", optarg);
				return AF_EXIT_USAGE;
			}
			break;
		case 'N':
			o.no_journal = true;
			break;
		case 'D':
			if (af_denials_parse(optarg, &o.denials)) {
				af_err("--denials '%s': not a mode (live, summary, off)", optarg);
				return AF_EXIT_USAGE;
			}
			break;
		case 'v':
			af_verbose++;
			break;
		case 'h':
			fputs(af_usage_run, stdout);
			return AF_EXIT_OK;
		default:
			fputs(af_usage_run, stderr);
			return AF_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		af_err("no command to run (usage: agentfence run [OPTIONS] -- COMMAND [ARG...])");
		return AF_EXIT_USAGE;
	}
	o.argv = argv + optind;
	return af_run(&o);
}
