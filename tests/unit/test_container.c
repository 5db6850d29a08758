// SPDX-License-Identifier: GPL-2.0
/*
 * Runtime listings and container references, without a runtime: what
 * `docker ps`, `podman ps` and `ctr containers ls` / `ctr task ls` print,
 * and which container a reference names.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "container.h"

#define ID1 "3f2a91c0d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0"
#define ID2 "3f2a07aa11223344556677889900aabbccddeeff00112233445566778899aabb"
#define ID3 "9b1c00000000000000000000000000000000000000000000000000000000cafe"

static struct af_container_entry e[16];

static void test_docker_listing(void **state)
{
	const char *ps = ID1 "\tweb\trunning\n" ID2 "\tdb,db-alias\texited\n\n";

	(void)state;
	assert_int_equal(af_container_parse(AF_RUNTIME_DOCKER, ps, NULL, e, 16), 2);
	assert_string_equal(e[0].id, ID1);
	assert_string_equal(e[0].name, "web");
	assert_string_equal(e[0].state, "running");
	assert_int_equal(e[0].runtime, AF_RUNTIME_DOCKER);
	assert_string_equal(e[1].name, "db");	/* the first of its names */
	assert_string_equal(e[1].state, "exited");
	assert_int_equal(e[1].pid, 0);
	/* podman 4's states are words for people. */
	assert_int_equal(af_container_parse(AF_RUNTIME_PODMAN, ID1 "\tweb\tUp 3 seconds ago\n"
					    ID2 "\tdb\tExited (0) 14 seconds ago\n", NULL, e, 16), 2);
	assert_string_equal(e[0].state, "running");
	assert_string_equal(e[1].state, "exited");
}

static void test_bad_listings(void **state)
{
	(void)state;
	/* A line that is not ID \t NAMES \t STATE. */
	assert_int_equal(af_container_parse(AF_RUNTIME_PODMAN, ID1 " web running\n", NULL, e, 16), -EINVAL);
	assert_int_equal(af_container_parse(AF_RUNTIME_PODMAN, ID1 "\tweb\trunning\textra\n", NULL, e, 16),
			 -EINVAL);
	assert_int_equal(af_container_parse(AF_RUNTIME_PODMAN, ID1 "\t\trunning\n", NULL, e, 16), -EINVAL);
	assert_int_equal(af_container_parse(AF_RUNTIME_PODMAN, ID1 "\tw b\trunning\n", NULL, e, 16), -EINVAL);
	assert_int_equal(af_container_parse(AF_RUNTIME_PODMAN, ID1 "\tweb\t\n", NULL, e, 16), -EINVAL);
	/* More than fit. */
	assert_int_equal(af_container_parse(AF_RUNTIME_DOCKER, ID1 "\ta\trunning\n" ID2 "\tb\trunning\n",
					    NULL, e, 1), -EOVERFLOW);
	/* A task row without its pid. */
	assert_int_equal(af_container_parse(AF_RUNTIME_CONTAINERD, "c1\n", "TASK PID STATUS\nc1 RUNNING\n",
					    e, 16), -EINVAL);
	assert_int_equal(af_container_parse(AF_RUNTIME_ANY, "", NULL, e, 16), -EINVAL);
}

static void test_containerd_listing(void **state)
{
	const char *ids = "job-1\njob-2\njob-3\n";
	const char *tasks = "TASK     PID      STATUS\njob-1    4242     RUNNING\njob-3    77       STOPPED\n";

	(void)state;
	assert_int_equal(af_container_parse(AF_RUNTIME_CONTAINERD, ids, tasks, e, 16), 3);
	assert_string_equal(e[0].name, "job-1");
	assert_int_equal(e[0].pid, 4242);
	assert_string_equal(e[0].state, "running");
	assert_string_equal(e[1].state, "created");	/* no task */
	assert_int_equal(e[1].pid, 0);
	assert_string_equal(e[2].state, "stopped");
}

static void test_match(void **state)
{
	const char *ps = ID1 "\tweb\trunning\n" ID2 "\tdb\trunning\n" ID3 "\t3f2a\trunning\n";
	char why[512] = "";
	int n;

	(void)state;
	n = af_container_parse(AF_RUNTIME_DOCKER, ps, NULL, e, 16);
	assert_int_equal(n, 3);
	assert_int_equal(af_container_match(e, n, "web", why, sizeof(why)), 0);
	assert_int_equal(af_container_match(e, n, ID2, why, sizeof(why)), 1);
	assert_int_equal(af_container_match(e, n, "3f2a9", why, sizeof(why)), 0);
	/* A name that is also a prefix of other ids: the exact name wins. */
	assert_int_equal(af_container_match(e, n, "3f2a", why, sizeof(why)), 2);
	assert_int_equal(af_container_match(e, n, "9b1", why, sizeof(why)), 2);
	assert_int_equal(af_container_match(e, n, "nope", why, sizeof(why)), -ENOENT);
	assert_int_equal(af_container_match(e, n, "", why, sizeof(why)), -ENOENT);
	/* Ambiguous: both candidates named, with the way out. */
	assert_int_equal(af_container_match(e, n, "3f2", why, sizeof(why)), -ENOTUNIQ);
	assert_non_null(strstr(why, "docker 3f2a91c0d3e4 (web)"));
	assert_non_null(strstr(why, "docker 3f2a07aa1122 (db)"));
	assert_non_null(strstr(why, "--runtime"));
	/* The same name in two runtimes. */
	n = af_container_parse(AF_RUNTIME_DOCKER, ID1 "\tweb\trunning\n", NULL, e, 16);
	n += af_container_parse(AF_RUNTIME_PODMAN, ID3 "\tweb\trunning\n", NULL, e + n, 16 - n);
	assert_int_equal(af_container_match(e, n, "web", why, sizeof(why)), -ENOTUNIQ);
	assert_non_null(strstr(why, "podman 9b1c00000000 (web)"));
}

static void test_runtime_names(void **state)
{
	enum af_runtime rt;

	(void)state;
	assert_int_equal(af_runtime_from_name("containerd", &rt), 0);
	assert_int_equal(rt, AF_RUNTIME_CONTAINERD);
	assert_string_equal(af_runtime_name(rt), "containerd");
	assert_int_equal(af_runtime_from_name("Docker", &rt), -EINVAL);
	assert_string_equal(af_runtime_name(AF_RUNTIME_MAX), "?");
}

/* dockerd's Engine API: GET /containers/json?all=1 and
 * GET /containers/{id}/json, as dockerd 20.10 sends them (cut down). */
static void test_docker_api(void **state)
{
	const char *list = "[{\"Id\":\"" ID1 "\",\"Names\":[\"/other/web\",\"/web\"],\"State\":\"running\","
			   "\"Status\":\"Up 2 minutes\"},{\"Id\":\"" ID2 "\",\"Names\":[\"/db\"],"
			   "\"State\":\"exited\"}]";
	const char *insp = "{\"Id\":\"" ID1 "\",\"Name\":\"/web\",\"State\":{\"Status\":\"running\","
			   "\"Running\":true,\"Pid\":4242}}";
	struct af_container_entry one;

	(void)state;
	assert_int_equal(af_container_parse_docker_list(list, strlen(list), e, 16), 2);
	assert_string_equal(e[0].id, ID1);
	assert_string_equal(e[0].name, "web");	/* not a link's name */
	assert_string_equal(e[0].state, "running");
	assert_int_equal(e[0].runtime, AF_RUNTIME_DOCKER);
	assert_string_equal(e[1].name, "db");
	assert_string_equal(e[1].state, "exited");
	assert_int_equal(af_container_parse_docker_list(list, strlen(list), e, 1), -EOVERFLOW);
	assert_int_equal(af_container_parse_docker_list("[]", 2, e, 16), 0);
	assert_int_equal(af_container_parse_docker_inspect(insp, strlen(insp), &one), 0);
	assert_string_equal(one.id, ID1);
	assert_string_equal(one.name, "web");
	assert_int_equal(one.pid, 4242);
	assert_string_equal(one.state, "running");
	/* What dockerd does not send: refused, never half read. */
	static const char *const bad_lists[] = {
		"", "{}", "[{}]", "[{\"Id\":\"" ID1 "\",\"Names\":[],\"State\":\"running\"}]",
		"[{\"Id\":\"" ID1 "\",\"Names\":[\"/a\"]}]", "[{\"Id\":\"a b\",\"Names\":[\"/a\"],\"State\":\"x\"}]",
		"[{\"Id\":\"" ID1 "\",\"Names\":[\"/a\"],\"State\":\"running\"}", "{\"message\":\"no\"}",
	};
	for (size_t i = 0; i < sizeof(bad_lists) / sizeof(bad_lists[0]); i++)
		assert_int_equal(af_container_parse_docker_list(bad_lists[i], strlen(bad_lists[i]), e, 16),
				 -EINVAL);
	static const char *const bad_insp[] = {
		"", "[]", "{\"message\":\"No such container: x\"}",
		"{\"Id\":\"" ID1 "\",\"Name\":\"/web\",\"State\":{\"Status\":\"running\"}}",
		"{\"Id\":\"" ID1 "\",\"Name\":\"/web\",\"State\":{\"Status\":\"running\",\"Pid\":-1}}",
		"{\"Id\":\"" ID1 "\",\"Name\":\"/web\",\"State\":{\"Status\":\"running\",\"Pid\":\"7\"}}",
		"{\"Id\":\"" ID1 "\",\"Name\":\"web\",\"State\":{\"Status\":\"running\",\"Pid\":7}}",
		"{\"Id\":\"" ID1 "\",\"Name\":\"/web\",\"State\":{\"Status\":\"running\",\"Pid\":4294967296}}",
	};
	for (size_t i = 0; i < sizeof(bad_insp) / sizeof(bad_insp[0]); i++)
		assert_int_equal(af_container_parse_docker_inspect(bad_insp[i], strlen(bad_insp[i]), &one),
				 -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_docker_listing),
		cmocka_unit_test(test_docker_api),
		cmocka_unit_test(test_bad_listings),
		cmocka_unit_test(test_containerd_listing),
		cmocka_unit_test(test_match),
		cmocka_unit_test(test_runtime_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
