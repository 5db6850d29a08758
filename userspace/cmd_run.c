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
#include "box.h"
#include "denials.h"
#include "cmds.h"
#include "landlock.h"
#include "mountns.h"
#include "run_remote.h"
#include "supervisor.h"
#include "user.h"
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

struct child {
	char **argv;
	const char *workspace;
	const struct af_box *box;	/* its Landlock flag: the fs backend */
};

/* In the child, in the fence's cgroup, between fork and exec. */
static void __attribute__((noreturn)) exec_child(void *ctx, const sigset_t *oldmask)
{
	const struct child *c = ctx;
	char **argv = c->argv;
	const char *workspace = c->workspace, *why, *where;
	const struct af_box *box = c->box;
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

/* a beneath b, or b itself ("/" is above everything). */
static bool beneath(const char *a, const char *b)
{
	size_t n = strlen(b);

	if (!strcmp(b, "/"))
		return true;
	return !strncmp(a, b, n) && (a[n] == '/' || !a[n]);
}

/* Workspaces that make the fence a formality: everything the user owns
 * writable ("/", $HOME or above it), or the journal inside what the
 * command may reach. ws is the real path; how it was given, for the
 * message. */
static int check_workspace(const char *ws, const char *ws_arg, bool dflt, const char *home,
			   const char *user)
{
	char real_home[PATH_MAX];

	if (!strcmp(ws, "/")) {
		af_err("workspace %s: is /: the fence would let the command write everywhere it "
		       "can (--workspace DIR, a project directory)", ws_arg);
		return -EPERM;
	}
	if (!home || !home[0] || !realpath(home, real_home))
		return 0;
	if (!strcmp(real_home, "/"))
		return 0;	/* a home of "/" (daemon users): "/" is refused above */
	if (dflt && !strcmp(ws, real_home)) {
		af_err("workspace %s: the default workspace, the current directory, is the home "
		       "of %s: the fence would let the command write all of it (cd to a project "
		       "directory, or --workspace DIR)", ws, user);
		return -EPERM;
	}
	if (beneath(real_home, ws)) {
		af_err("workspace %s: %s the home of %s (%s): the fence would let the command "
		       "write all of it, dotfiles and credentials included (--workspace DIR, a "
		       "project directory)", ws_arg, strcmp(ws, real_home) ? "contains" : "is",
		       user, real_home);
		return -EPERM;
	}
	return 0;
}

/* The journal inside the workspace: the command could edit or delete
 * it once the policy lets it write there (or a later one does). */
static int check_journal_outside(const char *ws, const char *ws_arg, const char *journal)
{
	char dir[PATH_MAX], real[PATH_MAX], *slash;

	if (af_strlcpy(dir, journal, sizeof(dir)))
		return 0;
	slash = strrchr(dir, '/');
	if (slash == dir)
		dir[1] = 0;
	else if (slash)
		*slash = 0;
	if (!realpath(dir, real))
		af_strlcpy(real, dir, sizeof(real));	/* not made yet: as given */
	if (beneath(real, ws)) {
		af_err("workspace %s: contains the journal %s: the command could edit or delete its "
		       "own record (--journal FILE outside the workspace, or another workspace)",
		       ws_arg, journal);
		return -EPERM;
	}
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
	const char *policy_file = NULL, *ws_arg = NULL, *journal_arg = NULL, *user_arg = NULL;
	char journal[PATH_MAX], workspace[PATH_MAX], name[64];
	uint64_t journal_max = 0, keep_bytes = 0, keep_days = 0;
	bool no_journal = false, audit = false, strict = false, quiet = false, ws_default = false;
	enum af_denials_mode denials = AF_DENIALS_LIVE;
	enum af_backend backend = AF_BACKEND_NONE;
	struct af_sup_fence *fence = NULL;
	struct af_sup *sup = NULL;
	struct af_policy *p = NULL;
	struct af_box box = {};
	struct af_user user = {};
	char why[1024], *policy_bytes = NULL;
	size_t policy_len = 0, i;
	int c, status = 0, ret = AF_EXIT_SETUP;
	struct stat st;
	struct child ch;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+p:w:b:u:qvh", opts, NULL)) != -1) {
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
		case 'u':
			user_arg = optarg;
			break;
		case 'A':
			audit = true;
			break;
		case 'S':
			strict = true;
			break;
		case 'q':
			quiet = true;
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
		case 'K':
			if (parse_keep(optarg, &keep_bytes, &keep_days)) {
				af_err("--journal-keep '%s': not SIZE[,DAYS] (1G,90; 512M; off)", optarg);
				return AF_EXIT_USAGE;
			}
			break;
		case 'N':
			no_journal = true;
			break;
		case 'D':
			if (af_denials_parse(optarg, &denials)) {
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
	if (!ws_arg)
		ws_default = true, ws_arg = ".";
	if (!realpath(ws_arg, workspace) || stat(workspace, &st)) {
		af_err("workspace %s: %s", ws_arg, strerror(errno));
		return AF_EXIT_USAGE;
	}
	if (!S_ISDIR(st.st_mode)) {
		af_err("workspace %s: not a directory", ws_arg);
		return AF_EXIT_USAGE;
	}
	/* Unprivileged, only Landlock would be left: no network fence, no
	 * process events, a journal the command could reach. Not offered. */
	if (geteuid() != 0) {
		af_err("needs root: a fence is a cgroup with BPF programs attached, which only root "
		       "can make (sudo agentfence run ...: COMMAND still runs as you)");
		return AF_EXIT_NOFENCE;
	}
	if (af_user_resolve(user_arg, &user, why, sizeof(why))) {
		af_err("%s", why);
		return AF_EXIT_USAGE;
	}
	if (check_workspace(workspace, ws_default ? workspace : ws_arg, ws_default, user.home,
			    user.name)) {
		af_user_free(&user);
		return AF_EXIT_USAGE;
	}
	/* Before the policy: its ${HOME} is the user's. */
	if (af_user_environ(&user)) {
		af_err("cannot set the command's environment: %s", strerror(errno));
		goto out_user;
	}
	if (af_load_policy(policy_file, workspace, af_verbose > 0, &p)) {
		af_user_free(&user);
		return AF_EXIT_FAIL;
	}
	/* What policy check warns about, always: a granted capability that
	 * reaches outside, '/' writable. Not hidden by --quiet nor
	 * --no-journal. Missing deny_read paths have nothing to protect:
	 * those only with -v. */
	for (i = 0; i < p->n_warnings && !af_verbose; i++)
		if (!strstr(p->warnings[i], "; nothing to protect"))
			af_note("%s", p->warnings[i]);
	for (i = 0; i < p->n_env; i++) {
		char *eq = strchr(p->env[i], '=');

		*eq = '\0';
		c = setenv(p->env[i], eq + 1, 1);
		*eq = '=';
		if (c) {
			af_err("spec.env %s: %s", p->env[i], strerror(errno));
			goto out;
		}
	}
	if (audit)
		p->mode = AF_MODE_AUDIT;
	if (!no_journal && af_sup_journal_path(journal_arg, p, journal, sizeof(journal))) {
		af_policy_free(p);
		af_user_free(&user);
		return AF_EXIT_USAGE;
	}
	if (!no_journal && check_journal_outside(workspace, ws_arg, journal)) {
		ret = AF_EXIT_USAGE;
		goto out;
	}
	if (user.cred.set) {
		/* Root's journal directory is not the user's state. */
		unsetenv("XDG_STATE_HOME");
	} else if (!quiet) {
		if (!strcmp(user.source, "--user"))
			af_note("the command runs as root (--user root), with no capability but "
				"its policy's");
		else
			af_note("the command runs as root: agentfence was started as root, not "
				"through sudo (--user NAME runs it as NAME)");
	}
	if (af_user_check_workspace(&user, workspace, why, sizeof(why))) {
		af_err("%s", why);
		ret = AF_EXIT_USAGE;
		goto out;
	}
	if (af_user_create_paths(&user, p, why, sizeof(why))) {
		af_err("%s", why);
		goto out;
	}
	if (af_sup_open(&sup))
		goto out;
	if (af_sup_choose_backend(backend, p, strict, &backend)) {
		ret = AF_EXIT_NOFENCE;
		goto out;
	}
	c = af_box_prepare(&box, p, backend == AF_BACKEND_LANDLOCK, why, sizeof(why));
	if (c) {
		af_err("cannot prepare the command's box: %s", why);
		goto out;
	}
	box.cred = &user.cred;
	if (user.cred.set && (c = af_pty_chown(box.pty, user.cred.uid, user.cred.gid))) {
		af_err("cannot give the command's terminal to %s: %s", user.name, strerror(-c));
		goto out;
	}
	if (af_verbose) {
		af_user_format(&user, why, sizeof(why));
		af_debug("the command runs as %s, HOME %s (%s)", why, user.home, user.source);
	}
	if (af_verbose)
		af_box_print(stderr, &box, "agentfence: box: ");
	if (backend == AF_BACKEND_LANDLOCK && (c = af_mountns_prepare(p, why, sizeof(why)))) {
		af_err("cannot plan the fence's mount namespace: %s", why);
		goto out;
	}
	ch = (struct child){ .argv = argv + optind, .workspace = workspace, .box = &box };
	{
		/* A running daemon holds the fence (run_remote.c). */
		struct af_run_remote ro = {
			.policy = p, .policy_file = policy_file, .workspace = workspace,
			.journal = no_journal ? NULL : journal, .journal_max = journal_max,
			.backend = backend, .strict = strict, .audit = audit, .quiet = quiet,
			.denials = denials, .argv = argv + optind, .box = &box, .child = exec_child, .child_ctx = &ch,
		};

		if (af_run_remote(sup, &ro, &ret) != -ENOENT)
			goto out;
	}
	snprintf(name, sizeof(name), "run-%d", getpid());
	/* Stored with the fence: a daemon that adopts it reads it again. */
	if (af_run_policy_bytes(policy_file, p, &policy_bytes, &policy_len))
		policy_bytes = NULL;
	{
		struct af_fence_spec spec = {
			.name = name,
			.policy = p,
			.policy_file = policy_file,
			.backend = backend,
			.strict = strict,
			.quiet = quiet,
			.denials = denials,
			.journal = no_journal ? NULL : journal,
			.journal_max = journal_max,
			.journal_keep_bytes = keep_bytes,
			.journal_keep_days = keep_days,
			.workspace = workspace,
			.argv = argv + optind,
			.label_of = af_exec_label,
			.box = &box,
			.policy_bytes = policy_bytes,
			.policy_len = policy_len,
		};

		c = af_sup_fence_open(sup, &spec, &fence);
		if (c) {
			ret = c == AF_SUP_REFUSED ? AF_EXIT_NOFENCE : AF_EXIT_SETUP;
			goto out;
		}
	}
	if (af_sup_fence_spawn(fence, exec_child, &ch) < 0)
		goto out;
	if (!af_sup_wait(sup, fence, &status))
		ret = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
out:
	af_sup_fence_close(fence, ret);
	af_sup_close(sup);
	af_box_free(&box);
	af_policy_free(p);
	free(policy_bytes);
out_user:
	af_user_free(&user);
	return ret;
}
