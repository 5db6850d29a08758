// SPDX-License-Identifier: GPL-2.0
/*
 * llrun: the smallest Landlock sandbox, for comparison with agentfence's
 * own Landlock backend (in the manner of the kernel's samples/landlock
 * sandboxer): no cgroup, no policy file, no supervisor process.
 *
 *   llrun WRITABLE... -- CMD [ARG...]
 *
 * CMD may change the filesystem only beneath the WRITABLE paths; it
 * replaces llrun, so nothing stays behind to wait for it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Every right that writes, up to ABI 3 (truncate, 6.2). */
#define RIGHTS ((1ULL << 15) - 1 - LANDLOCK_ACCESS_FS_EXECUTE - \
		LANDLOCK_ACCESS_FS_READ_FILE - LANDLOCK_ACCESS_FS_READ_DIR)
#define ON_FILES ((1ULL << 1) | (1ULL << 14))	/* write_file, truncate */

static int fail(const char *what, const char *arg)
{
	fprintf(stderr, "llrun: %s %s: %s\n", what, arg, strerror(errno));
	return 126;
}

int main(int argc, char **argv)
{
	struct landlock_ruleset_attr attr = { .handled_access_fs = RIGHTS };
	int i, ruleset, abi;

	abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
	if (abi < 3) {
		errno = abi < 0 ? errno : ENOTSUP;
		return fail("landlock", "ABI 3");
	}
	ruleset = syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr), 0);
	if (ruleset < 0)
		return fail("landlock_create_ruleset", "");
	for (i = 1; i < argc && strcmp(argv[i], "--"); i++) {
		struct landlock_path_beneath_attr rule = { .allowed_access = RIGHTS };
		struct stat st;

		rule.parent_fd = open(argv[i], O_PATH | O_CLOEXEC);
		if (rule.parent_fd < 0 || fstat(rule.parent_fd, &st))
			return fail("open", argv[i]);
		if (!S_ISDIR(st.st_mode))
			rule.allowed_access &= ON_FILES;
		if (syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &rule, 0))
			return fail("landlock_add_rule", argv[i]);
		close(rule.parent_fd);
	}
	if (i + 1 >= argc) {
		fputs("usage: llrun WRITABLE... -- CMD [ARG...]\n", stderr);
		return 2;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || syscall(SYS_landlock_restrict_self, ruleset, 0))
		return fail("landlock_restrict_self", "");
	close(ruleset);
	execvp(argv[i + 1], argv + i + 1);
	return fail("exec", argv[i + 1]);
}
