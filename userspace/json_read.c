// SPDX-License-Identifier: GPL-2.0
/* Just enough JSON reading to pick fields out of one journal record. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "json_read.h"

static const char *skip_ws(const char *s, const char *end)
{
	while (s < end && (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n'))
		s++;
	return s;
}

/* End of the string starting at s (on its opening quote), or NULL. */
static const char *string_end(const char *s, const char *end)
{
	for (s++; s < end; s++) {
		if (*s == '\\')
			s++;
		else if (*s == '"')
			return s + 1;
	}
	return NULL;
}

/* End of the value starting at s, or NULL. Nesting is bounded by the
 * depth counter only: records are flat but for small arrays/objects. */
static const char *value_end(const char *s, const char *end)
{
	int depth = 0;

	s = skip_ws(s, end);
	if (s >= end)
		return NULL;
	if (*s == '"')
		return string_end(s, end);
	if (*s != '{' && *s != '[') {
		while (s < end && *s != ',' && *s != '}' && *s != ']')
			s++;
		return s;
	}
	for (; s < end; s++) {
		if (*s == '"') {
			s = string_end(s, end);
			if (!s)
				return NULL;
			s--;
		} else if (*s == '{' || *s == '[') {
			depth++;
		} else if ((*s == '}' || *s == ']') && --depth == 0) {
			return s + 1;
		}
	}
	return NULL;
}

int json_find(const char *obj, size_t len, const char *key, const char **val, size_t *vlen)
{
	const char *s = obj, *end = obj + len, *k, *v;
	size_t klen = strlen(key);

	s = skip_ws(s, end);
	if (s >= end || *s != '{')
		return -EINVAL;
	s++;
	for (;;) {
		s = skip_ws(s, end);
		if (s >= end || *s != '"')
			return -ENOENT;
		k = s + 1;
		s = string_end(s, end);
		if (!s)
			return -EINVAL;
		s = skip_ws(s, end);
		if (s >= end || *s != ':')
			return -EINVAL;
		v = skip_ws(s + 1, end);
		s = value_end(v, end);
		if (!s)
			return -EINVAL;
		if ((size_t)(s - k) >= klen + 1 && !memcmp(k, key, klen) && k[klen] == '"') {
			*val = v;
			*vlen = s - v;
			return 0;
		}
		s = skip_ws(s, end);
		if (s < end && *s == ',')
			s++;
	}
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

size_t json_unescape(const char *s, size_t len, char *out, size_t n)
{
	size_t i, o = 0;

	if (!n)
		return 0;
	for (i = 0; i < len && o + 4 < n; i++) {
		unsigned int cp = 0;
		int k;

		if (s[i] != '\\') {
			out[o++] = s[i];
			continue;
		}
		if (++i >= len)
			break;
		switch (s[i]) {
		case 'n': out[o++] = '\n'; break;
		case 't': out[o++] = '\t'; break;
		case 'r': out[o++] = '\r'; break;
		case 'b': out[o++] = '\b'; break;
		case 'f': out[o++] = '\f'; break;
		case 'u':
			for (k = 1; k <= 4 && i + k < len && hexval(s[i + k]) >= 0; k++)
				cp = cp << 4 | hexval(s[i + k]);
			i += k - 1;
			/* Surrogates stay out: the writer never produces them. */
			if (cp < 0x80) {
				out[o++] = cp;
			} else if (cp < 0x800) {
				out[o++] = 0xc0 | cp >> 6;
				out[o++] = 0x80 | (cp & 0x3f);
			} else {
				out[o++] = 0xe0 | cp >> 12;
				out[o++] = 0x80 | ((cp >> 6) & 0x3f);
				out[o++] = 0x80 | (cp & 0x3f);
			}
			break;
		default: out[o++] = s[i]; break;
		}
	}
	out[o] = 0;
	return o;
}

int json_get_str(const char *obj, size_t len, const char *key, char *out, size_t n)
{
	const char *v;
	size_t vl;
	int err = json_find(obj, len, key, &v, &vl);

	if (err)
		return err;
	if (vl < 2 || v[0] != '"')
		return -EINVAL;
	json_unescape(v + 1, vl - 2, out, n);
	return 0;
}

int json_get_u64(const char *obj, size_t len, const char *key, unsigned long long *out)
{
	const char *v;
	size_t vl;
	char num[32], *e;
	int err = json_find(obj, len, key, &v, &vl);

	if (err)
		return err;
	if (!vl || vl >= sizeof(num) || v[0] < '0' || v[0] > '9')
		return -EINVAL;
	memcpy(num, v, vl);
	num[vl] = 0;
	*out = strtoull(num, &e, 10);
	return *e ? -EINVAL : 0;
}
