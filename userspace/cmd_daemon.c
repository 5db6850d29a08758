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
#include "k8s.h"
#include "metrics.h"
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
	"      --kubernetes       fence this node's pods annotated agentfence.io/policy\n"
	"                         (Documentation/kubernetes.md): watched through the API\n"
	"                         server, policies from ConfigMaps labelled\n"
	"                         agentfence.io/policy (key policy.yaml); a missing or\n"
	"                         invalid policy fences the pod deny-all, with an Event\n"
	"      --kubeconfig FILE  the API server and credentials (default: $KUBECONFIG,\n"
	"                         else the pod's service account)\n"
	"      --node NAME        this node's name (default: $NODE_NAME, else the host name)\n"
	"      --namespace NS     the policies' ConfigMaps' namespace (default: agentfence)\n"
	"      --journal-dir DIR  the pods' journals (default: " AF_K8S_JOURNAL_DIR ")\n"
	"      --listen ADDR:PORT serve /metrics (Prometheus), /healthz and /readyz over\n"
	"                         HTTP: :PORT (every IPv4 address), IPV4:PORT or\n"
	"                         [IPV6]:PORT, e.g. --listen :9464 or 127.0.0.1:9464\n"
	"      --json-lines       write every journal record also as one JSON line on\n"
	"                         stdout, for log collectors (with --foreground; on by\n"
	"                         default with --kubernetes --foreground); a stdout that\n"
	"                         is not read fast enough loses lines, counted, never\n"
	"                         records: the journals have them all\n"
	"      --no-json-lines    not even with --kubernetes\n"
	"  -v, --verbose          debug output, libbpf's included\n";

int cmd_daemon(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "control", required_argument, NULL, 'c' },
		{ "group", required_argument, NULL, 'g' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "no-adopt", no_argument, NULL, 'N' },
		{ "kubernetes", no_argument, NULL, 'K' },
		{ "kubeconfig", required_argument, NULL, 'C' },
		{ "node", required_argument, NULL, 'n' },
		{ "namespace", required_argument, NULL, 's' },
		{ "journal-dir", required_argument, NULL, 'j' },
		{ "listen", required_argument, NULL, 'l' },
		{ "json-lines", no_argument, NULL, 'J' },
		{ "no-json-lines", no_argument, NULL, 'O' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct af_daemon_opts o = { .adopt = true, .ready_fd = -1 };
	struct af_k8s_opts k8s = {};
	bool foreground = false, kube = false;
	int json_lines = -1;		/* -1: the default */
	struct sockaddr_storage ss;
	socklen_t sl;
	char why[256];
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
		case 'K':
			kube = true;
			break;
		case 'C':
			k8s.kubeconfig = optarg;
			break;
		case 'n':
			k8s.node = optarg;
			break;
		case 's':
			k8s.namespace = optarg;
			break;
		case 'j':
			if (optarg[0] != '/') {
				af_err("--journal-dir %s: must be an absolute path", optarg);
				return AF_EXIT_USAGE;
			}
			k8s.journal_dir = optarg;
			break;
		case 'l':
			if (af_metrics_parse_listen(optarg, &ss, &sl, why, sizeof(why))) {
				af_err("--listen %s: %s", optarg, why);
				return AF_EXIT_USAGE;
			}
			o.listen = optarg;
			break;
		case 'J':
			json_lines = 1;
			break;
		case 'O':
			json_lines = 0;
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
	if (!kube && (k8s.kubeconfig || k8s.node || k8s.namespace || k8s.journal_dir)) {
		af_err("--kubeconfig, --node, --namespace and --journal-dir go with --kubernetes");
		return AF_EXIT_USAGE;
	}
	if (json_lines == 1 && !foreground) {
		af_err("--json-lines goes with --foreground (in the background stdout is /dev/null)");
		return AF_EXIT_USAGE;
	}
	o.json_lines = json_lines == 1 || (json_lines == -1 && kube && foreground);
	if (kube)
		o.k8s = &k8s;
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
