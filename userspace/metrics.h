/* SPDX-License-Identifier: GPL-2.0 */
/* `agentfence daemon --listen ADDR:PORT`: /metrics (Prometheus text
 * format 0.0.4), /healthz and /readyz over HTTP, served by libmicrohttpd
 * (loaded with dlopen on first use, like http.h's libcurl) from the
 * daemon's own loop: a request is answered between two batches of
 * events, so /healthz answering is the loop turning, and what /metrics
 * reads needs no lock. What the numbers are is the caller's (daemon.c);
 * this module serves them and writes the text format. */
#ifndef AF_METRICS_H
#define AF_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "json.h"

struct af_loop;

struct af_metrics_src {
	/* The body of /metrics: af_prom_* calls on b. */
	void (*collect)(void *ctx, struct af_obuf *b);
	/* /readyz: true when ready, else false and why not in why. */
	bool (*ready)(void *ctx, char *why, size_t n);
	void *ctx;
};

/* "ADDR:PORT": ":PORT" (every IPv4 address), "IPV4:PORT" or
 * "[IPV6]:PORT", port 1-65535. 0, or -EINVAL with why. */
int af_metrics_parse_listen(const char *arg, struct sockaddr_storage *ss, socklen_t *len,
			    char *why, size_t n);

/* Whether libmicrohttpd can be loaded (libmicrohttpd12): 0, or -ENOSYS
 * and why. */
int af_metrics_available(char *why, size_t n);

/* Bind arg and serve from loop. 0, or -errno with why (the address in
 * use, not bindable, the library missing). One server per process. */
int af_metrics_start(const char *arg, const struct af_metrics_src *src, struct af_loop *loop,
		     char *why, size_t n);
/* Run the server's timers (idle connections closed): from a 1 s tick. */
void af_metrics_tick(void);
void af_metrics_stop(void);

/* The text format: a family's HELP and TYPE ("counter", "gauge") once,
 * then its samples; labels are NULL-terminated name, value pairs
 * (values escaped here). */
void af_prom_family(struct af_obuf *b, const char *name, const char *type, const char *help);
void af_prom_sample(struct af_obuf *b, const char *name, uint64_t value, ...);

#endif /* AF_METRICS_H */
