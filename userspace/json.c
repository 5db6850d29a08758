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
