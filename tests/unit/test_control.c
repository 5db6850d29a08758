// SPDX-License-Identifier: GPL-2.0
/*
 * The control protocol's parser and framing (control_proto.c): good
 * requests parse to what they say; bad, huge and partial ones get an
 * error with a reason, never a crash nor a guess.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "control_proto.h"

static int parse(const char *s, struct af_ctl_req *r, char *why)
{
	return af_ctl_parse(s, strlen(s), r, why, 256);
}

static void test_create(void **state)
{
	struct af_ctl_req r;
	char why[256];

	(void)state;
	assert_int_equal(parse("{\"op\":\"create\",\"tag\":7,\"name\":\"run_1\",\"policy\":\"a: 1\\nb: \\\"x\\\"\\n\","
			       "\"workspace\":\"/w\",\"argv\":[\"sh\",\"-c\",\"echo \\u00e9\\ud83d\\ude00\"],"
			       " \"lease\" : true, \"strict\":false,\"journal_max\":65536}", &r, why), 0);
	assert_int_equal(r.op, AF_CTL_CREATE);
	assert_true(r.has_tag);
	assert_int_equal(r.tag, 7);
	assert_string_equal(r.name, "run_1");
	assert_string_equal(r.policy, "a: 1\nb: \"x\"\n");
	assert_int_equal(r.policy_len, strlen("a: 1\nb: \"x\"\n"));
	assert_string_equal(r.workspace, "/w");
	assert_int_equal(r.argc, 3);
	assert_string_equal(r.argv[2], "echo \xc3\xa9\xf0\x9f\x98\x80");
	assert_null(r.argv[3]);
	assert_true(r.lease);
	assert_false(r.strict);
	assert_int_equal(r.journal_max, 65536);
	af_ctl_req_free(&r);
}

static void test_small_ops(void **state)
{
	struct af_ctl_req r;
	char why[256];

	(void)state;
	assert_int_equal(parse("{\"op\":\"status\"}", &r, why), 0);
	assert_int_equal(r.op, AF_CTL_STATUS);
	assert_false(r.has_fence);
	af_ctl_req_free(&r);
	assert_int_equal(parse("{\"op\":\"stop\",\"fence\":18446744073709551615}", &r, why), 0);
	assert_true(r.fence == UINT64_MAX);
	af_ctl_req_free(&r);
	assert_int_equal(parse("{\"op\":\"end\",\"fence\":3,\"exit_code\":0}", &r, why), 0);
	assert_int_equal(r.exit_code, 0);
	af_ctl_req_free(&r);
	assert_int_equal(parse("{\"fence\":3,\"op\":\"started\",\"pid\":42}", &r, why), 0);
	assert_int_equal(r.pid, 42);
	af_ctl_req_free(&r);
	assert_int_equal(parse(" {\"op\":\"adopt\"} \r", &r, why), 0);
	af_ctl_req_free(&r);
}

static void test_attach(void **state)
{
	struct af_ctl_req r;
	char why[256];

	(void)state;
	assert_int_equal(parse("{\"op\":\"attach\",\"policy\":\"p\",\"workspace\":\"/workspace\","
			       "\"cgroup\":\"/sys/fs/cgroup/docker/3f\",\"pid\":4242,\"container\":\"3f2a\","
			       "\"container_name\":\"web\",\"runtime\":\"docker\",\"strict\":true}", &r, why), 0);
	assert_int_equal(r.op, AF_CTL_ATTACH);
	assert_int_equal(r.pid, 4242);
	assert_string_equal(r.cgroup, "/sys/fs/cgroup/docker/3f");
	assert_string_equal(r.container, "3f2a");
	assert_string_equal(r.container_name, "web");
	assert_string_equal(r.runtime, "docker");
	assert_true(r.strict);
	af_ctl_req_free(&r);
	/* Its target is required; what it has no use for is refused. */
	assert_int_equal(parse("{\"op\":\"attach\",\"policy\":\"p\",\"workspace\":\"/w\","
			       "\"cgroup\":\"/c\"}", &r, why), -EINVAL);
	assert_non_null(strstr(why, "needs member 'pid'"));
	assert_int_equal(parse("{\"op\":\"attach\",\"policy\":\"p\",\"workspace\":\"/w\","
			       "\"pid\":3}", &r, why), -EINVAL);
	assert_non_null(strstr(why, "needs member 'cgroup'"));
	assert_int_equal(parse("{\"op\":\"attach\",\"policy\":\"p\",\"workspace\":\"/w\","
			       "\"cgroup\":\"/c\",\"pid\":3,\"lease\":true}", &r, why), -EINVAL);
	assert_non_null(strstr(why, "takes no member 'lease'"));
	assert_int_equal(parse("{\"op\":\"attach\",\"policy\":\"p\",\"workspace\":\"/w\","
			       "\"cgroup\":\"c\",\"pid\":3}", &r, why), -EINVAL);
	assert_non_null(strstr(why, "cgroup must be an absolute path"));
	assert_int_equal(parse("{\"op\":\"attach\",\"policy\":\"p\",\"workspace\":\"/w\","
			       "\"cgroup\":\"/c\",\"pid\":0}", &r, why), -EINVAL);
	assert_non_null(strstr(why, "pid must be positive"));
	/* A container's members belong to attach alone. */
	assert_int_equal(parse("{\"op\":\"create\",\"policy\":\"p\",\"workspace\":\"/w\","
			       "\"container\":\"x\"}", &r, why), -EINVAL);
	assert_non_null(strstr(why, "takes no member 'container'"));
}

struct bad_case {
	const char *req;
	int err;
	const char *why;
};

static void test_bad(void **state)
{
	static const struct bad_case cases[] = {
		{ "", -EINVAL, "one JSON object" },
		{ "[]", -EINVAL, "one JSON object" },
		{ "{}", -EINVAL, "empty request" },
		{ "{\"op\":\"status\"", -EINVAL, "expected , or }" },
		{ "{\"op\":\"status\"}x", -EINVAL, "bytes after" },
		{ "{\"op\":\"status\"}{\"op\":\"status\"}", -EINVAL, "bytes after" },
		{ "{\"op\":\"frob\"}", -EINVAL, "unknown op 'frob'" },
		{ "{\"tag\":1}", -EINVAL, "no op" },
		{ "{\"op\":\"status\",\"op\":\"stop\"}", -EINVAL, "twice" },
		{ "{\"op\":\"status\",\"evil\":1}", -EINVAL, "unknown member 'evil'" },
		{ "{\"op\":\"status\",\"pid\":1}", -EINVAL, "takes no member 'pid'" },
		{ "{\"op\":\"stop\"}", -EINVAL, "needs member 'fence'" },
		{ "{\"op\":\"create\",\"workspace\":\"/w\"}", -EINVAL, "needs member 'policy'" },
		{ "{\"op\":\"stop\",\"fence\":-1}", -EINVAL, "from 0" },
		{ "{\"op\":\"stop\",\"fence\":1.5}", -EINVAL, "integer" },
		{ "{\"op\":\"stop\",\"fence\":1e3}", -EINVAL, "integer" },
		{ "{\"op\":\"stop\",\"fence\":01}", -EINVAL, "leading zero" },
		{ "{\"op\":\"stop\",\"fence\":18446744073709551616}", -ERANGE, "out of range" },
		{ "{\"op\":\"stop\",\"fence\":\"1\"}", -EINVAL, "expected a number" },
		{ "{\"op\":\"stop\",\"fence\":null}", -EINVAL, "expected a number" },
		{ "{\"op\":\"status\",\"fence\":{}}", -EINVAL, "expected a number" },
		{ "{\"op\":\"end\",\"fence\":1,\"exit_code\":256}", -EINVAL, "0 to 255" },
		{ "{\"op\":\"started\",\"fence\":1,\"pid\":0}", -EINVAL, "positive" },
		{ "{\"op\":\"started\",\"fence\":1,\"pid\":9223372036854775808}", -ERANGE, "out of range" },
		{ "{\"op\":\"create\",\"policy\":\"\",\"workspace\":\"w\"}", -EINVAL, "absolute" },
		{ "{\"op\":\"create\",\"policy\":\"\",\"workspace\":\"/w\",\"journal\":\"j\"}", -EINVAL, "absolute" },
		{ "{\"op\":\"create\",\"policy\":\"\",\"workspace\":\"/w\",\"name\":\"../x\"}", -EINVAL, "only letters" },
		{ "{\"op\":\"create\",\"policy\":\"\",\"workspace\":\"/w\",\"name\":\"a/b\"}", -EINVAL, "only letters" },
		{ "{\"op\":\"create\",\"policy\":\"\",\"workspace\":\"/w\",\"argv\":[]}", -EINVAL, "not be empty" },
		{ "{\"op\":\"create\",\"policy\":\"\",\"workspace\":\"/w\",\"argv\":[1]}", -EINVAL, "expected a string" },
		{ "{\"op\":\"create\",\"policy\":\"\",\"workspace\":\"/w\",\"argv\":[\"a\",]}", -EINVAL, "expected a string" },
		{ "{\"op\":\"create\",\"policy\":\"\",\"workspace\":\"/w\",\"lease\":1}", -EINVAL, "true or false" },
		{ "{\"op\":\"create\",\"policy\":\"\",\"workspace\":\"/w\",\"lease\":tru}", -EINVAL, "true or false" },
		{ "{\"op\":\"status\\u0000\"}", -EINVAL, "\\u0000" },
		{ "{\"op\":\"st\\ud800atus\"}", -EINVAL, "surrogate" },
		{ "{\"op\":\"st\\udc00\"}", -EINVAL, "surrogate" },
		{ "{\"op\":\"st\\u12\"}", -EINVAL, "\\u escape" },
		{ "{\"op\":\"st\\x\"}", -EINVAL, "bad escape" },
		{ "{\"op\":\"st\xff\"}", -EINVAL, "UTF-8" },
		{ "{\"op\":\"st\xc0\xaf\"}", -EINVAL, "UTF-8" },
		{ "{\"op\":\"st\tx\"}", -EINVAL, "control character" },
		{ "{\"op\":\"status\\", -EINVAL, "unterminated" },
		{ "{\"op\"\"status\"}", -EINVAL, "expected :" },
		{ "{\"op\":\"status\";}", -EINVAL, "expected , or }" },
	};
	struct af_ctl_req r;
	char why[256];
	size_t i;
	int err;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err = parse(cases[i].req, &r, why);
		if (err != cases[i].err || !strstr(why, cases[i].why))
			fail_msg("request %s: expected %d '%s', got %d '%s'", cases[i].req, cases[i].err,
				 cases[i].why, err, why);
		assert_null(r.argv);
		assert_null(r.policy);
	}
}

/* Sizes: a string past its limit, too many arguments, a line past the
 * whole request's limit. */
static void test_huge(void **state)
{
	size_t big = AF_CTL_LINE_MAX + 10, i;
	char *s = malloc(big + 1), why[256];
	struct af_ctl_req r;
	int k;

	(void)state;
	assert_non_null(s);
	k = snprintf(s, big, "{\"op\":\"create\",\"workspace\":\"/w\",\"policy\":\"");
	memset(s + k, 'a', big - k);
	s[big] = 0;
	assert_int_equal(af_ctl_parse(s, big, &r, why, sizeof(why)), -E2BIG);
	assert_non_null(strstr(why, "request longer"));
	/* The policy's own limit, in a line that fits. */
	k = snprintf(s, big, "{\"op\":\"create\",\"workspace\":\"/w\",\"policy\":\"");
	memset(s + k, 'a', AF_CTL_POLICY_MAX + 1);
	k += AF_CTL_POLICY_MAX + 1;
	k += snprintf(s + k, big - k, "\"}");
	assert_int_equal(af_ctl_parse(s, k, &r, why, sizeof(why)), -E2BIG);
	assert_non_null(strstr(why, "string longer than"));
	/* A workspace path past AF_CTL_STR_MAX. */
	k = snprintf(s, big, "{\"op\":\"create\",\"policy\":\"\",\"workspace\":\"/");
	memset(s + k, 'a', AF_CTL_STR_MAX);
	k += AF_CTL_STR_MAX;
	k += snprintf(s + k, big - k, "\"}");
	assert_int_equal(af_ctl_parse(s, k, &r, why, sizeof(why)), -E2BIG);
	/* One argument too many. */
	k = snprintf(s, big, "{\"op\":\"create\",\"policy\":\"\",\"workspace\":\"/w\",\"argv\":[");
	for (i = 0; i <= AF_CTL_ARGV_MAX; i++)
		k += snprintf(s + k, big - k, "%s\"a\"", i ? "," : "");
	k += snprintf(s + k, big - k, "]}");
	assert_int_equal(af_ctl_parse(s, k, &r, why, sizeof(why)), -E2BIG);
	assert_non_null(strstr(why, "arguments"));
	/* Exactly AF_CTL_ARGV_MAX is fine. */
	k = snprintf(s, big, "{\"op\":\"create\",\"policy\":\"\",\"workspace\":\"/w\",\"argv\":[");
	for (i = 0; i < AF_CTL_ARGV_MAX; i++)
		k += snprintf(s + k, big - k, "%s\"a\"", i ? "," : "");
	k += snprintf(s + k, big - k, "]}");
	assert_int_equal(af_ctl_parse(s, k, &r, why, sizeof(why)), 0);
	assert_int_equal(r.argc, AF_CTL_ARGV_MAX);
	af_ctl_req_free(&r);
	/* Too many members (the same one over and over: refused before). */
	k = snprintf(s, big, "{\"op\":\"status\"");
	for (i = 0; i < AF_CTL_MEMBERS_MAX + 2; i++)
		k += snprintf(s + k, big - k, ",\"tag\":1");
	k += snprintf(s + k, big - k, "}");
	assert_int_equal(af_ctl_parse(s, k, &r, why, sizeof(why)), -EINVAL);
	free(s);
}

struct lines {
	int n, overflow;
	char last[64];
};

static void on_line(void *ctx, const char *line, size_t len, int err)
{
	struct lines *l = ctx;

	if (err) {
		l->overflow++;
		return;
	}
	l->n++;
	snprintf(l->last, sizeof(l->last), "%.*s", (int)len, line);
}

/* Partial requests wait for their '\n'; a line that never ends is cut
 * off at the limit, told once, and nothing after it is taken. */
static void test_framing(void **state)
{
	struct af_ctl_in in = {};
	struct lines l = {};
	size_t i;
	char *junk;

	(void)state;
	assert_int_equal(af_ctl_in_feed(&in, "{\"op\":", 6, on_line, &l), 0);
	assert_int_equal(l.n, 0);
	assert_int_equal(af_ctl_in_pending(&in), 6);
	assert_int_equal(af_ctl_in_feed(&in, "1}\n{\"b\"}\n{\"c", 12, on_line, &l), 0);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.last, "{\"b\"}");
	assert_int_equal(af_ctl_in_pending(&in), 3);
	junk = malloc(65536);
	assert_non_null(junk);
	memset(junk, 'x', 65536);
	for (i = 0; i < AF_CTL_LINE_MAX / 65536 + 1; i++)
		if (af_ctl_in_feed(&in, junk, 65536, on_line, &l))
			break;
	assert_int_equal(l.overflow, 1);
	assert_true(in.cap <= AF_CTL_LINE_MAX);
	assert_int_equal(af_ctl_in_feed(&in, "\n{}\n", 4, on_line, &l), -E2BIG);
	assert_int_equal(l.overflow, 1);
	assert_int_equal(l.n, 2);
	free(junk);
	af_ctl_in_free(&in);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create),
		cmocka_unit_test(test_small_ops),
		cmocka_unit_test(test_attach),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_huge),
		cmocka_unit_test(test_framing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
