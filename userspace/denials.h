/* SPDX-License-Identifier: GPL-2.0 */
/* run's denial lines: live and deduplicated, a summary at the end, or
 * none (the journal has them all the same). */
#ifndef AF_DENIALS_H
#define AF_DENIALS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

enum af_denials_mode {
	AF_DENIALS_LIVE,	/* one line as each happens; repeats counted */
	AF_DENIALS_SUMMARY,	/* one line per distinct denial, with its count, at the end */
	AF_DENIALS_OFF,
};

/* The same denial again within this long: counted, not printed. */
#define AF_DENIALS_WINDOW_MS	3000
/* Distinct denials remembered; beyond them, only counted. */
#define AF_DENIALS_MAX		256

struct af_denials;

int af_denials_parse(const char *s, enum af_denials_mode *out);
/* Lines go to out ("agentfence: LINE"), escaped; NULL with errno. */
struct af_denials *af_denials_new(enum af_denials_mode mode, FILE *out);
/* A denial line as events.c formats it ("... (comm pid N)"), at now_ms
 * on a monotonic clock. The same denial is the same line but for pid. */
void af_denials_add(struct af_denials *d, const char *line, uint64_t now_ms);
/* Print the counts of windows that are over by now_ms. */
void af_denials_flush(struct af_denials *d, uint64_t now_ms);
/* Counts wait for their window's end (a flush then prints them). */
bool af_denials_pending(const struct af_denials *d);
/* The fence is over: every count; in summary mode, the summary. */
void af_denials_end(struct af_denials *d);
void af_denials_free(struct af_denials *d);
uint64_t af_denials_now(void);

#endif /* AF_DENIALS_H */
