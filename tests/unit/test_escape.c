// SPDX-License-Identifier: GPL-2.0
/*
 * af_escape: what the fenced command chose (argv, paths, comm) printed
 * on a terminal line can neither move the cursor, nor break the line,
 * nor start a forged "agentfence:" line; printable UTF-8 stays readable.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "util.h"

static void expect(const char *in, size_t len, const char *want)
{
	char out[256];
	size_t need = af_escape(out, sizeof(out), in, len);

	assert_string_equal(out, want);
	assert_int_equal(need, strlen(want));
}

static void test_plain(void **state)
{
	(void)state;
	expect("denied write /etc/passwd (sh pid 1)", 35, "denied write /etc/passwd (sh pid 1)");
	expect("", 0, "");
}

static void test_controls(void **state)
{
	(void)state;
	expect("a\nb", 3, "a\\nb");
	expect("\t\r\\", 3, "\\t\\r\\\\");
	expect("\033[2J", 4, "\\x1b[2J");
	expect("\x7f\x01", 2, "\\x7f\\x01");
	expect("a\0b", 3, "a\\x00b");
}

/* The attack of issue 12: an argv that clears the screen and prints a
 * line of its own. Escaped, it is one line that holds no ESC. */
static void test_forged_line(void **state)
{
	const char *argv1 = "x\033[2J\n agentfence: denied nothing\r";
	char out[256];

	(void)state;
	af_escape(out, sizeof(out), argv1, strlen(argv1));
	assert_null(strchr(out, '\n'));
	assert_null(strchr(out, '\r'));
	assert_null(strchr(out, '\033'));
	assert_string_equal(out, "x\\x1b[2J\\n agentfence: denied nothing\\r");
}

static void test_utf8(void **state)
{
	(void)state;
	expect("caf\xc3\xa9", 5, "caf\xc3\xa9");			/* é */
	expect("\xe2\x82\xac", 3, "\xe2\x82\xac");			/* € */
	expect("\xf0\x9f\x98\x80", 4, "\xf0\x9f\x98\x80");		/* 😀 */
	expect("\xc2\x9b" "2J", 4, "\\xc2\\x9b2J");			/* C1 CSI */
	expect("\xc0\xaf", 2, "\\xc0\\xaf");				/* overlong / */
	expect("\xe0\x80\xaf", 3, "\\xe0\\x80\\xaf");			/* overlong / */
	expect("\xed\xa0\x80", 3, "\\xed\\xa0\\x80");			/* surrogate */
	expect("\xe2\x80\xae", 3, "\\xe2\\x80\\xae");			/* RLO */
	expect("\xe2\x81\xa6", 3, "\\xe2\\x81\\xa6");			/* LRI */
	expect("\xc3", 1, "\\xc3");					/* cut */
	expect("\xff\xfe", 2, "\\xff\\xfe");
}

/* A small buffer holds whole escapes only, and says what it needed. */
static void test_truncation(void **state)
{
	char out[6];
	size_t need;

	(void)state;
	need = af_escape(out, sizeof(out), "ab\033cd", 5);
	assert_int_equal(need, 8);
	assert_string_equal(out, "ab");	/* not "ab\x1" */
	need = af_escape(out, sizeof(out), "abcdefgh", 8);
	assert_int_equal(need, 8);
	assert_string_equal(out, "abcde");
	assert_int_equal(af_escape(NULL, 0, "\n", 1), 2);
	assert_string_equal(af_esc(out, sizeof(out), "\n"), "\\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain),
		cmocka_unit_test(test_controls),
		cmocka_unit_test(test_forged_line),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_truncation),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
