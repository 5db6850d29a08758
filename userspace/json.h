/* SPDX-License-Identifier: GPL-2.0 */
/* The JSON writer: every record, stream line and --json output is built
 * with it (struct af_json), never from hand-written fragments. */
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

/* A writer that places commas and closes what it opened. Values take
 * a key inside an object and NULL inside an array. */
#define AF_JSON_DEPTH	8

/* A growable byte buffer (the journal's batch); oom is sticky: what
 * did not fit is dropped and the owner checks oom once. */
struct af_obuf {
	char *p;
	size_t len, cap;
	bool oom;
};

/* Room for more bytes: 0, or -ENOMEM (and oom set). */
int af_obuf_reserve(struct af_obuf *b, size_t more);

/* Its bytes as a C string in memory of their size, into *out (the
 * buffer is given up: *b empty); -ENOMEM, the bytes freed, when any did
 * not fit. For strings kept long (a fence's tags): the buffer grows
 * from 4 KiB. */
int af_obuf_cstr(struct af_obuf *b, char **out);

/* v in decimal, NUL-terminated; returns its length. */
size_t af_utoa(uint64_t v, char out[21]);

struct af_json {
	FILE *f;
	struct af_obuf *b;		/* when set, the bytes go here, not to f */
	unsigned int depth;
	char close[AF_JSON_DEPTH];	/* '}' or ']' per open level */
	bool more[AF_JSON_DEPTH];	/* a value came before at this level */
	bool bad;			/* misuse: too deep, or an end too many */
};

/* A writer on f at the top level (no value written yet). */
void af_json_init(struct af_json *j, FILE *f);

/* Write PATH atomically: PATH.tmp (0600, O_NOFOLLOW), FILL's JSON and a
 * newline, fsync, rename over PATH. 0 or -errno; on error PATH is as it
 * was. */
int af_json_file_write(const char *path, void (*fill)(struct af_json *w, const void *ctx),
		       const void *ctx);
/* A writer on f inside an object someone opened and wrote members of
 * (af_journal_begin's "seq".."type"): the next member needs a comma. */
void af_json_resume(struct af_json *j, FILE *f);
/* The same, appending to b. */
void af_json_resume_buf(struct af_json *j, struct af_obuf *b);

void af_json_object(struct af_json *j, const char *key);
void af_json_array(struct af_json *j, const char *key);
void af_json_end(struct af_json *j);	/* the innermost object or array */

void af_json_str(struct af_json *j, const char *key, const char *s);	/* NULL: null */
void af_json_strn(struct af_json *j, const char *key, const char *s, size_t len);
void af_json_u64(struct af_json *j, const char *key, uint64_t v);
void af_json_i64(struct af_json *j, const char *key, int64_t v);
void af_json_bool(struct af_json *j, const char *key, bool v);
/* An array of strings: argv (NULL-terminated), or NUL-separated
 * strings in len bytes (the last may be cut). */
void af_json_strv(struct af_json *j, const char *key, char *const *v);
void af_json_strs(struct af_json *j, const char *key, const char *s, size_t len);

#endif /* AF_JSON_H */
