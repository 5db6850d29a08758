/* SPDX-License-Identifier: GPL-2.0 */
/* Messages, in one format: "agentfence <cmd>: what failed: why (hint)". */
#ifndef AF_UTIL_H
#define AF_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Exit codes, documented in agentfence(1). */
enum af_exit {
	AF_EXIT_OK = 0,
	AF_EXIT_FAIL = 1,	/* the operation failed (policy invalid, ...) */
	AF_EXIT_USAGE = 2,	/* bad command line */
	AF_EXIT_NOFENCE = 3,	/* no backend can enforce what was asked */
	AF_EXIT_SETUP = 125,	/* run: the fence could not be set up */
	AF_EXIT_NOEXEC = 126,	/* run: the command could not be executed */
	AF_EXIT_NOTFOUND = 127,	/* run: the command was not found */
};

extern const char *af_cmd;	/* subcommand in progress, for prefixes */
extern int af_verbose;
extern bool af_json_errors;	/* --json: errors are JSON objects too */

/* When set, errors, warnings and notes go to fn (kind "error",
 * "warning" or "note"; text without prefix) instead of stderr: the
 * daemon hands what a request made it say to the client that asked
 * (run prints it as if it had said it itself). Debug output stays. */
typedef void (*af_msg_fn)(void *ctx, const char *kind, const char *text);
extern af_msg_fn af_msg_hook;
extern void *af_msg_ctx;

void af_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void af_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void af_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void af_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Copy with truncation and NUL; returns -ENAMETOOLONG when cut. */
int af_strlcpy(char *dst, const char *src, size_t size);

/* *dst replaced by a copy of src (NULL: ""): 0, or -ENOMEM (*dst as it
 * was). */
int af_str_set(char **dst, const char *src);

/* Parse a whole decimal number; -EINVAL unless all of s is one. */
int af_parse_ulong(const char *s, unsigned long max, unsigned long *out);

/* Read a small file (sysfs, procfs, cgroupfs) into buf, NUL-terminated;
 * one read(2), so at most size - 1 bytes. */
int af_read_small(const char *path, char *buf, size_t size);
/* The same of path beneath dirfd (AT_FDCWD: as af_read_small). */
int af_read_small_at(int dirfd, const char *path, char *buf, size_t size);
/* Write val to a small file beneath dirfd with one write(2): 0 or -errno. */
int af_write_small_at(int dirfd, const char *path, const char *val);

/* Whether process pid runs: it exists and is not a zombie (exited, not
 * yet reaped: a parent or init that reaps late, like this machine's,
 * keeps a SIGKILLed supervisor a zombie for a second, and its fences
 * orphaned but not adoptable). A pid /proc does not show (another pid
 * namespace's /proc) counts as kill(2) says. */
bool af_pid_alive(pid_t pid);

/* What came from the fenced command (argv, paths, host names, comm),
 * made safe to print on a terminal line: printable ASCII and printable
 * UTF-8 as they are; backslash, \n, \t, \r as C escapes; every other
 * byte (control bytes, ESC, C1 controls, bidi overrides, invalid UTF-8)
 * as \xNN. So no escape sequence, no line break, no forged line. Writes
 * whole escapes only, NUL-terminated; returns the length the whole of
 * it needs (like snprintf). */
size_t af_escape(char *out, size_t n, const char *in, size_t len);
/* af_escape of a C string into buf; returns buf. */
const char *af_esc(char *buf, size_t n, const char *s);

/* A stream socket connected to the unix socket at path (close-on-exec);
 * -errno (-ENAMETOOLONG: the path does not fit sun_path). */
int af_unix_connect(const char *path);

#endif /* AF_UTIL_H */
