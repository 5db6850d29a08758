// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "attach.h"
#include "cmds.h"
#include "control.h"
#include "json.h"
#include "json_read.h"
#include "loop.h"
#include "run_remote.h"
#include "supervisor.h"
#include "util.h"

const char af_usage_attach[] =
	"Usage: agentfence attach (--container REF | --cgroup DIR | --pid PID) --workspace PATH\n"
	"                         [OPTIONS]\n"
	"\n"
	"Fence processes that already run, without restarting them: the fence is their\n"
	"cgroup (every process in it, and whatever they start), which agentfence did\n"
	"not make and never removes (agentfence detach FENCE takes the enforcement away\n"
	"and leaves the cgroup and its processes). With a daemon running, the daemon\n"
	"holds the fence and attach returns; without one, attach supervises it in the\n"
	"foreground until the target exits or attach gets SIGINT or SIGTERM (which\n"
	"detach). Killed otherwise, its fence stays enforced and the next daemon adopts\n"
	"it. On the landlock backend files are not fenced (Landlock cannot restrict a\n"
	"process that already runs): the network is, and everything is recorded.\n"
	"\n"
	"  -c, --container REF    a running container: its id, a unique prefix of it, or\n"
	"                         its name (docker's through dockerd's socket, else the\n"
	"                         docker CLI; ctr; the podman CLI)\n"
	"      --runtime NAME     docker, containerd or podman (default: ask each)\n"
	"      --namespace NS     containerd's namespace (default: default)\n"
	"      --cgroup DIR       a cgroup v2 directory with processes in it\n"
	"      --pid PID          the cgroup of process PID\n"
	"  -p, --policy FILE      policy to enforce (default: the built-in coding-agent policy)\n"
	"  -w, --workspace PATH   value of ${WORKSPACE}: a directory as the target sees it (its\n"
	"                         mount namespace and root: a volume, a bind mount, a path\n"
	"                         in its image); the policy's other paths are read there too\n"
	"  -b, --backend NAME     auto, lsm_cgroup, lsm or landlock (default: auto)\n"
	"      --audit            allow everything, report what enforce would deny\n"
	"      --strict           refuse when the backend cannot enforce the whole policy (on\n"
	"                         landlock: always, files cannot be fenced)\n"
	"      --journal FILE     write the journal to FILE (default: as run's)\n"
	"      --no-journal       write no journal\n"
	"      --control PATH     the daemon's control socket (default: $AGENTFENCE_CONTROL, or\n"
	"                         " AF_CTL_SOCK "; empty: never a daemon)\n"
	"  -q, --quiet            print no denials (foreground)\n"
	"  -v, --verbose          debug output, libbpf's included\n";

#define TICK_ENDED	1000	/* > any signal number af_sup_serve returns */

struct watch {
	const struct af_attach_meta *m;
	const char *reason;
};

static int on_tick(void *ctx, int fd, uint32_t events)
{
	struct watch *w = ctx;
	uint64_t n;

	(void)events;
	if (read(fd, &n, sizeof(n)) != sizeof(n))
		return 0;
	w->reason = af_attach_ended(w->m);
	return w->reason ? TICK_ENDED : 0;
}

static int read_policy(const char *file, char **out, size_t *len)
{
	char *buf = NULL;
	size_t cap = 0, n = 0, k;
	FILE *f;

	if (!file) {
		*out = strndup(af_default_policy, af_default_policy_len);
		*len = af_default_policy_len;
		return *out ? 0 : -ENOMEM;
	}
	f = fopen(file, "re");
	if (!f)
		return -errno;
	for (;;) {
		if (n + 1 >= cap) {
			char *b = cap < AF_CTL_POLICY_MAX ? realloc(buf, cap = cap ? 2 * cap : 8192) :
				  NULL;

			if (!b) {
				free(buf);
				fclose(f);
				return -EFBIG;
			}
			buf = b;
		}
		k = fread(buf + n, 1, cap - n - 1, f);
		if (!k)
			break;
		n += k;
	}
	fclose(f);
	buf[n] = 0;
	*out = buf;
	*len = n;
	return 0;
}

struct req {
	const struct af_attach_meta *m;
	const char *ws_arg;		/* as given: the daemon resolves it again */
	const char *policy, *policy_file;
	size_t policy_len;
	const char *journal, *backend;
	bool no_journal, strict, audit;
};

/* The daemon holds the fence: 0 (and the exit status in *ret), or
 * -ENOENT when no daemon answers. */
static int through_daemon(const char *control, const struct req *r, int *ret)
{
	char backend[32] = "", journal[PATH_MAX] = "", ws[PATH_MAX] = "", what[512];
	unsigned long long id = 0, dpid = 0;
	struct af_ctl_line l;
	struct af_json *w;
	char *reply = NULL;
	int err;

	w = af_ctl_line_begin(&l, "attach");
	if (!w)
		return -ENOMEM;
	af_json_strn(w, "policy", r->policy, r->policy_len);
	if (r->policy_file)
		af_json_str(w, "policy_file", r->policy_file);
	af_json_str(w, "workspace", r->ws_arg);
	af_json_str(w, "cgroup", r->m->cgroup);
	af_json_i64(w, "pid", r->m->pid);
	af_json_str(w, "home", r->m->home);
	if (r->m->container[0]) {
		af_json_str(w, "container", r->m->container);
		af_json_str(w, "container_name", r->m->name);
		af_json_str(w, "runtime", r->m->runtime);
	}
	if (r->journal)
		af_json_str(w, "journal", r->journal);
	if (r->no_journal)
		af_json_bool(w, "no_journal", true);
	if (r->backend)
		af_json_str(w, "backend", r->backend);
	if (r->strict)
		af_json_bool(w, "strict", true);
	if (r->audit)
		af_json_bool(w, "audit", true);
	if (af_ctl_line_finish(&l))
		return -ENOMEM;
	err = af_ctl_ask(control, l.buf, l.len, &reply);
	free(l.buf);
	if (err == -ENOENT || err == -ECONNREFUSED)
		return -ENOENT;
	if (err) {
		af_err("the daemon at %s: %s", control, strerror(-err));
		*ret = AF_EXIT_FAIL;
		return 0;
	}
	err = af_ctl_reply_ok(reply);
	if (err) {
		free(reply);
		*ret = err == -ENOTSUP ? AF_EXIT_NOFENCE : AF_EXIT_FAIL;
		return 0;
	}
	json_get_u64(reply, strlen(reply), "fence", &id);
	json_get_u64(reply, strlen(reply), "daemon", &dpid);
	json_get_str(reply, strlen(reply), "backend", backend, sizeof(backend));
	json_get_str(reply, strlen(reply), "journal", journal, sizeof(journal));
	json_get_str(reply, strlen(reply), "workspace", ws, sizeof(ws));
	free(reply);
	af_attach_describe(r->m, what, sizeof(what));
	printf("agentfence attach: fence %llu on %s, held by the daemon (pid %llu); backend %s, "
	       "workspace %s, journal %s\n", id, what, dpid, backend, ws,
	       journal[0] ? journal : "(none)");
	*ret = AF_EXIT_OK;
	return 0;
}

int cmd_attach(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "container", required_argument, NULL, 'c' },
		{ "runtime", required_argument, NULL, 'R' },
		{ "namespace", required_argument, NULL, 'n' },
		{ "cgroup", required_argument, NULL, 'G' },
		{ "pid", required_argument, NULL, 'P' },
		{ "policy", required_argument, NULL, 'p' },
		{ "workspace", required_argument, NULL, 'w' },
		{ "backend", required_argument, NULL, 'b' },
		{ "audit", no_argument, NULL, 'A' },
		{ "strict", no_argument, NULL, 'S' },
		{ "journal", required_argument, NULL, 'J' },
		{ "no-journal", no_argument, NULL, 'N' },
		{ "control", required_argument, NULL, 'C' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	const char *container = NULL, *cgroup = NULL, *ns = NULL, *policy_file = NULL;
	const char *ws_arg = NULL, *journal_arg = NULL, *backend_arg = NULL, *control;
	enum af_runtime rt = AF_RUNTIME_ANY;
	enum af_backend backend = AF_BACKEND_NONE;
	bool audit = false, strict = false, no_journal = false, quiet = false;
	struct af_attach_meta m;
	struct af_policy *p = NULL;
	struct af_sup *sup = NULL;
	struct af_sup_fence *f = NULL;
	char why[AF_ERR_MAX], journal[PATH_MAX], what[512], *bytes = NULL;
	unsigned long pid = 0;
	size_t len = 0;
	int c, err, ret = AF_EXIT_SETUP, targets = 0, tick = -1;

	control = af_run_control_path();
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:p:w:b:qvh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			container = optarg;
			targets++;
			break;
		case 'R':
			if (af_runtime_from_name(optarg, &rt) || rt == AF_RUNTIME_ANY) {
				af_err("--runtime '%s': not a runtime (docker, containerd, podman)", optarg);
				return AF_EXIT_USAGE;
			}
			break;
		case 'n':
			ns = optarg;
			break;
		case 'G':
			cgroup = optarg;
			targets++;
			break;
		case 'P':
			if (af_parse_ulong(optarg, 1UL << 30, &pid) || !pid) {
				af_err("--pid '%s': not a process id", optarg);
				return AF_EXIT_USAGE;
			}
			targets++;
			break;
		case 'p':
			policy_file = optarg;
			break;
		case 'w':
			ws_arg = optarg;
			break;
		case 'b':
			if (af_backend_parse(optarg, &backend)) {
				af_err("unknown backend '%s' (auto, lsm_cgroup, lsm, landlock)", optarg);
				return AF_EXIT_USAGE;
			}
			backend_arg = optarg;
			break;
		case 'A':
			audit = true;
			break;
		case 'S':
			strict = true;
			break;
		case 'J':
			journal_arg = optarg;
			break;
		case 'N':
			no_journal = true;
			break;
		case 'C':
			control = optarg[0] ? optarg : NULL;
			break;
		case 'q':
			quiet = true;
			break;
		case 'v':
			af_verbose++;
			break;
		case 'h':
			fputs(af_usage_attach, stdout);
			return AF_EXIT_OK;
		default:
			fputs(af_usage_attach, stderr);
			return AF_EXIT_USAGE;
		}
	}
	if (optind != argc) {
		af_err("unexpected argument '%s' (attach takes no command: it fences what runs)",
		       argv[optind]);
		return AF_EXIT_USAGE;
	}
	if (targets != 1) {
		af_err("%s (--container REF, --cgroup DIR or --pid PID)",
		       targets ? "one target only" : "what to attach to?");
		return AF_EXIT_USAGE;
	}
	if ((rt != AF_RUNTIME_ANY || ns) && !container) {
		af_err("--runtime and --namespace go with --container");
		return AF_EXIT_USAGE;
	}
	if (!ws_arg) {
		af_err("--workspace PATH is needed: the directory the target may write, as it sees it");
		return AF_EXIT_USAGE;
	}
	if (journal_arg && no_journal) {
		af_err("--journal and --no-journal exclude each other");
		return AF_EXIT_USAGE;
	}
	if (geteuid() != 0) {
		af_err("needs root: a fence is a cgroup with BPF programs attached, which only root "
		       "can attach");
		return AF_EXIT_NOFENCE;
	}
	why[0] = 0;
	if (container)
		err = af_attach_container(container, rt, ns, &m, why, sizeof(why));
	else if (cgroup)
		err = af_attach_cgroup(cgroup, &m, why, sizeof(why));
	else
		err = af_attach_pid((pid_t)pid, &m, why, sizeof(why));
	if (err) {
		af_err("%s", why);
		return AF_EXIT_FAIL;
	}
	if (m.container[0])
		af_note("%s container %s (%s): cgroup %s, process %d; found through %s", m.runtime,
			m.name, m.container, m.cgroup, m.pid, m.via);
	err = af_attach_workspace(&m, ws_arg, why, sizeof(why));
	if (err) {
		af_err("%s", why);
		return AF_EXIT_USAGE;
	}
	err = read_policy(policy_file, &bytes, &len);
	if (err) {
		af_err("policy %s: %s", policy_file, strerror(-err));
		return AF_EXIT_FAIL;
	}
	err = af_attach_policy(bytes, len, policy_file, &m, &p, why, sizeof(why));
	if (err) {
		af_err("%s", why);
		ret = AF_EXIT_FAIL;
		goto out;
	}
	if (audit)
		p->mode = AF_MODE_AUDIT;
	/* The daemon chooses the backend and says what it will not fence
	 * (message events, printed as ours) before it attaches. */
	if (control) {
		struct req r = {
			.m = &m, .ws_arg = ws_arg, .policy = bytes, .policy_len = len,
			.policy_file = policy_file, .journal = journal_arg, .no_journal = no_journal,
			.backend = backend_arg, .strict = strict, .audit = audit,
		};

		if (through_daemon(control, &r, &ret) != -ENOENT)
			goto out;
		af_debug("no daemon at %s: supervising in the foreground", control);
	}
	if (af_sup_open(&sup))
		goto out;
	err = af_sup_choose_backend(backend, p, false, &backend);
	if (!err && strict && backend != AF_BACKEND_LANDLOCK)
		err = af_sup_choose_backend(backend, p, true, &backend);
	if (err) {
		ret = AF_EXIT_NOFENCE;
		goto out;
	}
	/* Before anything is attached: what this fence will not do. */
	if (backend == AF_BACKEND_LANDLOCK) {
		if (strict) {
			af_err("--strict: the landlock backend cannot fence the files of processes that "
			       "already run (Landlock restricts only a process that asks it to, before "
			       "it starts); only the network would be fenced (a kernel with BPF LSM "
			       "fences files too: agentfence doctor)");
			ret = AF_EXIT_NOFENCE;
			goto out;
		}
		af_warn("files are NOT fenced: the landlock backend cannot restrict processes that "
			"already run; the network fence is enforced and every event is recorded "
			"(--strict refuses; a kernel with BPF LSM fences files too)");
	}
	if (!no_journal && af_sup_journal_path(journal_arg, p, journal, sizeof(journal))) {
		ret = AF_EXIT_USAGE;
		goto out;
	}
	{
		char *fargv[] = { "(attach)", NULL }, *tag = NULL;
		struct af_fence_spec spec = {
			.name = "attach",
			.policy = p,
			.policy_file = policy_file,
			.backend = backend,
			.strict = strict,
			.quiet = quiet,
			.journal = no_journal ? NULL : journal,
			.workspace = m.workspace,
			.argv = fargv,
			.label_of = af_exec_label,
			.cgroup = m.cgroup,
			.policy_bytes = bytes,
			.policy_len = len,
			.home = m.home,
		};

		if (af_attach_tag(&m, &tag)) {
			af_err("out of memory");
			goto out;
		}
		spec.journal_tag = tag;
		err = af_sup_fence_open(sup, &spec, &f);
		free(tag);
		if (err) {
			ret = err == AF_SUP_REFUSED ? AF_EXIT_NOFENCE : AF_EXIT_SETUP;
			f = NULL;
			goto out;
		}
	}
	m.id = af_sup_fence_id(f);
	m.attacher = getpid();
	err = af_attach_meta_write(&m);
	if (err)
		af_warn("cannot store which container fence %llu fences: %s (status will not say)",
			(unsigned long long)m.id, strerror(-err));
	err = af_attach_journal(af_sup_fence_journal(f), "attach", &m, NULL);
	if (err)
		af_warn("journal the attach: %s", strerror(-err));
	af_attach_describe(&m, what, sizeof(what));
	printf("agentfence attach: fence %llu on %s; backend %s, workspace %s, journal %s; "
	       "supervising here (SIGINT, SIGTERM or agentfence detach %llu: detach)\n",
	       (unsigned long long)m.id, what, af_backend_name(backend), m.workspace,
	       no_journal ? "(none)" : journal, (unsigned long long)m.id);
	fflush(stdout);
	{
		struct itimerspec its = { .it_interval = { 0, 200000000 }, .it_value = { 0, 200000000 } };
		struct watch w = { .m = &m };
		const char *reason;
		char sigwhy[64];
		int r;

		tick = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
		if (tick < 0 || timerfd_settime(tick, 0, &its, NULL) ||
		    af_loop_add(af_sup_loop(sup), tick, on_tick, &w)) {
			af_err("cannot watch the target: %s", strerror(errno));
			reason = "attach failed to watch its target";
			r = -EIO;
		} else {
			r = af_sup_serve(sup);
			af_loop_del(af_sup_loop(sup), tick);
		}
		if (r == TICK_ENDED) {
			reason = w.reason;
			ret = AF_EXIT_OK;
		} else if (r > 0) {
			snprintf(sigwhy, sizeof(sigwhy), "detached (signal %d to attach)", r);
			reason = sigwhy;
			ret = AF_EXIT_OK;
		} else {
			if (r != -EIO)
				af_err("event loop: %s", strerror(-r));
			reason = "attach failed: enforcement removed";
			ret = AF_EXIT_FAIL;
		}
		af_attach_journal(af_sup_fence_journal(f), "attach_end", &m, reason);
		af_attach_meta_remove(m.id);
		if (!quiet)
			af_note("fence %llu: %s", (unsigned long long)m.id, reason);
		/* Not our cgroup: closing removes the enforcement, nothing else. */
		if (af_sup_fence_close(f, r == TICK_ENDED ? -1 : 0) && ret == AF_EXIT_OK)
			ret = AF_EXIT_FAIL;
		f = NULL;
	}
out:
	if (f)
		af_sup_fence_close(f, AF_EXIT_SETUP);
	if (tick >= 0)
		close(tick);
	af_sup_close(sup);
	af_policy_free(p);
	free(bytes);
	return ret;
}
