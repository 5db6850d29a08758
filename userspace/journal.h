/* SPDX-License-Identifier: GPL-2.0 */
/* The journal: JSON Lines, one record per event, hash-chained.
 *
 * Each record is one line: {"seq":N,"time":"...","prev":"P","type":"T",
 * ...fields...,"hash":"H"}. H is the SHA-256 (hex) of the line's bytes
 * before ,"hash": and P is the previous record's H (64 zeros for seq 0),
 * so H covers P and the chain runs through every record: an edit of any
 * byte (the last record's too) changes a hash, a deleted or moved line
 * breaks seq and prev. Record 0 is "fence_start" (what was fenced, by
 * which policy, kernel and backend); the last is "fence_end". When the
 * file reaches the rotation size it is renamed FILE.N (N = 1, 2, ...),
 * the chain continues in a new FILE, and a thread gzip-compresses
 * FILE.N to FILE.N.gz (then removes FILE.N); readers take either. */
#ifndef AF_JOURNAL_H
#define AF_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#define AF_JOURNAL_ROTATE_DEFAULT	(64ULL << 20)
#define AF_SHA256_HEX			65	/* 64 hex digits and a NUL */

struct af_journal;

/* Create FILE (it must not exist: a chain is never appended to from
 * another run) and its directory; rotate_bytes 0 means the default.
 * Returns -errno and a reason in why. */
int af_journal_open(const char *path, uint64_t rotate_bytes, struct af_journal **out,
		    char *why, size_t why_size);

/* Continue the chain of the journal at path, whose writer died
 * (adoption): it must verify up to its last record, end with a whole
 * line and have no fence_end. The next record follows its head. */
int af_journal_resume(const char *path, uint64_t rotate_bytes, struct af_journal **out,
		      char *why, size_t why_size);

/* Start a record of this type at this time (NULL: now). Add its
 * members with the returned writer (json.h), then commit; NULL when
 * out of memory. */
struct af_json;
struct af_json *af_journal_begin(struct af_journal *j, const char *type,
				 const struct timespec *when);

/* Members every later record carries right after its "type" (what it
 * belongs to: an attached fence's container), rendered once by the
 * caller: members must be JSON members each preceded by a comma,
 * ',"container":{...}' (af_json_resume_buf writes them so). len 0:
 * none. 0 or -ENOMEM. */
int af_journal_set_tag(struct af_journal *j, const char *members, size_t len);
bool af_journal_tagged(const struct af_journal *j);

/* Members of this record only, in the same form, added right after
 * af_journal_begin (after the tag): a pod's container, rendered once per
 * container by its owner (recorder.h af_ctag_fn), copied here. */
void af_journal_add(struct af_journal *j, const char *members, size_t len);

/* Seal the record begun last (its hash over the bytes formatted in the
 * journal's own buffer) and, unless the journal is held, write it;
 * rotate when the file is full. Returns 0 or -errno (the record is
 * lost, counted): -EINVAL when the writer's objects and arrays do not
 * balance. */
int af_journal_commit(struct af_journal *j);

/* Group commit: between hold and flush, committed records collect in
 * memory and flush writes them all with one write(2) (earlier when the
 * file is due to rotate, or past 1 MiB). A crash loses at most that
 * batch, never a part of a record: the file ends with a whole line, and
 * a failed write drops the batch (counted) with the chain going on from
 * the last record on disk. fsync happens at rotation and close. Holds
 * nest; flush returns 0 or -errno of the write. */
void af_journal_hold(struct af_journal *j);
int af_journal_flush(struct af_journal *j);

/* Called with every record written (the whole line, '\n' included),
 * right after its write: the live stream's feed (stream.h). */
typedef void (*af_journal_tap_fn)(void *ctx, const char *line, size_t len);
void af_journal_set_tap(struct af_journal *j, af_journal_tap_fn fn, void *ctx);

/* Called with every batch of records any journal of the process wrote
 * (whole lines), right after its write: daemon --json-lines' copy on
 * stdout (lines_out.h). Set once, before records flow. And how many
 * records every journal of the process wrote. */
void af_journal_set_mirror(af_journal_tap_fn fn, void *ctx);
uint64_t af_journal_written_total(void);

/* Records written, and the hash of the last one. */
uint64_t af_journal_records(const struct af_journal *j);
const char *af_journal_head(const struct af_journal *j);
uint64_t af_journal_failed(const struct af_journal *j);

/* fsync and free; returns the first write error seen, or 0. */
int af_journal_close(struct af_journal *j);

/* SHA-256 of buf as 64 hex digits. */
void af_sha256_hex(const void *buf, size_t len, char out[AF_SHA256_HEX]);

enum af_verify_status {
	AF_VERIFY_INTACT = 0,
	AF_VERIFY_BROKEN = 1,		/* edited, deleted, reordered, unreadable */
	AF_VERIFY_INCOMPLETE = 2,	/* intact, but truncated or without fence_end */
};

struct af_verify {
	enum af_verify_status status;
	uint64_t records;		/* records that verified */
	uint64_t first_seq;		/* > 0: records before it removed by retention */
	uint64_t bad_seq;		/* the first record that did not, if any */
	unsigned int files;
	char file[4096];		/* where the first problem is */
	unsigned long line;
	char why[512];
	char head[AF_SHA256_HEX];	/* hash of the last good record */
};

/* Verify the journal whose live file is path (a rotated path.N.gz
 * names the same journal): its rotated files in order, then path. */
void af_journal_verify(const char *path, struct af_verify *v);

/* Rotated file n of the journal whose live file is base: base.N.gz, or
 * base.N while its compression runs (or was cut by a crash). 0, or
 * -ENOENT. _open opens it (NULL with errno), following a plain file
 * that is compressed meanwhile. */
int af_journal_rotated_path(const char *base, unsigned long n, char *out, size_t size);
struct af_lines;
struct af_lines *af_journal_rotated_open(const char *base, unsigned long n, char *out, size_t size);

/* The newest rotated file's N (0: none), and the oldest's in *first. */
unsigned long af_journal_rotated_last(const char *base, unsigned long *first);
unsigned long af_journal_rotated_first(const char *base);

/* Retention of the journal's directory: after each rotation, while the
 * journal files there (every journal's, this one's live file included)
 * take more than max_bytes, or are older than max_age_s, remove the
 * oldest: finished journals of other runs whole (a running or crashed
 * one, or a file that is not a journal, is never touched), and this
 * journal's own rotated files, oldest first (never its live file). Each
 * removal is journaled in a "retention" record; for this journal's own
 * files it names the seq and prev hash the journal now begins with, so
 * that verify tells retention from deletion. 0 turns a bound off. */
void af_journal_set_retention(struct af_journal *j, uint64_t max_bytes, uint64_t max_age_s);
/* Apply it now (also done at rotation): 0 or -errno. */
int af_journal_retain(struct af_journal *j);
#define AF_JOURNAL_KEEP_BYTES_DEFAULT	(1ULL << 30)
#define AF_JOURNAL_KEEP_DAYS_DEFAULT	90

/* The live file a journal path belongs to: strips a ".N.gz" suffix. */
void af_journal_base(const char *path, char *out, size_t n);

/* Read lines from a plain or gzip file; NULL at end of file. The line
 * has no '\n'; *complete is false for a last line that lacks one. */
struct af_lines;
struct af_lines *af_lines_open(const char *path);
const char *af_lines_next(struct af_lines *l, size_t *len, bool *complete);
/* Follow a file being written: a last line without '\n' is held back
 * (not returned) until its end arrives; af_lines_more resumes after
 * end of file. */
void af_lines_follow(struct af_lines *l);
void af_lines_more(struct af_lines *l);
/* 0, or -EIO with a message for corrupt gzip data. */
int af_lines_error(struct af_lines *l, const char **msg);
void af_lines_close(struct af_lines *l);

#endif /* AF_JOURNAL_H */
