// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmds.h"
#include "control_proto.h"
#include "daemon.h"
#include "util.h"

const char af_usage_daemon[] =
	"Usage: agentfence daemon [OPTIONS]\n"
	"\n"
	"Hold the fences of this node in one supervisor: their journals, DNS stubs and\n"
	"live streams, created, listed, updated and stopped through a control socket\n"
	"(Documentation/control.md). While it runs, agentfence run asks it for the fence.\n"
	"Orphaned fences (whose supervisor died) are adopted at start. Without\n"
	"--foreground it returns once the socket answers. SIGTERM stops it and\n"
	"releases its fences: enforced, orphaned, adopted (with a gap record) by the\n"
	"next daemon or agentfence status --adopt; agentfence stop ends a fence.\n"
	"\n"
	"      --control PATH     the control socket (default: " AF_CTL_SOCK ")\n"
	"      --group NAME       members of group NAME may use the socket too (default:\n"
	"                         root only); access is checked by SO_PEERCRED\n"
	"      --foreground       do not detach: serve until signalled\n"
	"      --no-adopt         leave orphaned fences alone at start\n"
	"  -v, --verbose          debug output, libbpf's included\n";

int cmd_daemon(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "control", required_argument, NULL, 'c' },
		{ "group", required_argument, NULL, 'g' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "no-adopt", no_argument, NULL, 'N' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct af_daemon_opts o = { .adopt = true, .ready_fd = -1 };
	bool foreground = false;
	struct group *g;
	int c, p[2], st;
	pid_t pid;
	char b;

	optind = 1;
	while ((c = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			if (optarg[0] != '/') {
				af_err("--control %s: must be an absolute path", optarg);
				return AF_EXIT_USAGE;
			}
			o.control = optarg;
			break;
		case 'g':
			g = getgrnam(optarg);
			if (!g) {
				af_err("--group %s: no such group", optarg);
				return AF_EXIT_USAGE;
			}
			o.has_group = true;
			o.group = g->gr_gid;
			break;
		case 'f':
			foreground = true;
			break;
		case 'N':
			o.adopt = false;
			break;
		case 'v':
			af_verbose++;
			break;
		case 'h':
			fputs(af_usage_daemon, stdout);
			return AF_EXIT_OK;
		default:
			fputs(af_usage_daemon, stderr);
			return AF_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		af_err("unexpected argument '%s' (see agentfence daemon --help)", argv[optind]);
		return AF_EXIT_USAGE;
	}
	if (geteuid() != 0) {
		af_err("must run as root (it makes cgroups and loads BPF)");
		return AF_EXIT_FAIL;
	}
	if (foreground)
		return af_daemon_run(&o);
	/* In the background: the parent returns once the socket answers,
	 * with the daemon's failure if it had one. */
	if (pipe2(p, O_CLOEXEC)) {
		af_err("pipe: %s", strerror(errno));
		return AF_EXIT_FAIL;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		af_err("fork: %s", strerror(errno));
		return AF_EXIT_FAIL;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);

		close(p[0]);
		setsid();
		if (null >= 0) {
			dup2(null, 0);
			dup2(null, 1);
		}
		o.ready_fd = p[1];
		_exit(af_daemon_run(&o));
	}
	close(p[1]);
	if (read(p[0], &b, 1) == 1) {
		printf("%d\n", pid);
		return AF_EXIT_OK;
	}
	/* It failed before it listened (and said why). */
	waitpid(pid, &st, 0);
	return WIFEXITED(st) && WEXITSTATUS(st) ? WEXITSTATUS(st) : AF_EXIT_FAIL;
}
