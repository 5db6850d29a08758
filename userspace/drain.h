/* SPDX-License-Identifier: GPL-2.0 */
/* When a fence's ring buffer is read. Idle, the reader sleeps on the
 * ring's descriptor: the kernel wakes it for the first record after it
 * caught up (bpf_ringbuf_commit wakes only when the consumer position
 * is that record's), so one wake-up per drain, at most one per event.
 * Busy (a drain brought AF_DRAIN_BUSY events or more), that is one
 * wake-up and one small drain per event or two: the reader leaves the
 * descriptor and drains on a short timer instead, where the kernel does
 * not wake it at all (its consumer position lags) and each drain is one
 * group commit of the journal. It goes back to the descriptor after a
 * drain that found little. The timer also ticks slowly while the owner
 * asks for it (the denial lines' "N more times", by time). */
#ifndef AF_DRAIN_H
#define AF_DRAIN_H

#include <stdbool.h>

#include "loop.h"

#define AF_DRAIN_BUSY		64	/* events in one drain */
#define AF_DRAIN_BUSY_US	250	/* the timer's period when busy */
#define AF_DRAIN_IDLE_MS	500	/* its period when the owner wants ticks */

struct af_drain;

/* Drain the ring (and whatever else is due); return the events read,
 * and set *tick when the owner wants a tick while idle. */
typedef int (*af_drain_fn)(void *ctx, bool *tick);

/* Watch ring_fd in loop. NULL with errno. */
struct af_drain *af_drain_open(struct af_loop *loop, int ring_fd, af_drain_fn fn, void *ctx);

/* Leave the loop and free (NULL: nothing). */
void af_drain_close(struct af_drain *d);

/* Wake-ups so far, and drains made by the timer (for the benchmark). */
unsigned long af_drain_wakeups(const struct af_drain *d);

#endif /* AF_DRAIN_H */
