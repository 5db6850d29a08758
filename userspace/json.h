/* SPDX-License-Identifier: GPL-2.0 */
/* Tiny JSON writer helpers: enough to print one object per line. */
#ifndef AF_JSON_H
#define AF_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/*
 * Decode one UTF-8 sequence at s (len bytes available). Returns its length
 * (1..4) and stores the code point in *cp, or returns minus the length of
 * the maximal invalid subpart (-1..-3) for an ill-formed sequence:
 * overlongs, surrogates, values above U+10FFFF and truncated sequences
 * are all ill-formed. len must be at least 1.
 */
int utf8_next(const char *s, size_t len, uint32_t *cp);

/* A JSON string literal: quotes, backslash and control bytes escaped,
 * each invalid UTF-8 subpart replaced by U+FFFD. NULL prints null. */
void json_str(FILE *f, const char *s);
void json_strn(FILE *f, const char *s, size_t len);

/* "key": — the key is escaped like any string. */
void json_key(FILE *f, const char *key);

void json_bool(FILE *f, bool b);

#endif /* AF_JSON_H */
