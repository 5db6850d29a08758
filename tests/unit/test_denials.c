// SPDX-License-Identifier: GPL-2.0
/*
 * run's denial lines: the same denial again within the window is one
 * line and a count; another pid is the same denial, another path is
 * not; summary mode prints each once with its count at the end; off
 * prints nothing; what came from the command is escaped.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "denials.h"

static char *buf;
static size_t len;
static FILE *out;

static int setup(void **state)
{
	(void)state;
	out = open_memstream(&buf, &len);
	return out ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	fclose(out);
	free(buf);
	return 0;
}

static const char *text(void)
{
	fflush(out);
	return buf;
}

static void test_live_dedup(void **state)
{
	struct af_denials *d = af_denials_new(AF_DENIALS_LIVE, out);
	int i;

	(void)state;
	assert_non_null(d);
	af_denials_add(d, "denied write /etc/x (sh pid 10)", 1000);
	for (i = 0; i < 5; i++)
		af_denials_add(d, "denied write /etc/x (sh pid 11)", 1100 + i);
	af_denials_add(d, "denied write /etc/y (sh pid 10)", 1200);
	assert_string_equal(text(), "agentfence: denied write /etc/x (sh pid 10)\n"
				    "agentfence: denied write /etc/y (sh pid 10)\n");
	af_denials_flush(d, 2000);	/* the window is not over */
	assert_int_equal(strlen(text()), strlen("agentfence: denied write /etc/x (sh pid 10)\n"
						"agentfence: denied write /etc/y (sh pid 10)\n"));
	af_denials_flush(d, 1000 + AF_DENIALS_WINDOW_MS);
	assert_non_null(strstr(text(), "agentfence: denied write /etc/x (sh pid 10) [5 more within 3s]\n"));
	/* After the window: a line again. */
	af_denials_add(d, "denied write /etc/x (sh pid 12)", 9000);
	assert_non_null(strstr(text(), "[5 more within 3s]\nagentfence: denied write /etc/x (sh pid 12)\n"));
	af_denials_add(d, "denied write /etc/x (sh pid 12)", 9001);
	af_denials_end(d);
	assert_non_null(strstr(text(), "(sh pid 12) [1 more within 3s]\n"));
	af_denials_free(d);
}

static void test_summary_and_off(void **state)
{
	struct af_denials *d = af_denials_new(AF_DENIALS_SUMMARY, out);
	struct af_denials *o = af_denials_new(AF_DENIALS_OFF, out);
	int i;

	(void)state;
	for (i = 0; i < 4; i++)
		af_denials_add(d, "denied connect 10.0.0.1:443 (curl pid 7)", 1000 + i * 10000);
	af_denials_add(d, "denied write /etc/x (sh pid 10)", 5000);
	af_denials_add(o, "denied write /etc/x (sh pid 10)", 5000);
	af_denials_flush(d, 100000);
	assert_string_equal(text(), "");
	af_denials_end(d);
	af_denials_end(o);
	assert_string_equal(text(), "agentfence: denied connect 10.0.0.1:443 (curl pid 7) [4 times]\n"
				    "agentfence: denied write /etc/x (sh pid 10)\n");
	af_denials_free(d);
	af_denials_free(o);
}

static void test_escaped_and_bounded(void **state)
{
	struct af_denials *d = af_denials_new(AF_DENIALS_LIVE, out);
	char line[64];
	int i;

	(void)state;
	af_denials_add(d, "denied write /x\n agentfence: forged\033[2J (sh pid 1)", 0);
	assert_string_equal(text(), "agentfence: denied write /x\\n agentfence: forged\\x1b[2J (sh pid 1)\n");
	/* Beyond the distinct ones remembered: printed, not deduplicated. */
	for (i = 0; i < AF_DENIALS_MAX + 10; i++) {
		snprintf(line, sizeof(line), "denied write /f%d (sh pid 1)", i);
		af_denials_add(d, line, 1);
	}
	assert_non_null(strstr(text(), "/f265 (sh pid 1)\n"));
	af_denials_free(d);
	assert_int_equal(af_denials_parse("summary", &(enum af_denials_mode){ 0 }), 0);
	assert_int_not_equal(af_denials_parse("loud", &(enum af_denials_mode){ 0 }), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_live_dedup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_summary_and_off, setup, teardown),
		cmocka_unit_test_setup_teardown(test_escaped_and_bounded, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
