/* units: policy json */
// SPDX-License-Identifier: GPL-2.0
/*
 * Policy parser: every error path with its exact location, every valid
 * form, expansion, normalization, warnings, printing, hostile input.
 *
 * Nothing here depends on the machine's $HOME or working directory: the
 * variables point into a directory made by mkdtemp() and removed after.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "journal.h"
#include "json.h"
#include "policy.h"

#define HDR	"apiVersion: agentfence/v1\nkind: Policy\nmetadata: {name: t}\n"
#define SPEC	HDR "spec:\n"			/* spec's keys start on line 5 */
#define FS	SPEC "  filesystem:\n"		/* line 6 */
#define NET	SPEC "  network:\n    allow:\n"	/* items on line 7 */

static char tmp[256];		/* mkdtemp() root */
static char ws[PATH_MAX];	/* ${WORKSPACE} */
static char home[PATH_MAX];	/* ${HOME}, has .ssh but no .aws */
static struct af_policy_vars vars;

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int setup(void **state)
{
	char ssh[PATH_MAX + 8];

	(void)state;
	snprintf(tmp, sizeof(tmp), "%s/af-policy-XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(tmp))
		return -1;
	snprintf(ws, sizeof(ws), "%s/ws", tmp);
	snprintf(home, sizeof(home), "%s/home", tmp);
	if (mkdir(ws, 0755) || mkdir(home, 0755))
		return -1;
	snprintf(ssh, sizeof(ssh), "%s/.ssh", home);
	if (mkdir(ssh, 0700))
		return -1;
	vars.workspace = ws;
	vars.home = home;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return nftw(tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- helpers ---- */

static int load_vars(const char *buf, size_t len,
		     const struct af_policy_vars *v, struct af_policy **p,
		     char *err)
{
	return af_policy_load_buf(buf, len, "t.yaml", v, p, err);
}

static struct af_policy *load_ok(const char *yaml)
{
	char err[AF_ERR_MAX];
	struct af_policy *p = NULL;
	int ret = load_vars(yaml, strlen(yaml), &vars, &p, err);

	if (ret)
		print_error("unexpected error: %s\n", err);
	assert_int_equal(ret, 0);
	assert_non_null(p);
	assert_string_equal(err, "");
	return p;
}

/* The whole message must match: location and wording are the API. */
static void expect_errn_v(const char *buf, size_t len,
			  const struct af_policy_vars *v, const char *want)
{
	char err[AF_ERR_MAX], full[AF_ERR_MAX + 16];
	struct af_policy *p = (struct af_policy *)1;
	int ret = load_vars(buf, len, v, &p, err);

	snprintf(full, sizeof(full), "t.yaml:%s", want);
	assert_int_equal(ret, -EINVAL);
	assert_null(p);
	assert_string_equal(err, full);
}

static void expect_err(const char *yaml, const char *want)
{
	expect_errn_v(yaml, strlen(yaml), &vars, want);
}

static char *xasprintf(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

static char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	assert_true(vasprintf(&s, fmt, ap) >= 0);
	va_end(ap);
	return s;
}

static char *print_to_string(const struct af_policy *p, bool json)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(af_policy_print(f, p, json), 0);
	fclose(f);
	return buf;
}

static char *json_to_string(const char *s, size_t len)
{
	char *buf = NULL;
	size_t blen = 0;
	FILE *f = open_memstream(&buf, &blen);

	assert_non_null(f);
	if (s)
		json_strn(f, s, len);
	else
		json_str(f, NULL);
	fclose(f);
	return buf;
}

/*
 * A strict JSON validator (RFC 8259), enough to prove that what we print
 * parses: returns the position after one value, or NULL.
 */
static const char *jv_value(const char *s, int depth);

static const char *jv_ws(const char *s)
{
	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
		s++;
	return s;
}

static const char *jv_string(const char *s)
{
	uint32_t cp;
	int i, n;

	if (*s++ != '"')
		return NULL;
	while (*s != '"') {
		if ((unsigned char)*s < 0x20)
			return NULL;
		if (*s == '\\') {
			s++;
			if (*s == 'u') {
				for (i = 1; i <= 4; i++)
					if (!strchr("0123456789abcdefABCDEF", s[i]) || !s[i])
						return NULL;
				s += 5;
				continue;
			}
			if (!*s || !strchr("\"\\/bfnrt", *s))
				return NULL;
			s++;
			continue;
		}
		n = utf8_next(s, strlen(s), &cp);
		if (n < 0)
			return NULL;
		s += n;
	}
	return s + 1;
}

static const char *jv_value(const char *s, int depth)
{
	if (depth > 64)
		return NULL;
	s = jv_ws(s);
	if (*s == '{' || *s == '[') {
		char close = *s == '{' ? '}' : ']';
		bool obj = *s == '{';

		s = jv_ws(s + 1);
		if (*s == close)
			return s + 1;
		for (;;) {
			if (obj) {
				s = jv_string(jv_ws(s));
				if (!s)
					return NULL;
				s = jv_ws(s);
				if (*s++ != ':')
					return NULL;
			}
			s = jv_value(s, depth + 1);
			if (!s)
				return NULL;
			s = jv_ws(s);
			if (*s == close)
				return s + 1;
			if (*s++ != ',')
				return NULL;
		}
	}
	if (*s == '"')
		return jv_string(s);
	if (!strncmp(s, "true", 4))
		return s + 4;
	if (!strncmp(s, "false", 5))
		return s + 5;
	if (!strncmp(s, "null", 4))
		return s + 4;
	if (*s == '-' || (*s >= '0' && *s <= '9')) {
		if (*s == '-')
			s++;
		if (*s == '0' && s[1] >= '0' && s[1] <= '9')
			return NULL;
		if (*s < '0' || *s > '9')
			return NULL;
		while (*s >= '0' && *s <= '9')
			s++;
		return s;
	}
	return NULL;
}

static void assert_valid_json(const char *s)
{
	const char *end = jv_value(s, 0);

	if (!end)
		print_error("invalid JSON: %s\n", s);
	assert_non_null(end);
	end = jv_ws(end);
	assert_int_equal(*end, '\0');
}

/* ---- document structure ---- */

static void test_empty(void **state)
{
	(void)state;
	expect_errn_v("", 0, &vars, "1:1: empty document");
	expect_errn_v(NULL, 0, &vars, "1:1: empty document");
	expect_err("# just a comment\n\n", "1:1: empty document");
	expect_err("---\n", "2:1: empty document");
	expect_err("~\n", "1:1: empty document");
}

static void test_top_level_type(void **state)
{
	(void)state;
	expect_err("- a\n- b\n", "1:1: the top level must be a mapping, not a sequence");
	expect_err("hello\n", "1:1: the top level must be a mapping, not a string");
	expect_err("42\n", "1:1: the top level must be a mapping, not an integer");
}

static void test_multiple_documents(void **state)
{
	(void)state;
	expect_err(HDR "spec: {}\n---\n" HDR "spec: {}\n",
		   "5:1: multiple documents are not supported");
	/* A syntax error in a later document is never reached. */
	expect_err("a: 1\n---\n[\n", "2:1: multiple documents are not supported");
	/* Explicit start and end markers around one document are fine. */
	af_policy_free(load_ok("---\n" SPEC "  mode: audit\n...\n"));
}

static void test_syntax_errors(void **state)
{
	(void)state;
	expect_err("a: b: c\n",
		   "1:5: syntax error: mapping values are not allowed in this context");
	expect_err(SPEC "  mode: [enforce\n",
		   "6:1: syntax error: did not find expected ',' or ']' (while parsing a flow sequence at 5:9)");
	expect_err(SPEC "  mode: \"enforce\n",
		   "6:1: syntax error: found unexpected end of stream (while scanning a quoted scalar at 5:9)");
	expect_err(SPEC "\tmode: audit\n",
		   "5:1: syntax error: found character that cannot start any token (while scanning for the next token at 5:1); tabs are not allowed in indentation");
	expect_err(SPEC "  mode: audit\n bad: x\n",
		   "6:2: syntax error: did not find expected key (while parsing a block mapping at 1:1)");
}

static void test_anchors_aliases_tags(void **state)
{
	(void)state;
	expect_err(HDR "spec: &s {mode: audit}\n",
		   "4:7: anchors and aliases are not supported");
	expect_err(HDR "spec:\n  mode: *m\n", "5:9: aliases are not supported");
	expect_err(HDR "spec:\n  mode: !!str audit\n", "5:9: tags are not supported");
	expect_err(HDR "spec: !x {}\n", "4:7: tags are not supported");
	expect_err(HDR "spec: !!seq []\n", "4:7: tags are not supported");
	/* A merge key is just an unknown key. */
	expect_err(SPEC "  <<: {mode: audit}\n", "5:3: unknown key '<<' in spec");
}

static void test_keys(void **state)
{
	(void)state;
	expect_err(HDR "spec: {}\nextra: 1\n", "5:1: unknown key 'extra' at top level");
	expect_err("apiversion: agentfence/v1\n",
		   "1:1: unknown key 'apiversion' at top level (did you mean 'apiVersion'?)");
	expect_err(HDR "spec: {}\nkind: Policy\n",
		   "5:1: duplicate key 'kind' at top level (first at 2:1)");
	expect_err(SPEC "  mode: enforce\n  mode: audit\n",
		   "6:3: duplicate key 'mode' in spec (first at 5:3)");
	expect_err(FS "    writeable: []\n",
		   "6:5: unknown key 'writeable' in spec.filesystem (did you mean 'writable'?)");
	expect_err(FS "    deny-read: []\n",
		   "6:5: unknown key 'deny-read' in spec.filesystem (did you mean 'deny_read'?)");
	expect_err(FS "    secrets: []\n", "6:5: unknown key 'secrets' in spec.filesystem");
	expect_err(SPEC "  Mode: audit\n",
		   "5:3: unknown key 'Mode' in spec (did you mean 'mode'?)");
	/* An abbreviation is suggested over a nearer typo. */
	expect_err(NET "      - {host: a.io, prot: tcp}\n",
		   "7:22: unknown key 'prot' in spec.network.allow[0] (did you mean 'protocol'?)");
	expect_err(NET "      - {host: a.io, port: [1]}\n",
		   "7:22: unknown key 'port' in spec.network.allow[0] (did you mean 'ports'?)");
	expect_err("? [a]\n: b\n", "1:3: mapping keys must be strings");
	expect_err("{a: 1}: b\n", "1:1: mapping keys must be strings");
	expect_err("'': x\n", "1:1: unknown key '' at top level");
	/* Quoted keys are keys like any other. */
	af_policy_free(load_ok("\"apiVersion\": agentfence/v1\n'kind': Policy\n"
			       "metadata: {\"name\": t}\nspec: {}\n"));
}

static void test_required(void **state)
{
	(void)state;
	expect_err("kind: Policy\nmetadata: {name: t}\nspec: {}\n",
		   "1:1: missing required key 'apiVersion' at top level");
	expect_err("apiVersion: agentfence/v1\nmetadata: {name: t}\nspec: {}\n",
		   "1:1: missing required key 'kind' at top level");
	expect_err("apiVersion: agentfence/v1\nkind: Policy\nspec: {}\n",
		   "1:1: missing required key 'metadata' at top level");
	expect_err(HDR, "1:1: missing required key 'spec' at top level");
	expect_err("apiVersion: agentfence/v1\nkind: Policy\nmetadata:\n  labels: {}\nspec: {}\n",
		   "4:3: unknown key 'labels' in metadata");
	expect_err("apiVersion: agentfence/v1\nkind: Policy\nmetadata: {}\nspec: {}\n",
		   "3:11: missing required key 'name' in metadata");
	expect_err("apiVersion: agentfence/v1\nkind: Policy\nmetadata:\n  nmae: t\nspec: {}\n",
		   "4:3: unknown key 'nmae' in metadata (did you mean 'name'?)");
}

static void test_header_values(void **state)
{
	(void)state;
	expect_err("apiVersion: agentfence/v2\nkind: Policy\nmetadata: {name: t}\nspec: {}\n",
		   "1:13: unsupported apiVersion 'agentfence/v2' (expected 'agentfence/v1')");
	expect_err("apiVersion: [agentfence/v1]\nkind: Policy\nmetadata: {name: t}\nspec: {}\n",
		   "1:13: apiVersion must be a string, not a sequence");
	expect_err("apiVersion: agentfence/v1\nkind: policy\nmetadata: {name: t}\nspec: {}\n",
		   "2:7: unsupported kind 'policy' (expected 'Policy')");
	expect_err("apiVersion: agentfence/v1\nkind:\nmetadata: {name: t}\nspec: {}\n",
		   "2:6: kind must be a string, not null");
	expect_err("apiVersion: agentfence/v1\nkind: Policy\nmetadata: t\nspec: {}\n",
		   "3:11: metadata must be a mapping, not a string");
	expect_err(HDR "spec:\n", "4:6: spec must be a mapping, not null");
	expect_err(HDR "spec: [a]\n", "4:7: spec must be a mapping, not a sequence");
}

static void test_name(void **state)
{
	static const char *const bad[] = {
		"Coding", "-x", ".x", "a b", "a/b", "\"\"", "é",
		"a123456789012345678901234567890123456789012345678901234567890123",
	};
	static const char *const good[] = {
		"a", "0", "12", "coding-agent", "a.b_c-d",
		"a12345678901234567890123456789012345678901234567890123456789012",
	};
	char doc[256], want[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(doc, sizeof(doc),
			 "apiVersion: agentfence/v1\nkind: Policy\nmetadata: {name: %s}\nspec: {}\n",
			 bad[i]);
		snprintf(want, sizeof(want),
			 "3:18: invalid metadata.name '%s' (lower-case letters, digits, '.', '_', '-'; starts with a letter or digit; at most 63 characters)",
			 bad[i][0] == '"' ? "" : bad[i]);
		expect_err(doc, want);
	}
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct af_policy *p;

		snprintf(doc, sizeof(doc),
			 "apiVersion: agentfence/v1\nkind: Policy\nmetadata: {name: %s}\nspec: {}\n",
			 good[i]);
		p = load_ok(doc);
		assert_string_equal(p->name, good[i]);
		af_policy_free(p);
	}
}

static void test_mode(void **state)
{
	struct af_policy *p;

	(void)state;
	p = load_ok(SPEC "  mode: audit\n");
	assert_int_equal(p->mode, AF_MODE_AUDIT);
	assert_string_equal(af_mode_name(p->mode), "audit");
	af_policy_free(p);
	p = load_ok(SPEC "  mode: 'enforce'\n");
	assert_int_equal(p->mode, AF_MODE_ENFORCE);
	af_policy_free(p);
	p = load_ok(HDR "spec: {}\n");
	assert_int_equal(p->mode, AF_MODE_ENFORCE);
	assert_string_equal(af_mode_name(p->mode), "enforce");
	af_policy_free(p);
	expect_err(SPEC "  mode: strict\n",
		   "5:9: unknown mode 'strict' (expected enforce or audit)");
	expect_err(SPEC "  mode: Enforce\n",
		   "5:9: unknown mode 'Enforce' (expected enforce or audit)");
	expect_err(SPEC "  mode: [audit]\n", "5:9: spec.mode must be a string, not a sequence");
	expect_err(SPEC "  mode:\n", "5:8: spec.mode must be a string, not null");
}

/* ---- text-level hostility ---- */

static void test_invalid_utf8(void **state)
{
	static const struct {
		const char *bytes;
		const char *want;
	} cases[] = {
		{ "\xff", "2:7: invalid UTF-8 (byte 0xff)" },
		{ "\xc0\xaf", "2:7: invalid UTF-8 (byte 0xc0)" },	  /* overlong */
		{ "\xe0\x80\xaf", "2:7: invalid UTF-8 (byte 0xe0)" }, /* overlong */
		{ "\xed\xa0\x80", "2:7: invalid UTF-8 (byte 0xed)" }, /* surrogate */
		{ "\xf4\x90\x80\x80", "2:7: invalid UTF-8 (byte 0xf4)" }, /* > U+10FFFF */
		{ "\x80", "2:7: invalid UTF-8 (byte 0x80)" },
		{ "\xe2\x82", "2:7: invalid UTF-8 (byte 0xe2)" },	  /* truncated */
	};
	char doc[128];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(doc, sizeof(doc), "a: 1\nb: 'é€%s'\n", cases[i].bytes);
		expect_err(doc, cases[i].want);
	}
	/* Truncated at the very end of the buffer. */
	expect_errn_v("a: \xf0\x9f\x98", 6, &vars, "1:4: invalid UTF-8 (byte 0xf0)");
	/* UTF-16 is not UTF-8, BOM or not. */
	expect_errn_v("\xff\xfe" "a\0:\0", 6, &vars, "1:1: invalid UTF-8 (byte 0xff)");
}

static void test_control_bytes(void **state)
{
	static const char nul_doc[] = "apiVersion: agentfence/v1\nkind: Pol\0icy\n";

	(void)state;
	expect_errn_v(nul_doc, sizeof(nul_doc) - 1, &vars, "2:10: NUL byte in document");
	expect_errn_v("\0", 1, &vars, "1:1: NUL byte in document");
	expect_err("a: b\x01\n", "1:5: control character U+0001 is not allowed");
	expect_err("a: b\x7f\n", "1:5: control character U+007F is not allowed");
	expect_err("a: b\xc2\x85\n", "1:5: control character U+0085 is not allowed");
	expect_err("a: 1\xe2\x80\xa8\n", "1:5: line separator U+2028 is not allowed (use a newline)");
	expect_err("a: \xef\xbf\xbe\n", "1:4: character U+FFFE is not allowed");
	expect_err("a: \xef\xbb\xbf\n", "1:4: byte order mark is only allowed at the start");
	/* Escapes can smuggle a NUL into a scalar; it must not truncate. */
	expect_err(FS "    writable: [\"/tmp\\0/etc\"]\n",
		   "6:16: path must not contain NUL bytes");
	expect_err(SPEC "  mode: \"audit\\0x\"\n", "5:9: spec.mode must not contain NUL bytes");
	expect_err(FS "    writable: [\"/tmp/\\e[31m\"]\n",
		   "6:16: path '/tmp/\\x1b[31m' contains a control character");
	/* Escaped control characters are shown escaped, never raw. */
	expect_err(SPEC "  mode: \"\\e]0;pwned\\a\"\n",
		   "5:9: unknown mode '\\x1b]0;pwned\\x07' (expected enforce or audit)");
	expect_err(SPEC "  mode: \"\\x9b\"\n",
		   "5:9: unknown mode '\\xc2\\x9b' (expected enforce or audit)");
}

static void test_bom_and_crlf(void **state)
{
	struct af_policy *p;

	(void)state;
	/* A leading BOM is dropped and does not shift columns. */
	p = load_ok("\xef\xbb\xbf" SPEC "  mode: audit\n");
	assert_int_equal(p->mode, AF_MODE_AUDIT);
	af_policy_free(p);
	expect_err("\xef\xbb\xbf" "bad: 1\n", "1:1: unknown key 'bad' at top level");
	expect_err("\xef\xbb\xbf" "a: \x01\n", "1:4: control character U+0001 is not allowed");
	/* CRLF counts as one line break, for libyaml and for us. */
	expect_err("apiVersion: agentfence/v1\r\nkind: Policy\r\nmetadata: {name: t}\r\n"
		   "spec:\r\n  mode: x\r\n",
		   "5:9: unknown mode 'x' (expected enforce or audit)");
	expect_err("a: 1\r\nb: \x01\r\n", "2:4: control character U+0001 is not allowed");
}

static void test_nesting_depth(void **state)
{
	char doc[256];
	int i, o;

	(void)state;
	/* 32 levels: the tree is fine, the schema is not. */
	o = snprintf(doc, sizeof(doc), "a: ");
	for (i = 0; i < AF_POLICY_MAX_DEPTH - 1; i++)
		doc[o++] = '[';
	for (i = 0; i < AF_POLICY_MAX_DEPTH - 1; i++)
		doc[o++] = ']';
	doc[o] = '\0';
	expect_err(doc, "1:1: unknown key 'a' at top level");
	/* 33 levels: refused at the 33rd opener. */
	o = snprintf(doc, sizeof(doc), "a: ");
	for (i = 0; i < AF_POLICY_MAX_DEPTH; i++)
		doc[o++] = '[';
	for (i = 0; i < AF_POLICY_MAX_DEPTH; i++)
		doc[o++] = ']';
	doc[o] = '\0';
	expect_err(doc, "1:35: nesting deeper than 32 levels");
}

static void test_deep_nesting_unbalanced(void **state)
{
	size_t n = 500000, i;
	char *doc = malloc(n + 8);

	(void)state;
	assert_non_null(doc);
	memcpy(doc, "a: ", 3);
	for (i = 0; i < n; i++)
		doc[3 + i] = '[';
	expect_errn_v(doc, 3 + n, &vars, "1:35: nesting deeper than 32 levels");
	free(doc);
}

static void test_size_limits(void **state)
{
	char *doc, want[256];
	size_t n, i;

	(void)state;
	/* Many small nodes: bounded before memory is. */
	doc = malloc(AF_POLICY_MAX_BYTES);
	assert_non_null(doc);
	n = 0;
	n += sprintf(doc, "a: [");
	for (i = 0; i < 70000; i++) {
		doc[n++] = '1';
		doc[n++] = ',';
	}
	doc[n++] = ']';
	snprintf(want, sizeof(want), "1:%d: document too large (more than %d nodes)",
		 5 + 2 * (AF_POLICY_MAX_NODES - 3), AF_POLICY_MAX_NODES);
	expect_errn_v(doc, n, &vars, want);
	free(doc);
}

static void test_too_large(void **state)
{
	size_t n = AF_POLICY_MAX_BYTES + 1;
	char *doc = malloc(n), err[AF_ERR_MAX];
	struct af_policy *p;

	(void)state;
	assert_non_null(doc);
	memset(doc, ' ', n);
	assert_int_equal(load_vars(doc, n, &vars, &p, err), -EINVAL);
	assert_null(p);
	assert_string_equal(err, "t.yaml: policy is larger than 1048576 bytes");
	/* Exactly at the limit is parsed (and is empty). */
	expect_errn_v(doc, n - 1, &vars, "1:1: empty document");
	free(doc);
}

static void test_huge_scalars(void **state)
{
	size_t n = 1000000;
	char *doc = malloc(n + 256), *want;

	(void)state;
	assert_non_null(doc);
	/* A 1 MB mode string: the message quotes only its start. */
	strcpy(doc, SPEC "  mode: \"");
	memset(doc + strlen(doc), 'x', n);
	strcpy(doc + strlen(SPEC "  mode: \"") + n, "\"\n");
	want = xasprintf("5:9: unknown mode '%.100s...' (expected enforce or audit)",
			 doc + strlen(SPEC "  mode: \""));
	expect_err(doc, want);
	free(want);
	/* A plain key longer than libyaml's simple-key limit. */
	memset(doc, 'k', 2000);
	strcpy(doc + 2000, ": 1\n");
	expect_err(doc, "1:2001: syntax error: mapping values are not allowed in this context");
	/* A path longer than PATH_MAX. */
	strcpy(doc, FS "    writable: [\"/");
	memset(doc + strlen(doc), 'p', 5000);
	strcpy(doc + strlen(FS "    writable: [\"/") + 5000, "\"]\n");
	want = xasprintf("6:16: path '/%.99s...' is longer than 4095 bytes",
			 doc + strlen(FS "    writable: [\"/"));
	expect_err(doc, want);
	free(want);
	/* A host longer than DNS allows. */
	strcpy(doc, NET "      - host: ");
	memset(doc + strlen(doc), 'h', 300);
	strcpy(doc + strlen(NET "      - host: ") + 300, "\n");
	want = xasprintf("7:15: host '%.100s...' is longer than 253 characters",
			 doc + strlen(NET "      - host: "));
	expect_err(doc, want);
	free(want);
	free(doc);
}

/* ---- filesystem ---- */

static void test_filesystem_valid(void **state)
{
	struct af_policy *p;
	char *want;

	(void)state;
	p = load_ok(FS "    writable: [\"${WORKSPACE}\", /tmp, /dev/null]\n"
		    "    deny_read: [\"${HOME}/.ssh\", \"${HOME}/.aws\", /etc/passwd]\n");
	assert_int_equal(p->n_writable, 3);
	assert_string_equal(p->writable[0].path, ws);
	assert_string_equal(p->writable[0].raw, "${WORKSPACE}");
	assert_int_equal(p->writable[0].loc.line, 6);
	assert_int_equal(p->writable[0].loc.col, 16);
	assert_true(p->writable[0].exists);
	assert_string_equal(p->writable[1].path, "/tmp");
	assert_string_equal(p->writable[2].path, "/dev/null");
	assert_int_equal(p->writable[2].loc.col, 38);
	assert_int_equal(p->n_deny_read, 3);
	want = xasprintf("%s/.ssh", home);
	assert_string_equal(p->deny_read[0].path, want);
	free(want);
	assert_true(p->deny_read[0].exists);
	assert_false(p->deny_read[1].exists);
	assert_true(p->deny_read[2].exists);
	assert_int_equal(p->n_warnings, 1);
	want = xasprintf("t.yaml:7:33: warning: deny_read path '%s/.aws' does not exist; nothing to protect",
			 home);
	assert_string_equal(p->warnings[0], want);
	free(want);
	assert_false(p->has_network);
	af_policy_free(p);

	/* No filesystem section, or empty lists: nothing writable. */
	p = load_ok(SPEC "  mode: enforce\n");
	assert_int_equal(p->n_writable, 0);
	assert_int_equal(p->n_deny_read, 0);
	assert_int_equal(p->n_warnings, 0);
	af_policy_free(p);
	p = load_ok(FS "    writable: []\n    deny_read: []\n");
	assert_int_equal(p->n_writable, 0);
	af_policy_free(p);
	p = load_ok(SPEC "  filesystem: {}\n");
	assert_int_equal(p->n_writable, 0);
	af_policy_free(p);

	/* Block sequences, quoted and plain. */
	p = load_ok(FS "    writable:\n      - '/tmp'\n      - /dev/null\n");
	assert_int_equal(p->n_writable, 2);
	assert_int_equal(p->writable[1].loc.line, 8);
	assert_int_equal(p->writable[1].loc.col, 9);
	af_policy_free(p);
}

static void test_normalization(void **state)
{
	static const struct {
		const char *raw;
		const char *path;
	} cases[] = {
		{ "/tmp/", "/tmp" },
		{ "//tmp//", "/tmp" },
		{ "/./tmp/.", "/tmp" },
		{ "/tmp/../tmp", "/tmp" },
		{ "/../../tmp", "/tmp" },
		{ "/dev/./pts/../null", "/dev/null" },
		{ "/.", "/" },
		{ "/..", "/" },
		{ "///", "/" },
		{ "/tmp/..", "/" },
		{ "/tmp/...", "/tmp/..." },	/* not a dot-dot */
		{ "/tmp/.x", "/tmp/.x" },
		{ "/tmp/$x/{y}", "/tmp/$x/{y}" },	/* not variables */
	};
	struct af_policy *p;
	char doc[512];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(doc, sizeof(doc), FS "    deny_read: [\"%s\"]\n", cases[i].raw);
		p = load_ok(doc);
		assert_int_equal(p->n_deny_read, 1);
		assert_string_equal(p->deny_read[0].path, cases[i].path);
		assert_string_equal(p->deny_read[0].raw, cases[i].raw);
		af_policy_free(p);
	}
}

static void test_expansion(void **state)
{
	struct af_policy_vars v = { 0 };
	struct af_policy *p;
	char *want, *doc;

	(void)state;
	p = load_ok(FS "    writable: [\"${WORKSPACE}/./x/..\", \"${HOME}/.ssh/../\"]\n"
		    "    deny_read: [\"${WORKSPACE}${HOME}\"]\n");
	assert_string_equal(p->writable[0].path, ws);
	assert_string_equal(p->writable[1].path, home);
	want = xasprintf("%s%s", ws, home);
	assert_string_equal(p->deny_read[0].path, want);
	assert_false(p->deny_read[0].exists);
	free(want);
	af_policy_free(p);

	/* A relative variable value is caught by the absolute check. */
	v.workspace = "rel";
	v.home = home;
	expect_errn_v(FS "    writable: [\"${WORKSPACE}/a\"]\n",
		      strlen(FS "    writable: [\"${WORKSPACE}/a\"]\n"), &v,
		      "6:16: path 'rel/a' is not absolute");
	/* Unset, empty, NULL vars. */
	v.workspace = NULL;
	doc = FS "    writable: [\"${WORKSPACE}\"]\n";
	expect_errn_v(doc, strlen(doc), &v, "6:16: ${WORKSPACE} is not set (pass --workspace)");
	v.workspace = "";
	expect_errn_v(doc, strlen(doc), &v, "6:16: ${WORKSPACE} is not set (pass --workspace)");
	expect_errn_v(doc, strlen(doc), NULL, "6:16: ${WORKSPACE} is not set (pass --workspace)");
	v.workspace = ws;
	v.home = NULL;
	doc = FS "    deny_read: [\"${HOME}/.ssh\"]\n";
	expect_errn_v(doc, strlen(doc), &v, "6:17: ${HOME} is not set");
	/* An unused unset variable is no problem. */
	doc = FS "    writable: [/tmp]\n";
	assert_int_equal(af_policy_load_buf(doc, strlen(doc), "t.yaml", NULL, &p, NULL), 0);
	af_policy_free(p);

	expect_err(FS "    writable: [\"${OTHER}/x\"]\n",
		   "6:16: unknown variable '${OTHER}' in path (only ${WORKSPACE} and ${HOME} are defined)");
	expect_err(FS "    writable: [\"${workspace}\"]\n",
		   "6:16: unknown variable '${workspace}' in path (only ${WORKSPACE} and ${HOME} are defined)");
	expect_err(FS "    writable: [\"${}\"]\n",
		   "6:16: unknown variable '${}' in path (only ${WORKSPACE} and ${HOME} are defined)");
	expect_err(FS "    writable: [\"${WORKSPACE\"]\n",
		   "6:16: unterminated variable in path '${WORKSPACE'");
	/* $WORKSPACE without braces is a literal path component. */
	expect_err(FS "    writable: [\"$WORKSPACE\"]\n",
		   "6:16: path '$WORKSPACE' is not absolute");
	/* Expansion results are not expanded again. */
	v.workspace = "/tmp/${HOME}";
	v.home = home;
	doc = FS "    deny_read: [\"${WORKSPACE}\"]\n";
	assert_int_equal(af_policy_load_buf(doc, strlen(doc), "t.yaml", &v, &p, NULL), 0);
	assert_string_equal(p->deny_read[0].path, "/tmp/${HOME}");
	af_policy_free(p);
}

/* The hash the journal records is of the very bytes parsed, also when
 * they came from a pipe: one byte more, a different hash. */
static void test_sha256_of_parsed_bytes(void **state)
{
	const char *doc = FS "    writable: [/tmp]\n";
	char want[AF_SHA256_HEX], doc2[512];
	struct af_policy *p;

	(void)state;
	assert_int_equal(af_policy_load_buf(doc, strlen(doc), "t.yaml", NULL, &p, NULL), 0);
	af_sha256_hex(doc, strlen(doc), want);
	assert_string_equal(p->sha256, want);
	af_policy_free(p);
	snprintf(doc2, sizeof(doc2), "%s\n", doc);
	assert_int_equal(af_policy_load_buf(doc2, strlen(doc2), "t.yaml", NULL, &p, NULL), 0);
	assert_string_not_equal(p->sha256, want);
	af_policy_free(p);
}

static void test_filesystem_errors(void **state)
{
	char *doc, *p;
	int i;

	(void)state;
	expect_err(FS "    writable: /tmp\n",
		   "6:15: spec.filesystem.writable must be a sequence, not a string");
	expect_err(FS "    writable:\n",
		   "6:14: spec.filesystem.writable must be a sequence, not null");
	expect_err(FS "    deny_read: {a: b}\n",
		   "6:16: spec.filesystem.deny_read must be a sequence, not a mapping");
	expect_err(SPEC "  filesystem: [/tmp]\n",
		   "5:15: spec.filesystem must be a mapping, not a sequence");
	expect_err(SPEC "  filesystem:\n",
		   "5:14: spec.filesystem must be a mapping, not null");
	expect_err(FS "    writable: [[/tmp]]\n", "6:16: path must be a string, not a sequence");
	expect_err(FS "    writable: [~]\n", "6:16: path must be a string, not null");
	expect_err(FS "    writable: [\"\"]\n", "6:16: path must not be empty");
	expect_err(FS "    writable: [tmp]\n", "6:16: path 'tmp' is not absolute");
	expect_err(FS "    writable: [./tmp]\n", "6:16: path './tmp' is not absolute");
	expect_err(FS "    writable: [~/x]\n",
		   "6:16: path '~/x' is not absolute (use ${HOME} instead of ~)");
	expect_err(FS "    writable: [/tmp, /nonexistent-af-test]\n",
		   "6:22: writable path '/nonexistent-af-test' does not exist");
	expect_err(FS "    writable: [/dev/null/x]\n",
		   "6:16: writable path '/dev/null/x' does not exist");
	expect_err(FS "    writable: [/tmp, /dev/null, /tmp/]\n",
		   "6:33: duplicate path '/tmp' in spec.filesystem.writable (first at 6:16)");
	expect_err(FS "    deny_read: [/etc/shadow, /etc/../etc/shadow]\n",
		   "6:30: duplicate path '/etc/shadow' in spec.filesystem.deny_read (first at 6:17)");
	expect_err(FS "    writable: [/tmp]\n    deny_read: [/tmp/.]\n",
		   "7:17: deny_read path '/tmp' is also writable (at 6:16)");
	expect_err(FS "    deny_read: [/tmp]\n    writable: [/dev/null, /tmp]\n",
		   "6:17: deny_read path '/tmp' is also writable (at 7:27)");
	/* deny_read inside writable is how secrets in a workspace are kept. */
	af_policy_free(load_ok(FS "    writable: [/tmp]\n    deny_read: [/tmp/secret]\n"));

	/* 64 entries are allowed, the 65th is refused where it stands. */
	doc = malloc(64 * 1024);
	assert_non_null(doc);
	p = doc + sprintf(doc, FS "    deny_read:\n");
	for (i = 0; i < AF_POLICY_MAX_PATHS; i++)
		p += sprintf(p, "      - /x/%d\n", i);
	af_policy_free(load_ok(doc));
	sprintf(p, "      - /x/64\n");
	expect_err(doc, "71:9: too many entries in spec.filesystem.deny_read (max 64)");
	free(doc);
}

static void test_writable_root_warns(void **state)
{
	struct af_policy *p;

	(void)state;
	p = load_ok(FS "    writable: [/]\n");
	assert_int_equal(p->n_warnings, 1);
	assert_string_equal(p->warnings[0],
			    "t.yaml:6:16: warning: writable path '/' makes every path writable");
	af_policy_free(p);
}

/* ---- network ---- */

static void test_network_full(void **state)
{
	struct af_policy *p;
	const struct af_net_rule *r;
	static const uint8_t v6[16] = { 0x20, 0x01, 0x0d, 0xb8 };

	(void)state;
	p = load_ok(SPEC "  network:\n"
		    "    allow:\n"
		    "      - {host: Api.Anthropic.COM, ports: [443]}\n"
		    "      - {host: \"*.pythonhosted.org\", ports: [443, 80]}\n"
		    "      - {cidr: 10.0.0.0/8, ports: [5432], protocol: tcp}\n"
		    "      - {cidr: \"2001:db8::/32\"}\n"
		    "      - {cidr: 127.0.0.53, ports: [53], protocol: udp}\n"
		    "      - {cidr: \"::1\", protocol: any}\n"
		    "      - host: localhost\n"
		    "    allow_loopback: true\n"
		    "    dns: {servers: [system, 10.0.0.2, \"2001:DB8:0::0001\"]}\n"
		    "    unix: {allow: [\"${WORKSPACE}/sock\", /run/docker.sock/]}\n");
	assert_true(p->has_network);
	assert_int_equal(p->network_loc.line, 5);
	assert_int_equal(p->network_loc.col, 3);
	assert_int_equal(p->n_net_allow, 7);

	r = &p->net_allow[0];
	assert_int_equal(r->kind, AF_NET_HOST);
	assert_string_equal(r->host, "api.anthropic.com");
	assert_int_equal(r->nports, 1);
	assert_int_equal(r->ports[0], 443);
	assert_int_equal(r->protocol, 0);
	assert_int_equal(r->loc.line, 7);
	assert_int_equal(r->loc.col, 9);

	r = &p->net_allow[1];
	assert_string_equal(r->host, "*.pythonhosted.org");
	assert_int_equal(r->nports, 2);
	assert_int_equal(r->ports[1], 80);

	r = &p->net_allow[2];
	assert_int_equal(r->kind, AF_NET_CIDR);
	assert_null(r->host);
	assert_int_equal(r->family, AF_INET);
	assert_int_equal(r->prefix, 8);
	assert_int_equal(r->addr[0], 10);
	assert_int_equal(r->protocol, IPPROTO_TCP);

	r = &p->net_allow[3];
	assert_int_equal(r->family, AF_INET6);
	assert_int_equal(r->prefix, 32);
	assert_memory_equal(r->addr, v6, 16);
	assert_int_equal(r->nports, 0);

	r = &p->net_allow[4];
	assert_int_equal(r->family, AF_INET);
	assert_int_equal(r->prefix, 32);	/* bare address */
	assert_int_equal(r->protocol, IPPROTO_UDP);

	r = &p->net_allow[5];
	assert_int_equal(r->family, AF_INET6);
	assert_int_equal(r->prefix, 128);
	assert_int_equal(r->addr[15], 1);
	assert_int_equal(r->protocol, 0);

	assert_string_equal(p->net_allow[6].host, "localhost");
	assert_int_equal(p->net_allow[6].loc.line, 13);
	assert_int_equal(p->net_allow[6].loc.col, 9);

	assert_true(p->allow_loopback);
	assert_int_equal(p->n_dns_servers, 3);
	assert_string_equal(p->dns_servers[0], "system");
	assert_string_equal(p->dns_servers[1], "10.0.0.2");
	assert_string_equal(p->dns_servers[2], "2001:db8::1");
	assert_int_equal(p->n_unix_allow, 2);
	assert_false(p->unix_allow[0].exists);	/* missing is fine here */
	assert_string_equal(p->unix_allow[1].path, "/run/docker.sock");
	assert_int_equal(p->n_warnings, 0);
	af_policy_free(p);
}

static void test_network_defaults(void **state)
{
	struct af_policy *p;

	(void)state;
	p = load_ok(SPEC "  network: {}\n");
	assert_true(p->has_network);
	assert_int_equal(p->n_net_allow, 0);
	assert_false(p->allow_loopback);
	assert_int_equal(p->n_dns_servers, 1);
	assert_string_equal(p->dns_servers[0], "system");
	/* No unix section: the workspace's sockets only. */
	assert_int_equal(p->n_unix_allow, 1);
	assert_string_equal(p->unix_allow[0].path, vars.workspace);
	af_policy_free(p);
	p = load_ok(SPEC "  network:\n    unix: {allow: []}\n");
	assert_int_equal(p->n_unix_allow, 0);
	af_policy_free(p);
	p = load_ok(SPEC "  network:\n    allow: []\n    allow_loopback: false\n    dns: {}\n");
	assert_false(p->allow_loopback);
	assert_int_equal(p->n_dns_servers, 1);
	af_policy_free(p);
}

static void test_network_hosts(void **state)
{
	static const struct {
		const char *host;
		const char *want;	/* NULL: valid */
	} cases[] = {
		{ "example.com", NULL },
		{ "*.example.com", NULL },
		{ "*.co.uk", NULL },
		{ "xn--bcher-kva.example", NULL },
		{ "a-b.c0", NULL },
		{ "1.example.com", NULL },
		{ "*.com", "wildcard host '*.com' is too broad (needs at least two labels after '*.')" },
		{ "*", "wildcard in host '*' is only allowed as a whole first label, as in '*.example.com'" },
		{ "*.", "host '*.' has an empty label" },
		{ "foo*.example.com", "wildcard in host 'foo*.example.com' is only allowed as a whole first label, as in '*.example.com'" },
		{ "a.*.com", "wildcard in host 'a.*.com' is only allowed as a whole first label, as in '*.example.com'" },
		{ "*.*.example.com", "wildcard in host '*.*.example.com' is only allowed as a whole first label, as in '*.example.com'" },
		{ "**.example.com", "wildcard in host '**.example.com' is only allowed as a whole first label, as in '*.example.com'" },
		{ "10.0.0.1", "'10.0.0.1' is an address; use cidr: for addresses" },
		{ "::1", "'::1' is an address; use cidr: for addresses" },
		{ "[::1]", "'[::1]' is an address; use cidr: for addresses" },
		{ "1.2.3", "'1.2.3' looks like an address; use cidr: for addresses" },
		{ "0x7f.1", "'0x7f.1' looks like an address; use cidr: for addresses" },
		{ "a..b", "host 'a..b' has an empty label" },
		{ "a.com.", "host 'a.com.' has an empty label" },
		{ ".a.com", "host '.a.com' has an empty label" },
		{ "-a.com", "host '-a.com' has a label that starts or ends with '-'" },
		{ "a-.com", "host 'a-.com' has a label that starts or ends with '-'" },
		{ "a_b.com", "host 'a_b.com' contains '_'; labels are letters, digits and '-'" },
		{ "a b.com", "host 'a b.com' contains ' '; labels are letters, digits and '-'" },
		{ "a:80", "host 'a:80' contains ':'; labels are letters, digits and '-'" },
		/* Found by fuzzing: the offending character was printed raw. */
		{ "a\\rb.com", "host 'a\\x0db.com' contains '\\x0d'; labels are letters, digits and '-'" },
		{ "b\xc3\xbc" "cher.de", "host 'b\xc3\xbc" "cher.de' is not ASCII; use its punycode (xn--) form" },
		{ "", "host must be a string, not null" },
	};
	char doc[512], want[512];
	struct af_policy *p;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(doc, sizeof(doc), NET "      - host: %s%s%s\n",
			 cases[i].host[0] ? "\"" : "", cases[i].host,
			 cases[i].host[0] ? "\"" : "");
		if (!cases[i].want) {
			p = load_ok(doc);
			assert_string_equal(p->net_allow[0].host, cases[i].host);
			af_policy_free(p);
			continue;
		}
		snprintf(want, sizeof(want), "7:%d: %s", cases[i].host[0] ? 15 : 14,
			 cases[i].want);
		expect_err(doc, want);
	}
	/* Labels of 63 characters, names of 253. */
	snprintf(doc, sizeof(doc), NET "      - host: %.63s.com\n",
		 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	af_policy_free(load_ok(doc));
	snprintf(doc, sizeof(doc), NET "      - host: %.64s.com\n",
		 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	snprintf(want, sizeof(want),
		 "7:15: host '%.64s.com' has a label longer than 63 characters",
		 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	expect_err(doc, want);
	{
		char host[300];
		int o = 0;

		while (o < 253 - 4)
			o += sprintf(host + o, "abc.");
		sprintf(host + o, "%.*s", 253 - o, "abcd");
		assert_int_equal(strlen(host), 253);
		snprintf(doc, sizeof(doc), NET "      - host: %s\n", host);
		af_policy_free(load_ok(doc));
	}
	expect_err(NET "      - host: [a.com]\n", "7:15: host must be a string, not a sequence");
}

static void test_network_cidrs(void **state)
{
	static const struct {
		const char *cidr;
		const char *want;
	} cases[] = {
		{ "0.0.0.0/0", NULL },
		{ "::/0", NULL },
		{ "10.1.2.3/32", NULL },
		{ "10.1.2.0/23", NULL },
		{ "10.0.0.1/8", "10.0.0.1/8 has host bits set; did you mean 10.0.0.0/8?" },
		{ "10.1.3.0/23", "10.1.3.0/23 has host bits set; did you mean 10.1.2.0/23?" },
		{ "2001:db8::1/32", "2001:db8::1/32 has host bits set; did you mean 2001:db8::/32?" },
		{ "2001:db8:8000::/33", NULL },
		{ "2001:db8:4000::/33", "2001:db8:4000::/33 has host bits set; did you mean 2001:db8::/33?" },
		{ "10.0.0.0/33", "prefix /33 in '10.0.0.0/33' is out of range for IPv4 (0-32)" },
		{ "::/129", "prefix /129 in '::/129' is out of range for IPv6 (0-128)" },
		{ "10.0.0.0/08", "'10.0.0.0/08' is not a valid cidr (expected ADDRESS/PREFIX, e.g. 10.0.0.0/8)" },
		{ "10.0.0.0/", "'10.0.0.0/' is not a valid cidr (expected ADDRESS/PREFIX, e.g. 10.0.0.0/8)" },
		{ "10.0.0.0/-1", "'10.0.0.0/-1' is not a valid cidr (expected ADDRESS/PREFIX, e.g. 10.0.0.0/8)" },
		{ "10.0.0.0/1000", "'10.0.0.0/1000' is not a valid cidr (expected ADDRESS/PREFIX, e.g. 10.0.0.0/8)" },
		{ "10.0.0.0/8/8", "'10.0.0.0/8/8' is not a valid cidr (expected ADDRESS/PREFIX, e.g. 10.0.0.0/8)" },
		{ "010.0.0.0/8", "'010.0.0.0/8' is not a valid cidr (expected ADDRESS/PREFIX, e.g. 10.0.0.0/8)" },
		{ "10.0.0/8", "'10.0.0/8' is not a valid cidr (expected ADDRESS/PREFIX, e.g. 10.0.0.0/8)" },
		{ "fe80::1%eth0/128", "'fe80::1%eth0/128' is not a valid cidr (expected ADDRESS/PREFIX, e.g. 10.0.0.0/8)" },
		{ "example.com/8", "'example.com/8' is not a valid cidr (expected ADDRESS/PREFIX, e.g. 10.0.0.0/8)" },
		{ " 10.0.0.0/8", "' 10.0.0.0/8' is not a valid cidr (expected ADDRESS/PREFIX, e.g. 10.0.0.0/8)" },
	};
	char doc[512], want[512];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(doc, sizeof(doc), NET "      - cidr: \"%s\"\n", cases[i].cidr);
		if (!cases[i].want) {
			af_policy_free(load_ok(doc));
			continue;
		}
		snprintf(want, sizeof(want), "7:15: %s", cases[i].want);
		expect_err(doc, want);
	}
}

static void test_network_items(void **state)
{
	char *doc, *p;
	int i;

	(void)state;
	expect_err(NET "      - {host: a.io, cidr: 10.0.0.0/8}\n",
		   "7:22: spec.network.allow[0] has both host and cidr; use one per entry");
	expect_err(NET "      - {cidr: 10.0.0.0/8, host: a.io}\n",
		   "7:28: spec.network.allow[0] has both host and cidr; use one per entry");
	expect_err(NET "      - {host: a.io}\n      - {ports: [1]}\n",
		   "8:9: spec.network.allow[1] needs a host or a cidr");
	expect_err(NET "      - {}\n", "7:9: spec.network.allow[0] needs a host or a cidr");
	expect_err(NET "      - a.io\n",
		   "7:9: spec.network.allow[0] must be a mapping, not a string");
	expect_err(NET "      -\n", "7:8: spec.network.allow[0] must be a mapping, not null");
	expect_err(NET "      - {host: a.io, host: b.io}\n",
		   "7:22: duplicate key 'host' in spec.network.allow[0] (first at 7:10)");
	expect_err(SPEC "  network:\n    allow: {host: a.io}\n",
		   "6:12: spec.network.allow must be a sequence, not a mapping");
	expect_err(SPEC "  network: [a]\n", "5:12: spec.network must be a mapping, not a sequence");
	expect_err(SPEC "  network:\n", "5:11: spec.network must be a mapping, not null");
	expect_err(SPEC "  network:\n    deny: []\n",
		   "6:5: unknown key 'deny' in spec.network");

	/* protocol */
	expect_err(NET "      - {host: a.io, protocol: icmp}\n",
		   "7:32: unknown protocol 'icmp' (expected tcp, udp or any)");
	expect_err(NET "      - {host: a.io, protocol: TCP}\n",
		   "7:32: unknown protocol 'TCP' (expected tcp, udp or any)");
	expect_err(NET "      - {host: a.io, protocol: [tcp]}\n",
		   "7:32: protocol must be a string, not a sequence");

	/* 256 items pass, the 257th is refused. */
	doc = malloc(64 * 1024);
	assert_non_null(doc);
	p = doc + sprintf(doc, NET);
	for (i = 0; i < AF_NET_MAX_ALLOW; i++)
		p += sprintf(p, "      - {cidr: 10.0.%d.%d/32}\n", i / 256, i % 256);
	af_policy_free(load_ok(doc));
	sprintf(p, "      - {host: a.io}\n");
	expect_err(doc, "263:9: too many entries in spec.network.allow (max 256)");
	free(doc);
}

static void test_network_ports(void **state)
{
	char doc[1024], *p;
	struct af_policy *pol;
	int i;

	(void)state;
	pol = load_ok(NET "      - {host: a.io, ports: [1, 65535]}\n");
	assert_int_equal(pol->net_allow[0].ports[0], 1);
	assert_int_equal(pol->net_allow[0].ports[1], 65535);
	af_policy_free(pol);
	expect_err(NET "      - {host: a.io, ports: []}\n",
		   "7:29: ports must not be empty (leave it out to allow every port)");
	expect_err(NET "      - {host: a.io, ports: 443}\n",
		   "7:29: ports must be a sequence, not an integer");
	expect_err(NET "      - {host: a.io, ports: [0]}\n",
		   "7:30: port 0 is out of range (1-65535)");
	expect_err(NET "      - {host: a.io, ports: [65536]}\n",
		   "7:30: port 65536 is out of range (1-65535)");
	expect_err(NET "      - {host: a.io, ports: [99999999999999999999]}\n",
		   "7:30: port 99999999999999999999 is out of range (1-65535)");
	expect_err(NET "      - {host: a.io, ports: [0443]}\n",
		   "7:30: port '0443' has a leading zero");
	expect_err(NET "      - {host: a.io, ports: [0x1bb]}\n",
		   "7:30: port '0x1bb' is not a decimal integer");
	expect_err(NET "      - {host: a.io, ports: [+443]}\n",
		   "7:30: port '+443' is not a decimal integer");
	expect_err(NET "      - {host: a.io, ports: [-1]}\n",
		   "7:30: port '-1' is not a decimal integer");
	expect_err(NET "      - {host: a.io, ports: [4e2]}\n",
		   "7:30: port '4e2' is not a decimal integer");
	expect_err(NET "      - {host: a.io, ports: [\"443\"]}\n",
		   "7:30: port must be an unquoted integer, not '443'");
	expect_err(NET "      - {host: a.io, ports: [~]}\n",
		   "7:30: port must be an integer, not null");
	expect_err(NET "      - {host: a.io, ports: [[443]]}\n",
		   "7:30: port must be an integer, not a sequence");
	expect_err(NET "      - {host: a.io, ports: [443, 80, 443]}\n",
		   "7:39: duplicate port 443");

	/* 32 ports pass, 33 do not. */
	p = doc + sprintf(doc, NET "      - host: a.io\n        ports:\n");
	for (i = 1; i <= AF_NET_MAX_PORTS; i++)
		p += sprintf(p, "          - %d\n", i);
	pol = load_ok(doc);
	assert_int_equal(pol->net_allow[0].nports, AF_NET_MAX_PORTS);
	af_policy_free(pol);
	sprintf(p, "          - 33\n");
	expect_err(doc, "41:13: too many ports (max 32)");
}

static void test_network_bools(void **state)
{
	(void)state;
	expect_err(SPEC "  network:\n    allow_loopback: yes\n",
		   "6:21: spec.network.allow_loopback must be true or false, not 'yes'");
	expect_err(SPEC "  network:\n    allow_loopback: True\n",
		   "6:21: spec.network.allow_loopback must be true or false, not 'True'");
	expect_err(SPEC "  network:\n    allow_loopback: \"true\"\n",
		   "6:21: spec.network.allow_loopback must be true or false (unquoted), not 'true'");
	expect_err(SPEC "  network:\n    allow_loopback: 1\n",
		   "6:21: spec.network.allow_loopback must be true or false, not '1'");
	expect_err(SPEC "  network:\n    allow_loopback:\n",
		   "6:20: spec.network.allow_loopback must be true or false, not null");
	expect_err(SPEC "  network:\n    allow_loopback: [true]\n",
		   "6:21: spec.network.allow_loopback must be true or false, not a sequence");
}

static void test_network_dns_unix(void **state)
{
	char doc[2048], *p;
	int i;

	(void)state;
	expect_err(SPEC "  network:\n    dns: {servers: [resolver.local]}\n",
		   "6:21: dns server 'resolver.local' must be 'system' or an IP address");
	expect_err(SPEC "  network:\n    dns: {servers: [10.0.0.0/8]}\n",
		   "6:21: dns server '10.0.0.0/8' must be 'system' or an IP address");
	expect_err(SPEC "  network:\n    dns: {servers: [system, system]}\n",
		   "6:29: duplicate dns server 'system'");
	expect_err(SPEC "  network:\n    dns: {servers: [\"::1\", \"0::0:1\"]}\n",
		   "6:28: duplicate dns server '::1'");
	expect_err(SPEC "  network:\n    dns: {servers: []}\n",
		   "6:20: spec.network.dns.servers must not be empty (leave it out for [system])");
	expect_err(SPEC "  network:\n    dns: {servers: system}\n",
		   "6:20: spec.network.dns.servers must be a sequence, not a string");
	expect_err(SPEC "  network:\n    dns: [system]\n",
		   "6:10: spec.network.dns must be a mapping, not a sequence");
	expect_err(SPEC "  network:\n    dns: {server: [system]}\n",
		   "6:11: unknown key 'server' in spec.network.dns (did you mean 'servers'?)");
	p = doc + sprintf(doc, SPEC "  network:\n    dns:\n      servers:\n");
	for (i = 0; i <= AF_NET_MAX_DNS; i++)
		p += sprintf(p, "        - 10.0.0.%d\n", i + 1);
	expect_err(doc, "24:11: too many entries in spec.network.dns.servers (max 16)");

	expect_err(SPEC "  network:\n    unix: {allow: [run/x.sock]}\n",
		   "6:20: path 'run/x.sock' is not absolute");
	expect_err(SPEC "  network:\n    unix: {allow: [/a, /a/]}\n",
		   "6:24: duplicate path '/a' in spec.network.unix.allow (first at 6:20)");
	expect_err(SPEC "  network:\n    unix: {allow: /a}\n",
		   "6:19: spec.network.unix.allow must be a sequence, not a string");
	expect_err(SPEC "  network:\n    unix: {alow: [/a]}\n",
		   "6:12: unknown key 'alow' in spec.network.unix (did you mean 'allow'?)");
}

/* ---- spec.event_buffer ---- */

static void test_event_buffer(void **state)
{
	struct af_policy *p;
	char *out;

	(void)state;
	p = load_ok(SPEC "  mode: enforce\n");
	assert_int_equal(p->event_buffer, 0);	/* the node's default */
	af_policy_free(p);
	p = load_ok(SPEC "  event_buffer: 256KiB\n");
	assert_int_equal(p->event_buffer, 256 * 1024);
	out = print_to_string(p, false);
	assert_non_null(strstr(out, "  event_buffer: 256 KiB\n"));
	free(out);
	af_policy_free(p);
	p = load_ok(SPEC "  event_buffer: 1MiB\n");
	assert_int_equal(p->event_buffer, 1024 * 1024);
	af_policy_free(p);
	p = load_ok(SPEC "  event_buffer: 16384\n");
	assert_int_equal(p->event_buffer, 16384);
	af_policy_free(p);

	expect_err(SPEC "  event_buffer: 100000\n",
		   "5:17: spec.event_buffer must be a power of 2 from 16KiB to 64MiB, not '100000'");
	expect_err(SPEC "  event_buffer: 8KiB\n",
		   "5:17: spec.event_buffer must be a power of 2 from 16KiB to 64MiB, not '8KiB'");
	expect_err(SPEC "  event_buffer: 128MiB\n",
		   "5:17: spec.event_buffer must be a power of 2 from 16KiB to 64MiB, not '128MiB'");
	expect_err(SPEC "  event_buffer: 99999999999999999999KiB\n",
		   "5:17: spec.event_buffer must be a size such as 256KiB, 1MiB or 65536, not "
		   "'99999999999999999999KiB'");
	expect_err(SPEC "  event_buffer: 256kb\n",
		   "5:17: spec.event_buffer must be a size such as 256KiB, 1MiB or 65536, not '256kb'");
	expect_err(SPEC "  event_buffer: -64KiB\n",
		   "5:17: spec.event_buffer must be a size such as 256KiB, 1MiB or 65536, not '-64KiB'");
	expect_err(SPEC "  event_buffer: KiB\n",
		   "5:17: spec.event_buffer must be a size such as 256KiB, 1MiB or 65536, not 'KiB'");
	expect_err(SPEC "  event_buffer: [1]\n",
		   "5:17: spec.event_buffer must be a string, not a sequence");
	expect_err(SPEC "  event_buffr: 1MiB\n",
		   "5:3: unknown key 'event_buffr' in spec (did you mean 'event_buffer'?)");
}

/* ---- spec.events ---- */

static void test_events(void **state)
{
	struct af_policy *p;
	char *out;

	(void)state;
	/* Absent: every kind. */
	p = load_ok(SPEC "  mode: enforce\n");
	assert_int_equal(p->events, AF_EVK_ALL);
	af_policy_free(p);
	p = load_ok(SPEC "  events: [exec, deny, connect]\n");
	assert_int_equal(p->events, AF_EVK_EXEC | AF_EVK_DENY | AF_EVK_CONNECT);
	assert_int_equal(p->n_warnings, 0);
	out = print_to_string(p, false);
	assert_non_null(strstr(out, "  events: exec, deny, connect\n"));
	free(out);
	af_policy_free(p);
	p = load_ok(SPEC "  events: [all]\n");
	assert_int_equal(p->events, AF_EVK_ALL);
	af_policy_free(p);
	/* Denials are never off: a list without them says so. */
	p = load_ok(SPEC "  events:\n    - fork\n    - file\n");
	assert_int_equal(p->events, AF_EVK_FORK | AF_EVK_FILE | AF_EVK_DENY);
	assert_int_equal(p->n_warnings, 1);
	assert_string_equal(p->warnings[0], "t.yaml:6:5: warning: spec.events does not list 'deny': "
			    "denials are recorded anyway (a fence's decisions are never silent)");
	af_policy_free(p);
	p = load_ok(SPEC "  events: []\n");
	assert_int_equal(p->events, AF_EVK_DENY);
	af_policy_free(p);

	expect_err(SPEC "  events: exec\n",
		   "5:11: spec.events must be a sequence, not a string");
	expect_err(SPEC "  events:\n",
		   "5:10: spec.events must be a sequence, not null");
	expect_err(SPEC "  events: {exec: true}\n",
		   "5:11: spec.events must be a sequence, not a mapping");
	expect_err(SPEC "  events: [exec, exce]\n",
		   "5:18: unknown event kind 'exce' in spec.events (did you mean 'exec'?)");
	expect_err(SPEC "  events: [exec, writes]\n",
		   "5:18: unknown event kind 'writes' in spec.events (expected exec, fork, "
		 "exit, file, deny, connect, dns or all)");
	expect_err(SPEC "  events:\n    - exec\n    - fork\n    - exec\n",
		   "8:7: duplicate event kind 'exec' in spec.events (first at 6:7)");
	expect_err(SPEC "  events: [all, exec]\n",
		   "5:12: spec.events: 'all' stands alone (it names every kind)");
	expect_err(SPEC "  events: [exec, [fork]]\n",
		   "5:18: spec.events item must be a string, not a sequence");
	expect_err(SPEC "  events: [exec, 3]\n",
		   "5:18: unknown event kind '3' in spec.events (expected exec, fork, "
		 "exit, file, deny, connect, dns or all)");
	expect_err(SPEC "  event: [exec]\n",
		   "5:3: unknown key 'event' in spec (did you mean 'events'?)");
	assert_string_equal(af_event_kind_name(AF_EVK_CONNECT), "connect");
	assert_null(af_event_kind_name(AF_EVK_CONNECT | AF_EVK_DNS));
}

static void test_process(void **state)
{
	struct af_policy *p;
	char *out;

	(void)state;
	/* Absent: no capability, freeze. */
	p = load_ok(SPEC "  mode: enforce\n");
	assert_int_equal(p->caps, 0);
	assert_int_equal(p->on_supervisor_exit, AF_ON_EXIT_FREEZE);
	assert_int_equal(p->process_loc.line, 0);
	out = print_to_string(p, false);
	assert_non_null(strstr(out, "  process:\n    capabilities: none\n    on_supervisor_exit: freeze\n"));
	free(out);
	af_policy_free(p);

	/* Names with or without CAP_, any case. */
	p = load_ok(SPEC "  process:\n    capabilities: [net_bind_service, CAP_CHOWN, Cap_Kill]\n"
		    "    on_supervisor_exit: kill\n");
	assert_int_equal(p->caps, (1ULL << 10) | (1ULL << 0) | (1ULL << 5));
	assert_int_equal(p->on_supervisor_exit, AF_ON_EXIT_KILL);
	assert_int_equal(p->process_loc.line, 6);
	/* kill reaches outside: warned. */
	assert_int_equal(p->n_warnings, 1);
	assert_string_equal(p->warnings[0], "t.yaml:6:49: warning: spec.process.capabilities grants "
			    "kill, which reaches outside the fence (see Documentation/policy.md)");
	out = print_to_string(p, false);
	assert_non_null(strstr(out, "    capabilities: chown,kill,net_bind_service\n    on_supervisor_exit: kill\n"));
	free(out);
	out = print_to_string(p, true);
	assert_valid_json(out);
	assert_non_null(strstr(out, "\"process\":{\"capabilities\":[\"chown\",\"kill\",\"net_bind_service\"],"
				"\"on_supervisor_exit\":\"kill\"}"));
	free(out);
	af_policy_free(p);
	p = load_ok(SPEC "  process: {capabilities: []}\n");
	assert_int_equal(p->caps, 0);
	af_policy_free(p);
	p = load_ok(SPEC "  process: {capabilities: [checkpoint_restore, sys_admin]}\n");
	assert_int_equal(p->caps, (1ULL << 40) | (1ULL << 21));
	assert_int_equal(p->n_warnings, 2);
	af_policy_free(p);

	expect_err(SPEC "  process: {capabilities: [net_bind_service, sys_adm]}\n",
		   "5:46: unknown capability 'sys_adm' in spec.process.capabilities (a name from "
		   "capabilities(7): net_bind_service or CAP_NET_BIND_SERVICE)");
	expect_err(SPEC "  process: {capabilities: [all]}\n",
		   "5:28: unknown capability 'all' in spec.process.capabilities (a name from "
		   "capabilities(7): net_bind_service or CAP_NET_BIND_SERVICE)");
	expect_err(SPEC "  process:\n    capabilities:\n      - chown\n      - CAP_CHOWN\n",
		   "8:9: duplicate capability 'chown' in spec.process.capabilities (first at 7:9)");
	expect_err(SPEC "  process: {capabilities: chown}\n",
		   "5:27: spec.process.capabilities must be a sequence, not a string");
	expect_err(SPEC "  process: {capabilities: [[chown]]}\n",
		   "5:28: spec.process.capabilities item must be a string, not a sequence");
	expect_err(SPEC "  process: {capabilities: [41]}\n",
		   "5:28: unknown capability '41' in spec.process.capabilities (a name from "
		   "capabilities(7): net_bind_service or CAP_NET_BIND_SERVICE)");
	expect_err(SPEC "  process: {on_supervisor_exit: stay}\n",
		   "5:33: unknown spec.process.on_supervisor_exit 'stay' (expected freeze or kill)");
	expect_err(SPEC "  process: {on_supervisor_exit: [kill]}\n",
		   "5:33: spec.process.on_supervisor_exit must be a string, not a sequence");
	expect_err(SPEC "  process: {capabilites: [chown]}\n",
		   "5:13: unknown key 'capabilites' in spec.process (did you mean 'capabilities'?)");
	expect_err(SPEC "  process: [chown]\n",
		   "5:12: spec.process must be a mapping, not a sequence");
	expect_err(SPEC "  proces: {}\n",
		   "5:3: unknown key 'proces' in spec (did you mean 'process'?)");
}

/* ---- printing ---- */

static void test_print_human(void **state)
{
	struct af_policy *p;
	char *out, *want;

	(void)state;
	p = load_ok(FS "    writable: [\"${WORKSPACE}\", /tmp]\n"
		    "    deny_read: [\"${HOME}/.aws\"]\n");
	out = print_to_string(p, false);
	want = xasprintf("policy t (t.yaml)\n"
			 "  mode: enforce\n"
			 "  writable:\n"
			 "    %s\n"
			 "    /tmp\n"
			 "  deny_read:\n"
			 "    %s/.aws (missing)\n"
			 "  network: none\n"
			 "  events: exec, fork, exit, file, deny, connect, dns\n"
			 "  process:\n    capabilities: none\n    on_supervisor_exit: freeze\n"
			 "  warnings:\n"
			 "    t.yaml:7:17: warning: deny_read path '%s/.aws' does not exist; nothing to protect\n",
			 ws, home, home);
	assert_string_equal(out, want);
	free(out);
	free(want);
	af_policy_free(p);

	p = load_ok(SPEC "  mode: audit\n  network:\n    allow:\n"
		    "      - {host: a.io, ports: [443, 80], protocol: tcp}\n"
		    "      - {cidr: \"2001:db8::/32\"}\n"
		    "    dns: {servers: [system, 10.0.0.2]}\n    unix: {allow: []}\n");
	out = print_to_string(p, false);
	assert_string_equal(out,
			    "policy t (t.yaml)\n"
			    "  mode: audit\n"
			    "  writable: none\n"
			    "  deny_read: none\n"
			    "  network:\n"
			    "    allow:\n"
			    "      a.io port 443,80 tcp\n"
			    "      2001:db8::/32 all ports tcp+udp\n"
			    "    allow_loopback: false\n"
			    "    dns servers: system, 10.0.0.2\n"
			    "    unix allow: none\n"
			    "  events: exec, fork, exit, file, deny, connect, dns\n"
			    "  process:\n    capabilities: none\n    on_supervisor_exit: freeze\n");
	free(out);
	af_policy_free(p);
}

/* spec.filesystem.protected: relative entries lie beneath every
 * writable directory; absolute ones must lie beneath one. */
static int collect(void *ctx, const char *path, const char *root)
{
	char *buf = ctx;

	snprintf(buf + strlen(buf), 4096 - strlen(buf), "%s<%s;", path, root);
	return 0;
}

static void test_protected(void **state)
{
	struct af_policy *p;
	char got[4096] = "", *want;

	(void)state;
	p = load_ok(FS "    writable: [\"${WORKSPACE}\", /tmp, /dev/null]\n"
		    "    protected: [.git/hooks, \"./.envrc\", \"a//b/\", \"${WORKSPACE}/x\"]\n");
	assert_int_equal(p->n_protected, 4);
	assert_true(p->protected[0].relative);
	assert_string_equal(p->protected[1].path, ".envrc");
	assert_string_equal(p->protected[2].path, "a/b");
	assert_false(p->protected[3].relative);
	assert_int_equal(af_policy_protected_each(p, collect, got), 0);
	want = xasprintf("%s/.git/hooks<%s;/tmp/.git/hooks</tmp;%s/.envrc<%s;/tmp/.envrc</tmp;"
			 "%s/a/b<%s;/tmp/a/b</tmp;%s/x<%s;", ws, ws, ws, ws, ws, ws, ws, ws);
	assert_string_equal(got, want);
	free(want);
	af_policy_free(p);

	p = load_ok(FS "    writable: [\"${WORKSPACE}\"]\n    protected: [/etc/passwd]\n");
	assert_int_equal(p->n_warnings, 1);
	assert_string_equal(p->warnings[0], "t.yaml:7:17: warning: protected path '/etc/passwd' "
			    "lies beneath no writable path; it is read-only already");
	af_policy_free(p);

	expect_err(FS "    protected: [../x]\n",
		   "6:17: protected path '../x' must not contain '..' (relative entries lie beneath every writable path)");
	expect_err(FS "    protected: [a/../../x]\n",
		   "6:17: protected path 'a/../../x' must not contain '..' (relative entries lie beneath every writable path)");
	expect_err(FS "    protected: [\".\"]\n",
		   "6:17: protected path '.' names the writable path itself");
	expect_err(FS "    protected: [\"~/.bashrc\"]\n",
		   "6:17: path '~/.bashrc' is not absolute (use ${HOME} instead of ~)");
	expect_err(FS "    protected: [.git, .git/]\n",
		   "6:23: duplicate path '.git' in spec.filesystem.protected (first at 6:17)");
	expect_err(FS "    protected: [aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa]\n",
		   "6:17: protected path 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' has a component longer than 31 bytes");
	expect_err(FS "    writable: [/tmp]\n    protected: [/tmp]\n",
		   "7:17: protected path '/tmp' is also writable (at 6:16)");
	expect_err(FS "    protected: {a: b}\n",
		   "6:16: spec.filesystem.protected must be a sequence, not a mapping");
}

static void test_network_families(void **state)
{
	struct af_policy *p;
	char *out;

	(void)state;
	p = load_ok(SPEC "  network:\n    families: [packet, netlink]\n");
	assert_true(p->families == ((1ull << 17) | (1ull << 16)));
	out = print_to_string(p, true);
	assert_non_null(strstr(out, "\"families\":[\"netlink\",\"packet\"]"));
	assert_valid_json(out);
	free(out);
	out = print_to_string(p, false);
	assert_non_null(strstr(out, "    families: netlink, packet\n"));
	free(out);
	af_policy_free(p);
	expect_err(SPEC "  network:\n    families: [inet]\n",
		   "6:16: socket family 'inet' is always allowed (judged by allow, allow_loopback and unix)");
	expect_err(SPEC "  network:\n    families: [ipx]\n",
		   "6:16: unknown socket family 'ipx' (packet, netlink, vsock, xdp, alg, key, can, bluetooth, tipc, rds, ...)");
	expect_err(SPEC "  network:\n    families: [vsock, vsock]\n",
		   "6:23: duplicate socket family 'vsock' in spec.network.families");
	expect_err(SPEC "  network:\n    families: packet\n",
		   "6:15: spec.network.families must be a sequence, not a string");
}

static void test_print_json(void **state)
{
	struct af_policy *p;
	char *out, *want;

	(void)state;
	p = load_ok(FS "    writable: [\"${WORKSPACE}\"]\n"
		    "    deny_read: [\"${HOME}/.ssh\", \"${HOME}/.aws\"]\n");
	out = print_to_string(p, true);
	want = xasprintf("{\"apiVersion\":\"agentfence/v1\",\"name\":\"t\",\"file\":\"t.yaml\","
			 "\"mode\":\"enforce\",\"filesystem\":{\"writable\":[\"%s\"],"
			 "\"deny_read\":[{\"path\":\"%s/.ssh\",\"exists\":true},"
			 "{\"path\":\"%s/.aws\",\"exists\":false}],\"protected\":[],\"create\":[]},"
			 "\"network\":null,"
			 "\"events\":[\"exec\",\"fork\",\"exit\",\"file\",\"deny\",\"connect\",\"dns\"],"
			 "\"process\":{\"capabilities\":[],\"on_supervisor_exit\":\"freeze\"},\"env\":{},"
			 "\"warnings\":[\"t.yaml:7:33: warning: deny_read path '%s/.aws' "
			 "does not exist; nothing to protect\"]}\n",
			 ws, home, home, home);
	assert_string_equal(out, want);
	assert_valid_json(out);
	free(out);
	free(want);
	af_policy_free(p);

	p = load_ok(SPEC "  network:\n    allow:\n"
		    "      - {host: a.io, ports: [443, 80], protocol: udp}\n"
		    "      - {cidr: 10.0.0.0/8}\n"
		    "    allow_loopback: true\n"
		    "    unix: {allow: [/run/x.sock]}\n");
	out = print_to_string(p, true);
	assert_string_equal(out,
			    "{\"apiVersion\":\"agentfence/v1\",\"name\":\"t\",\"file\":\"t.yaml\","
			    "\"mode\":\"enforce\",\"filesystem\":{\"writable\":[],\"deny_read\":[],\"protected\":[],"
			    "\"create\":[]},"
			    "\"network\":{\"allow\":[{\"host\":\"a.io\",\"ports\":[443,80],\"protocol\":\"udp\"},"
			    "{\"cidr\":\"10.0.0.0/8\",\"ports\":[],\"protocol\":\"any\"}],"
			    "\"allow_loopback\":true,\"dns\":{\"servers\":[\"system\"]},"
			    "\"unix\":{\"allow\":[\"/run/x.sock\"]}},"
			    "\"events\":[\"exec\",\"fork\",\"exit\",\"file\",\"deny\",\"connect\",\"dns\"],"
			    "\"process\":{\"capabilities\":[],\"on_supervisor_exit\":\"freeze\"},\"env\":{},"
			    "\"warnings\":[]}\n");
	assert_valid_json(out);
	free(out);
	af_policy_free(p);
}

static void test_print_json_hostile(void **state)
{
	struct af_policy_vars v = {};
	struct af_policy *p;
	char *out, name[] = "we\"ird\\\n\x01\xff.yaml", hostile[512];
	const char *doc = FS "    deny_read: [\"${WORKSPACE}/\\\"q\\\\b\\u00e9\\U0001F600\"]\n";

	(void)state;
	/* Variable values come from the command line, not the document:
	 * they may hold anything, and the JSON must still be valid. */
	snprintf(hostile, sizeof(hostile), "%s/\x1b[0m\xc3\x28\t", tmp);
	v.workspace = hostile;
	v.home = home;
	assert_int_equal(af_policy_load_buf(doc, strlen(doc), name, &v, &p, NULL), 0);
	out = print_to_string(p, true);
	assert_valid_json(out);
	assert_non_null(strstr(out, "\"file\":\"we\\\"ird\\\\\\u000a\\u0001\xef\xbf\xbd.yaml\""));
	assert_non_null(strstr(out, "/\\u001b[0m\xef\xbf\xbd(\\u0009/\\\"q\\\\b\xc3\xa9\xf0\x9f\x98\x80\""));
	free(out);
	out = print_to_string(p, false);
	free(out);
	af_policy_free(p);
}

static void test_print_error(void **state)
{
	struct af_policy *p;
	FILE *f;

	(void)state;
	p = load_ok(SPEC "  mode: audit\n");
	f = fopen("/dev/full", "w");
	if (!f) {
		af_policy_free(p);
		skip();
	}
	setvbuf(f, NULL, _IONBF, 0);
	assert_int_equal(af_policy_print(f, p, true), -EIO);
	fclose(f);
	af_policy_free(p);
}

static void test_json_str(void **state)
{
	static const struct {
		const char *in;
		size_t len;
		const char *out;
	} cases[] = {
		{ "", 0, "\"\"" },
		{ "plain", 5, "\"plain\"" },
		{ "q\"b\\s/", 6, "\"q\\\"b\\\\s/\"" },
		{ "\n\t\x01\x1f\x7f", 5, "\"\\u000a\\u0009\\u0001\\u001f\x7f\"" },
		{ "a\0b", 3, "\"a\\u0000b\"" },
		{ "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9, "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"" },
		{ "\xff", 1, "\"\xef\xbf\xbd\"" },
		{ "\xc0\xaf", 2, "\"\xef\xbf\xbd\xef\xbf\xbd\"" },	/* overlong: 2 subparts */
		{ "\xed\xa0\x80", 3, "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"" }, /* surrogate */
		{ "\xe2\x82", 2, "\"\xef\xbf\xbd\"" },		/* truncated: 1 subpart */
		{ "\xe2\x82x", 3, "\"\xef\xbf\xbdx\"" },
		{ "\xf4\x90\x80\x80", 4, "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"" },
		{ "\xf0\x9f\x98", 3, "\"\xef\xbf\xbd\"" },
		{ "a\xc3", 2, "\"a\xef\xbf\xbd\"" },
	};
	size_t i;
	char *out;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		out = json_to_string(cases[i].in, cases[i].len);
		assert_string_equal(out, cases[i].out);
		assert_valid_json(out);
		free(out);
	}
	out = json_to_string(NULL, 0);
	assert_string_equal(out, "null");
	free(out);
}

static void test_json_str_exhaustive(void **state)
{
	unsigned char buf[3];
	char *out;
	int a, b;

	(void)state;
	/* Every two-byte string, and every lead byte before a truncation:
	 * whatever goes in, valid JSON comes out. */
	for (a = 0; a < 256; a++) {
		for (b = 0; b < 256; b++) {
			buf[0] = (unsigned char)a;
			buf[1] = (unsigned char)b;
			buf[2] = 0x80;
			out = json_to_string((char *)buf, 3);
			assert_valid_json(out);
			free(out);
		}
	}
}

/* ---- files ---- */

static void test_load_file(void **state)
{
	char path[PATH_MAX + 16], err[AF_ERR_MAX];
	const char *doc = SPEC "  mode: audit\n";
	struct af_policy *p;
	FILE *f;
	char *big;

	(void)state;
	snprintf(path, sizeof(path), "%s/p.yaml", tmp);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(doc, f);
	fclose(f);
	assert_int_equal(af_policy_load_file(path, &vars, &p, err), 0);
	assert_string_equal(p->file, path);
	assert_int_equal(p->mode, AF_MODE_AUDIT);
	af_policy_free(p);

	f = fopen(path, "w");
	assert_non_null(f);
	fputs(SPEC "  mode: x\n", f);
	fclose(f);
	assert_int_equal(af_policy_load_file(path, &vars, &p, err), -EINVAL);
	assert_null(p);
	assert_true(!strncmp(err, path, strlen(path)));
	assert_string_equal(err + strlen(path),
			    ":5:9: unknown mode 'x' (expected enforce or audit)");

	snprintf(path, sizeof(path), "%s/missing.yaml", tmp);
	assert_int_equal(af_policy_load_file(path, &vars, &p, err), -ENOENT);
	assert_null(p);
	assert_string_equal(err + strlen(path), ": cannot open: no such file or directory");

	assert_int_equal(af_policy_load_file(tmp, &vars, &p, err), -EISDIR);
	assert_string_equal(err + strlen(tmp), ": cannot read: is a directory");

	/* Larger than the limit, read in full chunks. */
	snprintf(path, sizeof(path), "%s/big.yaml", tmp);
	big = malloc(AF_POLICY_MAX_BYTES + 100);
	assert_non_null(big);
	memset(big, '#', AF_POLICY_MAX_BYTES + 100);
	f = fopen(path, "w");
	assert_non_null(f);
	fwrite(big, 1, AF_POLICY_MAX_BYTES + 100, f);
	fclose(f);
	free(big);
	assert_int_equal(af_policy_load_file(path, &vars, &p, err), -EINVAL);
	assert_string_equal(err + strlen(path), ": policy is larger than 1048576 bytes");
	/* NULL err is allowed. */
	assert_int_equal(af_policy_load_file(path, &vars, &p, NULL), -EINVAL);
	assert_null(p);
}

/* spec.filesystem.writable items {path, create}: a missing path is no
 * error when run is to create it; everything else about the item is
 * checked like a plain entry. */
static void test_writable_create(void **state)
{
	struct af_policy *p;
	char *want, *out;

	(void)state;
	p = load_ok(FS "    writable:\n"
		    "      - \"${WORKSPACE}\"\n"
		    "      - {path: \"${HOME}/.claude\", create: directory}\n"
		    "      - {path: \"${HOME}/.cache/pip\", create: directory}\n"
		    "      - {path: \"${HOME}/state.json\", create: file}\n"
		    "      - {path: \"${HOME}/.ssh\"}\n");
	assert_int_equal(p->n_writable, 5);
	assert_int_equal(p->writable[0].create, AF_CREATE_NONE);
	assert_int_equal(p->writable[1].create, AF_CREATE_DIR);
	assert_false(p->writable[1].exists);
	want = xasprintf("%s/.claude", home);
	assert_string_equal(p->writable[1].path, want);
	free(want);
	assert_int_equal(p->writable[1].loc.line, 8);
	assert_int_equal(p->writable[1].loc.col, 16);
	assert_int_equal(p->writable[3].create, AF_CREATE_FILE);
	/* An item without create: must exist, as a plain entry must. */
	assert_int_equal(p->writable[4].create, AF_CREATE_NONE);
	assert_true(p->writable[4].exists);
	out = print_to_string(p, false);
	assert_non_null(strstr(out, "/.claude (create: run makes this directory)"));
	assert_non_null(strstr(out, "/state.json (create: run makes this file)"));
	assert_non_null(strstr(out, "/.ssh\n"));
	free(out);
	out = print_to_string(p, true);
	assert_valid_json(out);
	assert_non_null(strstr(out, "\"create\":[{\"path\":"));
	assert_non_null(strstr(out, "\"as\":\"directory\",\"exists\":false}"));
	assert_non_null(strstr(out, "\"as\":\"file\",\"exists\":false}"));
	free(out);
	af_policy_free(p);

	/* An existing one is just writable. */
	p = load_ok(FS "    writable: [{path: \"${HOME}/.ssh\", create: directory}]\n");
	assert_true(p->writable[0].exists);
	af_policy_free(p);

	expect_err(FS "    writable: [{path: /nonexistent-af}]\n",
		   "6:23: writable path '/nonexistent-af' does not exist");
	expect_err(FS "    writable: [{path: /x, create: dir}]\n",
		   "6:35: unknown create 'dir' (expected directory or file)");
	expect_err(FS "    writable: [{create: directory}]\n",
		   "6:16: missing required key 'path' in a spec.filesystem.writable item");
	expect_err(FS "    writable: [{path: /x, mode: 0700}]\n",
		   "6:27: unknown key 'mode' in a spec.filesystem.writable item");
	expect_err(FS "    writable: [{path: relative, create: directory}]\n",
		   "6:23: path 'relative' is not absolute");
	expect_err(FS "    writable: [{path: [/x], create: directory}]\n",
		   "6:23: path must be a string, not a sequence");
	/* Only writable items take the mapping form. */
	expect_err(FS "    deny_read: [{path: /x}]\n", "6:17: path must be a string, not a mapping");
	/* Duplicates are found across both forms. */
	expect_err(FS "    writable: [/tmp, {path: /tmp, create: directory}]\n",
		   "6:29: duplicate path '/tmp' in spec.filesystem.writable (first at 6:16)");
}

/* spec.env: NAME: value, ${HOME} and ${WORKSPACE} expanded; names the
 * box depends on are refused. */
static void test_env(void **state)
{
	struct af_policy *p;
	char *want, *out;

	(void)state;
	p = load_ok(SPEC "  env:\n"
		    "    CLAUDE_CONFIG_DIR: \"${HOME}/.claude\"\n"
		    "    DISABLE_AUTOUPDATER: \"1\"\n"
		    "    _under: ws=${WORKSPACE}\n"
		    "    EMPTY: ''\n");
	assert_int_equal(p->n_env, 4);
	want = xasprintf("CLAUDE_CONFIG_DIR=%s/.claude", home);
	assert_string_equal(p->env[0], want);
	free(want);
	assert_string_equal(p->env[1], "DISABLE_AUTOUPDATER=1");
	want = xasprintf("_under=ws=%s", ws);
	assert_string_equal(p->env[2], want);
	free(want);
	assert_string_equal(p->env[3], "EMPTY=");
	out = print_to_string(p, true);
	assert_valid_json(out);
	assert_non_null(strstr(out, "\"DISABLE_AUTOUPDATER\":\"1\""));
	free(out);
	out = print_to_string(p, false);
	assert_non_null(strstr(out, "  env:\n"));
	free(out);
	af_policy_free(p);

	p = load_ok(SPEC "  env: {}\n");
	assert_int_equal(p->n_env, 0);
	af_policy_free(p);

	expect_err(SPEC "  env: [A]\n", "5:8: spec.env must be a mapping, not a sequence");
	expect_err(SPEC "  env:\n    1A: x\n",
		   "6:5: invalid variable name '1A' in spec.env (letters, digits and '_', not starting with a digit)");
	expect_err(SPEC "  env:\n    A-B: x\n",
		   "6:5: invalid variable name 'A-B' in spec.env (letters, digits and '_', not starting with a digit)");
	expect_err(SPEC "  env:\n    A=B: x\n",
		   "6:5: invalid variable name 'A=B' in spec.env (letters, digits and '_', not starting with a digit)");
	expect_err(SPEC "  env:\n    HOME: /x\n",
		   "6:5: spec.env may not set HOME (run sets it, or it would change what every process of the fence runs)");
	expect_err(SPEC "  env:\n    LD_PRELOAD: /x.so\n",
		   "6:5: spec.env may not set LD_PRELOAD (run sets it, or it would change what every process of the fence runs)");
	expect_err(SPEC "  env:\n    PATH: /x\n",
		   "6:5: spec.env may not set PATH (run sets it, or it would change what every process of the fence runs)");
	expect_err(SPEC "  env:\n    A: [x]\n", "6:8: a spec.env value must be a string, not a sequence");
	expect_err(SPEC "  env:\n    A: \"${NOPE}\"\n",
		   "6:8: unknown variable '${NOPE}' in value (only ${WORKSPACE} and ${HOME} are defined)");
	expect_err(SPEC "  env:\n    A: \"a\\tb\"\n", "6:8: value 'a\\x09b' contains a control character");
	expect_err(SPEC "  env:\n    A: x\n    A: y\n", "7:5: duplicate key 'A' in spec.env");
}

static void test_shipped_policies(void **state)
{
	static const char *const files[] = {
		"policies/coding-agent.yaml", "policies/readonly.yaml",
		"policies/claude-code.yaml", "policies/codex.yaml",
	};
	char path[PATH_MAX + 64], err[AF_ERR_MAX], *out;
	const char *root = getenv("AF_SRCDIR");
	struct af_policy *p;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", root ? root : ".", files[i]);
		if (access(path, R_OK))
			skip();
		if (af_policy_load_file(path, &vars, &p, err))
			print_error("%s\n", err);
		assert_non_null(p);
		assert_int_equal(p->mode, AF_MODE_ENFORCE);
		/* The agents' policies fence the network by name; readonly
		 * does not. */
		assert_int_equal(p->has_network, i != 1);
		out = print_to_string(p, true);
		assert_valid_json(out);
		free(out);
		af_policy_free(p);
	}
	/* example.yaml shows the network section: valid, and complete. */
	snprintf(path, sizeof(path), "%s/policies/example.yaml", root ? root : ".");
	if (af_policy_load_file(path, &vars, &p, err))
		print_error("%s\n", err);
	assert_non_null(p);
	assert_true(p->has_network);
	af_policy_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_protected),
		cmocka_unit_test(test_network_families),
		cmocka_unit_test(test_sha256_of_parsed_bytes),
		cmocka_unit_test(test_top_level_type),
		cmocka_unit_test(test_multiple_documents),
		cmocka_unit_test(test_syntax_errors),
		cmocka_unit_test(test_anchors_aliases_tags),
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_required),
		cmocka_unit_test(test_header_values),
		cmocka_unit_test(test_name),
		cmocka_unit_test(test_mode),
		cmocka_unit_test(test_events),
		cmocka_unit_test(test_event_buffer),
		cmocka_unit_test(test_process),
		cmocka_unit_test(test_invalid_utf8),
		cmocka_unit_test(test_control_bytes),
		cmocka_unit_test(test_bom_and_crlf),
		cmocka_unit_test(test_nesting_depth),
		cmocka_unit_test(test_deep_nesting_unbalanced),
		cmocka_unit_test(test_size_limits),
		cmocka_unit_test(test_too_large),
		cmocka_unit_test(test_huge_scalars),
		cmocka_unit_test(test_filesystem_valid),
		cmocka_unit_test(test_normalization),
		cmocka_unit_test(test_expansion),
		cmocka_unit_test(test_filesystem_errors),
		cmocka_unit_test(test_writable_root_warns),
		cmocka_unit_test(test_network_full),
		cmocka_unit_test(test_network_defaults),
		cmocka_unit_test(test_network_hosts),
		cmocka_unit_test(test_network_cidrs),
		cmocka_unit_test(test_network_items),
		cmocka_unit_test(test_network_ports),
		cmocka_unit_test(test_network_bools),
		cmocka_unit_test(test_network_dns_unix),
		cmocka_unit_test(test_print_human),
		cmocka_unit_test(test_print_json),
		cmocka_unit_test(test_print_json_hostile),
		cmocka_unit_test(test_print_error),
		cmocka_unit_test(test_json_str),
		cmocka_unit_test(test_json_str_exhaustive),
		cmocka_unit_test(test_load_file),
		cmocka_unit_test(test_writable_create),
		cmocka_unit_test(test_env),
		cmocka_unit_test(test_shipped_policies),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
