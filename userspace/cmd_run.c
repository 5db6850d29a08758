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
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend.h"
#include "box.h"
#include "cgroup.h"
#include "dns.h"
#include "cmds.h"
#include "events.h"
#include "fence.h"
#include "landlock.h"
#include "mountns.h"
#include "loop.h"
#include "recorder.h"
#include "spawn.h"
#include "stream.h"
#include "util.h"
#include "watch.h"
#include "../bpf/events.h"
#include "../bpf/fence.h"

const char af_usage_run[] =
	"Usage: agentfence run [OPTIONS] -- COMMAND [ARG...]\n"
	"\n"
	"Run COMMAND in a new fence, starting in the workspace: it and everything it\n"
	"starts may write only beneath the policy's writable paths. Denials are\n"
	"printed as they happen; what the command leaves running dies with the fence.\n"
	"Exits with COMMAND's exit status (128+N when killed by signal N).\n"
	"\n"
	"  -p, --policy FILE      policy to enforce (default: the built-in coding-agent policy)\n"
	"  -w, --workspace DIR    value of ${WORKSPACE} (default: the current directory)\n"
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
	"      --no-journal       write no journal\n"
	"  -q, --quiet            do not print denials nor the summary\n"
	"  -v, --verbose          debug output, libbpf's included\n";

struct run_ctx {
	struct af_recorder *rec;	/* NULL: --no-journal */
	struct af_fence *fence;		/* for the drop counter */
	bool quiet;
	unsigned long events;
	unsigned long bad_events;
};

static void print_event(void *ctx, const void *data, size_t size)
{
	struct run_ctx *rc = ctx;
	char line[PATH_MAX + 512];

	rc->events++;
	af_recorder_event(rc->rec, data, size);
	/* Drops happen when events pour in: look now and then, so that the
	 * lost record sits where the loss was. */
	if (rc->rec && rc->fence && !(rc->events & 1023))
		af_recorder_lost(rc->rec, af_fence_counter(rc->fence, AF_CNT_RB_DROP));
	/* Process and file events, allowed connects and answered lookups
	 * go to the journal only. */
	if (size < sizeof(struct af_hdr) + 8 || ((const struct af_hdr *)data)->type >= AF_EV_EXEC ||
	    ((const uint32_t *)((const struct af_hdr *)data + 1))[1] == AF_ALLOWED)
		return;
	if (af_event_format(data, size, line, sizeof(line))) {
		rc->bad_events++;
		return;
	}
	if (!rc->quiet)
		fprintf(stderr, "agentfence: %s\n", line);
}

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

/* Where the journal goes. The fenced command must not be able to edit,
 * delete or rename it, and no backend can carve a read-only file out of
 * a writable tree (Landlock cannot at all), so it must lie outside
 * every writable path. */
static int journal_path(const char *arg, const struct af_policy *p, char *out, size_t n)
{
	const char *root;
	char *dir;

	if (arg) {
		if (arg[0] == '/') {
			af_strlcpy(out, arg, n);
		} else if (!(dir = getcwd(NULL, 0)) ||
			   snprintf(out, n, "%s/%s", dir, arg) >= (int)n) {
			free(dir);
			af_err("--journal %s: path too long", arg);
			return -ENAMETOOLONG;
		} else {
			free(dir);
		}
	} else if (af_journal_default_path(out, n)) {
		af_err("no place for the journal: neither XDG_STATE_HOME nor HOME is set "
		       "(--journal FILE, or --no-journal)");
		return -ENOENT;
	}
	if (!access(out, F_OK)) {
		af_err("--journal %s exists: a journal is never appended to (choose a new file)", out);
		return -EEXIST;
	}
	root = af_policy_writable_root(p, out);
	if (root) {
		af_err("%s %s lies beneath the writable path %s, where the fenced command could "
		       "edit or delete it (--journal FILE outside the writable paths, or --no-journal)",
		       arg ? "--journal" : "the journal", out, root);
		return -EPERM;
	}
	return 0;
}

/* In the child, between fork and exec. */
static void __attribute__((noreturn))
exec_child(char **argv, const sigset_t *oldmask, const char *workspace,
	   const struct af_box *box)
{
	const char *why, *where;
	int err;

	sigprocmask(SIG_SETMASK, oldmask, NULL);
	err = af_box_session(box, &why);
	if (err) {
		fprintf(stderr, "agentfence run: cannot give the command its session: %s: %s\n",
			why, strerror(-err));
		_exit(AF_EXIT_SETUP);
	}
	/* Before the workspace is entered: its bind mount is the cwd; and
	 * before the box drops the capabilities a mount needs. */
	if (box->landlock && (err = af_mountns_enter(&why, &where))) {
		fprintf(stderr, "agentfence run: cannot make the fence's mount namespace: %s %s: %s\n",
			why, where, strerror(-err));
		_exit(AF_EXIT_SETUP);
	}
	if (chdir(workspace)) {
		fprintf(stderr, "agentfence run: cannot enter the workspace %s: %s\n",
			workspace, strerror(errno));
		_exit(AF_EXIT_SETUP);
	}
	/* Descriptors opened before the fence (other than stdio) could
	 * write outside it without meeting a hook: don't pass them. */
	syscall(SYS_close_range, 3, ~0U, 0);
	err = af_box_enter(box, &why);
	if (err) {
		fprintf(stderr, "agentfence run: cannot box the command: %s: %s\n",
			why, strerror(-err));
		_exit(AF_EXIT_SETUP);
	}
	execvp(argv[0], argv);
	err = errno;
	fprintf(stderr, "agentfence run: cannot execute '%s': %s\n", argv[0], strerror(err));
	_exit(err == ENOENT ? AF_EXIT_NOTFOUND : AF_EXIT_NOEXEC);
}

static int choose_backend(enum af_backend want, const struct af_policy *p, bool strict,
			  enum af_backend *out)
{
	const struct af_probe *pr = af_probe_kernel();
	enum af_backend best = af_backend_best(pr);
	char reason[512];

	af_probe_bpf_lsm_reason(pr, reason, sizeof(reason));
	if (!pr->cgroup2[0]) {
		af_err("no enforcement available: no cgroup2 mount in /proc/self/mountinfo "
		       "(mount -t cgroup2 none /sys/fs/cgroup)");
		return -ENOTSUP;
	}
	if (want == AF_BACKEND_NONE)
		want = best;
	if (want == AF_BACKEND_NONE) {
		af_err("no enforcement available: BPF LSM: %s; Landlock: %s (see agentfence doctor)",
		       reason, strerror(-pr->landlock_abi));
		return -ENOTSUP;
	}
	if ((want == AF_BACKEND_LSM_CGROUP && (pr->lsm_cgroup || pr->lsm_global)) ||
	    (want == AF_BACKEND_LSM && pr->lsm_global)) {
		af_err("backend %s is not available: %s (see agentfence doctor)",
		       af_backend_name(want), reason);
		return -ENOTSUP;
	}
	if (want == AF_BACKEND_LANDLOCK && pr->landlock_abi <= 0) {
		af_err("backend landlock is not available: %s", strerror(-pr->landlock_abi));
		return -ENOTSUP;
	}
	if (want == AF_BACKEND_LANDLOCK) {
		const char *gaps = af_landlock_uncovered(p, pr->landlock_abi);

		if (best == AF_BACKEND_LANDLOCK)
			af_note("BPF LSM unavailable (%s); filesystem fence via Landlock", reason);
		if (p->mode == AF_MODE_AUDIT) {
			af_err("audit mode needs a BPF LSM backend: Landlock cannot allow and report");
			return -ENOTSUP;
		}
		if (gaps[0] && strict) {
			af_err("--strict: the landlock backend does not cover: %s", gaps);
			return -ENOTSUP;
		}
		if (gaps[0])
			af_note("landlock backend does not cover: %s", gaps);
	}
	*out = want;
	return 0;
}

/* Reap every exited child: the command, and (as a subreaper) whatever
 * it left that exited since. True once the command itself is gone. */
static bool reap(pid_t child, int *status)
{
	bool gone = false;
	pid_t pid;
	int st;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		if (pid == child) {
			*status = st;
			gone = true;
		}
	}
	return gone;
}

struct wait_ctx {
	pid_t child;
	int status;
	struct af_pty *pty;
};

static int on_signal(void *ctx, int sigfd, uint32_t events)
{
	struct wait_ctx *w = ctx;
	struct signalfd_siginfo si;

	(void)events;
	if (read(sigfd, &si, sizeof(si)) != sizeof(si))
		return 0;
	if (si.ssi_signo == SIGCHLD)
		return reap(w->child, &w->status) ? 1 : 0;
	if (si.ssi_signo == SIGWINCH) {
		af_pty_winch(w->pty);
		return 0;
	}
	/* The command has a session of its own: no terminal signals it
	 * but through us. */
	kill(w->child, si.ssi_signo);
	return 0;
}

static void stream_tap(void *ctx, const char *line, size_t len)
{
	af_stream_send(ctx, line, len);
}

/* The live stream of the journal's records (tail --fence). Without it
 * the fence runs all the same: say why, go on. */
static struct af_stream *open_stream(const struct af_policy *p, struct af_recorder *rec,
				     const char *journal, char *const *argv, uint64_t id,
				     struct af_loop *loop)
{
	struct af_stream_opts so = {
		.fence_id = id,
		.journal = journal,
		.argv = argv,
		.policy = p->name,
		.next_seq = af_recorder_next_seq,
		.ctx = rec,
	};
	struct af_stream *s;
	const char *root;
	char why[512];

	/* A fenced command that could write there could put a socket of
	 * its own in the stream's place and feed tail what it likes. */
	root = af_policy_writable_root(p, AF_RUN_DIR "/x.sock");
	if (root) {
		af_note("no live stream for tail --fence: %s lies beneath the writable path %s",
			AF_RUN_DIR, root);
		return NULL;
	}
	if (af_stream_open(&so, loop, &s, why, sizeof(why))) {
		af_note("no live stream for tail --fence: %s", why);
		return NULL;
	}
	af_recorder_tap(rec, stream_tap, s);
	return s;
}

static int on_events(void *ctx, int fd, uint32_t events)
{
	struct run_ctx *rc = ctx;

	(void)fd;
	(void)events;
	af_fence_consume(rc->fence);
	/* Also when the flood is over and nothing else comes: the lost
	 * record must not wait for the next event. */
	if (rc->rec)
		af_recorder_lost(rc->rec, af_fence_counter(rc->fence, AF_CNT_RB_DROP));
	return 0;
}

int cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "policy", required_argument, NULL, 'p' },
		{ "workspace", required_argument, NULL, 'w' },
		{ "backend", required_argument, NULL, 'b' },
		{ "audit", no_argument, NULL, 'A' },
		{ "strict", no_argument, NULL, 'S' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "journal", required_argument, NULL, 'J' },
		{ "journal-max", required_argument, NULL, 'M' },
		{ "no-journal", no_argument, NULL, 'N' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	const char *policy_file = NULL, *ws_arg = ".", *journal_arg = NULL;
	char journal[PATH_MAX];
	uint64_t journal_max = 0;
	bool no_journal = false;
	enum af_backend backend = AF_BACKEND_NONE;
	char workspace[PATH_MAX], cgpath[PATH_MAX], why[1024], name[64];
	struct run_ctx rc = {};
	struct wait_ctx wc = {};
	struct af_loop *loop = NULL;
	struct af_fence *fence = NULL;
	struct af_stream *stream = NULL;
	struct af_dns *dns = NULL;
	struct af_policy *p = NULL;
	struct af_box box = {};
	struct af_watch watch = { .pid = -1, .fd = -1 };
	char watch_record[PATH_MAX + 32];
	bool audit = false, strict = false;
	int c, cgfd = -1, sigfd = -1, pidfd = -1, status = 0, ret = AF_EXIT_SETUP;
	sigset_t mask, oldmask;
	struct stat st;
	uint64_t drops;
	pid_t child;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+p:w:b:qvh", opts, NULL)) != -1) {
		switch (c) {
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
			break;
		case 'A':
			audit = true;
			break;
		case 'S':
			strict = true;
			break;
		case 'q':
			rc.quiet = true;
			break;
		case 'J':
			journal_arg = optarg;
			break;
		case 'M':
			if (parse_size(optarg, &journal_max)) {
				af_err("--journal-max '%s': not a size (4096, 512K, 64M, 1G)", optarg);
				return AF_EXIT_USAGE;
			}
			break;
		case 'N':
			no_journal = true;
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
	if (!realpath(ws_arg, workspace) || stat(workspace, &st)) {
		af_err("workspace %s: %s", ws_arg, strerror(errno));
		return AF_EXIT_USAGE;
	}
	if (!S_ISDIR(st.st_mode)) {
		af_err("workspace %s: not a directory", ws_arg);
		return AF_EXIT_USAGE;
	}
	if (geteuid() != 0)
		af_warn("not running as root: creating a cgroup and loading BPF will likely fail");
	/* Missing deny_read paths have nothing to protect: say so with -v. */
	if (af_load_policy(policy_file, workspace, af_verbose > 0, &p))
		return AF_EXIT_FAIL;
	if (audit)
		p->mode = AF_MODE_AUDIT;
	if (!no_journal && journal_path(journal_arg, p, journal, sizeof(journal))) {
		af_policy_free(p);
		return AF_EXIT_USAGE;
	}

	/* Block the signals we forward before anything exists to clean up:
	 * one that arrives during set-up waits in the signalfd and goes to
	 * the command as soon as it starts. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGQUIT);
	sigaddset(&mask, SIGWINCH);
	sigprocmask(SIG_BLOCK, &mask, &oldmask);

	af_fence_gc();
	if (choose_backend(backend, p, strict, &backend)) {
		ret = AF_EXIT_NOFENCE;
		goto out;
	}
	c = af_box_prepare(&box, p, backend == AF_BACKEND_LANDLOCK, why, sizeof(why));
	if (c) {
		af_err("cannot prepare the command's box: %s", why);
		goto out;
	}
	if (af_verbose)
		af_box_print(stderr, &box, "agentfence: box: ");
	if (backend == AF_BACKEND_LANDLOCK && (c = af_mountns_prepare(p, why, sizeof(why)))) {
		af_err("cannot plan the fence's mount namespace: %s", why);
		goto out;
	}
	snprintf(name, sizeof(name), "run-%d", getpid());
	c = af_cgroup_create(name, cgpath, sizeof(cgpath), &cgfd);
	if (c) {
		af_err("cannot create cgroup agentfence/%s: %s%s", name, strerror(-c),
		       c == -EACCES || c == -EPERM || c == -EROFS ? " (run as root)" : "");
		goto out;
	}
	/* The network fence needs no BPF LSM: with Landlock for the
	 * filesystem, the object loads for its socket programs alone. */
	if (backend != AF_BACKEND_LANDLOCK || p->has_network || !no_journal) {
		struct af_fence_opts fo = {
			.backend = backend,
			.policy = p,
			.cgroup_fd = cgfd,
			.cgroup_id = af_cgroup_id(cgpath),
			.on_event = print_event,
			.ctx = &rc,
		};

		/* Every DNS query of the fence goes to this stub: it binds
		 * first, for the programs carry its ports. */
		if (p->has_network) {
			c = af_dns_open(p, &dns, why, sizeof(why));
			if (c) {
				af_err("cannot start the DNS stub: %s", why);
				goto out;
			}
			af_dns_ports(dns, &fo.dns_port4, &fo.dns_port6);
		}
		if (!fo.cgroup_id) {
			af_err("cannot get the id of cgroup %s: %s", cgpath, strerror(errno));
			goto out;
		}
		c = af_fence_open(&fo, &fence, why, sizeof(why));
		if (c && backend == AF_BACKEND_LANDLOCK && !p->has_network) {
			/* Only the journal's process events needed it. */
			af_note("no process events in the journal: %s", why);
			fence = NULL;
		} else if (c) {
			af_err("cannot attach: %s", why);
			goto out;
		}
		rc.fence = fence;
		if (fence && af_fence_uncovered(fence)[0]) {
			if (strict) {
				af_err("--strict: this kernel's fence does not cover: %s",
				       af_fence_uncovered(fence));
				ret = AF_EXIT_NOFENCE;
				goto out;
			}
			af_note("this kernel's fence does not cover: %s", af_fence_uncovered(fence));
		}
		af_debug("fence %llu on %s via %s (watch it: agentfence tail --fence %llu --follow)",
			 (unsigned long long)fo.cgroup_id, cgpath, af_backend_name(backend),
			 (unsigned long long)fo.cgroup_id);
	}

	if (!no_journal) {
		struct af_recorder_opts ro = {
			.journal = journal,
			.rotate_bytes = journal_max,
			.policy = p,
			.policy_file = policy_file,
			.backend = backend,
			.workspace = workspace,
			.cgroup = cgpath,
			.fence_id = af_cgroup_id(cgpath),
			.argv = argv + optind,
			.process_events = fence != NULL,
			.box = af_box_json(&box),
		};

		c = af_recorder_open(&ro, &rc.rec, why, sizeof(why));
		if (c) {
			af_err("cannot write the journal: %s", why);
			goto out;
		}
	}
	loop = af_loop_new();
	if (!loop) {
		af_err("epoll: %s", strerror(errno));
		goto out;
	}
	if (dns) {
		af_dns_set_upstream_map(dns, af_fence_dns_upstream_fd(fence));
		c = af_dns_start(dns, loop, af_fence_net_allow_fd(fence), af_cgroup_id(cgpath),
				 print_event, &rc);
		if (c) {
			af_err("cannot start the DNS stub: %s", strerror(-c));
			goto out;
		}
	}
	if (rc.rec)
		stream = open_stream(p, rc.rec, journal, argv + optind, af_cgroup_id(cgpath), loop);
	sigfd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (sigfd < 0) {
		af_err("signalfd: %s", strerror(errno));
		goto out;
	}
	/* Orphans of the command come to us, not to init: we reap them
	 * when the fence comes down, so none is left a zombie. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	if (!no_journal)
		snprintf(watch_record, sizeof(watch_record), "%s.supervisor-exit", journal);
	c = af_watch_start(&watch, cgpath, af_cgroup_id(cgpath), p->on_supervisor_exit,
			   no_journal ? NULL : watch_record);
	if (c) {
		af_err("cannot start the supervisor's watcher: %s", strerror(-c));
		goto out;
	}
	fflush(NULL);
	child = af_fork_into_cgroup(cgfd, &pidfd);
	if (child < 0) {
		af_err("cannot start the command in cgroup %s: %s", cgpath, strerror(errno));
		goto out;
	}
	if (child == 0)
		exec_child(argv + optind, &oldmask, workspace, &box);
	if (pidfd >= 0)
		close(pidfd);
	if (rc.rec)
		af_recorder_root(rc.rec, child, argv + optind);
	wc.child = child;
	wc.pty = box.pty;
	c = af_pty_start(box.pty, loop);
	if (!c)
		c = af_loop_add(loop, sigfd, on_signal, &wc);
	if (!c && fence)
		c = af_loop_add(loop, af_fence_events_fd(fence), on_events, &rc);
	c = c ? c : af_loop_run(loop);
	if (c < 0)
		af_err("waiting for the command: %s", strerror(-c));
	status = wc.status;
	ret = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	if (fence) {
		af_fence_consume(fence);
		drops = af_fence_counter(fence, AF_CNT_RB_DROP);
		if (drops)
			af_warn("%llu events were lost (ring buffer full; the journal's lost records say "
				"where); denials still happened", (unsigned long long)drops);
	}
out:
	af_pty_close(box.pty);
	box.pty = NULL;
	af_loop_free(loop);
	af_dns_close(dns);
	if (sigfd >= 0)
		close(sigfd);
	/* Kill what the command left behind before the fence comes down:
	 * nothing may outlive its fence. */
	if (cgfd >= 0) {
		close(cgfd);
		c = af_cgroup_destroy(cgpath);
		if (c)
			af_err("cannot remove cgroup %s: %s", cgpath, strerror(-c));
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
	}
	/* Only now: should run die while it takes the fence down, the
	 * watcher still freezes what is left. */
	af_watch_stop(&watch);
	/* The journal ends after the fence's last process: the exits of
	 * what the command left behind are in it. */
	if (rc.rec) {
		if (fence) {
			af_fence_consume(fence);
			af_recorder_lost(rc.rec, af_fence_counter(fence, AF_CNT_RB_DROP));
		}
		c = af_recorder_close(rc.rec, ret, rc.quiet);
		if (c)
			af_err("the journal %s is incomplete: %s", journal, strerror(-c));
	}
	af_stream_close(stream);
	af_fence_close(fence);
	af_box_free(&box);
	af_policy_free(p);
	sigprocmask(SIG_SETMASK, &oldmask, NULL);
	return ret;
}
