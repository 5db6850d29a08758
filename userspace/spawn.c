// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "spawn.h"

pid_t af_fork_into_cgroup(int cgroup_fd, int *pidfd)
{
	struct clone_args args = {
		.flags = CLONE_INTO_CGROUP | CLONE_PIDFD,
		.exit_signal = SIGCHLD,
		.cgroup = (uint64_t)cgroup_fd,
	};
	char pid[32];
	pid_t child;
	int fd, n;

	*pidfd = -1;
	args.pidfd = (uint64_t)(uintptr_t)pidfd;
	child = syscall(SYS_clone3, &args, sizeof(args));
	if (child >= 0 || (errno != ENOSYS && errno != E2BIG && errno != EINVAL))
		return child;

	/* Before 5.7: the child joins the cgroup itself, before it returns
	 * to run anything of the caller's. */
	child = fork();
	if (child != 0)
		return child;
	fd = openat(cgroup_fd, "cgroup.procs", O_WRONLY | O_CLOEXEC);
	n = snprintf(pid, sizeof(pid), "%d", getpid());
	if (fd < 0 || write(fd, pid, n) != n)
		_exit(125);
	close(fd);
	return 0;
}
