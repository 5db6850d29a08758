// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "denials.h"
#include "util.h"

struct seen {
	char *key;		/* the line without its pid */
	char *line;		/* the first of them, as printed */
	uint64_t since;		/* start of the current window */
	unsigned long pending;	/* repeats in it, not printed yet */
	unsigned long total;
};

struct af_denials {
	enum af_denials_mode mode;
	FILE *out;
	struct seen *seen;
	size_t n;
	unsigned long others;	/* denials beyond AF_DENIALS_MAX distinct ones */
};

int af_denials_parse(const char *s, enum af_denials_mode *out)
{
	if (!strcmp(s, "live"))
		*out = AF_DENIALS_LIVE;
	else if (!strcmp(s, "summary"))
		*out = AF_DENIALS_SUMMARY;
	else if (!strcmp(s, "off"))
		*out = AF_DENIALS_OFF;
	else
		return -EINVAL;
	return 0;
}

uint64_t af_denials_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct af_denials *af_denials_new(enum af_denials_mode mode, FILE *out)
{
	struct af_denials *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->mode = mode;
	d->out = out;
	return d;
}

static void print(struct af_denials *d, const char *line, const char *fmt, unsigned long n)
{
	char esc[8192], tail[64] = "";
	struct termios t;
	/* While run relays the command's pty the terminal is raw: there
	 * "\n" alone does not return the carriage. Asked each time: raw
	 * mode comes and goes with the relay. */
	bool crlf = !tcgetattr(fileno(d->out), &t) && !(t.c_oflag & OPOST);

	if (fmt)
		snprintf(tail, sizeof(tail), fmt, n);
	fprintf(d->out, "agentfence: %s%s%s", af_esc(esc, sizeof(esc), line), tail,
		crlf ? "\r\n" : "\n");
	fflush(d->out);
}

/* "denied write /x (sh pid 12)" -> "denied write /x (sh)". */
static char *key_of(const char *line)
{
	const char *p = strrchr(line, '(');
	const char *pid = p ? strstr(p, " pid ") : NULL;
	char *k;

	if (!pid)
		return strdup(line);
	if (asprintf(&k, "%.*s%s", (int)(pid - line), line, strchrnul(pid + 5, ')')) < 0)
		return NULL;
	return k;
}

static void print_pending(struct af_denials *d, struct seen *s)
{
	if (s->pending)
		print(d, s->line, " [%lu more within 3s]", s->pending);
	s->pending = 0;
}

void af_denials_add(struct af_denials *d, const char *line, uint64_t now)
{
	struct seen *s = NULL;
	char *key;
	size_t i;

	if (!d || d->mode == AF_DENIALS_OFF)
		return;
	key = key_of(line);
	if (!key)
		return;
	for (i = 0; i < d->n; i++)
		if (!strcmp(d->seen[i].key, key)) {
			s = &d->seen[i];
			break;
		}
	if (!s) {
		struct seen *n;

		if (d->n == AF_DENIALS_MAX ||
		    !(n = realloc(d->seen, (d->n + 1) * sizeof(*n)))) {
			free(key);
			d->others++;
			if (d->mode == AF_DENIALS_LIVE)
				print(d, line, NULL, 0);	/* not deduplicated, not lost */
			return;
		}
		d->seen = n;
		s = &d->seen[d->n];
		*s = (struct seen){ .key = key, .line = strdup(line), .since = now };
		if (!s->line) {
			free(key);
			return;
		}
		d->n++;
		s->total = 1;
		if (d->mode == AF_DENIALS_LIVE)
			print(d, line, NULL, 0);
		return;
	}
	free(key);
	s->total++;
	if (d->mode != AF_DENIALS_LIVE)
		return;
	if (now - s->since < AF_DENIALS_WINDOW_MS) {
		s->pending++;
		return;
	}
	/* A new window: what the last one counted, then this one. */
	print_pending(d, s);
	free(s->line);
	s->line = strdup(line);
	s->since = now;
	print(d, line, NULL, 0);
}

bool af_denials_pending(const struct af_denials *d)
{
	size_t i;

	for (i = 0; d && i < d->n; i++)
		if (d->seen[i].pending)
			return true;
	return false;
}

void af_denials_flush(struct af_denials *d, uint64_t now)
{
	size_t i;

	if (!d || d->mode != AF_DENIALS_LIVE)
		return;
	for (i = 0; i < d->n; i++)
		if (d->seen[i].pending && now - d->seen[i].since >= AF_DENIALS_WINDOW_MS)
			print_pending(d, &d->seen[i]);
}

void af_denials_end(struct af_denials *d)
{
	size_t i;

	if (!d)
		return;
	if (d->mode == AF_DENIALS_LIVE) {
		for (i = 0; i < d->n; i++)
			print_pending(d, &d->seen[i]);
		return;
	}
	if (d->mode != AF_DENIALS_SUMMARY)
		return;
	for (i = 0; i < d->n; i++)
		print(d, d->seen[i].line, d->seen[i].total > 1 ? " [%lu times]" : NULL,
		      d->seen[i].total);
	if (d->others)
		print(d, "and other denials", " [%lu times]", d->others);
}

void af_denials_free(struct af_denials *d)
{
	size_t i;

	if (!d)
		return;
	for (i = 0; i < d->n; i++) {
		free(d->seen[i].key);
		free(d->seen[i].line);
	}
	free(d->seen);
	free(d);
}
