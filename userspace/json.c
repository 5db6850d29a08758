// SPDX-License-Identifier: GPL-2.0
/* Tiny JSON writer helpers. */
#include <string.h>

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

void json_strn(FILE *f, const char *s, size_t len)
{
	size_t i = 0, run = 0;
	uint32_t cp;
	int n;

	if (!s) {
		fputs("null", f);
		return;
	}
	fputc('"', f);
	/* Copy runs of bytes that need no escaping with one fwrite. */
	while (i < len) {
		unsigned char ch = (unsigned char)s[i];

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
		fwrite(s + i - run, 1, run, f);
		run = 0;
		if (n < 0) {
			fputs("\xef\xbf\xbd", f);
			i += -n;
		} else if (ch == '"' || ch == '\\') {
			fputc('\\', f);
			fputc(ch, f);
			i++;
		} else {
			fprintf(f, "\\u%04x", ch);
			i++;
		}
	}
	fwrite(s + i - run, 1, run, f);
	fputc('"', f);
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

/* Before a value: the comma, the key. */
static void value(struct af_json *j, const char *key)
{
	bool *more = &j->more[j->depth < AF_JSON_DEPTH ? j->depth : AF_JSON_DEPTH - 1];

	if (*more)
		fputc(',', j->f);
	*more = true;
	if (key && j->depth) {
		json_str(j->f, key);
		fputc(':', j->f);
	}
}

static void open_level(struct af_json *j, const char *key, char open, char close)
{
	value(j, key);
	fputc(open, j->f);
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
	fputc(j->close[--j->depth], j->f);
}

void af_json_strn(struct af_json *j, const char *key, const char *s, size_t len)
{
	value(j, key);
	json_strn(j->f, s, len);
}

void af_json_str(struct af_json *j, const char *key, const char *s)
{
	value(j, key);
	json_str(j->f, s);
}

void af_json_u64(struct af_json *j, const char *key, uint64_t v)
{
	value(j, key);
	fprintf(j->f, "%llu", (unsigned long long)v);
}

void af_json_i64(struct af_json *j, const char *key, int64_t v)
{
	value(j, key);
	fprintf(j->f, "%lld", (long long)v);
}

void af_json_bool(struct af_json *j, const char *key, bool v)
{
	value(j, key);
	json_bool(j->f, v);
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
