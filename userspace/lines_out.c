// SPDX-License-Identifier: GPL-2.0
/*
 * The journals' copy on stdout. The recorder's side (put, from the
 * journal's write path) takes a mutex for one memcpy; the writer thread
 * swaps the buffer out under it and writes without it, so a stdout that
 * blocks (a log collector that stopped reading, a full pipe) blocks only
 * the writer. The buffer is bounded: a batch that does not fit is cut at
 * a line's end and the rest dropped and counted.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "journal.h"
#include "lines_out.h"
#include "util.h"

static struct {
	pthread_mutex_t lock;
	pthread_cond_t more;
	pthread_t thr;
	bool running, stop;
	int fd;
	size_t max;
	char *pend;			/* lines waiting, whole */
	size_t len;
	uint64_t dropped, said;		/* dropped lines; of those, reported */
	uint64_t written;
	int werr;			/* the last write error said, 0 none */
	time_t said_at;			/* when drops were last said on stderr */
} o = { .lock = PTHREAD_MUTEX_INITIALIZER, .more = PTHREAD_COND_INITIALIZER, .fd = -1 };

static uint64_t lines_in(const char *p, size_t len)
{
	uint64_t n = 0;
	const char *nl;

	while (len && (nl = memchr(p, '\n', len))) {
		n++;
		len -= nl + 1 - p;
		p = nl + 1;
	}
	return n;
}

/* The journals' mirror: a batch of whole lines. */
static void put(void *ctx, const char *p, size_t len)
{
	size_t room, take;

	(void)ctx;
	pthread_mutex_lock(&o.lock);
	room = o.max - o.len;
	take = len;
	if (take > room) {
		/* Up to the last line's end that fits. */
		const char *nl = room ? memrchr(p, '\n', room) : NULL;

		take = nl ? (size_t)(nl + 1 - p) : 0;
		o.dropped += lines_in(p + take, len - take);
	}
	if (take) {
		memcpy(o.pend + o.len, p, take);
		o.len += take;
	}
	pthread_cond_signal(&o.more);
	pthread_mutex_unlock(&o.lock);
}

/* 0, or -errno: the bytes did not all go. */
static int write_all(const char *p, size_t len)
{
	while (len) {
		ssize_t w = write(o.fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		p += w;
		len -= w;
	}
	return 0;
}

static void *writer(void *arg)
{
	char *work = malloc(o.max), note[160];
	sigset_t pipe;
	(void)arg;

	/* A reader that went away is EPIPE here, not the daemon's death. */
	sigemptyset(&pipe);
	sigaddset(&pipe, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe, NULL);
	if (!work)
		return NULL;
	for (;;) {
		size_t len;
		uint64_t dropped, said;
		int err;

		pthread_mutex_lock(&o.lock);
		while (!o.len && o.said == o.dropped && !o.stop)
			pthread_cond_wait(&o.more, &o.lock);
		if (!o.len && o.said == o.dropped && o.stop) {
			pthread_mutex_unlock(&o.lock);
			break;
		}
		char *full = o.pend;	/* both are max bytes: swapped */

		o.pend = work;
		work = full;
		len = o.len;
		o.len = 0;
		dropped = o.dropped;
		said = o.said;
		o.said = dropped;
		pthread_mutex_unlock(&o.lock);
		err = write_all(work, len);
		if (!err)
			__atomic_add_fetch(&o.written, lines_in(work, len), __ATOMIC_RELAXED);
		else {
			pthread_mutex_lock(&o.lock);
			o.dropped += lines_in(work, len);
			pthread_mutex_unlock(&o.lock);
		}
		if (dropped != said) {
			struct timespec ts;
			struct tm tm;
			char when[32];
			int n;

			clock_gettime(CLOCK_REALTIME, &ts);
			gmtime_r(&ts.tv_sec, &tm);
			strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
			n = snprintf(note, sizeof(note),
				     "{\"type\":\"stdout_dropped\",\"time\":\"%s\",\"lines\":%llu,\"total\":%llu}\n",
				     when, (unsigned long long)(dropped - said), (unsigned long long)dropped);
			if (!err)
				err = write_all(note, n);
			/* Said at most every 10 s: a stdout that stays full must
			 * not flood stderr. */
			if (ts.tv_sec - o.said_at >= 10) {
				o.said_at = ts.tv_sec;
				fprintf(stderr, "agentfence daemon: warning: stdout: %llu JSON lines dropped "
					"so far: stdout is not read fast enough; the journals have every "
					"record\n", (unsigned long long)dropped);
			}
		}
		if (err && err != o.werr)
			fprintf(stderr, "agentfence daemon: warning: stdout: %s: JSON lines are dropped "
				"(counted) while it fails; the journals have every record\n", strerror(-err));
		o.werr = err;
	}
	free(work);
	return NULL;
}

int af_lines_out_start(int fd, size_t max_bytes)
{
	o.fd = fd;
	o.max = max_bytes ? max_bytes : AF_LINES_OUT_MAX;
	o.pend = malloc(o.max);
	if (!o.pend)
		return -ENOMEM;
	if (pthread_create(&o.thr, NULL, writer, NULL)) {
		free(o.pend);
		o.pend = NULL;
		return -EAGAIN;
	}
	o.running = true;
	af_journal_set_mirror(put, NULL);
	return 0;
}

void af_lines_out_stop(int timeout_ms)
{
	struct timespec ts;

	if (!o.running)
		return;
	af_journal_set_mirror(NULL, NULL);
	pthread_mutex_lock(&o.lock);
	o.stop = true;
	pthread_cond_signal(&o.more);
	pthread_mutex_unlock(&o.lock);
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (timeout_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	if (pthread_timedjoin_np(o.thr, NULL, &ts)) {
		/* Blocked in write: the daemon exits all the same. */
		fprintf(stderr, "agentfence daemon: warning: stdout blocked at exit: %zu bytes of JSON "
			"lines not written (the journals have every record)\n", o.len);
		pthread_cancel(o.thr);
		return;	/* its buffers go with the process */
	}
	o.running = false;
	free(o.pend);
	o.pend = NULL;
}

uint64_t af_lines_out_written(void)
{
	return __atomic_load_n(&o.written, __ATOMIC_RELAXED);
}

uint64_t af_lines_out_dropped(void)
{
	pthread_mutex_lock(&o.lock);
	uint64_t n = o.dropped;
	pthread_mutex_unlock(&o.lock);
	return n;
}
