// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "user.h"
#include "util.h"

static int from_passwd(const struct passwd *pw, struct af_user *u, char *why, size_t n)
{
	int ng = 32;
	gid_t *g = NULL, *ng_buf;

	if (af_strlcpy(u->name, pw->pw_name, sizeof(u->name)) ||
	    af_strlcpy(u->home, pw->pw_dir, sizeof(u->home)) ||
	    af_strlcpy(u->shell, pw->pw_shell && pw->pw_shell[0] ? pw->pw_shell : "/bin/sh",
		       sizeof(u->shell))) {
		snprintf(why, n, "user %s: name, home or shell too long", pw->pw_name);
		return -ENAMETOOLONG;
	}
	if (pw->pw_dir[0] != '/') {
		snprintf(why, n, "user %s: home directory '%s' is not absolute", pw->pw_name,
			 pw->pw_dir);
		return -EINVAL;
	}
	/* initgroups(3)'s list, read here: the child may not read files. */
	for (;;) {
		ng_buf = realloc(g, ng * sizeof(*g));
		if (!ng_buf) {
			free(g);
			snprintf(why, n, "out of memory");
			return -ENOMEM;
		}
		g = ng_buf;
		if (getgrouplist(pw->pw_name, pw->pw_gid, g, &ng) >= 0)
			break;
		if (ng > 65536) {
			free(g);
			snprintf(why, n, "user %s: too many groups", pw->pw_name);
			return -E2BIG;
		}
	}
	u->cred.uid = pw->pw_uid;
	u->cred.gid = pw->pw_gid;
	u->cred.groups = g;
	u->cred.ngroups = (size_t)ng;
	u->cred.set = pw->pw_uid != 0;
	return 0;
}

int af_user_resolve(const char *arg, struct af_user *u, char *why, size_t n)
{
	const char *sudo_uid = getenv("SUDO_UID"), *sudo_gid = getenv("SUDO_GID");
	unsigned long id;
	struct passwd *pw;
	int err;

	memset(u, 0, sizeof(*u));
	if (arg) {
		u->source = "--user";
		errno = 0;
		pw = getpwnam(arg);
		if (!pw && !af_parse_ulong(arg, (uid_t)-2, &id))
			pw = getpwuid((uid_t)id);
		if (!pw) {
			snprintf(why, n, "--user %s: %s", arg,
				 errno ? strerror(errno) : "no such user in the passwd database");
			return errno ? -errno : -ENOENT;
		}
		return from_passwd(pw, u, why, n);
	}
	if (sudo_uid && !af_parse_ulong(sudo_uid, (uid_t)-2, &id) && id != 0) {
		u->source = "sudo";
		errno = 0;
		pw = getpwuid((uid_t)id);
		if (!pw) {
			snprintf(why, n, "SUDO_UID %s: %s (--user NAME)", sudo_uid,
				 errno ? strerror(errno) : "no such user in the passwd database");
			return errno ? -errno : -ENOENT;
		}
		err = from_passwd(pw, u, why, n);
		/* sudo's word for the group it was started with wins over
		 * the passwd entry's (sg, newgrp). */
		if (!err && sudo_gid && !af_parse_ulong(sudo_gid, (gid_t)-2, &id))
			u->cred.gid = (gid_t)id;
		return err;
	}
	u->source = "root";
	pw = getpwuid(0);
	if (!pw) {
		snprintf(why, n, "uid 0: no passwd entry");
		return -ENOENT;
	}
	err = from_passwd(pw, u, why, n);
	/* Root's environment is what it is: keep HOME as given. */
	return err;
}

int af_user_environ(const struct af_user *u)
{
	static const char *const sudo_vars[] = {
		"SUDO_UID", "SUDO_GID", "SUDO_USER", "SUDO_COMMAND", "SUDO_HOME",
	};
	size_t i;

	/* Started as root, not through sudo: the environment is root's own. */
	if (!strcmp(u->source, "root"))
		return 0;
	if (setenv("HOME", u->home, 1) || setenv("USER", u->name, 1) ||
	    setenv("LOGNAME", u->name, 1) || setenv("SHELL", u->shell, 1))
		return -errno;
	for (i = 0; i < ARRAY_SIZE(sudo_vars); i++)
		unsetenv(sudo_vars[i]);
	/* Root's own places, which sudo may have left: the user's are
	 * found from HOME. */
	if (u->cred.set) {
		unsetenv("XDG_CONFIG_HOME");
		unsetenv("XDG_CACHE_HOME");
		unsetenv("XDG_DATA_HOME");
		unsetenv("XDG_RUNTIME_DIR");
		unsetenv("MAIL");
	}
	return 0;
}

void af_user_format(const struct af_user *u, char *buf, size_t n)
{
	size_t off, i;
	int k;

	k = snprintf(buf, n, "%s (uid %u, gid %u", u->name, (unsigned)u->cred.uid,
		     (unsigned)u->cred.gid);
	off = k > 0 ? (size_t)k : 0;
	for (i = 0; i < u->cred.ngroups && off + 16 < n; i++) {
		k = snprintf(buf + off, n - off, "%s%u", i ? "," : ", groups ",
			     (unsigned)u->cred.groups[i]);
		off += k > 0 ? (size_t)k : 0;
	}
	if (off + 2 <= n)
		snprintf(buf + off, n - off, ")");
}

/* In a child with the user's ids: fn(arg), its -errno as the status. */
static int as_user(const struct af_user *u, int (*fn)(const void *arg), const void *arg)
{
	int status, err;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		if (u->cred.set &&
		    (syscall(SYS_setgroups, u->cred.ngroups, u->cred.groups) ||
		     syscall(SYS_setresgid, u->cred.gid, u->cred.gid, u->cred.gid) ||
		     syscall(SYS_setresuid, u->cred.uid, u->cred.uid, u->cred.uid)))
			_exit(100 + (errno & 0x3f));
		umask(077);
		err = fn(arg);
		_exit(err ? -err : 0);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(status) ? -WEXITSTATUS(status) : -EIO;
}

static int can_enter(const void *dir)
{
	return access(dir, R_OK | X_OK) ? -errno : 0;
}

int af_user_check_workspace(const struct af_user *u, const char *dir, char *why, size_t n)
{
	int err;

	if (!u->cred.set)
		return 0;
	err = as_user(u, can_enter, dir);
	if (err)
		snprintf(why, n, "the workspace %s is not open to %s: %s (--workspace DIR, or --user)",
			 dir, u->name, strerror(-err >= 100 ? -err - 100 : -err));
	return err;
}

/* mkdir -p of path as the calling (already switched) process; the
 * last component a file when file is set. */
static int make_path(const char *path, bool file)
{
	char buf[PATH_MAX], *s;
	int fd;

	if (af_strlcpy(buf, path, sizeof(buf)))
		return -ENAMETOOLONG;
	for (s = buf + 1; (s = strchr(s, '/')); s++) {
		*s = '\0';
		if (mkdir(buf, 0700) && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	if (file) {
		fd = open(buf, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0)
			return errno == EEXIST ? 0 : -errno;
		close(fd);
		return 0;
	}
	if (mkdir(buf, 0700) && errno != EEXIST)
		return -errno;
	return 0;
}

struct make_arg {
	const char *path;
	bool file;
};

static int make_one(const void *arg)
{
	const struct make_arg *m = arg;

	return make_path(m->path, m->file);
}

int af_user_create_paths(const struct af_user *u, struct af_policy *p, char *why, size_t n)
{
	struct stat st;
	size_t i;
	int err;

	for (i = 0; i < p->n_writable; i++) {
		struct af_path_rule *r = &p->writable[i];
		struct make_arg m = { .path = r->path, .file = r->create == AF_CREATE_FILE };

		if (r->create == AF_CREATE_NONE || !lstat(r->path, &st))
			continue;
		err = -as_user(u, make_one, &m);
		if (err) {
			snprintf(why, n, "cannot create the writable path %s as %s: %s%s",
				 r->path, u->name, err >= 100 ? "switching to the user: " : "",
				 strerror(err >= 100 ? err - 100 : err));
			return -EACCES;
		}
		if (stat(r->path, &st)) {
			snprintf(why, n, "created the writable path %s, but it is gone: %s",
				 r->path, strerror(errno));
			return -ENOENT;
		}
		r->exists = true;
	}
	return 0;
}

void af_user_free(struct af_user *u)
{
	free(u->cred.groups);
	u->cred.groups = NULL;
	u->cred.ngroups = 0;
}
