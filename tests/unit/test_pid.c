// SPDX-License-Identifier: GPL-2.0
/*
 * af_pid_alive: a process that exited and was not reaped yet (a zombie)
 * no longer runs: its fences are orphaned and adoptable at once, not
 * when a late reaper gets to it.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "util.h"

static void test_self_and_nonsense(void **state)
{
	(void)state;
	assert_true(af_pid_alive(getpid()));
	assert_false(af_pid_alive(0));
	assert_false(af_pid_alive(-1));
}

static void test_running_zombie_reaped(void **state)
{
	int fds[2];
	char c;
	pid_t pid;

	(void)state;
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		close(fds[1]);
		(void)!read(fds[0], &c, 1);
		_exit(0);
	}
	close(fds[0]);
	assert_true(af_pid_alive(pid));
	close(fds[1]);		/* it exits; nobody reaps it yet */
	for (int i = 0; i < 500 && af_pid_alive(pid); i++)
		nanosleep(&(struct timespec){ 0, 10000000 }, NULL);
	assert_false(af_pid_alive(pid));
	/* Still there for kill(2): a zombie, which is what the check is for. */
	assert_int_equal(kill(pid, 0), 0);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	assert_false(af_pid_alive(pid));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_self_and_nonsense),
		cmocka_unit_test(test_running_zombie_reaped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
