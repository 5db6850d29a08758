/* SPDX-License-Identifier: GPL-2.0 */
/* The fence's DNS stub resolver. The network fence's sock_addr programs
 * send every DNS query of the fence (UDP and TCP port 53, any address)
 * to this stub on 127.0.0.1 / ::1, in the fence's network namespace.
 * It answers NXDOMAIN for names no host rule allows, without asking
 * anyone; it forwards the others to the policy's resolvers and, before
 * replying, puts the answer's addresses into the fence's allowlist for
 * the answer's TTL (plus a grace period). */
#ifndef AF_DNS_H
#define AF_DNS_H

#include <stdint.h>
#include <stddef.h>

#include "fence.h"
#include "policy.h"

struct af_dns;
struct af_loop;

#define AF_DNS_GRACE	10	/* seconds an address outlives its TTL */

/* Bind the stub's sockets (before the fence loads: their ports go into
 * its programs) and find the resolvers it forwards to. */
int af_dns_open(const struct af_policy *p, struct af_dns **out, char *why, size_t n);

/* The same on given ports (an adopted fence's programs send its
 * queries there); want6 0: none on ::1. */
int af_dns_open_at(const struct af_policy *p, uint16_t want4, uint16_t want6, struct af_dns **out,
		   char *why, size_t n);

/* Learn under key from now on (the fence's generation changed:
 * af_fence_update, af_fence_key). */
void af_dns_set_key(struct af_dns *d, uint64_t key);

/* Ports on 127.0.0.1 and ::1 (0: none on ::1), host byte order. */
void af_dns_ports(const struct af_dns *d, uint16_t *port4, uint16_t *port6);

/* Serve from loop, learning into the allowlist map_fd of fence_id;
 * events (struct af_ev_dns) go to on_event. */
/* The fence's af_dns_upstream map: the stub puts each upstream socket's
 * port there while it waits for the answer, and the fence refuses every
 * send of a fenced process to it. Before af_dns_start. */
void af_dns_set_upstream_map(struct af_dns *d, int fd);

int af_dns_start(struct af_dns *d, struct af_loop *loop, int map_fd, uint64_t fence_id,
		 af_event_fn on_event, void *ctx);

void af_dns_close(struct af_dns *d);

/* The name whose answer allowed addr (4 or 16 bytes), NULL if none. */
const char *af_dns_name_of(const struct af_dns *d, int family, const uint8_t *addr);

#endif /* AF_DNS_H */
