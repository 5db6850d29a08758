// SPDX-License-Identifier: GPL-2.0
/* The process tree: ancestry, command lines inherited until exec,
 * labels inherited by fork, pid reuse, exits. */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "provenance.h"

static void test_tree(void **state)
{
	char *const root_argv[] = { "sh", "-c", "x", NULL };
	struct af_prov *p = af_prov_new();
	const struct af_proc *n;
	pid_t anc[AF_ANCESTRY_MAX];

	(void)state;
	assert_non_null(p);
	assert_int_equal(af_prov_root(p, 100, 1, root_argv), 0);
	n = af_prov_get(p, 100);
	assert_non_null(n);
	assert_int_equal(n->argv_len, 8);
	assert_memory_equal(n->argv, "sh\0-c\0x\0", 8);

	/* The supervisor's fork of the root is not a new process. */
	assert_int_equal(af_prov_fork(p, 1, 100), 0);
	assert_int_equal(af_prov_count(p), 1);

	assert_int_equal(af_prov_fork(p, 100, 101), 0);
	n = af_prov_get(p, 101);
	assert_int_equal(n->ppid, 100);
	assert_memory_equal(n->argv, "sh\0-c\0x\0", 8);	/* until it execs */
	assert_int_equal(af_prov_exec(p, 101, 100, "ls\0-l\0", 6), 0);
	assert_memory_equal(af_prov_get(p, 101)->argv, "ls\0-l\0", 6);

	assert_int_equal(af_prov_label(p, 101, "tool=Bash"), 0);
	assert_int_equal(af_prov_fork(p, 101, 102), 0);
	assert_string_equal(af_prov_get(p, 102)->label, "tool=Bash");
	assert_null(af_prov_get(p, 100)->label);
	assert_int_equal(af_prov_label(p, 999, "x"), -ENOENT);

	assert_int_equal(af_prov_ancestry(p, 102, anc, AF_ANCESTRY_MAX), 3);
	assert_int_equal(anc[0], 102);
	assert_int_equal(anc[1], 101);
	assert_int_equal(anc[2], 100);
	assert_int_equal(af_prov_ancestry(p, 102, anc, 2), 2);
	assert_int_equal(af_prov_ancestry(p, 555, anc, AF_ANCESTRY_MAX), 0);

	/* An exited parent still links its children to the root. */
	af_prov_exit(p, 101);
	n = af_prov_get(p, 101);
	assert_true(n->exited);
	assert_null(n->argv);
	assert_int_equal(af_prov_ancestry(p, 102, anc, AF_ANCESTRY_MAX), 3);

	/* A reused pid is a new process: no label, its own parent. */
	assert_int_equal(af_prov_fork(p, 100, 101), 0);
	n = af_prov_get(p, 101);
	assert_false(n->exited);
	assert_null(n->label);
	assert_int_equal(af_prov_count(p), 4);

	/* An exec of a process the tree never saw fork still counts. */
	assert_int_equal(af_prov_exec(p, 300, 100, "true\0", 5), 0);
	assert_int_equal(af_prov_ancestry(p, 300, anc, AF_ANCESTRY_MAX), 2);
	af_prov_free(p);
}

/* Many processes in the same hash bucket, and a parent cycle from pid
 * reuse: lookups stay right and the ancestry stays bounded. */
static void test_buckets_and_cycles(void **state)
{
	char *const argv[] = { "init", NULL };
	struct af_prov *p = af_prov_new();
	pid_t anc[AF_ANCESTRY_MAX];
	int i;

	(void)state;
	af_prov_root(p, 4096, 1, argv);
	for (i = 2; i < 100; i++)
		assert_int_equal(af_prov_fork(p, 4096 * (i - 1), 4096 * i), 0);
	for (i = 2; i < 100; i++)
		assert_int_equal(af_prov_get(p, 4096 * i)->ppid, 4096 * (i - 1));
	assert_int_equal(af_prov_ancestry(p, 4096 * 99, anc, AF_ANCESTRY_MAX), AF_ANCESTRY_MAX);
	af_prov_fork(p, 8, 7);
	af_prov_fork(p, 7, 8);
	assert_int_equal(af_prov_ancestry(p, 7, anc, AF_ANCESTRY_MAX), AF_ANCESTRY_MAX);
	af_prov_free(p);
}

/* The table starts small and grows with the tree: every process of a
 * big tree (forks, execs, pids reused) is found after the growth, with
 * its parent, command line and label. */
static pid_t parent_of(pid_t pid)
{
	return pid > 1001 && pid % 7 == 0 ? pid - 2 : pid - 1;
}

static void test_growth(void **state)
{
	char *const argv[] = { "init", NULL };
	struct af_prov *p = af_prov_new();
	pid_t anc[AF_ANCESTRY_MAX];
	char a[16];
	int i;

	(void)state;
	assert_int_equal(af_prov_root(p, 1000, 1, argv), 0);
	assert_int_equal(af_prov_label(p, 1000, "tool=Bash"), 0);
	for (i = 1001; i < 21000; i++) {
		assert_int_equal(af_prov_fork(p, parent_of(i), i), 0);
		if (i % 3 == 0)
			assert_int_equal(af_prov_exec(p, i, parent_of(i), a,
						      (size_t)snprintf(a, sizeof(a), "p%d", i) + 1), 0);
	}
	/* pids reused: a fresh node each, the old one gone. */
	for (i = 5000; i < 5100; i++)
		assert_int_equal(af_prov_fork(p, 1000, i), 0);
	assert_int_equal(af_prov_count(p), 20000 + 100);
	for (i = 1001; i < 21000; i++) {
		const struct af_proc *n = af_prov_get(p, i);

		assert_non_null(n);
		assert_int_equal(n->pid, i);
		if (i >= 5000 && i < 5100) {
			assert_int_equal(n->ppid, 1000);
			assert_memory_equal(n->argv, "init", 5);
		} else {
			assert_int_equal(n->ppid, parent_of(i));
			if (i % 3 == 0) {
				snprintf(a, sizeof(a), "p%d", i);
				assert_string_equal(n->argv, a);
			}
		}
		assert_string_equal(n->label, "tool=Bash");
	}
	assert_null(af_prov_get(p, 21000));
	assert_null(af_prov_get(p, 999));
	assert_int_equal(af_prov_ancestry(p, 20999, anc, AF_ANCESTRY_MAX), AF_ANCESTRY_MAX);
	assert_int_equal(anc[0], 20999);
	af_prov_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tree),
		cmocka_unit_test(test_buckets_and_cycles),
		cmocka_unit_test(test_growth),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
