/* SPDX-License-Identifier: GPL-2.0 */
/* daemon --json-lines (on with --kubernetes): every journal record of
 * the daemon's fences also as one JSON line on stdout, for a node's log
 * collector (kubectl logs, fluent-bit, vector). The journal's write path
 * only copies a batch into a bounded buffer; a thread writes it out, one
 * write per batch. A stdout that is slow or blocked never stalls the
 * recorder: what does not fit is dropped, whole lines, counted, and said
 * on stdout ({"type":"stdout_dropped",...}) and stderr once it drains. */
#ifndef AF_LINES_OUT_H
#define AF_LINES_OUT_H

#include <stddef.h>
#include <stdint.h>

#define AF_LINES_OUT_MAX	(4u << 20)	/* bytes waiting for stdout, at most */

/* Start the writer on fd (the journals' mirror, journal.h): 0 or -errno. */
int af_lines_out_start(int fd, size_t max_bytes);
/* Let the writer finish what waits, for at most timeout_ms, then stop
 * it (a blocked stdout: the rest is dropped, said on stderr). */
void af_lines_out_stop(int timeout_ms);

/* Lines written out, and dropped (the buffer full). */
uint64_t af_lines_out_written(void);
uint64_t af_lines_out_dropped(void);

#endif /* AF_LINES_OUT_H */
