/* SPDX-License-Identifier: GPL-2.0 */
/* Pick top-level fields out of one JSON object (a journal record). */
#ifndef AF_JSON_READ_H
#define AF_JSON_READ_H

#include <stddef.h>

/* The raw value of key in obj: *val points into obj. -ENOENT, -EINVAL. */
int json_find(const char *obj, size_t len, const char *key, const char **val, size_t *vlen);

/* A string value, unescaped (\uXXXX to UTF-8), NUL-terminated, cut to n. */
int json_get_str(const char *obj, size_t len, const char *key, char *out, size_t n);
int json_get_u64(const char *obj, size_t len, const char *key, unsigned long long *out);

/* Unescape the inside of a JSON string literal; returns bytes written. */
size_t json_unescape(const char *s, size_t len, char *out, size_t n);

#endif /* AF_JSON_READ_H */
