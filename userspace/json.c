// SPDX-License-Identifier: GPL-2.0
/* Tiny JSON writer helpers. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "json.h"

int utf8_next(const char *str, size_t len, uint32_t *cp)
{
	const unsigned char *s = (const unsigned char *)str;
	unsigned char lo = 0x80, hi = 0xbf;
	uint32_t c;
	int need, i;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	/*
	 * The second byte's range depends on the lead byte; narrowing it
	 * here is what rejects overlongs (E0 80..9F, F0 80..8F),
	 * surrogates (ED A0..BF) and code points past U+10FFFF (F4 90..).
	 */
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		need = 1;
		c = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		need = 2;
		c = s[0] & 0x0f;
		if (s[0] == 0xe0)
			lo = 0xa0;
		else if (s[0] == 0xed)
			hi = 0x9f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		need = 3;
		c = s[0] & 0x07;
		if (s[0] == 0xf0)
			lo = 0x90;
		else if (s[0] == 0xf4)
			hi = 0x8f;
	} else {
		return -1;
	}
	for (i = 1; i <= need; i++) {
		if ((size_t)i >= len || s[i] < lo || s[i] > hi)
			return -i;
		c = (c << 6) | (s[i] & 0x3f);
		lo = 0x80;
		hi = 0xbf;
	}
	*cp = c;
	return need + 1;
}

/* Where a writer's bytes go: a stdio stream, or a growable buffer (the
 * journal's: no stdio locking or format parsing per byte). */
static inline void put_n(FILE *f, struct af_obuf *b, const char *s, size_t n)
{
	if (!b) {
		fwrite(s, 1, n, f);
		return;
	}
	if (b->len + n > b->cap && af_obuf_reserve(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

static inline void put_c(FILE *f, struct af_obuf *b, char c)
{
	if (!b) {
		fputc(c, f);
		return;
	}
	if (b->len + 1 > b->cap && af_obuf_reserve(b, 1))
		return;
	b->p[b->len++] = c;
}

int af_obuf_reserve(struct af_obuf *b, size_t more)
{
	size_t cap = b->cap ? b->cap : 4096;
	char *np;

	if (b->oom)
		return -ENOMEM;
	while (cap < b->len + more)
		cap *= 2;
	if (cap == b->cap)
		return 0;
	np = realloc(b->p, cap);
	if (!np) {
		b->oom = true;
		return -ENOMEM;
	}
	b->p = np;
	b->cap = cap;
	return 0;
}

int af_obuf_cstr(struct af_obuf *b, char **out)
{
	char *p;

	if (b->oom || af_obuf_reserve(b, 1)) {
		free(b->p);
		*b = (struct af_obuf){ 0 };
		return -ENOMEM;
	}
	b->p[b->len] = 0;
	p = realloc(b->p, b->len + 1);
	*out = p ? p : b->p;
	*b = (struct af_obuf){ 0 };
	return 0;
}

#define ONES	0x0101010101010101ULL
#define HIGHS	0x8080808080808080ULL

/* Whether any byte of v is below 0x20, '"', '\\' or above 0x7f. */
static inline bool needs_escape8(uint64_t v)
{
	uint64_t q = v ^ (ONES * '"'), bs = v ^ (ONES * '\\');

	/* The classic "has a byte below n" and "has a zero byte" tests
	 * (a false alarm only sends the bytes through the slow path). */
	return (((v - ONES * 0x20) & ~v) | ((q - ONES) & ~q) | ((bs - ONES) & ~bs) | v) & HIGHS;
}

static void strn_to(FILE *f, struct af_obuf *b, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t i = 0, run = 0;
	uint32_t cp;
	int n;

	if (!s) {
		put_n(f, b, "null", 4);
		return;
	}
	put_c(f, b, '"');
	/* Copy runs of bytes that need no escaping in one piece. */
	while (i < len) {
		unsigned char ch;

		/* Eight plain bytes at a time (no control byte, quote,
		 * backslash or non-ASCII among them). */
		while (i + 8 <= len) {
			uint64_t v;

			memcpy(&v, s + i, 8);
			if (needs_escape8(v))
				break;
			i += 8;
			run += 8;
		}
		if (i >= len)
			break;
		ch = (unsigned char)s[i];

		if (ch >= 0x20 && ch < 0x80 && ch != '"' && ch != '\\') {
			run++;
			i++;
			continue;
		}
		n = ch < 0x80 ? 1 : utf8_next(s + i, len - i, &cp);
		if (n > 1) {
			run += n;
			i += n;
			continue;
		}
		put_n(f, b, s + i - run, run);
		run = 0;
		if (n < 0) {
			put_n(f, b, "\xef\xbf\xbd", 3);
			i += -n;
		} else if (ch == '"' || ch == '\\') {
			char esc[2] = { '\\', ch };

			put_n(f, b, esc, 2);
			i++;
		} else {
			char esc[6] = { '\\', 'u', '0', '0', hex[ch >> 4], hex[ch & 15] };

			put_n(f, b, esc, 6);
			i++;
		}
	}
	put_n(f, b, s + i - run, run);
	put_c(f, b, '"');
}

void json_strn(FILE *f, const char *s, size_t len)
{
	strn_to(f, NULL, s, len);
}

void json_str(FILE *f, const char *s)
{
	json_strn(f, s, s ? strlen(s) : 0);
}

void json_key(FILE *f, const char *key)
{
	json_str(f, key);
	fputc(':', f);
}

void json_bool(FILE *f, bool b)
{
	fputs(b ? "true" : "false", f);
}

void af_json_init(struct af_json *j, FILE *f)
{
	memset(j, 0, sizeof(*j));
	j->f = f;
}

void af_json_resume(struct af_json *j, FILE *f)
{
	af_json_init(j, f);
	j->depth = 1;
	j->close[0] = '}';
	j->more[1] = true;	/* the members written so far, at level 1 */
}

void af_json_resume_buf(struct af_json *j, struct af_obuf *b)
{
	af_json_resume(j, NULL);
	j->b = b;
}

/* Before a value: the comma, the key. */
static void value(struct af_json *j, const char *key)
{
	bool *more = &j->more[j->depth < AF_JSON_DEPTH ? j->depth : AF_JSON_DEPTH - 1];

	if (*more)
		put_c(j->f, j->b, ',');
	*more = true;
	if (key && j->depth) {
		strn_to(j->f, j->b, key, strlen(key));
		put_c(j->f, j->b, ':');
	}
}

static void open_level(struct af_json *j, const char *key, char open, char close)
{
	value(j, key);
	put_c(j->f, j->b, open);
	if (j->depth + 1 >= AF_JSON_DEPTH) {
		j->bad = true;
		return;
	}
	j->close[j->depth++] = close;
	j->more[j->depth] = false;
}

void af_json_object(struct af_json *j, const char *key)
{
	open_level(j, key, '{', '}');
}

void af_json_array(struct af_json *j, const char *key)
{
	open_level(j, key, '[', ']');
}

void af_json_end(struct af_json *j)
{
	if (!j->depth) {
		j->bad = true;
		return;
	}
	put_c(j->f, j->b, j->close[--j->depth]);
}

void af_json_strn(struct af_json *j, const char *key, const char *s, size_t len)
{
	value(j, key);
	strn_to(j->f, j->b, s, len);
}

void af_json_str(struct af_json *j, const char *key, const char *s)
{
	value(j, key);
	strn_to(j->f, j->b, s, s ? strlen(s) : 0);
}

size_t af_utoa(uint64_t v, char out[21])
{
	char tmp[20];
	size_t n = 0, i;

	do {
		tmp[n++] = '0' + v % 10;
		v /= 10;
	} while (v);
	for (i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	out[n] = 0;
	return n;
}

void af_json_u64(struct af_json *j, const char *key, uint64_t v)
{
	char num[21];

	value(j, key);
	put_n(j->f, j->b, num, af_utoa(v, num));
}

void af_json_i64(struct af_json *j, const char *key, int64_t v)
{
	char num[22];
	size_t n = 0;

	value(j, key);
	if (v < 0)
		num[n++] = '-';
	/* -(v + 1) + 1: INT64_MIN has no positive counterpart. */
	n += af_utoa(v < 0 ? (uint64_t)(-(v + 1)) + 1 : (uint64_t)v, num + n);
	put_n(j->f, j->b, num, n);
}

void af_json_bool(struct af_json *j, const char *key, bool v)
{
	value(j, key);
	if (v)
		put_n(j->f, j->b, "true", 4);
	else
		put_n(j->f, j->b, "false", 5);
}

void af_json_strv(struct af_json *j, const char *key, char *const *v)
{
	size_t i;

	af_json_array(j, key);
	for (i = 0; v && v[i]; i++)
		af_json_str(j, NULL, v[i]);
	af_json_end(j);
}

void af_json_strs(struct af_json *j, const char *key, const char *s, size_t len)
{
	size_t off = 0, l;

	af_json_array(j, key);
	while (s && off < len) {
		l = strnlen(s + off, len - off);
		af_json_strn(j, NULL, s + off, l);
		off += l + 1;
	}
	af_json_end(j);
}

int af_json_file_write(const char *path, void (*fill)(struct af_json *w, const void *ctx),
		       const void *ctx)
{
	char tmp[PATH_MAX + 8];
	struct af_json w;
	FILE *f;
	int fd, err = 0;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	f = fdopen(fd, "w");
	if (!f) {
		err = -errno;
		close(fd);
		unlink(tmp);
		return err;
	}
	af_json_init(&w, f);
	fill(&w, ctx);
	fputc('\n', f);
	if (fflush(f) || ferror(f) || fsync(fd))
		err = errno ? -errno : -EIO;
	if (fclose(f) && !err)
		err = -errno;
	if (!err && rename(tmp, path))
		err = -errno;
	if (err)
		unlink(tmp);
	return err;
}
