// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer harness for the policy parser. Besides the sanitizers, it
 * checks what callers rely on: an error is one printable line naming the
 * document, a loaded policy prints, and its JSON form is valid JSON.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined \
 *	-fno-sanitize-recover=all -Iuserspace userspace/policy.c userspace/caps.c \
 *	userspace/json.c tests/unit/fuzz_policy.c -lyaml -o fuzz_policy
 *   ./fuzz_policy -max_len=4096 corpus/ policies/
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "policy.h"

static const char *jv_value(const char *s, const char *end, int depth);

static const char *jv_ws(const char *s, const char *end)
{
	while (s < end && (*s == ' ' || *s == '\n' || *s == '\t' || *s == '\r'))
		s++;
	return s;
}

static const char *jv_string(const char *s, const char *end)
{
	uint32_t cp;
	int i, n;

	if (s >= end || *s++ != '"')
		return NULL;
	while (s < end && *s != '"') {
		if ((unsigned char)*s < 0x20)
			return NULL;
		if (*s == '\\') {
			if (++s >= end)
				return NULL;
			if (*s == 'u') {
				for (i = 1; i <= 4; i++)
					if (s + i >= end || !strchr("0123456789abcdefABCDEF", s[i]) || !s[i])
						return NULL;
				s += 5;
			} else if (strchr("\"\\/bfnrt", *s) && *s) {
				s++;
			} else {
				return NULL;
			}
			continue;
		}
		n = utf8_next(s, end - s, &cp);
		if (n < 0)
			return NULL;
		s += n;
	}
	return s < end ? s + 1 : NULL;
}

static const char *jv_value(const char *s, const char *end, int depth)
{
	char close;
	bool obj;

	s = jv_ws(s, end);
	if (s >= end || depth > 16)
		return NULL;
	if (*s == '{' || *s == '[') {
		obj = *s == '{';
		close = obj ? '}' : ']';
		s = jv_ws(s + 1, end);
		if (s < end && *s == close)
			return s + 1;
		for (;;) {
			if (obj) {
				s = jv_string(jv_ws(s, end), end);
				if (!s)
					return NULL;
				s = jv_ws(s, end);
				if (s >= end || *s++ != ':')
					return NULL;
			}
			s = jv_value(s, end, depth + 1);
			if (!s)
				return NULL;
			s = jv_ws(s, end);
			if (s >= end)
				return NULL;
			if (*s == close)
				return s + 1;
			if (*s++ != ',')
				return NULL;
		}
	}
	if (*s == '"')
		return jv_string(s, end);
	if (end - s >= 4 && !memcmp(s, "true", 4))
		return s + 4;
	if (end - s >= 5 && !memcmp(s, "false", 5))
		return s + 5;
	if (end - s >= 4 && !memcmp(s, "null", 4))
		return s + 4;
	if (*s >= '0' && *s <= '9') {
		while (s < end && *s >= '0' && *s <= '9')
			s++;
		return s;
	}
	return NULL;
}

static void check_printable(const char *s, size_t len)
{
	uint32_t cp;
	size_t i;
	int n;

	for (i = 0; i < len; i += n) {
		n = utf8_next(s + i, len - i, &cp);
		if (n < 0 || cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Vary the variables with the input, so that unset ones are hit. */
	static const struct af_policy_vars vars[] = {
		{ .workspace = "/tmp", .home = "/root" },
		{ .workspace = NULL, .home = "/nonexistent-home" },
		{ .workspace = "/", .home = NULL },
	};
	char err[AF_ERR_MAX], *out = NULL;
	struct af_policy *p = NULL;
	size_t len = 0;
	const char *end;
	FILE *f;
	int ret;

	ret = af_policy_load_buf((const char *)data, size, "fuzz.yaml",
				 &vars[size % 3], &p, err);
	if (ret) {
		if (p || strncmp(err, "fuzz.yaml:", 10))
			abort();
		check_printable(err, strlen(err));
		return 0;
	}
	if (!p || err[0])
		abort();
	for (size_t i = 0; i < p->n_warnings; i++)
		check_printable(p->warnings[i], strlen(p->warnings[i]));

	f = open_memstream(&out, &len);
	if (!f)
		abort();
	if (af_policy_print(f, p, true))
		abort();
	fclose(f);
	end = jv_value(out, out + len, 0);
	if (!end || jv_ws(end, out + len) != out + len)
		abort();
	free(out);

	f = fopen("/dev/null", "w");
	if (f) {
		af_policy_print(f, p, false);
		fclose(f);
	}
	af_policy_free(p);
	return 0;
}
