// SPDX-License-Identifier: GPL-2.0
/*
 * agentfence run, after its command line: who the command runs as and
 * what is made for that user, the policy, the box, and the choice of
 * supervisor (a running daemon holds the fence, run_remote.c, or run
 * supervises its one fence itself). cmd_run.c parses the arguments.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
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
#include "run.h"
#include "run_remote.h"
#include "supervisor.h"
#include "user.h"
#include "util.h"

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

/* The workspace, whom the command runs as, and the checks between them.
 * Returns -1 when done (user filled: af_user_free), else run's exit. */
static int run_user(const struct af_run_opts *o, char workspace[PATH_MAX], struct af_user *user)
{
	const char *ws = o->ws_arg;
	bool ws_default = false;
	char why[1024];
	struct stat st;

	if (!ws)
		ws_default = true, ws = ".";
	if (!realpath(ws, workspace) || stat(workspace, &st)) {
		af_err("workspace %s: %s", ws, strerror(errno));
		return AF_EXIT_USAGE;
	}
	if (!S_ISDIR(st.st_mode)) {
		af_err("workspace %s: not a directory", ws);
		return AF_EXIT_USAGE;
	}
	/* Unprivileged, only Landlock would be left: no network fence, no
	 * process events, a journal the command could reach. Not offered. */
	if (geteuid() != 0) {
		af_err("needs root: a fence is a cgroup with BPF programs attached, which only root "
		       "can make (sudo agentfence run ...: COMMAND still runs as you)");
		return AF_EXIT_NOFENCE;
	}
	if (af_user_resolve(o->user_arg, user, why, sizeof(why))) {
		af_err("%s", why);
		return AF_EXIT_USAGE;
	}
	if (check_workspace(workspace, ws_default ? workspace : ws, ws_default, user->home,
			    user->name)) {
		af_user_free(user);
		return AF_EXIT_USAGE;
	}
	return -1;
}

/* The remote or local choice: a running daemon holds the fence
 * (run_remote.c), else this process supervises it. Returns run's exit. */
static int run_supervised(const struct af_run_opts *o, enum af_backend backend, struct af_sup *sup,
			  struct af_policy *p,
			  const char *workspace, const char *journal, struct af_box *box)
{
	struct af_sup_fence *fence = NULL;
	char name[64], *policy_bytes = NULL;
	size_t policy_len = 0;
	int c, status = 0, ret = AF_EXIT_SETUP;
	struct child ch;

	ch = (struct child){ .argv = o->argv, .workspace = workspace, .box = box };
	{
		/* A running daemon holds the fence (run_remote.c). */
		struct af_run_remote ro = {
			.policy = p, .policy_file = o->policy_file, .workspace = workspace,
			.journal = journal, .journal_max = o->journal_max,
			.backend = backend, .strict = o->strict, .audit = o->audit, .quiet = o->quiet,
			.denials = o->denials, .argv = o->argv, .box = box, .child = exec_child, .child_ctx = &ch,
		};

		if (af_run_remote(sup, &ro, &ret) != -ENOENT)
			return ret;
	}
	snprintf(name, sizeof(name), "run-%d", getpid());
	/* Stored with the fence: a daemon that adopts it reads it again. */
	if (af_run_policy_bytes(o->policy_file, p, &policy_bytes, &policy_len))
		policy_bytes = NULL;
	{
		struct af_fence_spec spec = {
			.name = name,
			.policy = p,
			.policy_file = o->policy_file,
			.backend = backend,
			.strict = o->strict,
			.quiet = o->quiet,
			.denials = o->denials,
			.journal = journal,
			.journal_max = o->journal_max,
			.journal_keep_bytes = o->journal_keep_bytes,
			.journal_keep_days = o->journal_keep_days,
			.workspace = workspace,
			.argv = o->argv,
			.label_of = af_exec_label,
			.box = box,
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
	free(policy_bytes);
	return ret;
}

int af_run(const struct af_run_opts *o)
{
	const char *policy_file = o->policy_file, *journal_arg = o->journal_arg;
	const char *ws_arg = o->ws_arg ? o->ws_arg : ".";
	char journal[PATH_MAX], workspace[PATH_MAX];
	bool no_journal = o->no_journal, quiet = o->quiet;
	enum af_backend backend = o->backend;
	struct af_sup *sup = NULL;
	struct af_policy *p = NULL;
	struct af_box box = {};
	struct af_user user = {};
	char why[1024];
	size_t i;
	int c, ret;

	ret = run_user(o, workspace, &user);
	if (ret >= 0)
		return ret;
	ret = AF_EXIT_SETUP;
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
	if (o->audit)
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
	if (af_sup_choose_backend(backend, p, o->strict, &backend)) {
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
	ret = run_supervised(o, backend, sup, p, workspace, no_journal ? NULL : journal, &box);
out:
	af_sup_close(sup);
	af_box_free(&box);
	af_policy_free(p);
out_user:
	af_user_free(&user);
	return ret;
}
