// SPDX-License-Identifier: GPL-2.0
/*
 * A request is a flat JSON object: strings, integers, booleans and one
 * array of strings (argv). Anything else (nesting, floats, null,
 * duplicate or unknown members, a member the operation does not take,
 * \u0000, invalid UTF-8, bytes after the object) is refused: a daemon
 * running as root reads it, and what it does not understand it must
 * not guess at.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control_proto.h"
#include "json.h"

struct cur {
	const char *s;
	size_t len, pos;
	char *why;
	size_t n;
};

static int bad(struct cur *c, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int bad(struct cur *c, int err, const char *fmt, ...)
{
	va_list ap;
	int k;

	k = snprintf(c->why, c->n, "at byte %zu: ", c->pos);
	va_start(ap, fmt);
	if (k >= 0 && (size_t)k < c->n)
		vsnprintf(c->why + k, c->n - k, fmt, ap);
	va_end(ap);
	return err;
}

static void ws(struct cur *c)
{
	while (c->pos < c->len && (c->s[c->pos] == ' ' || c->s[c->pos] == '\t' ||
				   c->s[c->pos] == '\r'))
		c->pos++;
}

static int peek(struct cur *c)
{
	ws(c);
	return c->pos < c->len ? (unsigned char)c->s[c->pos] : -1;
}

static int hex4(const char *s, unsigned int *out)
{
	unsigned int v = 0;
	int i;

	for (i = 0; i < 4; i++) {
		char h = s[i];

		v <<= 4;
		if (h >= '0' && h <= '9')
			v |= h - '0';
		else if (h >= 'a' && h <= 'f')
			v |= h - 'a' + 10;
		else if (h >= 'A' && h <= 'F')
			v |= h - 'A' + 10;
		else
			return -1;
	}
	*out = v;
	return 0;
}

static size_t put_utf8(char *o, unsigned int cp)
{
	if (cp < 0x80) {
		o[0] = cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = 0xc0 | (cp >> 6);
		o[1] = 0x80 | (cp & 0x3f);
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = 0xe0 | (cp >> 12);
		o[1] = 0x80 | ((cp >> 6) & 0x3f);
		o[2] = 0x80 | (cp & 0x3f);
		return 3;
	}
	o[0] = 0xf0 | (cp >> 18);
	o[1] = 0x80 | ((cp >> 12) & 0x3f);
	o[2] = 0x80 | ((cp >> 6) & 0x3f);
	o[3] = 0x80 | (cp & 0x3f);
	return 4;
}

/* A string literal into a new buffer of at most max bytes. The decoded
 * form is never longer than the literal, so the buffer is sized by it. */
static int string(struct cur *c, size_t max, char **out, size_t *outlen)
{
	size_t start, end, k = 0;
	char *o;

	if (peek(c) != '"')
		return bad(c, -EINVAL, "expected a string");
	start = ++c->pos;
	for (end = start; end < c->len && c->s[end] != '"'; end++)
		if (c->s[end] == '\\')
			end++;
	if (end >= c->len)
		return bad(c, -EINVAL, "unterminated string");
	if (end - start > max * 6)	/* \uXXXX: 6 bytes for 1..3 */
		return bad(c, -E2BIG, "string longer than %zu bytes", max);
	o = malloc(end - start + 1);
	if (!o)
		return bad(c, -ENOMEM, "out of memory");
	while (c->pos < end) {
		unsigned char ch = c->s[c->pos];
		unsigned int cp, lo;
		uint32_t u;
		int l;

		if (ch < 0x20) {
			free(o);
			return bad(c, -EINVAL, "control character in a string");
		}
		if (ch != '\\') {
			l = utf8_next(c->s + c->pos, end - c->pos, &u);
			if (l < 0) {
				free(o);
				return bad(c, -EINVAL, "invalid UTF-8 in a string");
			}
			memcpy(o + k, c->s + c->pos, l);
			k += l;
			c->pos += l;
			continue;
		}
		c->pos++;
		switch (c->s[c->pos]) {
		case '"': o[k++] = '"'; break;
		case '\\': o[k++] = '\\'; break;
		case '/': o[k++] = '/'; break;
		case 'b': o[k++] = '\b'; break;
		case 'f': o[k++] = '\f'; break;
		case 'n': o[k++] = '\n'; break;
		case 'r': o[k++] = '\r'; break;
		case 't': o[k++] = '\t'; break;
		case 'u':
			if (end - c->pos < 5 || hex4(c->s + c->pos + 1, &cp)) {
				free(o);
				return bad(c, -EINVAL, "bad \\u escape");
			}
			c->pos += 4;
			if (cp >= 0xd800 && cp < 0xdc00) {
				if (end - c->pos < 7 || c->s[c->pos + 1] != '\\' ||
				    c->s[c->pos + 2] != 'u' || hex4(c->s + c->pos + 3, &lo) ||
				    lo < 0xdc00 || lo > 0xdfff) {
					free(o);
					return bad(c, -EINVAL, "lone surrogate in a \\u escape");
				}
				c->pos += 6;
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			} else if (cp >= 0xdc00 && cp < 0xe000) {
				free(o);
				return bad(c, -EINVAL, "lone surrogate in a \\u escape");
			}
			if (!cp) {
				free(o);
				return bad(c, -EINVAL, "\\u0000 in a string");
			}
			k += put_utf8(o + k, cp);
			break;
		default:
			free(o);
			return bad(c, -EINVAL, "bad escape in a string");
		}
		c->pos++;
	}
	c->pos = end + 1;
	if (k > max) {
		free(o);
		return bad(c, -E2BIG, "string longer than %zu bytes", max);
	}
	o[k] = 0;
	*out = o;
	if (outlen)
		*outlen = k;
	return 0;
}

/* An integer, no fraction, no exponent, no leading zero. */
static int integer(struct cur *c, bool sign_ok, uint64_t *mag, bool *neg)
{
	uint64_t v = 0;
	size_t start;

	*neg = false;
	ws(c);
	if (c->pos < c->len && c->s[c->pos] == '-') {
		if (!sign_ok)
			return bad(c, -EINVAL, "expected a number from 0");
		*neg = true;
		c->pos++;
	}
	start = c->pos;
	while (c->pos < c->len && c->s[c->pos] >= '0' && c->s[c->pos] <= '9') {
		unsigned int d = c->s[c->pos] - '0';

		if (v > (UINT64_MAX - d) / 10)
			return bad(c, -ERANGE, "number out of range");
		v = v * 10 + d;
		c->pos++;
	}
	if (c->pos == start)
		return bad(c, -EINVAL, "expected a number");
	if (c->s[start] == '0' && c->pos - start > 1)
		return bad(c, -EINVAL, "number with a leading zero");
	if (c->pos < c->len && (c->s[c->pos] == '.' || c->s[c->pos] == 'e' || c->s[c->pos] == 'E'))
		return bad(c, -EINVAL, "expected an integer");
	*mag = v;
	return 0;
}

static int u64(struct cur *c, uint64_t *out)
{
	bool neg;

	return integer(c, false, out, &neg);
}

static int i64(struct cur *c, int64_t *out)
{
	uint64_t v;
	bool neg;
	int err = integer(c, true, &v, &neg);

	if (err)
		return err;
	if (v > (uint64_t)INT64_MAX + neg)
		return bad(c, -ERANGE, "number out of range");
	*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	return 0;
}

static int boolean(struct cur *c, bool *out)
{
	ws(c);
	if (c->len - c->pos >= 4 && !memcmp(c->s + c->pos, "true", 4)) {
		c->pos += 4;
		*out = true;
		return 0;
	}
	if (c->len - c->pos >= 5 && !memcmp(c->s + c->pos, "false", 5)) {
		c->pos += 5;
		*out = false;
		return 0;
	}
	return bad(c, -EINVAL, "expected true or false");
}

static int strv(struct cur *c, char ***out, size_t *count)
{
	char **v;
	size_t k = 0;
	int err;

	if (peek(c) != '[')
		return bad(c, -EINVAL, "expected an array of strings");
	c->pos++;
	v = calloc(AF_CTL_ARGV_MAX + 1, sizeof(*v));
	if (!v)
		return bad(c, -ENOMEM, "out of memory");
	*out = v;
	if (peek(c) == ']') {
		c->pos++;
		*count = 0;
		return 0;
	}
	for (;;) {
		if (k == AF_CTL_ARGV_MAX)
			return bad(c, -E2BIG, "more than %d arguments", AF_CTL_ARGV_MAX);
		err = string(c, AF_CTL_STR_MAX, &v[k], NULL);
		if (err)
			return err;
		*count = ++k;
		if (peek(c) == ',') {
			c->pos++;
			continue;
		}
		if (peek(c) == ']') {
			c->pos++;
			return 0;
		}
		return bad(c, -EINVAL, "expected , or ] in an array");
	}
}

enum key {
	K_OP, K_TAG, K_FENCE, K_NAME, K_POLICY, K_POLICY_FILE, K_WORKSPACE, K_JOURNAL,
	K_BACKEND, K_ARGV, K_STRICT, K_AUDIT, K_QUIET, K_LEASE, K_JOURNAL_MAX, K_PID,
	K_EXIT_CODE, K_CGROUP, K_HOME, K_NO_JOURNAL, K_TTY, K_CONTAINER, K_CONTAINER_NAME,
	K_RUNTIME, K_COUNT
};

static const char *const keys[K_COUNT] = {
	"op", "tag", "fence", "name", "policy", "policy_file", "workspace", "journal",
	"backend", "argv", "strict", "audit", "quiet", "lease", "journal_max", "pid",
	"exit_code", "cgroup", "home", "no_journal", "tty", "container", "container_name",
	"runtime",
};

#define B(k) (1u << (k))

static const struct {
	const char *name;
	unsigned int allowed, required;
} ops[] = {
	[AF_CTL_CREATE] = { "create",
		B(K_NAME) | B(K_POLICY) | B(K_POLICY_FILE) | B(K_WORKSPACE) | B(K_JOURNAL) |
		B(K_BACKEND) | B(K_ARGV) | B(K_STRICT) | B(K_AUDIT) | B(K_QUIET) | B(K_LEASE) |
		B(K_JOURNAL_MAX) | B(K_CGROUP) | B(K_HOME) | B(K_NO_JOURNAL) | B(K_TTY),
		B(K_POLICY) | B(K_WORKSPACE) },
	[AF_CTL_STARTED] = { "started", B(K_FENCE) | B(K_PID), B(K_FENCE) | B(K_PID) },
	[AF_CTL_END] = { "end", B(K_FENCE) | B(K_EXIT_CODE), B(K_FENCE) | B(K_EXIT_CODE) },
	[AF_CTL_STATUS] = { "status", B(K_FENCE), 0 },
	[AF_CTL_STOP] = { "stop", B(K_FENCE), B(K_FENCE) },
	[AF_CTL_UPDATE] = { "update", B(K_FENCE) | B(K_POLICY) | B(K_POLICY_FILE),
		B(K_FENCE) | B(K_POLICY) },
	[AF_CTL_DETACH] = { "detach", B(K_FENCE), B(K_FENCE) },
	[AF_CTL_ADOPT] = { "adopt", 0, 0 },
	[AF_CTL_ATTACH] = { "attach",
		B(K_POLICY) | B(K_POLICY_FILE) | B(K_WORKSPACE) | B(K_JOURNAL) | B(K_BACKEND) |
		B(K_STRICT) | B(K_AUDIT) | B(K_JOURNAL_MAX) | B(K_CGROUP) | B(K_PID) | B(K_HOME) |
		B(K_NO_JOURNAL) | B(K_CONTAINER) | B(K_CONTAINER_NAME) | B(K_RUNTIME),
		B(K_POLICY) | B(K_WORKSPACE) | B(K_CGROUP) | B(K_PID) },
};

const char *af_ctl_op_name(enum af_ctl_op op)
{
	return op > AF_CTL_NONE && op < sizeof(ops) / sizeof(ops[0]) ? ops[op].name : "?";
}

static int member(struct cur *c, enum key k, struct af_ctl_req *r, char **opname)
{
	switch (k) {
	case K_OP: return string(c, 16, opname, NULL);
	case K_TAG: r->has_tag = true; return u64(c, &r->tag);
	case K_FENCE: r->has_fence = true; return u64(c, &r->fence);
	case K_NAME: return string(c, 64, &r->name, NULL);
	case K_POLICY: return string(c, AF_CTL_POLICY_MAX, &r->policy, &r->policy_len);
	case K_POLICY_FILE: return string(c, AF_CTL_STR_MAX, &r->policy_file, NULL);
	case K_WORKSPACE: return string(c, AF_CTL_STR_MAX, &r->workspace, NULL);
	case K_JOURNAL: return string(c, AF_CTL_STR_MAX, &r->journal, NULL);
	case K_BACKEND: return string(c, 16, &r->backend, NULL);
	case K_ARGV: return strv(c, &r->argv, &r->argc);
	case K_STRICT: return boolean(c, &r->strict);
	case K_AUDIT: return boolean(c, &r->audit);
	case K_QUIET: return boolean(c, &r->quiet);
	case K_LEASE: return boolean(c, &r->lease);
	case K_JOURNAL_MAX: return u64(c, &r->journal_max);
	case K_PID: r->has_pid = true; return i64(c, &r->pid);
	case K_EXIT_CODE: r->has_exit_code = true; return i64(c, &r->exit_code);
	case K_CGROUP: return string(c, AF_CTL_STR_MAX, &r->cgroup, NULL);
	case K_HOME: return string(c, AF_CTL_STR_MAX, &r->home, NULL);
	case K_NO_JOURNAL: return boolean(c, &r->no_journal);
	case K_TTY: return boolean(c, &r->tty);
	case K_CONTAINER: return string(c, 128, &r->container, NULL);
	case K_CONTAINER_NAME: return string(c, 128, &r->container_name, NULL);
	case K_RUNTIME: return string(c, 16, &r->runtime, NULL);
	default: return -EINVAL;
	}
}

/* A cgroup name: it becomes a path component beneath agentfence/. */
static bool good_name(const char *s)
{
	size_t i;

	if (!s[0] || s[0] == '.')
		return false;
	for (i = 0; s[i]; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '.'))
			return false;
	return true;
}

static int check(struct cur *c, struct af_ctl_req *r, unsigned int seen, const char *opname)
{
	unsigned int extra, missing, i;

	for (i = AF_CTL_CREATE; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (!strcmp(opname, ops[i].name))
			break;
	if (i == sizeof(ops) / sizeof(ops[0]))
		return snprintf(c->why, c->n, "unknown op '%s' (create, started, end, status, stop, "
				"update, detach, adopt, attach)", opname), -EINVAL;
	r->op = i;
	extra = seen & ~(ops[i].allowed | B(K_OP) | B(K_TAG));
	missing = ops[i].required & ~seen;
	for (i = 0; i < K_COUNT; i++) {
		if (extra & B(i))
			return snprintf(c->why, c->n, "op %s takes no member '%s'", opname, keys[i]),
			       -EINVAL;
		if (missing & B(i))
			return snprintf(c->why, c->n, "op %s needs member '%s'", opname, keys[i]),
			       -EINVAL;
	}
	if (r->name && !good_name(r->name))
		return snprintf(c->why, c->n, "name '%s': only letters, digits, '_' and '.', not first '.' "
				"(the daemon adds -PID)", r->name), -EINVAL;
	if (r->workspace && r->workspace[0] != '/')
		return snprintf(c->why, c->n, "workspace must be an absolute path"), -EINVAL;
	if (r->cgroup && r->cgroup[0] != '/')
		return snprintf(c->why, c->n, "cgroup must be an absolute path"), -EINVAL;
	if (r->cgroup && (r->name || r->lease))
		return snprintf(c->why, c->n, "a fence on an existing cgroup takes no name nor lease"),
		       -EINVAL;
	if (r->home && r->home[0] != '/')
		return snprintf(c->why, c->n, "home must be an absolute path"), -EINVAL;
	if (r->journal && r->no_journal)
		return snprintf(c->why, c->n, "journal and no_journal exclude each other"), -EINVAL;
	if (r->journal && r->journal[0] != '/')
		return snprintf(c->why, c->n, "journal must be an absolute path"), -EINVAL;
	if (r->argv && !r->argc)
		return snprintf(c->why, c->n, "argv must not be empty"), -EINVAL;
	if (r->has_pid && r->pid <= 0)
		return snprintf(c->why, c->n, "pid must be positive"), -EINVAL;
	if (r->has_exit_code && (r->exit_code < 0 || r->exit_code > 255))
		return snprintf(c->why, c->n, "exit_code must be 0 to 255"), -EINVAL;
	return 0;
}

int af_ctl_parse(const char *line, size_t len, struct af_ctl_req *r, char *why, size_t n)
{
	struct cur c = { .s = line, .len = len, .why = why, .n = n };
	unsigned int seen = 0, members = 0;
	char *opname = NULL, *key = NULL;
	int err, k;

	memset(r, 0, sizeof(*r));
	if (n)
		why[0] = 0;
	if (len >= AF_CTL_LINE_MAX) {
		err = bad(&c, -E2BIG, "request longer than %d bytes", AF_CTL_LINE_MAX - 1);
		goto fail;
	}
	if (peek(&c) != '{') {
		err = bad(&c, -EINVAL, "a request is one JSON object");
		goto fail;
	}
	c.pos++;
	if (peek(&c) == '}') {
		err = bad(&c, -EINVAL, "empty request (it needs an op)");
		goto fail;
	}
	for (;;) {
		if (++members > AF_CTL_MEMBERS_MAX) {
			err = bad(&c, -E2BIG, "more than %d members", AF_CTL_MEMBERS_MAX);
			goto fail;
		}
		err = string(&c, 32, &key, NULL);
		if (err)
			goto fail;
		for (k = 0; k < K_COUNT && strcmp(keys[k], key); k++)
			;
		if (k == K_COUNT) {
			err = bad(&c, -EINVAL, "unknown member '%.32s'", key);
			goto fail;
		}
		if (seen & B(k)) {
			err = bad(&c, -EINVAL, "member '%s' twice", key);
			goto fail;
		}
		seen |= B(k);
		free(key);
		key = NULL;
		if (peek(&c) != ':') {
			err = bad(&c, -EINVAL, "expected :");
			goto fail;
		}
		c.pos++;
		err = member(&c, k, r, &opname);
		if (err)
			goto fail;
		if (peek(&c) == ',') {
			c.pos++;
			continue;
		}
		if (peek(&c) == '}') {
			c.pos++;
			break;
		}
		err = bad(&c, -EINVAL, "expected , or }");
		goto fail;
	}
	if (peek(&c) != -1) {
		err = bad(&c, -EINVAL, "bytes after the request's object");
		goto fail;
	}
	if (!opname) {
		err = -EINVAL;
		snprintf(why, n, "no op (create, started, end, status, stop, update, detach, adopt, "
			 "attach)");
		goto fail;
	}
	err = check(&c, r, seen, opname);
	if (err)
		goto fail;
	free(opname);
	return 0;
fail:
	free(opname);
	free(key);
	af_ctl_req_free(r);
	return err;
}

void af_ctl_req_free(struct af_ctl_req *r)
{
	size_t i;

	free(r->name);
	free(r->policy);
	free(r->policy_file);
	free(r->workspace);
	free(r->journal);
	free(r->backend);
	free(r->cgroup);
	free(r->home);
	free(r->container);
	free(r->container_name);
	free(r->runtime);
	if (r->argv) {
		for (i = 0; r->argv[i]; i++)
			free(r->argv[i]);
		free(r->argv);
	}
	memset(r, 0, sizeof(*r));
}

int af_ctl_in_feed(struct af_ctl_in *in, const char *data, size_t n, af_ctl_line_fn fn,
		   void *ctx)
{
	const char *nl;
	size_t take, want;
	char *b;

	if (in->overflow)
		return -E2BIG;
	while (n) {
		nl = memchr(data, '\n', n);
		take = nl ? (size_t)(nl - data) : n;
		if (in->len + take >= AF_CTL_LINE_MAX) {
			in->overflow = true;
			fn(ctx, NULL, 0, -E2BIG);
			return -E2BIG;
		}
		if (!in->len && nl) {
			/* A whole line in the data: no copy. */
			fn(ctx, data, take, 0);
		} else {
			if (in->len + take + 1 > in->cap) {
				want = in->cap ? in->cap : 4096;
				while (want < in->len + take + 1)
					want *= 2;
				if (want > AF_CTL_LINE_MAX)
					want = AF_CTL_LINE_MAX;
				b = realloc(in->buf, want);
				if (!b)
					return -ENOMEM;
				in->buf = b;
				in->cap = want;
			}
			memcpy(in->buf + in->len, data, take);
			in->len += take;
			if (nl) {
				fn(ctx, in->buf, in->len, 0);
				in->len = 0;
			}
		}
		if (!nl)
			break;
		data += take + 1;
		n -= take + 1;
	}
	return 0;
}

void af_ctl_in_free(struct af_ctl_in *in)
{
	free(in->buf);
	memset(in, 0, sizeof(*in));
}
