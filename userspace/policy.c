// SPDX-License-Identifier: GPL-2.0
/*
 * Policy documents: parse (libyaml event API), validate, expand, print.
 *
 * The YAML is first turned into a small tree of our own rather than
 * libyaml's document: the event API lets us refuse anchors, aliases and
 * tags before they are resolved, bound the nesting depth and node count
 * while parsing, and keep a location on every node. The tree is then
 * walked against a fixed schema; the first problem found is the error.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "caps.h"
#include "journal.h"
#include "json.h"
#include "policy.h"

#define API_VERSION	"agentfence/v1"
#define KIND		"Policy"
#define DISP_MAX	100	/* longest user string quoted in a message */
#define ARRAY_LEN(a)	(sizeof(a) / sizeof((a)[0]))

/* ASCII only, whatever the locale: names and hosts are ASCII by rule. */
#define IS_LOWER(ch)	((ch) >= 'a' && (ch) <= 'z')
#define IS_DIGIT(ch)	((ch) >= '0' && (ch) <= '9')
#define TO_LOWER(ch)	((ch) >= 'A' && (ch) <= 'Z' ? (ch) - 'A' + 'a' : (ch))

enum nkind {
	N_SCALAR,
	N_SEQ,
	N_MAP,
};

struct node {
	enum nkind kind;
	bool plain;		/* unquoted scalar: only these can be null/bool/int */
	struct af_loc loc;
	char *str;		/* N_SCALAR: value, may hold NUL from escapes */
	size_t len;
	struct node **kids;	/* N_SEQ: items; N_MAP: key, value, key, ... */
	size_t n;
	size_t cap;
};

struct ctx {
	const char *file;
	char *err;
	const struct af_policy_vars *vars;
	struct af_policy *p;
	size_t nodes;
	bool failed;
};

/* Which list a path belongs to: decides existence handling. */
enum path_list {
	PL_WRITABLE,
	PL_DENY_READ,
	PL_PROTECTED,
	PL_UNIX,
};

struct keydef {
	const char *name;
	bool required;
};

static void set_err(struct ctx *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void set_err(struct ctx *c, const char *fmt, ...)
{
	va_list ap;

	/* The first problem is the one worth reading; keep it. */
	if (c->failed)
		return;
	c->failed = true;
	if (!c->err)
		return;
	va_start(ap, fmt);
	vsnprintf(c->err, AF_ERR_MAX, fmt, ap);
	va_end(ap);
}

static int fail(struct ctx *c, struct af_loc loc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct ctx *c, struct af_loc loc, const char *fmt, ...)
{
	char msg[AF_ERR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	set_err(c, "%s:%d:%d: %s", c->file, loc.line, loc.col, msg);
	return -EINVAL;
}

static int oom(struct ctx *c)
{
	set_err(c, "%s: out of memory", c->file);
	return -ENOMEM;
}

static const char *errstr(int e, char buf[64])
{
	/* Messages are lower-case; strerror() capitalizes. */
	snprintf(buf, 64, "%s", strerror(e));
	buf[0] = TO_LOWER(buf[0]);
	return buf;
}

/*
 * A user string made safe to quote in a message: control characters
 * (C0, DEL, C1) and invalid UTF-8 are escaped so that a hostile policy
 * cannot drive the terminal, and long strings are cut.
 */
static const char *disp(char buf[DISP_MAX + 16], const char *s, size_t len)
{
	size_t i = 0, o = 0;
	uint32_t cp;
	int n;

	while (i < len) {
		if (o >= DISP_MAX) {
			memcpy(buf + o, "...", 4);
			return buf;
		}
		n = utf8_next(s + i, len - i, &cp);
		if (n < 0 || cp < 0x20 || cp == 0x7f ||
		    (cp >= 0x80 && cp < 0xa0)) {
			o += snprintf(buf + o, 8, "\\x%02x",
				      (unsigned char)s[i]);
			i += n < 0 ? 1 : n;
			/* A C1 control is two bytes; show both. */
			if (n == 2)
				o += snprintf(buf + o, 8, "\\x%02x",
					      (unsigned char)s[i - 1]);
			continue;
		}
		memcpy(buf + o, s + i, n);
		o += n;
		i += n;
	}
	buf[o] = '\0';
	return buf;
}

#define DISP(buf, s)	disp(buf, (s), strlen(s))
#define DISPN(buf, n)	disp(buf, (n)->str, (n)->len)

/* ---- tree ---- */

static void node_free(struct node *n)
{
	size_t i;

	if (!n)
		return;
	for (i = 0; i < n->n; i++)
		node_free(n->kids[i]);
	free(n->kids);
	free(n->str);
	free(n);
}

static struct af_loc mark_loc(yaml_mark_t m)
{
	struct af_loc loc = {
		.line = m.line + 1 > INT_MAX ? INT_MAX : (int)m.line + 1,
		.col = m.column + 1 > INT_MAX ? INT_MAX : (int)m.column + 1,
	};

	return loc;
}

static int node_add(struct ctx *c, struct node *parent, struct node *kid)
{
	struct node **k;
	size_t cap;

	/* Keys are matched by name, so a collection cannot be one. */
	if (parent->kind == N_MAP && parent->n % 2 == 0 && kid->kind != N_SCALAR)
		return fail(c, kid->loc, "mapping keys must be strings");
	if (parent->n == parent->cap) {
		cap = parent->cap ? parent->cap * 2 : 4;
		k = realloc(parent->kids, cap * sizeof(*k));
		if (!k)
			return oom(c);
		parent->kids = k;
		parent->cap = cap;
	}
	parent->kids[parent->n++] = kid;
	return 0;
}

/* Location of a byte offset, counted the way libyaml counts marks. */
static struct af_loc offset_loc(const char *buf, size_t len, size_t off)
{
	struct af_loc loc = { 1, 1 };
	size_t i = 0;
	uint32_t cp;
	int n;

	while (i < off && i < len) {
		if (buf[i] == '\n' || (buf[i] == '\r' &&
				       (i + 1 >= len || buf[i + 1] != '\n'))) {
			loc.line++;
			loc.col = 1;
			i++;
			continue;
		}
		n = utf8_next(buf + i, len - i, &cp);
		i += n < 0 ? 1 : n;
		if (buf[i - 1] != '\r')
			loc.col++;
	}
	return loc;
}

/*
 * Refuse what libyaml would accept but a policy has no use for, and
 * whose line numbers would disagree with an editor's: NUL, control
 * characters, the YAML 1.1 line breaks NEL/LS/PS, a BOM after the
 * start, and of course invalid UTF-8 (reported before libyaml sees it,
 * since its reader errors carry no line:column).
 */
static int check_text(struct ctx *c, const char *buf, size_t len)
{
	struct af_loc loc = { 1, 1 };
	size_t i = 0;
	uint32_t cp;
	int n;

	while (i < len) {
		n = utf8_next(buf + i, len - i, &cp);
		if (n < 0)
			return fail(c, loc, "invalid UTF-8 (byte 0x%02x)",
				    (unsigned char)buf[i]);
		if (cp == 0)
			return fail(c, loc, "NUL byte in document");
		if ((cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r') ||
		    (cp >= 0x7f && cp < 0xa0))
			return fail(c, loc, "control character U+%04X is not allowed",
				    cp);
		if (cp == 0x2028 || cp == 0x2029)
			return fail(c, loc, "line separator U+%04X is not allowed (use a newline)",
				    cp);
		if (cp == 0xfeff && i)
			return fail(c, loc, "byte order mark is only allowed at the start");
		if (cp == 0xfffe || cp == 0xffff)
			return fail(c, loc, "character U+%04X is not allowed", cp);
		i += n;
		if (cp == '\n' || (cp == '\r' && (i >= len || buf[i] != '\n'))) {
			loc.line++;
			loc.col = 1;
		} else if (cp != '\r' && !(cp == 0xfeff && i == (size_t)n)) {
			loc.col++;
		}
	}
	return 0;
}

/* The byte at a location, as counted by check_text(); -1 past the end. */
static int byte_at(const char *buf, size_t len, struct af_loc want)
{
	struct af_loc loc = { 1, 1 };
	size_t i = 0;
	uint32_t cp = 0;
	int n;

	while (i < len) {
		if (loc.line == want.line && loc.col == want.col)
			return (unsigned char)buf[i];
		n = utf8_next(buf + i, len - i, &cp);
		i += n < 0 ? 1 : n;
		if (cp == '\n' || (cp == '\r' && (i >= len || buf[i] != '\n'))) {
			loc.line++;
			loc.col = 1;
		} else if (cp != '\r' && !(cp == 0xfeff && i == (size_t)n)) {
			loc.col++;
		}
	}
	return -1;
}

static int yaml_fail(struct ctx *c, const yaml_parser_t *yp,
		     const char *buf, size_t len)
{
	const char *hint = "";
	struct af_loc loc;

	switch (yp->error) {
	case YAML_MEMORY_ERROR:
		return oom(c);
	case YAML_READER_ERROR:
		loc = offset_loc(buf, len, yp->problem_offset);
		break;
	default:
		loc = mark_loc(yp->problem_mark);
		break;
	}
	/* libyaml's words for a tab in indentation do not say "tab". */
	if (byte_at(buf, len, loc) == '\t' &&
	    !(yp->problem && strstr(yp->problem, "tab")))
		hint = "; tabs are not allowed in indentation";
	if (yp->context)
		return fail(c, loc, "syntax error: %s (%s at %d:%d)%s",
			    yp->problem ? yp->problem : "unknown problem",
			    yp->context, mark_loc(yp->context_mark).line,
			    mark_loc(yp->context_mark).col, hint);
	return fail(c, loc, "syntax error: %s%s",
		    yp->problem ? yp->problem : "unknown problem", hint);
}

/* Anchors and tags are refused wherever they appear: a policy is data,
 * and what you read must be what is enforced. */
static int check_props(struct ctx *c, struct af_loc loc,
		       const yaml_char_t *anchor, const yaml_char_t *tag)
{
	if (anchor)
		return fail(c, loc, "anchors and aliases are not supported");
	if (tag)
		return fail(c, loc, "tags are not supported");
	return 0;
}

static int new_node(struct ctx *c, enum nkind kind, struct af_loc loc,
		    struct node **out)
{
	struct node *n;

	if (++c->nodes > AF_POLICY_MAX_NODES)
		return fail(c, loc, "document too large (more than %d nodes)",
			    AF_POLICY_MAX_NODES);
	n = calloc(1, sizeof(*n));
	if (!n)
		return oom(c);
	n->kind = kind;
	n->loc = loc;
	*out = n;
	return 0;
}

static int build_tree(struct ctx *c, const char *buf, size_t len,
		      struct node **rootp)
{
	struct node *stack[AF_POLICY_MAX_DEPTH];
	struct node *root = NULL, *n;
	bool have_ev = false, done = false;
	yaml_parser_t yp;
	yaml_event_t ev;
	int depth = 0, ndocs = 0, err = 0;
	struct af_loc loc;

	if (!yaml_parser_initialize(&yp))
		return oom(c);
	/* No explicit encoding: libyaml's detection drops a leading BOM
	 * without counting it as a column. check_text() already refused
	 * anything that is not UTF-8, so UTF-16 is never detected. */
	yaml_parser_set_input_string(&yp, (const unsigned char *)buf, len);

	while (!done) {
		if (!yaml_parser_parse(&yp, &ev)) {
			err = yaml_fail(c, &yp, buf, len);
			goto out;
		}
		have_ev = true;
		loc = mark_loc(ev.start_mark);
		n = NULL;
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		case YAML_DOCUMENT_START_EVENT:
			/* Stop here: a later document is never looked at. */
			if (ndocs++) {
				err = fail(c, loc, "multiple documents are not supported");
				goto out;
			}
			break;
		case YAML_ALIAS_EVENT:
			err = fail(c, loc, "aliases are not supported");
			goto out;
		case YAML_SCALAR_EVENT:
			err = check_props(c, loc, ev.data.scalar.anchor,
					  ev.data.scalar.tag);
			if (err)
				goto out;
			err = new_node(c, N_SCALAR, loc, &n);
			if (err)
				goto out;
			n->plain = ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
			n->len = ev.data.scalar.length;
			n->str = malloc(n->len + 1);
			if (!n->str) {
				node_free(n);
				err = oom(c);
				goto out;
			}
			memcpy(n->str, ev.data.scalar.value, n->len);
			n->str[n->len] = '\0';
			break;
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
			if (ev.type == YAML_SEQUENCE_START_EVENT)
				err = check_props(c, loc, ev.data.sequence_start.anchor,
						  ev.data.sequence_start.tag);
			else
				err = check_props(c, loc, ev.data.mapping_start.anchor,
						  ev.data.mapping_start.tag);
			if (err)
				goto out;
			if (depth == AF_POLICY_MAX_DEPTH) {
				err = fail(c, loc, "nesting deeper than %d levels",
					   AF_POLICY_MAX_DEPTH);
				goto out;
			}
			err = new_node(c, ev.type == YAML_SEQUENCE_START_EVENT ?
					  N_SEQ : N_MAP, loc, &n);
			if (err)
				goto out;
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			depth--;
			break;
		default:
			break;
		}
		if (n) {
			if (depth) {
				err = node_add(c, stack[depth - 1], n);
				if (err) {
					node_free(n);
					goto out;
				}
			} else {
				root = n;
			}
			if (n->kind != N_SCALAR)
				stack[depth++] = n;
		}
		yaml_event_delete(&ev);
		have_ev = false;
	}

	if (!root)
		err = fail(c, (struct af_loc){ 1, 1 }, "empty document");
out:
	if (have_ev)
		yaml_event_delete(&ev);
	yaml_parser_delete(&yp);
	if (err)
		node_free(root);
	else
		*rootp = root;
	return err;
}

/* ---- typed access ---- */

static bool is_null(const struct node *n)
{
	return n->kind == N_SCALAR && n->plain &&
	       (!n->len || !strcmp(n->str, "~") || !strcmp(n->str, "null") ||
		!strcmp(n->str, "Null") || !strcmp(n->str, "NULL"));
}

static bool is_digits(const char *s, size_t len)
{
	size_t i;

	if (!len)
		return false;
	for (i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

static const char *kind_name(const struct node *n)
{
	if (n->kind == N_SEQ)
		return "a sequence";
	if (n->kind == N_MAP)
		return "a mapping";
	if (is_null(n))
		return "null";
	if (n->plain && (!strcmp(n->str, "true") || !strcmp(n->str, "false")))
		return "a boolean";
	if (n->plain && is_digits(n->str, n->len))
		return "an integer";
	return "a string";
}

static int want(struct ctx *c, const struct node *n, enum nkind kind,
		const char *what)
{
	static const char *const names[] = {
		[N_SCALAR] = "a string",
		[N_SEQ] = "a sequence",
		[N_MAP] = "a mapping",
	};

	if (n->kind == kind && !is_null(n))
		return 0;
	return fail(c, n->loc, "%s must be %s, not %s", what, names[kind],
		    kind_name(n));
}

static int get_str(struct ctx *c, const struct node *n, const char *what,
		   const char **out)
{
	int err = want(c, n, N_SCALAR, what);

	if (err)
		return err;
	/* "\0" in a double-quoted scalar survives libyaml; C strings do not. */
	if (memchr(n->str, '\0', n->len))
		return fail(c, n->loc, "%s must not contain NUL bytes", what);
	*out = n->str;
	return 0;
}

static int get_bool(struct ctx *c, const struct node *n, const char *what,
		    bool *out)
{
	char d[DISP_MAX + 16];

	if (n->kind == N_SCALAR && n->plain && !strcmp(n->str, "true")) {
		*out = true;
		return 0;
	}
	if (n->kind == N_SCALAR && n->plain && !strcmp(n->str, "false")) {
		*out = false;
		return 0;
	}
	if (n->kind == N_SCALAR && !is_null(n))
		return fail(c, n->loc, "%s must be true or false%s, not '%s'", what,
			    n->plain ? "" : " (unquoted)", DISPN(d, n));
	return fail(c, n->loc, "%s must be true or false, not %s", what,
		    kind_name(n));
}

/* Optimal string alignment distance, for "did you mean" hints. */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j, v;
	size_t d[33][33];

	if (la > 32 || lb > 32)
		return SIZE_MAX;
	for (i = 0; i <= la; i++)
		d[i][0] = i;
	for (j = 0; j <= lb; j++)
		d[0][j] = j;
	for (i = 1; i <= la; i++) {
		for (j = 1; j <= lb; j++) {
			size_t cost = TO_LOWER(a[i - 1]) != TO_LOWER(b[j - 1]);

			v = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (d[i - 1][j - 1] + cost < v)
				v = d[i - 1][j - 1] + cost;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
			    a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	}
	return d[la][lb];
}

/*
 * Match a mapping's keys against its schema: vals[i] and keys[i] get the
 * value and key node of defs[i], or NULL when absent. where is the
 * dotted path of the mapping, "" for the top level.
 */
static int walk_map(struct ctx *c, const struct node *map, const char *where,
		    const struct keydef *defs, size_t ndefs,
		    const struct node **vals, const struct node **keys)
{
	char d[DISP_MAX + 16], in[160];
	const struct node *k;
	size_t i, j, best, dist, bestd;
	int err;

	err = want(c, map, N_MAP, where[0] ? where : "the top level");
	if (err)
		return err;
	snprintf(in, sizeof(in), where[0] ? "in %s" : "at top level", where);
	for (j = 0; j < ndefs; j++)
		vals[j] = keys[j] = NULL;

	for (i = 0; i + 1 < map->n; i += 2) {
		k = map->kids[i];
		for (j = 0; j < ndefs; j++)
			if (k->len == strlen(defs[j].name) &&
			    !memcmp(k->str, defs[j].name, k->len))
				break;
		if (j == ndefs) {
			bestd = SIZE_MAX;
			best = 0;
			for (j = 0; j < ndefs && !memchr(k->str, 0, k->len); j++) {
				/* An abbreviation ("prot") beats a closer typo
				 * ("ports"). */
				if (k->len >= 3 && k->len < strlen(defs[j].name) &&
				    !memcmp(k->str, defs[j].name, k->len))
					dist = 0;
				else
					dist = edit_distance(k->str, defs[j].name);
				if (dist < bestd) {
					bestd = dist;
					best = j;
				}
			}
			/* Only near misses: "deny" is not a typo of "dns". */
			if (bestd <= 2 && bestd * 2 < strlen(defs[best].name))
				return fail(c, k->loc, "unknown key '%s' %s (did you mean '%s'?)",
					    DISPN(d, k), in, defs[best].name);
			return fail(c, k->loc, "unknown key '%s' %s", DISPN(d, k), in);
		}
		if (keys[j])
			return fail(c, k->loc, "duplicate key '%s' %s (first at %d:%d)",
				    defs[j].name, in, keys[j]->loc.line,
				    keys[j]->loc.col);
		keys[j] = k;
		vals[j] = map->kids[i + 1];
	}
	for (j = 0; j < ndefs; j++)
		if (defs[j].required && !vals[j])
			return fail(c, map->loc, "missing required key '%s' %s",
				    defs[j].name, in);
	return 0;
}

/* ---- paths ---- */

/* Lexical only: the kernel side works on what exists at attach time. */
static void normalize_path(const char *in, char *out)
{
	const char *s = in, *e;
	size_t o = 1, len;

	out[0] = '/';
	while (*s) {
		while (*s == '/')
			s++;
		e = s;
		while (*e && *e != '/')
			e++;
		len = e - s;
		if (len == 0 || (len == 1 && s[0] == '.')) {
			/* nothing */
		} else if (len == 2 && s[0] == '.' && s[1] == '.') {
			while (o > 1 && out[o - 1] != '/')
				o--;
			if (o > 1)
				o--;
		} else {
			if (o > 1)
				out[o++] = '/';
			memcpy(out + o, s, len);
			o += len;
		}
		s = e;
	}
	out[o] = '\0';
}

/* ${WORKSPACE} and ${HOME} in raw, into buf (size bytes); what names
 * it in messages ("path", "value"). */
/* stat() of a policy path as the fenced processes see it: beneath
 * vars->root when given (attach: /proc/PID/root). */
static int stat_beneath(struct ctx *c, const char *path, struct stat *st)
{
	char buf[PATH_MAX + 64];

	if (!c->vars || !c->vars->root)
		return stat(path, st);
	if (snprintf(buf, sizeof(buf), "%s%s", c->vars->root, path) >= (int)sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return stat(buf, st);
}

static int expand_vars(struct ctx *c, const struct node *n, const char *raw, const char *what,
		       char *buf, size_t size)
{
	char d[DISP_MAX + 16];
	const char *val, *end;
	size_t i, o = 0, vlen;

	for (i = 0; raw[i]; i++)
		if ((unsigned char)raw[i] < 0x20 || raw[i] == 0x7f)
			return fail(c, n->loc, "%s '%s' contains a control character", what,
				    DISP(d, raw));

	for (i = 0; raw[i]; ) {
		if (raw[i] != '$' || raw[i + 1] != '{') {
			if (o + 1 >= size)
				goto too_long;
			buf[o++] = raw[i++];
			continue;
		}
		end = strchr(raw + i + 2, '}');
		if (!end)
			return fail(c, n->loc, "unterminated variable in path '%s'",
				    DISP(d, raw));
		vlen = end - (raw + i + 2);
		if (vlen == 9 && !memcmp(raw + i + 2, "WORKSPACE", 9)) {
			val = c->vars ? c->vars->workspace : NULL;
			if (!val || !val[0])
				return fail(c, n->loc, "${WORKSPACE} is not set (pass --workspace)");
		} else if (vlen == 4 && !memcmp(raw + i + 2, "HOME", 4)) {
			val = c->vars ? c->vars->home : NULL;
			if (!val || !val[0])
				return fail(c, n->loc, "${HOME} is not set");
		} else {
			return fail(c, n->loc, "unknown variable '%s' in %s (only ${WORKSPACE} and ${HOME} are defined)",
				    disp(d, raw + i, vlen + 3), what);
		}
		vlen = strlen(val);
		if (o + vlen >= size)
			goto too_long;
		memcpy(buf + o, val, vlen);
		o += vlen;
		i = end - raw + 1;
	}
	buf[o] = '\0';
	return 0;

too_long:
	return fail(c, n->loc, "%s '%s' is longer than %zu bytes", what, DISP(d, raw), size - 1);
}

static int expand_path(struct ctx *c, const struct node *n, const char *raw,
		       char *out)
{
	char buf[PATH_MAX], d[DISP_MAX + 16];
	int err;

	if (!raw[0])
		return fail(c, n->loc, "path must not be empty");
	err = expand_vars(c, n, raw, "path", buf, sizeof(buf));
	if (err)
		return err;
	if (buf[0] != '/')
		return fail(c, n->loc, "path '%s' is not absolute%s", DISP(d, buf),
			    buf[0] == '~' ? " (use ${HOME} instead of ~)" : "");
	normalize_path(buf, out);
	return 0;
}

static int add_warning(struct ctx *c, struct af_loc loc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int add_warning(struct ctx *c, struct af_loc loc, const char *fmt, ...)
{
	struct af_policy *p = c->p;
	char msg[AF_ERR_MAX], **w;
	size_t len;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	w = realloc(p->warnings, (p->n_warnings + 1) * sizeof(*w));
	if (!w)
		return oom(c);
	p->warnings = w;
	len = strlen(c->file) + strlen(msg) + 48;
	w[p->n_warnings] = malloc(len);
	if (!w[p->n_warnings])
		return oom(c);
	snprintf(w[p->n_warnings], len, "%s:%d:%d: warning: %s", c->file,
		 loc.line, loc.col, msg);
	p->n_warnings++;
	return 0;
}

static const char *const list_names[] = {
	[PL_WRITABLE] = "spec.filesystem.writable",
	[PL_DENY_READ] = "spec.filesystem.deny_read",
	[PL_PROTECTED] = "spec.filesystem.protected",
	[PL_UNIX] = "spec.network.unix.allow",
};

/* A protected path relative to every writable root: "name/name", no
 * "..", no variables, normalized lexically without the leading '/'. */
static int relative_path(struct ctx *c, const struct node *n, const char *raw, char *out)
{
	char buf[PATH_MAX], d[DISP_MAX + 16];
	const char *s;
	size_t i;

	if (!raw[0])
		return fail(c, n->loc, "path must not be empty");
	for (i = 0; raw[i]; i++)
		if ((unsigned char)raw[i] < 0x20 || raw[i] == 0x7f)
			return fail(c, n->loc, "path '%s' contains a control character",
				    DISP(d, raw));
	for (s = raw; *s; ) {
		size_t len = strcspn(s, "/");

		if (len == 2 && s[0] == '.' && s[1] == '.')
			return fail(c, n->loc, "protected path '%s' must not contain '..' "
				    "(relative entries lie beneath every writable path)", DISP(d, raw));
		s += len;
		while (*s == '/')
			s++;
	}
	if (raw[0] == '~')
		return fail(c, n->loc, "path '%s' is not absolute (use ${HOME} instead of ~)",
			    DISP(d, raw));
	if (strlen(raw) + 2 > sizeof(buf))
		return fail(c, n->loc, "path '%s' is longer than %d bytes", DISP(d, raw),
			    PATH_MAX - 1);
	buf[0] = '/';
	strcpy(buf + 1, raw);
	normalize_path(buf, out);
	if (!strcmp(out, "/"))
		return fail(c, n->loc, "protected path '%s' names the writable path itself",
			    DISP(d, raw));
	memmove(out, out + 1, strlen(out));
	return 0;
}

/* The BPF fence matches a protected path that does not exist yet by
 * its names: each must fit its map key. */
static int check_components(struct ctx *c, const struct node *n, const char *path)
{
	char d[DISP_MAX + 16];
	const char *s = path;

	while (*s) {
		size_t len;

		while (*s == '/')
			s++;
		len = strcspn(s, "/");
		if (len > AF_PROTECT_NAME_MAX)
			return fail(c, n->loc, "protected path '%s' has a component longer "
				    "than %d bytes", DISP(d, path), AF_PROTECT_NAME_MAX);
		s += len;
	}
	return 0;
}

static int parse_path(struct ctx *c, const struct node *n, enum path_list pl,
		      struct af_path_rule *rules, size_t idx)
{
	static const struct keydef item[] = {
		{ .name = "path", .required = true }, { .name = "create" },
	};
	struct af_path_rule *r = &rules[idx];
	char path[PATH_MAX], d[DISP_MAX + 16], e[64];
	const struct node *iv[2], *ik[2];
	enum af_create create = AF_CREATE_NONE;
	const char *raw;
	struct stat st;
	size_t i;
	int err;

	/* A writable path run may create: {path: P, create: directory}. */
	if (pl == PL_WRITABLE && n->kind == N_MAP) {
		err = walk_map(c, n, "a spec.filesystem.writable item", item, 2, iv, ik);
		if (err)
			return err;
		if (iv[1]) {
			err = get_str(c, iv[1], "create", &raw);
			if (err)
				return err;
			if (!strcmp(raw, "directory"))
				create = AF_CREATE_DIR;
			else if (!strcmp(raw, "file"))
				create = AF_CREATE_FILE;
			else
				return fail(c, iv[1]->loc, "unknown create '%s' (expected directory or file)",
					    DISP(d, raw));
		}
		n = iv[0];
	}
	err = get_str(c, n, "path", &raw);
	if (err)
		return err;
	if (pl == PL_PROTECTED && raw[0] != '/' && raw[0] != '$')
		err = relative_path(c, n, raw, path);
	else
		err = expand_path(c, n, raw, path);
	if (err)
		return err;
	if (pl == PL_PROTECTED) {
		err = check_components(c, n, path);
		if (err)
			return err;
	}
	for (i = 0; i < idx; i++)
		if (!strcmp(rules[i].path, path))
			return fail(c, n->loc, "duplicate path '%s' in %s (first at %d:%d)",
				    DISP(d, path), list_names[pl],
				    rules[i].loc.line, rules[i].loc.col);

	r->loc = n->loc;
	r->raw = strdup(raw);
	r->path = strdup(path);
	r->create = create;
	if (!r->raw || !r->path)
		return oom(c);

	if (pl == PL_PROTECTED && path[0] != '/') {
		r->relative = true;
		return 0;
	}
	/* Nothing to look up: no target yet, or read only for what it records. */
	if (c->vars && c->vars->unresolved)
		return 0;
	r->exists = !stat_beneath(c, path, &st);
	if (r->exists || pl == PL_PROTECTED)
		return 0;
	err = errno;
	switch (pl) {
	case PL_WRITABLE:
		/* run makes it, as the user, before the fence starts. */
		if (create && err == ENOENT)
			return 0;
		if (err == ENOENT || err == ENOTDIR)
			return fail(c, n->loc, "writable path '%s' does not exist",
				    DISP(d, path));
		return fail(c, n->loc, "cannot check writable path '%s': %s",
			    DISP(d, path), errstr(err, e));
	case PL_DENY_READ:
		if (err == ENOENT || err == ENOTDIR)
			return add_warning(c, n->loc, "deny_read path '%s' does not exist; nothing to protect",
					   DISP(d, path));
		return add_warning(c, n->loc, "cannot check deny_read path '%s': %s",
				   DISP(d, path), errstr(err, e));
	case PL_PROTECTED:
	case PL_UNIX:
		/* A socket may be created after the fence is up; a
		 * protected path may not be created at all. */
		return 0;
	}
	return 0;
}

static int parse_paths(struct ctx *c, const struct node *seq, enum path_list pl,
		       struct af_path_rule **out, size_t *nout)
{
	const char *what = list_names[pl];
	size_t i;
	int err;

	err = want(c, seq, N_SEQ, what);
	if (err)
		return err;
	if (seq->n > AF_POLICY_MAX_PATHS)
		return fail(c, seq->kids[AF_POLICY_MAX_PATHS]->loc,
			    "too many entries in %s (max %d)", what,
			    AF_POLICY_MAX_PATHS);
	if (!seq->n)
		return 0;
	*out = calloc(seq->n, sizeof(**out));
	if (!*out)
		return oom(c);
	for (i = 0; i < seq->n; i++) {
		err = parse_path(c, seq->kids[i], pl, *out, i);
		/* Count the entry even on failure so that free() sees it. */
		*nout = i + 1;
		if (err)
			return err;
	}
	return 0;
}

static bool is_beneath(const char *path, const char *root)
{
	size_t n = strlen(root);

	if (!strcmp(root, "/"))
		return path[0] == '/';
	return !strncmp(path, root, n) && (path[n] == '/' || !path[n]);
}

/* The nearest writable root above path, by string; NULL for none. */
static const char *beneath_writable(const struct af_policy *p, const char *path)
{
	const char *best = NULL;
	size_t i;

	for (i = 0; i < p->n_writable; i++)
		if (is_beneath(path, p->writable[i].path) &&
		    (!best || strlen(p->writable[i].path) > strlen(best)))
			best = p->writable[i].path;
	return best;
}

int af_policy_protected_each(const struct af_policy *p,
			     int (*cb)(void *ctx, const char *path, const char *root),
			     void *ctx)
{
	char buf[PATH_MAX];
	const char *root;
	struct stat st;
	size_t i, j;
	int err;

	for (i = 0; i < p->n_protected; i++) {
		const struct af_path_rule *r = &p->protected[i];

		if (!r->relative) {
			root = beneath_writable(p, r->path);
			if (root && strcmp(root, r->path) && (err = cb(ctx, r->path, root)))
				return err;
			continue;
		}
		for (j = 0; j < p->n_writable; j++) {
			root = p->writable[j].path;
			if (stat(root, &st) || !S_ISDIR(st.st_mode))
				continue;
			if (snprintf(buf, sizeof(buf), "%s/%s", strcmp(root, "/") ? root : "",
				     r->path) >= (int)sizeof(buf))
				continue;
			if ((err = cb(ctx, buf, root)))
				return err;
		}
	}
	return 0;
}

static int parse_filesystem(struct ctx *c, const struct node *map)
{
	static const struct keydef defs[] = {
		{ .name = "writable" }, { .name = "deny_read" }, { .name = "protected" },
	};
	const struct node *vals[3], *keys[3];
	struct af_policy *p = c->p;
	char d[DISP_MAX + 16];
	size_t i, j;
	int err;

	err = walk_map(c, map, "spec.filesystem", defs, 3, vals, keys);
	if (err)
		return err;
	if (vals[0]) {
		err = parse_paths(c, vals[0], PL_WRITABLE, &p->writable,
				  &p->n_writable);
		if (err)
			return err;
	}
	if (vals[1]) {
		err = parse_paths(c, vals[1], PL_DENY_READ, &p->deny_read,
				  &p->n_deny_read);
		if (err)
			return err;
	}
	if (vals[2]) {
		err = parse_paths(c, vals[2], PL_PROTECTED, &p->protected,
				  &p->n_protected);
		if (err)
			return err;
	}
	for (i = 0; i < p->n_protected; i++) {
		const struct af_path_rule *r = &p->protected[i];

		if (r->relative)
			continue;
		for (j = 0; j < p->n_writable; j++)
			if (!strcmp(r->path, p->writable[j].path))
				return fail(c, r->loc,
					    "protected path '%s' is also writable (at %d:%d)",
					    DISP(d, r->path), p->writable[j].loc.line,
					    p->writable[j].loc.col);
		if (!beneath_writable(p, r->path)) {
			err = add_warning(c, r->loc, "protected path '%s' lies beneath no "
					  "writable path; it is read-only already", DISP(d, r->path));
			if (err)
				return err;
		}
	}
	/* Nesting is meaningful (a secret inside the workspace); equality is
	 * a contradiction. */
	for (i = 0; i < p->n_deny_read; i++)
		for (j = 0; j < p->n_writable; j++)
			if (!strcmp(p->deny_read[i].path, p->writable[j].path))
				return fail(c, p->deny_read[i].loc,
					    "deny_read path '%s' is also writable (at %d:%d)",
					    DISP(d, p->deny_read[i].path),
					    p->writable[j].loc.line,
					    p->writable[j].loc.col);
	for (j = 0; j < p->n_writable; j++)
		if (!strcmp(p->writable[j].path, "/")) {
			err = add_warning(c, p->writable[j].loc,
					  "writable path '/' makes every path writable");
			if (err)
				return err;
		}
	return 0;
}

/* ---- network ---- */

static bool is_address(const char *s)
{
	unsigned char a[16];

	return inet_pton(AF_INET, s, a) == 1 || inet_pton(AF_INET6, s, a) == 1;
}

static int parse_host(struct ctx *c, const struct node *n, struct af_net_rule *r)
{
	char d[DISP_MAX + 16], ch[DISP_MAX + 16], host[256];
	const char *raw, *s, *label, *last = NULL;
	size_t i, len, nlabels = 0;
	bool wild = false, digits;
	int err;

	err = get_str(c, n, "host", &raw);
	if (err)
		return err;
	len = strlen(raw);
	if (len > 253)
		return fail(c, n->loc, "host '%s' is longer than 253 characters",
			    DISP(d, raw));
	for (i = 0; i <= len; i++)
		host[i] = TO_LOWER(raw[i]);
	if (is_address(host) || host[0] == '[')
		return fail(c, n->loc, "'%s' is an address; use cidr: for addresses",
			    DISP(d, raw));

	s = host;
	if (s[0] == '*' && s[1] == '.') {
		wild = true;
		s += 2;
	}
	for (i = 0; s[i]; i++) {
		if ((unsigned char)s[i] >= 0x80)
			return fail(c, n->loc, "host '%s' is not ASCII; use its punycode (xn--) form",
				    DISP(d, raw));
		if (s[i] == '*')
			return fail(c, n->loc, "wildcard in host '%s' is only allowed as a whole first label, as in '*.example.com'",
				    DISP(d, raw));
	}
	for (label = s;; label += len + 1) {
		len = strcspn(label, ".");
		if (!len)
			return fail(c, n->loc, "host '%s' has an empty label",
				    DISP(d, raw));
		if (len > 63)
			return fail(c, n->loc, "host '%s' has a label longer than 63 characters",
				    DISP(d, raw));
		for (i = 0; i < len; i++)
			if (!IS_LOWER(label[i]) && !IS_DIGIT(label[i]) &&
			    label[i] != '-')
				return fail(c, n->loc, "host '%s' contains '%s'; labels are letters, digits and '-'",
					    DISP(d, raw), disp(ch, label + i, 1));
		if (label[0] == '-' || label[len - 1] == '-')
			return fail(c, n->loc, "host '%s' has a label that starts or ends with '-'",
				    DISP(d, raw));
		nlabels++;
		last = label;
		if (!label[len])
			break;
	}
	/* A wildcard over a whole top-level domain fences nothing. */
	if (wild && nlabels < 2)
		return fail(c, n->loc, "wildcard host '%s' is too broad (needs at least two labels after '*.')",
			    DISP(d, raw));
	/* inet_aton() reads "10.1" or "0x7f.1" as addresses; so might a
	 * resolver. No real top-level domain is numeric. */
	digits = true;
	for (i = 0; last[i]; i++)
		if (!IS_DIGIT(last[i]))
			digits = false;
	if (digits)
		return fail(c, n->loc, "'%s' looks like an address; use cidr: for addresses",
			    DISP(d, raw));

	r->kind = AF_NET_HOST;
	r->host = strdup(host);
	if (!r->host)
		return oom(c);
	return 0;
}

static int parse_cidr(struct ctx *c, const struct node *n, struct af_net_rule *r)
{
	char d[DISP_MAX + 16], addr[64], net[INET6_ADDRSTRLEN];
	const char *raw, *slash;
	uint8_t masked[16];
	int err, bits, i, max;
	size_t alen;

	err = get_str(c, n, "cidr", &raw);
	if (err)
		return err;
	slash = strchr(raw, '/');
	alen = slash ? (size_t)(slash - raw) : strlen(raw);
	if (alen >= sizeof(addr))
		goto bad;
	memcpy(addr, raw, alen);
	addr[alen] = '\0';
	if (inet_pton(AF_INET, addr, r->addr) == 1) {
		r->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, addr, r->addr) == 1) {
		r->family = AF_INET6;
		max = 128;
	} else {
		goto bad;
	}

	r->prefix = max;
	if (slash) {
		/* Decimal, no sign, no leading zeros: "/08" is a typo. */
		if (!is_digits(slash + 1, strlen(slash + 1)) ||
		    strlen(slash + 1) > 3 || (slash[1] == '0' && slash[2]))
			goto bad;
		r->prefix = atoi(slash + 1);
		if (r->prefix > max)
			return fail(c, n->loc, "prefix /%d in '%s' is out of range for %s (0-%d)",
				    r->prefix, DISP(d, raw),
				    max == 32 ? "IPv4" : "IPv6", max);
	}

	memcpy(masked, r->addr, sizeof(masked));
	for (i = 0; i < max / 8; i++) {
		bits = r->prefix - i * 8;
		if (bits >= 8)
			continue;
		masked[i] &= bits <= 0 ? 0 : (uint8_t)(0xff << (8 - bits));
	}
	if (memcmp(masked, r->addr, max / 8)) {
		inet_ntop(r->family, masked, net, sizeof(net));
		return fail(c, n->loc, "%s has host bits set; did you mean %s/%d?",
			    DISP(d, raw), net, r->prefix);
	}
	r->kind = AF_NET_CIDR;
	return 0;

bad:
	return fail(c, n->loc, "'%s' is not a valid cidr (expected ADDRESS/PREFIX, e.g. 10.0.0.0/8)",
		    DISP(d, raw));
}

static int parse_ports(struct ctx *c, const struct node *seq,
		       struct af_net_rule *r)
{
	char d[DISP_MAX + 16];
	const struct node *n;
	size_t i;
	int j, err;
	long v;

	err = want(c, seq, N_SEQ, "ports");
	if (err)
		return err;
	if (!seq->n)
		return fail(c, seq->loc, "ports must not be empty (leave it out to allow every port)");
	if (seq->n > AF_NET_MAX_PORTS)
		return fail(c, seq->kids[AF_NET_MAX_PORTS]->loc,
			    "too many ports (max %d)", AF_NET_MAX_PORTS);
	for (i = 0; i < seq->n; i++) {
		n = seq->kids[i];
		if (n->kind != N_SCALAR || is_null(n))
			return fail(c, n->loc, "port must be an integer, not %s",
				    kind_name(n));
		if (!n->plain)
			return fail(c, n->loc, "port must be an unquoted integer, not '%s'",
				    DISPN(d, n));
		if (!is_digits(n->str, n->len))
			return fail(c, n->loc, "port '%s' is not a decimal integer",
				    DISPN(d, n));
		/* YAML 1.1 reads 0443 as octal; refuse rather than guess. */
		if (n->str[0] == '0' && n->len > 1)
			return fail(c, n->loc, "port '%s' has a leading zero",
				    DISPN(d, n));
		v = n->len > 5 ? 65536 : strtol(n->str, NULL, 10);
		if (v < 1 || v > 65535)
			return fail(c, n->loc, "port %s is out of range (1-65535)",
				    DISPN(d, n));
		for (j = 0; j < r->nports; j++)
			if (r->ports[j] == v)
				return fail(c, n->loc, "duplicate port %ld", v);
		r->ports[r->nports++] = (uint16_t)v;
	}
	return 0;
}

static int parse_allow_item(struct ctx *c, const struct node *map, size_t idx,
			    struct af_net_rule *r)
{
	static const struct keydef defs[] = {
		{ .name = "host" }, { .name = "cidr" },
		{ .name = "ports" }, { .name = "protocol" },
	};
	const struct node *vals[4], *keys[4];
	char where[64], d[DISP_MAX + 16];
	const char *proto;
	int err;

	snprintf(where, sizeof(where), "spec.network.allow[%zu]", idx);
	err = walk_map(c, map, where, defs, 4, vals, keys);
	if (err)
		return err;
	r->loc = map->loc;
	if (vals[0] && vals[1]) {
		const struct node *second = keys[0]->loc.line > keys[1]->loc.line ||
			(keys[0]->loc.line == keys[1]->loc.line &&
			 keys[0]->loc.col > keys[1]->loc.col) ? keys[0] : keys[1];

		return fail(c, second->loc, "%s has both host and cidr; use one per entry",
			    where);
	}
	if (!vals[0] && !vals[1])
		return fail(c, map->loc, "%s needs a host or a cidr", where);
	err = vals[0] ? parse_host(c, vals[0], r) : parse_cidr(c, vals[1], r);
	if (err)
		return err;
	if (vals[2]) {
		err = parse_ports(c, vals[2], r);
		if (err)
			return err;
	}
	r->protocol = 0;
	if (vals[3]) {
		err = get_str(c, vals[3], "protocol", &proto);
		if (err)
			return err;
		if (!strcmp(proto, "tcp"))
			r->protocol = IPPROTO_TCP;
		else if (!strcmp(proto, "udp"))
			r->protocol = IPPROTO_UDP;
		else if (strcmp(proto, "any"))
			return fail(c, vals[3]->loc, "unknown protocol '%s' (expected tcp, udp or any)",
				    DISP(d, proto));
	}
	return 0;
}

static int parse_dns(struct ctx *c, const struct node *map)
{
	static const struct keydef defs[] = { { .name = "servers" } };
	const struct node *vals[1], *keys[1], *seq, *n;
	char d[DISP_MAX + 16], buf[INET6_ADDRSTRLEN];
	struct af_policy *p = c->p;
	unsigned char a[16];
	const char *s;
	size_t i, j;
	int err;

	err = walk_map(c, map, "spec.network.dns", defs, 1, vals, keys);
	if (err || !vals[0])
		return err;
	seq = vals[0];
	err = want(c, seq, N_SEQ, "spec.network.dns.servers");
	if (err)
		return err;
	if (!seq->n)
		return fail(c, seq->loc, "spec.network.dns.servers must not be empty (leave it out for [system])");
	if (seq->n > AF_NET_MAX_DNS)
		return fail(c, seq->kids[AF_NET_MAX_DNS]->loc,
			    "too many entries in spec.network.dns.servers (max %d)",
			    AF_NET_MAX_DNS);
	p->dns_servers = calloc(seq->n, sizeof(*p->dns_servers));
	if (!p->dns_servers)
		return oom(c);
	for (i = 0; i < seq->n; i++) {
		n = seq->kids[i];
		err = get_str(c, n, "dns server", &s);
		if (err)
			return err;
		/* Store addresses in canonical form so duplicates show. */
		if (!strcmp(s, "system"))
			snprintf(buf, sizeof(buf), "system");
		else if (inet_pton(AF_INET, s, a) == 1)
			inet_ntop(AF_INET, a, buf, sizeof(buf));
		else if (inet_pton(AF_INET6, s, a) == 1)
			inet_ntop(AF_INET6, a, buf, sizeof(buf));
		else
			return fail(c, n->loc, "dns server '%s' must be 'system' or an IP address",
				    DISP(d, s));
		for (j = 0; j < i; j++)
			if (!strcmp(p->dns_servers[j], buf))
				return fail(c, n->loc, "duplicate dns server '%s'", buf);
		p->dns_servers[i] = strdup(buf);
		if (!p->dns_servers[i])
			return oom(c);
		p->n_dns_servers = i + 1;
	}
	return 0;
}

static int parse_unix(struct ctx *c, const struct node *map)
{
	static const struct keydef defs[] = { { .name = "allow" } };
	const struct node *vals[1], *keys[1];
	int err;

	err = walk_map(c, map, "spec.network.unix", defs, 1, vals, keys);
	if (err || !vals[0])
		return err;
	return parse_paths(c, vals[0], PL_UNIX, &c->p->unix_allow,
			   &c->p->n_unix_allow);
}

/* Socket families a fence may be allowed, by name (family numbers as
 * in <sys/socket.h>). unix, inet and inet6 are always allowed and
 * judged by the rules above. */
static const struct {
	const char *name;
	int family;
} families[] = {
	{ "packet", 17 }, { "netlink", 16 }, { "vsock", 40 }, { "xdp", 44 },
	{ "alg", 38 }, { "key", 15 }, { "can", 29 }, { "bluetooth", 31 },
	{ "tipc", 30 }, { "rds", 21 }, { "appletalk", 5 }, { "x25", 9 },
	{ "ax25", 3 }, { "llc", 26 }, { "qipcrtr", 42 }, { "smc", 43 },
	{ "kcm", 41 }, { "nfc", 39 }, { "mctp", 45 }, { "pppox", 24 },
	{ "ieee802154", 36 }, { "phonet", 35 }, { "rxrpc", 33 }, { "caif", 37 },
};

const char *af_family_name(int family)
{
	size_t i;

	for (i = 0; i < ARRAY_LEN(families); i++)
		if (families[i].family == family)
			return families[i].name;
	return NULL;
}

static int parse_families(struct ctx *c, const struct node *seq)
{
	char d[DISP_MAX + 16];
	const char *name;
	size_t i, j;
	int err;

	err = want(c, seq, N_SEQ, "spec.network.families");
	if (err)
		return err;
	for (i = 0; i < seq->n; i++) {
		err = get_str(c, seq->kids[i], "a socket family", &name);
		if (err)
			return err;
		if (!strcmp(name, "unix") || !strcmp(name, "inet") || !strcmp(name, "inet6"))
			return fail(c, seq->kids[i]->loc, "socket family '%s' is always allowed "
				    "(judged by allow, allow_loopback and unix)", name);
		for (j = 0; j < ARRAY_LEN(families); j++)
			if (!strcmp(name, families[j].name))
				break;
		if (j == ARRAY_LEN(families))
			return fail(c, seq->kids[i]->loc, "unknown socket family '%s' (packet, "
				    "netlink, vsock, xdp, alg, key, can, bluetooth, tipc, rds, ...)",
				    DISP(d, name));
		if (c->p->families & (1ull << families[j].family))
			return fail(c, seq->kids[i]->loc, "duplicate socket family '%s' in "
				    "spec.network.families", name);
		c->p->families |= 1ull << families[j].family;
	}
	return 0;
}

static int parse_network(struct ctx *c, const struct node *key,
			 const struct node *map)
{
	static const struct keydef defs[] = {
		{ .name = "allow" }, { .name = "allow_loopback" },
		{ .name = "dns" }, { .name = "unix" }, { .name = "families" },
	};
	const struct node *vals[5], *keys[5], *seq;
	struct af_policy *p = c->p;
	size_t i;
	int err;

	err = walk_map(c, map, "spec.network", defs, 5, vals, keys);
	if (!err && vals[4])
		err = parse_families(c, vals[4]);
	if (err)
		return err;
	p->has_network = true;
	p->network_loc = key->loc;

	if (vals[0]) {
		seq = vals[0];
		err = want(c, seq, N_SEQ, "spec.network.allow");
		if (err)
			return err;
		if (seq->n > AF_NET_MAX_ALLOW)
			return fail(c, seq->kids[AF_NET_MAX_ALLOW]->loc,
				    "too many entries in spec.network.allow (max %d)",
				    AF_NET_MAX_ALLOW);
		if (seq->n) {
			p->net_allow = calloc(seq->n, sizeof(*p->net_allow));
			if (!p->net_allow)
				return oom(c);
		}
		for (i = 0; i < seq->n; i++) {
			err = parse_allow_item(c, seq->kids[i], i, &p->net_allow[i]);
			p->n_net_allow = i + 1;
			if (err)
				return err;
		}
	}
	if (vals[1]) {
		err = get_bool(c, vals[1], "spec.network.allow_loopback",
			       &p->allow_loopback);
		if (err)
			return err;
	}
	if (vals[2]) {
		err = parse_dns(c, vals[2]);
		if (err)
			return err;
	}
	if (!p->n_dns_servers) {
		p->dns_servers = calloc(1, sizeof(*p->dns_servers));
		if (!p->dns_servers)
			return oom(c);
		p->dns_servers[0] = strdup("system");
		if (!p->dns_servers[0])
			return oom(c);
		p->n_dns_servers = 1;
	}
	if (vals[3]) {
		err = parse_unix(c, vals[3]);
		if (err)
			return err;
	} else if (c->vars && c->vars->workspace) {
		/* Absent: the agent's own sockets, in its workspace, and no
		 * other (docker.sock, an ssh-agent's socket). */
		p->unix_allow = calloc(1, sizeof(*p->unix_allow));
		if (!p->unix_allow)
			return oom(c);
		p->unix_allow[0].path = strdup(c->vars->workspace);
		p->unix_allow[0].raw = strdup("${WORKSPACE}");
		p->unix_allow[0].loc = p->network_loc;
		p->unix_allow[0].exists = true;
		p->n_unix_allow = 1;
		if (!p->unix_allow[0].path || !p->unix_allow[0].raw)
			return oom(c);
	}
	return 0;
}

/* ---- events ---- */

static const char *const event_kinds[] = {
	"exec", "fork", "exit", "file", "deny", "connect", "dns",
};

const char *af_event_kind_name(unsigned int bit)
{
	size_t i;

	for (i = 0; i < ARRAY_LEN(event_kinds); i++)
		if (bit == 1u << i)
			return event_kinds[i];
	return NULL;
}

static int parse_events(struct ctx *c, const struct node *seq)
{
	char d[DISP_MAX + 16];
	unsigned int seen = 0, bit;
	struct af_loc at[ARRAY_LEN(event_kinds)];
	const char *s;
	size_t i, k, best, dist, bestd;
	int err;

	err = want(c, seq, N_SEQ, "spec.events");
	if (err)
		return err;
	for (i = 0; i < seq->n; i++) {
		err = get_str(c, seq->kids[i], "spec.events item", &s);
		if (err)
			return err;
		if (!strcmp(s, "all")) {
			if (seq->n > 1)
				return fail(c, seq->kids[i]->loc,
					    "spec.events: 'all' stands alone (it names every kind)");
			seen = AF_EVK_ALL;
			break;
		}
		for (k = 0; k < ARRAY_LEN(event_kinds) && strcmp(s, event_kinds[k]); k++)
			;
		if (k == ARRAY_LEN(event_kinds)) {
			bestd = SIZE_MAX;
			best = 0;
			for (k = 0; k < ARRAY_LEN(event_kinds); k++) {
				dist = edit_distance(s, event_kinds[k]);
				if (dist < bestd) {
					bestd = dist;
					best = k;
				}
			}
			if (bestd <= 2 && bestd * 2 < strlen(event_kinds[best]))
				return fail(c, seq->kids[i]->loc,
					    "unknown event kind '%s' in spec.events (did you mean '%s'?)",
					    DISP(d, s), event_kinds[best]);
			return fail(c, seq->kids[i]->loc,
				    "unknown event kind '%s' in spec.events (expected exec, fork, "
				    "exit, file, deny, connect, dns or all)", DISP(d, s));
		}
		bit = 1u << k;
		if (seen & bit)
			return fail(c, seq->kids[i]->loc,
				    "duplicate event kind '%s' in spec.events (first at %d:%d)",
				    event_kinds[k], at[k].line, at[k].col);
		seen |= bit;
		at[k] = seq->kids[i]->loc;
	}
	if (!(seen & AF_EVK_DENY)) {
		err = add_warning(c, seq->loc, "spec.events does not list 'deny': denials are "
				  "recorded anyway (a fence's decisions are never silent)");
		if (err)
			return err;
	}
	c->p->events = seen | AF_EVK_DENY;
	c->p->events_loc = seq->loc;
	return 0;
}

/* ---- process ---- */

const char *af_on_exit_name(enum af_on_exit e)
{
	return e == AF_ON_EXIT_KILL ? "kill" : "freeze";
}

static int parse_caps(struct ctx *c, const struct node *seq)
{
	char d[DISP_MAX + 16], names[64];
	struct af_loc at[AF_CAP_LAST + 1];
	const char *s;
	uint64_t bit;
	size_t i;
	int err, cap;

	err = want(c, seq, N_SEQ, "spec.process.capabilities");
	if (err)
		return err;
	for (i = 0; i < seq->n; i++) {
		err = get_str(c, seq->kids[i], "spec.process.capabilities item", &s);
		if (err)
			return err;
		cap = af_cap_parse(s);
		if (cap < 0)
			return fail(c, seq->kids[i]->loc,
				    "unknown capability '%s' in spec.process.capabilities "
				    "(a name from capabilities(7): net_bind_service or "
				    "CAP_NET_BIND_SERVICE)", DISP(d, s));
		bit = 1ULL << cap;
		if (c->p->caps & bit)
			return fail(c, seq->kids[i]->loc,
				    "duplicate capability '%s' in spec.process.capabilities "
				    "(first at %d:%d)", af_cap_name(cap), at[cap].line, at[cap].col);
		c->p->caps |= bit;
		at[cap] = seq->kids[i]->loc;
		if (bit & af_caps_dangerous()) {
			snprintf(names, sizeof(names), "%s", af_cap_name(cap));
			err = add_warning(c, seq->kids[i]->loc,
					  "spec.process.capabilities grants %s, which reaches outside "
					  "the fence (see Documentation/policy.md)", names);
			if (err)
				return err;
		}
	}
	return 0;
}

static int parse_process(struct ctx *c, const struct node *map)
{
	static const struct keydef defs[] = {
		{ .name = "capabilities" }, { .name = "on_supervisor_exit" },
	};
	const struct node *vals[2], *keys[2];
	char d[DISP_MAX + 16];
	const char *s;
	int err;

	err = walk_map(c, map, "spec.process", defs, 2, vals, keys);
	if (err)
		return err;
	c->p->process_loc = map->loc;
	if (vals[0]) {
		err = parse_caps(c, vals[0]);
		if (err)
			return err;
	}
	if (vals[1]) {
		err = get_str(c, vals[1], "spec.process.on_supervisor_exit", &s);
		if (err)
			return err;
		if (!strcmp(s, "freeze"))
			c->p->on_supervisor_exit = AF_ON_EXIT_FREEZE;
		else if (!strcmp(s, "kill"))
			c->p->on_supervisor_exit = AF_ON_EXIT_KILL;
		else
			return fail(c, vals[1]->loc, "unknown spec.process.on_supervisor_exit '%s' "
				    "(expected freeze or kill)", DISP(d, s));
	}
	return 0;
}

/* ---- document ---- */

static bool valid_name(const char *s)
{
	size_t i;

	if (!IS_LOWER(s[0]) && !IS_DIGIT(s[0]))
		return false;
	for (i = 1; s[i]; i++) {
		if (i > 62)
			return false;
		if (!IS_LOWER(s[i]) && !IS_DIGIT(s[i]) &&
		    s[i] != '.' && s[i] != '_' && s[i] != '-')
			return false;
	}
	return true;
}

/* A variable name as POSIX shells take it: [A-Za-z_][A-Za-z0-9_]*. */
static bool valid_env_name(const char *s, size_t len)
{
	size_t i;

	if (!len || len > 128 || IS_DIGIT(s[0]))
		return false;
	for (i = 0; i < len; i++)
		if (!IS_LOWER(TO_LOWER(s[i])) && !IS_DIGIT(s[i]) && s[i] != '_')
			return false;
	return true;
}

static int parse_env(struct ctx *c, const struct node *map)
{
	/* What the box and the journal depend on is not the policy's to
	 * move: the loader's variables would run code in every process
	 * of the fence before its first instruction. */
	static const char *const refused[] = {
		"HOME", "USER", "LOGNAME", "PATH", "LD_PRELOAD", "LD_LIBRARY_PATH", "LD_AUDIT",
	};
	char val[AF_ENV_VALUE_MAX], d[DISP_MAX + 16];
	struct af_policy *p = c->p;
	const struct node *k;
	const char *raw;
	size_t i, j, len;
	int err;

	err = want(c, map, N_MAP, "spec.env");
	if (err)
		return err;
	if (map->n / 2 > AF_POLICY_MAX_ENV)
		return fail(c, map->kids[2 * AF_POLICY_MAX_ENV]->loc,
			    "too many entries in spec.env (max %d)", AF_POLICY_MAX_ENV);
	p->env = calloc(map->n / 2 + 1, sizeof(*p->env));
	if (!p->env)
		return oom(c);
	for (i = 0; i + 1 < map->n; i += 2) {
		k = map->kids[i];
		if (memchr(k->str, 0, k->len) || !valid_env_name(k->str, k->len))
			return fail(c, k->loc, "invalid variable name '%s' in spec.env "
				    "(letters, digits and '_', not starting with a digit)", DISPN(d, k));
		for (j = 0; j < ARRAY_LEN(refused); j++)
			if (k->len == strlen(refused[j]) && !memcmp(k->str, refused[j], k->len))
				return fail(c, k->loc, "spec.env may not set %s (run sets it, or it "
					    "would change what every process of the fence runs)",
					    refused[j]);
		for (j = 0; j < p->n_env; j++)
			if (!strncmp(p->env[j], k->str, k->len) && p->env[j][k->len] == '=')
				return fail(c, k->loc, "duplicate key '%s' in spec.env", DISPN(d, k));
		err = get_str(c, map->kids[i + 1], "a spec.env value", &raw);
		if (err)
			return err;
		err = expand_vars(c, map->kids[i + 1], raw, "value", val, sizeof(val));
		if (err)
			return err;
		len = k->len + 1 + strlen(val) + 1;
		p->env[p->n_env] = malloc(len);
		if (!p->env[p->n_env])
			return oom(c);
		snprintf(p->env[p->n_env], len, "%.*s=%s", (int)k->len, k->str, val);
		p->n_env++;
	}
	return 0;
}

/* spec.event_buffer: "256KiB", "1MiB" or a number of bytes. */
static int parse_event_buffer(struct ctx *c, const struct node *n)
{
	static const char what[] = "spec.event_buffer";
	char d[DISP_MAX + 16], *end;
	unsigned long long v;
	const char *s;
	int err;

	err = get_str(c, n, what, &s);
	if (err)
		return err;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (!strcmp(end, "KiB"))
		v = v > (1ULL << 40) ? 0 : v << 10;
	else if (!strcmp(end, "MiB"))
		v = v > (1ULL << 40) ? 0 : v << 20;
	else if (*end)
		end = NULL;
	if (!end || end == s || errno || !isdigit((unsigned char)s[0]))
		return fail(c, n->loc, "%s must be a size such as 256KiB, 1MiB or 65536, not '%s'",
			    what, DISPN(d, n));
	if (v < AF_EVBUF_MIN || v > AF_EVBUF_MAX || (v & (v - 1)))
		return fail(c, n->loc, "%s must be a power of 2 from 16KiB to 64MiB, not '%s'", what,
			    DISPN(d, n));
	c->p->event_buffer = (uint32_t)v;
	return 0;
}

static int parse_spec(struct ctx *c, const struct node *map)
{
	static const struct keydef defs[] = {
		{ .name = "mode" }, { .name = "filesystem" }, { .name = "network" },
		{ .name = "events" }, { .name = "process" }, { .name = "env" },
		{ .name = "event_buffer" },
	};
	const struct node *vals[7], *keys[7];
	char d[DISP_MAX + 16];
	const char *mode;
	int err;

	err = walk_map(c, map, "spec", defs, 7, vals, keys);
	if (err)
		return err;
	if (vals[6]) {
		err = parse_event_buffer(c, vals[6]);
		if (err)
			return err;
	}
	c->p->mode = AF_MODE_ENFORCE;
	c->p->events = AF_EVK_ALL;
	if (vals[3]) {
		err = parse_events(c, vals[3]);
		if (err)
			return err;
	}
	if (vals[0]) {
		err = get_str(c, vals[0], "spec.mode", &mode);
		if (err)
			return err;
		if (!strcmp(mode, "enforce"))
			c->p->mode = AF_MODE_ENFORCE;
		else if (!strcmp(mode, "audit"))
			c->p->mode = AF_MODE_AUDIT;
		else
			return fail(c, vals[0]->loc, "unknown mode '%s' (expected enforce or audit)",
				    DISP(d, mode));
	}
	if (vals[1]) {
		err = parse_filesystem(c, vals[1]);
		if (err)
			return err;
	}
	if (vals[2]) {
		err = parse_network(c, keys[2], vals[2]);
		if (err)
			return err;
	}
	if (vals[4]) {
		err = parse_process(c, vals[4]);
		if (err)
			return err;
	}
	if (vals[5]) {
		err = parse_env(c, vals[5]);
		if (err)
			return err;
	}
	return 0;
}

static int parse_doc(struct ctx *c, const struct node *root)
{
	static const struct keydef top[] = {
		{ .name = "apiVersion", .required = true },
		{ .name = "kind", .required = true },
		{ .name = "metadata", .required = true },
		{ .name = "spec", .required = true },
	};
	static const struct keydef meta[] = {
		{ .name = "name", .required = true },
	};
	const struct node *vals[4], *keys[4], *mv[1], *mk[1];
	char d[DISP_MAX + 16];
	const char *s;
	int err;

	err = walk_map(c, root, "", top, 4, vals, keys);
	if (err)
		return err;
	err = get_str(c, vals[0], "apiVersion", &s);
	if (err)
		return err;
	if (strcmp(s, API_VERSION))
		return fail(c, vals[0]->loc, "unsupported apiVersion '%s' (expected '" API_VERSION "')",
			    DISP(d, s));
	err = get_str(c, vals[1], "kind", &s);
	if (err)
		return err;
	if (strcmp(s, KIND))
		return fail(c, vals[1]->loc, "unsupported kind '%s' (expected '" KIND "')",
			    DISP(d, s));

	err = walk_map(c, vals[2], "metadata", meta, 1, mv, mk);
	if (err)
		return err;
	err = get_str(c, mv[0], "metadata.name", &s);
	if (err)
		return err;
	if (!valid_name(s))
		return fail(c, mv[0]->loc, "invalid metadata.name '%s' (lower-case letters, digits, '.', '_', '-'; starts with a letter or digit; at most 63 characters)",
			    DISP(d, s));
	c->p->name = strdup(s);
	if (!c->p->name)
		return oom(c);

	return parse_spec(c, vals[3]);
}

int af_policy_load_buf(const char *buf, size_t len, const char *name,
		       const struct af_policy_vars *vars,
		       struct af_policy **out, char err[AF_ERR_MAX])
{
	struct ctx c = {
		.file = name ? name : "<policy>",
		.err = err,
		.vars = vars,
	};
	struct node *root = NULL;
	int ret;

	*out = NULL;
	if (err)
		err[0] = '\0';
	if (len > AF_POLICY_MAX_BYTES) {
		set_err(&c, "%s: policy is larger than %d bytes", c.file,
			AF_POLICY_MAX_BYTES);
		return -EINVAL;
	}
	c.p = calloc(1, sizeof(*c.p));
	if (!c.p)
		return oom(&c);
	c.p->file = strdup(c.file);
	if (!c.p->file) {
		ret = oom(&c);
		goto out;
	}
	ret = check_text(&c, buf ? buf : "", buf ? len : 0);
	if (ret)
		goto out;
	ret = build_tree(&c, buf ? buf : "", buf ? len : 0, &root);
	if (ret)
		goto out;
	if (is_null(root)) {
		ret = fail(&c, root->loc, "empty document");
		goto out;
	}
	ret = parse_doc(&c, root);
out:
	node_free(root);
	if (ret) {
		af_policy_free(c.p);
		return ret;
	}
	/* Of the bytes parsed: a pipe or /dev/stdin cannot be read twice. */
	af_sha256_hex(buf ? buf : "", buf ? len : 0, c.p->sha256);
	*out = c.p;
	return 0;
}

int af_policy_load_file(const char *path, const struct af_policy_vars *vars,
			struct af_policy **out, char err[AF_ERR_MAX])
{
	size_t len = 0, cap = 0;
	char *buf = NULL, *nb, e[64];
	ssize_t n;
	int fd, ret;

	*out = NULL;
	if (err)
		err[0] = '\0';
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		ret = -errno;
		if (err)
			snprintf(err, AF_ERR_MAX, "%s: cannot open: %s", path,
				 errstr(-ret, e));
		return ret;
	}
	/* Read, not fstat+mmap: the policy may come from a pipe. One byte
	 * past the limit is enough to know it is too large. */
	for (;;) {
		if (len == cap) {
			if (cap > AF_POLICY_MAX_BYTES)
				break;
			cap = cap ? cap * 2 : 4096;
			nb = realloc(buf, cap);
			if (!nb) {
				ret = -ENOMEM;
				if (err)
					snprintf(err, AF_ERR_MAX, "%s: out of memory", path);
				goto out;
			}
			buf = nb;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			if (err)
				snprintf(err, AF_ERR_MAX, "%s: cannot read: %s", path,
					 errstr(-ret, e));
			goto out;
		}
		if (!n)
			break;
		len += n;
	}
	ret = af_policy_load_buf(buf, len, path, vars, out, err);
out:
	free(buf);
	close(fd);
	return ret;
}

static void free_paths(struct af_path_rule *r, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(r[i].path);
		free(r[i].raw);
	}
	free(r);
}

void af_policy_free(struct af_policy *p)
{
	size_t i;

	if (!p)
		return;
	free_paths(p->writable, p->n_writable);
	free_paths(p->deny_read, p->n_deny_read);
	free_paths(p->protected, p->n_protected);
	free_paths(p->unix_allow, p->n_unix_allow);
	for (i = 0; i < p->n_net_allow; i++)
		free(p->net_allow[i].host);
	free(p->net_allow);
	for (i = 0; i < p->n_dns_servers; i++)
		free(p->dns_servers[i]);
	free(p->dns_servers);
	for (i = 0; i < p->n_env; i++)
		free(p->env[i]);
	free(p->env);
	for (i = 0; i < p->n_warnings; i++)
		free(p->warnings[i]);
	free(p->warnings);
	free(p->name);
	free(p->file);
	free(p);
}

/* ---- printing ---- */

const char *af_mode_name(enum af_mode mode)
{
	return mode == AF_MODE_AUDIT ? "audit" : "enforce";
}

static const char *proto_name(int proto)
{
	if (proto == IPPROTO_TCP)
		return "tcp";
	if (proto == IPPROTO_UDP)
		return "udp";
	return "any";
}

static void cidr_str(const struct af_net_rule *r, char buf[INET6_ADDRSTRLEN + 8])
{
	char a[INET6_ADDRSTRLEN];

	if (!inet_ntop(r->family, r->addr, a, sizeof(a)))
		snprintf(a, sizeof(a), "?");
	snprintf(buf, INET6_ADDRSTRLEN + 8, "%s/%d", a, r->prefix);
}

static void print_human_net(FILE *f, const struct af_policy *p)
{
	char buf[INET6_ADDRSTRLEN + 8];
	const struct af_net_rule *r;
	size_t i;
	int j;

	fprintf(f, "  network:\n");
	fprintf(f, "    allow:%s\n", p->n_net_allow ? "" : " none");
	for (i = 0; i < p->n_net_allow; i++) {
		r = &p->net_allow[i];
		if (r->kind == AF_NET_CIDR)
			cidr_str(r, buf);
		fprintf(f, "      %s", r->kind == AF_NET_HOST ? r->host : buf);
		if (!r->nports)
			fprintf(f, " all ports");
		for (j = 0; j < r->nports; j++)
			fprintf(f, "%s%u", j ? "," : " port ", r->ports[j]);
		fprintf(f, " %s\n", r->protocol ? proto_name(r->protocol) : "tcp+udp");
	}
	fprintf(f, "    allow_loopback: %s\n", p->allow_loopback ? "true" : "false");
	fprintf(f, "    dns servers:");
	for (i = 0; i < p->n_dns_servers; i++)
		fprintf(f, "%s%s", i ? ", " : " ", p->dns_servers[i]);
	fprintf(f, "\n    unix allow:%s\n", p->n_unix_allow ? "" : " none");
	for (i = 0; i < p->n_unix_allow; i++)
		fprintf(f, "      %s\n", p->unix_allow[i].path);
	if (p->families) {
		bool first = true;

		fprintf(f, "    families:");
		for (i = 0; i < 64; i++)
			if ((p->families >> i) & 1) {
				fprintf(f, "%s%s", first ? " " : ", ", af_family_name(i));
				first = false;
			}
		fputc('\n', f);
	}
}

static void print_human(FILE *f, const struct af_policy *p)
{
	char caps[1024];
	size_t i;

	fprintf(f, "policy %s (%s)\n", p->name, p->file);
	fprintf(f, "  mode: %s\n", af_mode_name(p->mode));
	fprintf(f, "  writable:%s\n", p->n_writable ? "" : " none");
	for (i = 0; i < p->n_writable; i++)
		fprintf(f, "    %s%s\n", p->writable[i].path,
			!p->writable[i].create ? "" :
			p->writable[i].exists ? " (create: exists)" :
			p->writable[i].create == AF_CREATE_DIR ? " (create: run makes this directory)" :
			" (create: run makes this file)");
	fprintf(f, "  deny_read:%s\n", p->n_deny_read ? "" : " none");
	for (i = 0; i < p->n_deny_read; i++)
		fprintf(f, "    %s%s\n", p->deny_read[i].path,
			p->deny_read[i].exists ? "" : " (missing)");
	if (p->n_protected)
		fprintf(f, "  protected:\n");
	for (i = 0; i < p->n_protected; i++)
		fprintf(f, "    %s%s\n", p->protected[i].path,
			p->protected[i].relative ? " (in every writable path)" : "");
	if (p->has_network)
		print_human_net(f, p);
	else
		fprintf(f, "  network: none\n");
	fprintf(f, "  events:");
	for (i = 0; i < ARRAY_LEN(event_kinds); i++)
		if (p->events & (1u << i))
			fprintf(f, "%s%s", i && (p->events & ((1u << i) - 1)) ? ", " : " ", event_kinds[i]);
	fputc('\n', f);
	if (p->event_buffer)
		fprintf(f, "  event_buffer: %u KiB\n", p->event_buffer / 1024);
	af_caps_format(p->caps, caps, sizeof(caps));
	fprintf(f, "  process:\n    capabilities: %s\n    on_supervisor_exit: %s\n",
		caps[0] ? caps : "none", af_on_exit_name(p->on_supervisor_exit));
	if (p->n_env)
		fprintf(f, "  env:\n");
	for (i = 0; i < p->n_env; i++)
		fprintf(f, "    %s\n", p->env[i]);
	if (p->n_warnings)
		fprintf(f, "  warnings:\n");
	for (i = 0; i < p->n_warnings; i++)
		fprintf(f, "    %s\n", p->warnings[i]);
}

static void print_json_paths(FILE *f, const struct af_path_rule *r, size_t n,
			     bool with_exists)
{
	size_t i;

	fputc('[', f);
	for (i = 0; i < n; i++) {
		if (i)
			fputc(',', f);
		if (with_exists) {
			fputc('{', f);
			json_key(f, "path");
			json_str(f, r[i].path);
			fputc(',', f);
			json_key(f, "exists");
			json_bool(f, r[i].exists);
			fputc('}', f);
		} else {
			json_str(f, r[i].path);
		}
	}
	fputc(']', f);
}

static void print_json_net(FILE *f, const struct af_policy *p)
{
	char buf[INET6_ADDRSTRLEN + 8];
	const struct af_net_rule *r;
	size_t i;
	int j;

	fputc('{', f);
	json_key(f, "allow");
	fputc('[', f);
	for (i = 0; i < p->n_net_allow; i++) {
		r = &p->net_allow[i];
		if (i)
			fputc(',', f);
		fputc('{', f);
		if (r->kind == AF_NET_HOST) {
			json_key(f, "host");
			json_str(f, r->host);
		} else {
			cidr_str(r, buf);
			json_key(f, "cidr");
			json_str(f, buf);
		}
		fputc(',', f);
		json_key(f, "ports");
		fputc('[', f);
		for (j = 0; j < r->nports; j++)
			fprintf(f, "%s%u", j ? "," : "", r->ports[j]);
		fputs("],", f);
		json_key(f, "protocol");
		json_str(f, proto_name(r->protocol));
		fputc('}', f);
	}
	fputs("],", f);
	json_key(f, "allow_loopback");
	json_bool(f, p->allow_loopback);
	fputc(',', f);
	json_key(f, "dns");
	fputc('{', f);
	json_key(f, "servers");
	fputc('[', f);
	for (i = 0; i < p->n_dns_servers; i++) {
		if (i)
			fputc(',', f);
		json_str(f, p->dns_servers[i]);
	}
	fputs("]},", f);
	json_key(f, "unix");
	fputc('{', f);
	json_key(f, "allow");
	print_json_paths(f, p->unix_allow, p->n_unix_allow, false);
	fputc('}', f);
	if (p->families) {
		bool first = true;

		fputc(',', f);
		json_key(f, "families");
		fputc('[', f);
		for (i = 0; i < 64; i++)
			if ((p->families >> i) & 1) {
				if (!first)
					fputc(',', f);
				json_str(f, af_family_name(i));
				first = false;
			}
		fputc(']', f);
	}
	fputc('}', f);
}

static void print_json(FILE *f, const struct af_policy *p)
{
	bool first;
	size_t i;

	fputc('{', f);
	json_key(f, "apiVersion");
	json_str(f, API_VERSION);
	fputc(',', f);
	json_key(f, "name");
	json_str(f, p->name);
	fputc(',', f);
	json_key(f, "file");
	json_str(f, p->file);
	fputc(',', f);
	json_key(f, "mode");
	json_str(f, af_mode_name(p->mode));
	fputc(',', f);
	json_key(f, "filesystem");
	fputc('{', f);
	json_key(f, "writable");
	print_json_paths(f, p->writable, p->n_writable, false);
	fputc(',', f);
	json_key(f, "deny_read");
	print_json_paths(f, p->deny_read, p->n_deny_read, true);
	fputc(',', f);
	json_key(f, "protected");
	print_json_paths(f, p->protected, p->n_protected, false);
	fputc(',', f);
	json_key(f, "create");
	fputc('[', f);
	for (i = 0, first = true; i < p->n_writable; i++) {
		if (!p->writable[i].create)
			continue;
		if (!first)
			fputc(',', f);
		fputc('{', f);
		json_key(f, "path");
		json_str(f, p->writable[i].path);
		fputc(',', f);
		json_key(f, "as");
		json_str(f, p->writable[i].create == AF_CREATE_DIR ? "directory" : "file");
		fputc(',', f);
		json_key(f, "exists");
		json_bool(f, p->writable[i].exists);
		fputc('}', f);
		first = false;
	}
	fputs("]},", f);
	json_key(f, "network");
	if (p->has_network)
		print_json_net(f, p);
	else
		fputs("null", f);
	fputc(',', f);
	json_key(f, "events");
	fputc('[', f);
	for (i = 0, first = true; i < ARRAY_LEN(event_kinds); i++) {
		if (!(p->events & (1u << i)))
			continue;
		if (!first)
			fputc(',', f);
		json_str(f, event_kinds[i]);
		first = false;
	}
	fputs("],", f);
	if (p->event_buffer) {
		json_key(f, "event_buffer");
		fprintf(f, "%u,", p->event_buffer);
	}
	json_key(f, "process");
	fputc('{', f);
	json_key(f, "capabilities");
	fputc('[', f);
	for (i = 0, first = true; i <= AF_CAP_LAST; i++) {
		if (!(p->caps & (1ULL << i)))
			continue;
		if (!first)
			fputc(',', f);
		json_str(f, af_cap_name(i));
		first = false;
	}
	fputs("],", f);
	json_key(f, "on_supervisor_exit");
	json_str(f, af_on_exit_name(p->on_supervisor_exit));
	fputs("},", f);
	json_key(f, "env");
	fputc('{', f);
	for (i = 0; i < p->n_env; i++) {
		char name[160];
		const char *eq = strchr(p->env[i], '=');

		snprintf(name, sizeof(name), "%.*s", (int)(eq - p->env[i]), p->env[i]);
		if (i)
			fputc(',', f);
		json_key(f, name);
		json_str(f, eq + 1);
	}
	fputs("},", f);
	json_key(f, "warnings");
	fputc('[', f);
	for (i = 0; i < p->n_warnings; i++) {
		if (i)
			fputc(',', f);
		json_str(f, p->warnings[i]);
	}
	fputs("]}\n", f);
}

int af_policy_print(FILE *f, const struct af_policy *p, bool json)
{
	if (json)
		print_json(f, p);
	else
		print_human(f, p);
	return ferror(f) ? -EIO : 0;
}
