// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "dns.h"
#include "dns_msg.h"
#include "events.h"
#include "loop.h"
#include "net.h"
#include "util.h"
#include "../bpf/fence.h"

#define PEND_MAX	256		/* queries waiting for a resolver */
#define CONN_MAX	64		/* TCP clients */
#define LEARNED_MAX	4096		/* (address, rule) pairs allowed */
#define TRY_MS		2000		/* per resolver, then the next one */
#define IDLE_MS		10000		/* a TCP client with nothing to ask */
#define TICK_MS		200
#define TTL_MAX		86400		/* an answer's TTL is capped to a day */
#define MSG_MAX		65535

/* Who asked, and where the answer goes. */
struct origin {
	int listen;			/* UDP: the stub's socket; -1 for TCP */
	struct sockaddr_storage peer;	/* UDP: the asker's address */
	socklen_t peer_len;
	int conn;			/* TCP: index in conns; -1 for UDP */
};

struct pending {
	struct af_dns *d;
	int fd;				/* connected to resolvers[server]; -1: slot free */
	struct origin from;
	struct af_dns_question q;
	uint8_t *query;
	size_t len;
	size_t server;
	uint64_t deadline;
	uint16_t up_port;		/* fd's local port, host order, in up_map */
	uint16_t up_id;			/* the id asked upstream (network order bytes) */
	uint8_t client_id[2];		/* the asker's id */
};

struct conn {
	struct af_dns *d;
	int fd;				/* -1: slot free */
	uint8_t *buf;			/* 2-byte length, message, maybe more */
	size_t have;
	bool busy;			/* a query of it is with a resolver */
	uint64_t deadline;
};

struct learned {
	uint8_t family;
	uint8_t addr[16];
	uint16_t rule;
	uint64_t expires;		/* ms, CLOCK_MONOTONIC */
	char name[AF_DNS_NAME_MAX];	/* the name asked, for denial lines */
};

struct af_dns {
	const struct af_policy *p;
	int u4, t4, u6, t6, timer;
	uint16_t port4, port6;
	struct sockaddr_storage resolvers[AF_NET_MAX_DNS * 4];
	socklen_t resolver_len[AF_NET_MAX_DNS * 4];
	size_t nresolvers;
	struct af_loop *loop;
	int map_fd;
	int up_map_fd;			/* af_dns_upstream, -1: none */
	uint64_t fence_id;
	uint64_t key;		/* what learned addresses go under (af_fence_key); 0: fence_id */
	af_event_fn on_event;
	void *ctx;
	/* Slots up to the high-water marks are in use or free (fd -1);
	 * beyond them, never touched: a daemon holds a stub per fence,
	 * most of which never see a query. */
	size_t pend_hw, conn_hw;
	struct pending pend[PEND_MAX];
	struct conn conns[CONN_MAX];
	struct learned *learned;
	size_t nlearned, learned_cap;
	bool *live;			/* scratch of refresh(): one per allow rule */
	uint8_t buf[MSG_MAX + 2];
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void add_resolver(struct af_dns *d, const char *text)
{
	struct sockaddr_storage *ss = &d->resolvers[d->nresolvers];
	struct sockaddr_in *in = (void *)ss;
	struct sockaddr_in6 *in6 = (void *)ss;

	if (d->nresolvers == ARRAY_SIZE(d->resolvers))
		return;
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, text, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons(53);
		d->resolver_len[d->nresolvers++] = sizeof(*in);
	} else if (inet_pton(AF_INET6, text, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(53);
		d->resolver_len[d->nresolvers++] = sizeof(*in6);
	}
}

/* "system": the nameservers of /etc/resolv.conf. */
static void add_system_resolvers(struct af_dns *d)
{
	char line[256], addr[64];
	FILE *f = fopen("/etc/resolv.conf", "re");

	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *pct;

		if (sscanf(line, " nameserver %63s", addr) != 1)
			continue;
		pct = strchr(addr, '%');	/* fe80::1%eth0: the zone is lost */
		if (pct)
			*pct = 0;
		add_resolver(d, addr);
	}
	fclose(f);
}

/* A UDP and a TCP socket on the same loopback port. */
static int bind_pair(int family, int *udp, int *tcp, uint16_t *port, uint16_t want)
{
	struct sockaddr_storage ss = {};
	struct sockaddr_in *in = (void *)&ss;
	struct sockaddr_in6 *in6 = (void *)&ss;
	socklen_t len = family == AF_INET ? sizeof(*in) : sizeof(*in6);
	int one = 1, tries, err = 0;

	for (tries = 0; tries < (want ? 1 : 16); tries++) {
		ss.ss_family = family;
		if (family == AF_INET)
			in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		else
			in6->sin6_addr = in6addr_loopback;
		/* Adoption: the fence's programs send queries to these. */
		if (family == AF_INET)
			in->sin_port = htons(want);
		else
			in6->sin6_port = htons(want);
		*udp = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		*tcp = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (*udp < 0 || *tcp < 0)
			goto fail;
		if (family == AF_INET6) {
			setsockopt(*udp, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
			setsockopt(*tcp, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
		}
		if (bind(*udp, (struct sockaddr *)&ss, len) ||
		    getsockname(*udp, (struct sockaddr *)&ss, &len))
			goto fail;
		*port = ntohs(family == AF_INET ? in->sin_port : in6->sin6_port);
		if (!bind(*tcp, (struct sockaddr *)&ss, len) && !listen(*tcp, 16))
			return 0;
		if (errno != EADDRINUSE)
			goto fail;
		close(*udp);
		close(*tcp);
		memset(&ss, 0, sizeof(ss));
		continue;
fail:
		err = -errno;
		if (*udp >= 0)
			close(*udp);
		if (*tcp >= 0)
			close(*tcp);
		*udp = *tcp = -1;
		return err;
	}
	*udp = *tcp = -1;
	return -EADDRINUSE;
}

int af_dns_open(const struct af_policy *p, struct af_dns **out, char *why, size_t n)
{
	return af_dns_open_at(p, 0, 0, out, why, n);
}

int af_dns_open_at(const struct af_policy *p, uint16_t want4, uint16_t want6, struct af_dns **out,
		   char *why, size_t n)
{
	/* Its own zeroed pages, so that the untouched slots cost nothing. */
	struct af_dns *d = mmap(NULL, sizeof(*d), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
				-1, 0);
	size_t i;
	int err;

	if (d == MAP_FAILED)
		return -ENOMEM;
	d->p = p;
	d->u4 = d->t4 = d->u6 = d->t6 = d->timer = d->map_fd = d->up_map_fd = -1;
	d->live = calloc(p->n_net_allow + 1, sizeof(*d->live));
	if (!d->live) {
		err = -ENOMEM;
		goto fail;
	}
	for (i = 0; i < p->n_dns_servers; i++) {
		if (!strcmp(p->dns_servers[i], "system"))
			add_system_resolvers(d);
		else
			add_resolver(d, p->dns_servers[i]);
	}
	/* A machine without a resolver resolves nothing, fenced or not:
	 * say so, and answer SERVFAIL (fail closed). */
	for (i = 0; i < p->n_net_allow && !d->nresolvers; i++) {
		if (p->net_allow[i].kind == AF_NET_HOST) {
			af_warn("%s:%d:%d: host '%s' will not resolve: spec.network.dns.servers names no "
				"usable resolver (system: no nameserver line in /etc/resolv.conf)",
				p->file, p->net_allow[i].loc.line, p->net_allow[i].loc.col,
				p->net_allow[i].host);
			break;
		}
	}
	err = bind_pair(AF_INET, &d->u4, &d->t4, &d->port4, want4);
	if (err) {
		snprintf(why, n, "DNS stub on 127.0.0.1: %s (is loopback up in this network namespace?)",
			 strerror(-err));
		goto fail;
	}
	/* Without ::1 (IPv6 off), IPv6 queries are refused: fail closed. */
	err = want4 && !want6 ? -EADDRNOTAVAIL : bind_pair(AF_INET6, &d->u6, &d->t6, &d->port6, want6);
	if (err)
		af_debug("DNS stub: no ::1 (%s); IPv6 DNS queries will be refused", strerror(-err));
	d->timer = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (d->timer < 0) {
		err = -errno;
		snprintf(why, n, "DNS stub timer: %s", strerror(errno));
		goto fail;
	}
	*out = d;
	return 0;
fail:
	af_dns_close(d);
	return err;
}

void af_dns_ports(const struct af_dns *d, uint16_t *port4, uint16_t *port6)
{
	*port4 = d ? d->port4 : 0;
	*port6 = d && d->u6 >= 0 ? d->port6 : 0;
}

static void emit(struct af_dns *d, const struct origin *from, const struct af_dns_question *q,
		 uint32_t verdict, int rcode, const struct af_dns_answer *a, uint32_t ttl)
{
	struct af_ev_dns ev = {};
	size_t i;

	if (!d->on_event)
		return;
	ev.hdr.type = AF_EV_DNS;
	ev.hdr.size = sizeof(ev);
	ev.hdr.ktime = now_ms() * 1000000;
	ev.hdr.fence_id = d->fence_id;
	/* Who asked is not known: a loopback peer has no SO_PEERCRED. */
	ev.op = AF_OP_DNS;
	ev.verdict = verdict;
	ev.qtype = q->qtype;
	ev.rcode = rcode;
	ev.transport = from->conn >= 0 ? IPPROTO_TCP : IPPROTO_UDP;
	ev.ttl = ttl;
	for (i = 0; a && i < a->naddrs; i++) {
		if (i < AF_DNS_EV_ADDRS) {
			ev.family[i] = a->addrs[i].family;
			memcpy(ev.addr[i], a->addrs[i].addr, 16);
		}
	}
	ev.naddrs = a ? a->naddrs : 0;
	snprintf(ev.name, sizeof(ev.name), "%s", q->name);
	d->on_event(d->ctx, &ev, sizeof(ev));
}

static void close_conn(struct af_dns *d, int i)
{
	struct conn *c = &d->conns[i];
	size_t k;

	if (c->fd < 0)
		return;
	af_loop_del(d->loop, c->fd);
	close(c->fd);
	c->fd = -1;
	free(c->buf);
	c->buf = NULL;
	/* An answer still on its way has nowhere to go. */
	for (k = 0; k < d->pend_hw; k++) {
		if (d->pend[k].fd >= 0 && d->pend[k].from.conn == i)
			d->pend[k].from.conn = -2;
	}
}

static void reply(struct af_dns *d, const struct origin *to, const uint8_t *msg, size_t len)
{
	if (to->conn >= 0) {
		struct conn *c = &d->conns[to->conn];
		uint8_t hdr[2] = { len >> 8, len & 0xff };
		struct iovec iov[2] = { { hdr, 2 }, { (void *)msg, len } };

		/* A client that does not read its answer loses its
		 * connection rather than stall the fence's supervisor. */
		if (writev(c->fd, iov, 2) != (ssize_t)len + 2)
			close_conn(d, to->conn);
		else
			c->busy = false;
		return;
	}
	if (to->listen >= 0)
		sendto(to->listen, msg, len, MSG_DONTWAIT, (const struct sockaddr *)&to->peer,
		       to->peer_len);
}

static void reply_error(struct af_dns *d, const struct origin *to, const uint8_t *query,
			const struct af_dns_question *q, int rcode)
{
	uint8_t out[AF_DNS_HDR + AF_DNS_NAME_MAX + 8];
	size_t len = af_dns_error_reply(query, q, rcode, out, sizeof(out));

	if (len)
		reply(d, to, out, len);
}

/* Whether a and b are the same address and port. */
static bool same_addr(const struct sockaddr_storage *a, socklen_t alen,
		      const struct sockaddr_storage *b)
{
	(void)alen;
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;

		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->ss_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;

		return x->sin6_port == y->sin6_port &&
		       !memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr));
	}
	return false;
}

/* An upstream socket not yet in the loop. */
static void upstream_close_nl(struct pending *pq)
{
	if (pq->up_port && pq->d->up_map_fd >= 0)
		bpf_map_delete_elem(pq->d->up_map_fd, &pq->up_port);
	pq->up_port = 0;
	close(pq->fd);
	pq->fd = -1;
}

/* The upstream socket of pq, and its port's place in the fence's map. */
static void upstream_close(struct pending *pq)
{
	if (pq->up_port && pq->d->up_map_fd >= 0)
		bpf_map_delete_elem(pq->d->up_map_fd, &pq->up_port);
	pq->up_port = 0;
	af_loop_del(pq->d->loop, pq->fd);
	close(pq->fd);
	pq->fd = -1;
}

static void free_pending(struct pending *pq)
{
	if (pq->fd < 0)
		return;
	upstream_close(pq);
	free(pq->query);
	pq->query = NULL;
}

/* Whether any host rule allows name; sets rules[i] (one per allow rule)
 * for each that does. */
static bool match_rules(const struct af_dns *d, const char *name, bool *rules)
{
	bool any = false;
	size_t i;

	for (i = 0; i < d->p->n_net_allow; i++) {
		const struct af_net_rule *r = &d->p->net_allow[i];

		rules[i] = r->kind == AF_NET_HOST && af_dns_host_match(r->host, name);
		any |= rules[i];
	}
	return any;
}

/* Write the allowlist entry of one address from the live pairs. */
static int refresh(struct af_dns *d, uint8_t family, const uint8_t *addr)
{
	uint64_t now = now_ms();
	size_t i;

	memset(d->live, 0, d->p->n_net_allow * sizeof(*d->live));
	for (i = 0; i < d->nlearned; i++) {
		const struct learned *l = &d->learned[i];

		if (l->family == family && !memcmp(l->addr, addr, 16) && l->expires > now)
			d->live[l->rule] = true;
	}
	return af_net_learn(d->map_fd, d->p, d->key ? d->key : d->fence_id, family, addr, d->live);
}

/* Allow addr for every rule that matched the question (rules[i]). */
static int learn(struct af_dns *d, const bool *rules, const char *name,
		 const struct af_dns_addr *a, uint64_t expires)
{
	size_t i, k;

	for (k = 0; k < d->p->n_net_allow; k++) {
		if (!rules[k])
			continue;
		for (i = 0; i < d->nlearned; i++) {
			struct learned *l = &d->learned[i];

			if (l->rule == k && l->family == a->family && !memcmp(l->addr, a->addr, 16))
				break;
		}
		if (i == d->nlearned) {
			struct learned *l;

			if (d->nlearned == LEARNED_MAX)
				return -ENOSPC;
			if (d->nlearned == d->learned_cap) {
				size_t cap = d->learned_cap ? d->learned_cap * 2 : 16;
				struct learned *nl = realloc(d->learned, cap * sizeof(*nl));

				if (!nl)
					return -ENOMEM;
				d->learned = nl;
				d->learned_cap = cap;
			}
			l = &d->learned[d->nlearned++];
			memset(l, 0, sizeof(*l));
			l->family = a->family;
			memcpy(l->addr, a->addr, 16);
			l->rule = k;
		}
		if (d->learned[i].expires < expires)
			d->learned[i].expires = expires;
		snprintf(d->learned[i].name, sizeof(d->learned[i].name), "%s", name);
	}
	return refresh(d, a->family, a->addr);
}

static int on_upstream(void *ctx, int fd, uint32_t events)
{
	struct pending *pq = ctx;
	struct af_dns *d = pq->d;
	struct af_dns_answer a;
	bool rules[AF_NET_MAX_ALLOW] = {};
	uint64_t expires;
	uint32_t ttl = TTL_MAX;
	ssize_t len;
	size_t i;
	int err = 0;

	struct sockaddr_storage src;
	socklen_t srclen = sizeof(src);

	(void)events;
	len = recvfrom(fd, d->buf, MSG_MAX, MSG_DONTWAIT, (struct sockaddr *)&src, &srclen);
	if (len < 0)
		return 0;	/* ICMP unreachable and the like: the timer moves on */
	/* Anything but the answer to this question, from the resolver
	 * asked, with the id it was asked with, is ignored. The socket is
	 * connected, so the kernel compares the source too. */
	if (!same_addr(&src, srclen, &d->resolvers[pq->server]) || len < 2 ||
	    memcmp(d->buf, &pq->up_id, 2) || af_dns_parse_answer(d->buf, len, &a) ||
	    a.q.qtype != pq->q.qtype || strcmp(a.q.name, pq->q.name))
		return 0;
	/* The asker hears its own id. */
	memcpy(d->buf, pq->client_id, 2);
	match_rules(d, a.q.name, rules);
	for (i = 0; i < a.naddrs; i++) {
		if (a.addrs[i].ttl < ttl)
			ttl = a.addrs[i].ttl;
	}
	ttl += AF_DNS_GRACE;
	expires = now_ms() + (uint64_t)ttl * 1000;
	/* The addresses are in the kernel's map before the asker hears
	 * of them: its connect never races the update. */
	for (i = 0; i < a.naddrs && !err; i++)
		err = learn(d, rules, a.q.name, &a.addrs[i], expires);
	if (pq->from.conn != -2) {
		if (err) {
			af_warn("DNS stub: cannot allow the addresses of %s: %s; answering SERVFAIL",
				a.q.name, strerror(-err));
			reply_error(d, &pq->from, pq->query, &pq->q, AF_DNS_SERVFAIL);
		} else {
			reply(d, &pq->from, d->buf, len);
		}
	}
	emit(d, &pq->from, &pq->q, AF_ALLOWED, err ? AF_DNS_SERVFAIL : a.rcode, &a,
	     a.naddrs ? ttl : 0);
	free_pending(pq);
	return 0;
}

/* Bind fd to a source port of getrandom's choosing (RFC 5452), or the
 * kernel's randomized ephemeral one when a few tries all collide; put
 * the port in the fence's map so that no fenced process can send to
 * it. Returns the port (host order) or 0. */
static uint16_t bind_random(struct af_dns *d, int fd, int family)
{
	struct sockaddr_storage ss = { .ss_family = family };
	socklen_t len = family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
	uint16_t port = 0;
	uint8_t one = 1;
	int i;

	for (i = 0; i < 8; i++) {
		if (getrandom(&port, sizeof(port), 0) != sizeof(port))
			break;
		port = 1024 + port % (65536 - 1024);
		if (family == AF_INET)
			((struct sockaddr_in *)&ss)->sin_port = htons(port);
		else
			((struct sockaddr_in6 *)&ss)->sin6_port = htons(port);
		if (!bind(fd, (struct sockaddr *)&ss, len))
			break;
		port = 0;
	}
	if (!port) {
		struct sockaddr_storage got;
		socklen_t glen = sizeof(got);

		if (family == AF_INET)
			((struct sockaddr_in *)&ss)->sin_port = 0;
		else
			((struct sockaddr_in6 *)&ss)->sin6_port = 0;
		if (bind(fd, (struct sockaddr *)&ss, len) ||
		    getsockname(fd, (struct sockaddr *)&got, &glen))
			return 0;
		port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&got)->sin_port :
			     ((struct sockaddr_in6 *)&got)->sin6_port);
	}
	if (d->up_map_fd >= 0 && bpf_map_update_elem(d->up_map_fd, &port, &one, BPF_ANY))
		return 0;	/* a port the fence could reach: don't use it */
	return port;
}

/* Ask resolver pq->server; false when none is left. */
static bool ask(struct af_dns *d, struct pending *pq)
{
	for (; pq->server < d->nresolvers; pq->server++) {
		int family = d->resolvers[pq->server].ss_family;
		int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		bool sent;

		if (fd < 0)
			continue;
		pq->fd = fd;
		pq->up_port = bind_random(d, fd, family);
		if (!pq->up_port || getrandom(&pq->up_id, sizeof(pq->up_id), 0) != sizeof(pq->up_id) ||
		    connect(fd, (struct sockaddr *)&d->resolvers[pq->server],
			    d->resolver_len[pq->server])) {
			upstream_close_nl(pq);
			continue;
		}
		/* Our own id upstream: the asker's, which it chose and
		 * knows, would make a forged answer easy. */
		memcpy(pq->client_id, pq->query, 2);
		memcpy(pq->query, &pq->up_id, 2);
		sent = send(fd, pq->query, pq->len, 0) == (ssize_t)pq->len;
		memcpy(pq->query, pq->client_id, 2);
		if (!sent || af_loop_add(d->loop, fd, on_upstream, pq)) {
			upstream_close_nl(pq);
			continue;
		}
		pq->deadline = now_ms() + TRY_MS;
		return true;
	}
	return false;
}

static void handle_query(struct af_dns *d, const uint8_t *m, size_t len, const struct origin *from)
{
	struct af_dns_question q;
	struct pending *pq = NULL;
	size_t i;

	if (af_dns_parse_question(m, len, &q)) {
		/* Malformed, several questions, or a name no rule could
		 * allow: FORMERR with the header alone. */
		if (len >= AF_DNS_HDR && !(m[2] & 0x80)) {
			uint8_t out[AF_DNS_HDR] = { m[0], m[1], 0x80 | (m[2] & 0x79), 0x80 | AF_DNS_FORMERR };

			reply(d, from, out, sizeof(out));
		}
		return;
	}
	if (q.response)
		return;
	if (q.qclass != 1 || !match_rules(d, q.name, d->live)) {
		/* NXDOMAIN, not REFUSED: musl gives up a whole search-domain
		 * walk on REFUSED. */
		reply_error(d, from, m, &q, AF_DNS_NXDOMAIN);
		emit(d, from, &q, AF_DENIED, AF_DNS_NXDOMAIN, NULL, 0);
		return;
	}
	for (i = 0; i < PEND_MAX && !pq; i++) {
		if (i == d->pend_hw) {
			d->pend[i].fd = -1;
			d->pend_hw++;
		}
		if (d->pend[i].fd < 0)
			pq = &d->pend[i];
	}
	if (pq) {
		pq->query = malloc(len);
		if (!pq->query)
			pq = NULL;
	}
	if (!pq) {
		reply_error(d, from, m, &q, AF_DNS_SERVFAIL);
		return;
	}
	pq->d = d;
	memcpy(pq->query, m, len);
	pq->len = len;
	pq->q = q;
	pq->from = *from;
	pq->server = 0;
	if (!ask(d, pq)) {
		reply_error(d, from, m, &q, AF_DNS_SERVFAIL);
		emit(d, from, &q, AF_ALLOWED, AF_DNS_SERVFAIL, NULL, 0);
		free(pq->query);
		pq->query = NULL;
	}
}

static int on_udp(void *ctx, int fd, uint32_t events)
{
	struct af_dns *d = ctx;
	int i;

	(void)events;
	/* A bounded batch: the ring buffer must not starve. */
	for (i = 0; i < 64; i++) {
		struct origin from = { .listen = fd, .conn = -1, .peer_len = sizeof(from.peer) };
		ssize_t len = recvfrom(fd, d->buf, MSG_MAX, MSG_DONTWAIT,
				       (struct sockaddr *)&from.peer, &from.peer_len);

		if (len < 0)
			break;
		handle_query(d, d->buf, len, &from);
	}
	return 0;
}

/* Take the next whole message of a TCP client, if it has one and is
 * not waiting for an answer. */
static void conn_next(struct af_dns *d, int idx)
{
	struct conn *c = &d->conns[idx];
	struct origin from = { .listen = -1, .conn = idx };
	size_t len;
	uint8_t *msg;

	if (c->busy || c->have < 2)
		return;
	len = (size_t)c->buf[0] << 8 | c->buf[1];
	if (c->have < len + 2)
		return;
	msg = malloc(len ? len : 1);
	if (!msg) {
		close_conn(d, idx);
		return;
	}
	memcpy(msg, c->buf + 2, len);
	memmove(c->buf, c->buf + 2 + len, c->have - len - 2);
	c->have -= len + 2;
	c->busy = true;
	c->deadline = now_ms() + IDLE_MS + TRY_MS * (d->nresolvers + 1);
	handle_query(d, msg, len, &from);
	free(msg);
	/* Answered at once (NXDOMAIN): there may be another behind it. */
	if (d->conns[idx].fd >= 0 && !d->conns[idx].busy)
		conn_next(d, idx);
}

static int on_conn(void *ctx, int fd, uint32_t events)
{
	struct conn *c = ctx;
	struct af_dns *d = c->d;
	int idx = c - d->conns;
	ssize_t got;

	(void)events;
	if (c->have == MSG_MAX + 2) {
		close_conn(d, idx);	/* a whole message fits: this is not DNS */
		return 0;
	}
	got = read(fd, c->buf + c->have, MSG_MAX + 2 - c->have);
	if (got <= 0) {
		if (got == 0 || (errno != EAGAIN && errno != EINTR))
			close_conn(d, idx);
		return 0;
	}
	c->have += got;
	c->deadline = now_ms() + IDLE_MS;
	conn_next(d, idx);
	return 0;
}

static int on_accept(void *ctx, int fd, uint32_t events)
{
	struct af_dns *d = ctx;
	struct conn *c = NULL;
	int cfd, i;

	(void)events;
	cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (cfd < 0)
		return 0;
	for (i = 0; i < CONN_MAX && !c; i++) {
		if ((size_t)i == d->conn_hw) {
			d->conns[i].fd = -1;
			d->conn_hw++;
		}
		if (d->conns[i].fd < 0)
			c = &d->conns[i];
	}
	if (!c || !(c->buf = malloc(MSG_MAX + 2))) {
		close(cfd);
		return 0;
	}
	c->d = d;
	c->fd = cfd;
	c->have = 0;
	c->busy = false;
	c->deadline = now_ms() + IDLE_MS;
	if (af_loop_add(d->loop, cfd, on_conn, c)) {
		close(cfd);
		c->fd = -1;
		free(c->buf);
		c->buf = NULL;
	}
	return 0;
}

static void expire(struct af_dns *d, uint64_t now)
{
	size_t i = d->nlearned;

	while (i--) {
		struct learned gone = d->learned[i];
		int err;

		if (gone.expires > now)
			continue;
		d->learned[i] = d->learned[--d->nlearned];
		err = refresh(d, gone.family, gone.addr);
		if (err)
			af_warn("DNS stub: cannot update the allowlist: %s", strerror(-err));
	}
}

static int on_tick(void *ctx, int fd, uint32_t events)
{
	struct af_dns *d = ctx;
	uint64_t ticks, now = now_ms();
	size_t i;

	(void)events;
	if (read(fd, &ticks, sizeof(ticks)) < 0)
		return 0;
	for (i = 0; i < d->pend_hw; i++) {
		struct pending *pq = &d->pend[i];

		if (pq->fd < 0 || pq->deadline > now)
			continue;
		upstream_close(pq);
		pq->server++;
		if (ask(d, pq))
			continue;
		if (pq->from.conn != -2)
			reply_error(d, &pq->from, pq->query, &pq->q, AF_DNS_SERVFAIL);
		emit(d, &pq->from, &pq->q, AF_ALLOWED, AF_DNS_SERVFAIL, NULL, 0);
		free(pq->query);
		pq->query = NULL;
	}
	for (i = 0; i < d->conn_hw; i++) {
		if (d->conns[i].fd >= 0 && d->conns[i].deadline <= now)
			close_conn(d, i);
	}
	expire(d, now);
	return 0;
}

static const char *namer(void *ctx, int family, const uint8_t *addr)
{
	return af_dns_name_of(ctx, family, addr);
}

void af_dns_set_upstream_map(struct af_dns *d, int fd)
{
	d->up_map_fd = fd;
}

int af_dns_start(struct af_dns *d, struct af_loop *loop, int map_fd, uint64_t fence_id,
		 af_event_fn on_event, void *ctx)
{
	struct itimerspec its = {
		.it_interval = { 0, TICK_MS * 1000000L },
		.it_value = { 0, TICK_MS * 1000000L },
	};
	int err;

	d->loop = loop;
	d->map_fd = map_fd;
	d->fence_id = fence_id;
	d->on_event = on_event;
	d->ctx = ctx;
	af_event_set_namer(namer, d);
	if (timerfd_settime(d->timer, 0, &its, NULL))
		return -errno;
	err = af_loop_add(loop, d->u4, on_udp, d);
	err = err ? err : af_loop_add(loop, d->t4, on_accept, d);
	err = err ? err : af_loop_add(loop, d->timer, on_tick, d);
	if (!err && d->u6 >= 0)
		err = af_loop_add(loop, d->u6, on_udp, d);
	if (!err && d->t6 >= 0)
		err = af_loop_add(loop, d->t6, on_accept, d);
	return err;
}

void af_dns_close(struct af_dns *d)
{
	size_t i;

	if (!d)
		return;
	if (d->loop)
		af_event_set_namer(NULL, NULL);
	for (i = 0; i < d->pend_hw; i++) {
		if (d->pend[i].fd >= 0) {
			if (d->loop)
				af_loop_del(d->loop, d->pend[i].fd);
			close(d->pend[i].fd);
		}
		free(d->pend[i].query);
	}
	for (i = 0; i < d->conn_hw; i++) {
		if (d->conns[i].fd >= 0) {
			if (d->loop)
				af_loop_del(d->loop, d->conns[i].fd);
			close(d->conns[i].fd);
		}
		free(d->conns[i].buf);
	}
	/* A daemon's loop outlives the stub. */
	if (d->loop) {
		int fds[] = { d->u4, d->t4, d->u6, d->t6, d->timer };

		for (i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
			if (fds[i] >= 0)
				af_loop_del(d->loop, fds[i]);
	}
	if (d->u4 >= 0)
		close(d->u4);
	if (d->t4 >= 0)
		close(d->t4);
	if (d->u6 >= 0)
		close(d->u6);
	if (d->t6 >= 0)
		close(d->t6);
	if (d->timer >= 0)
		close(d->timer);
	free(d->learned);
	free(d->live);
	munmap(d, sizeof(*d));
}

const char *af_dns_name_of(const struct af_dns *d, int family, const uint8_t *addr)
{
	size_t i;

	for (i = 0; d && i < d->nlearned; i++) {
		const struct learned *l = &d->learned[i];

		if (l->family == family && !memcmp(l->addr, addr, family == 4 ? 4 : 16))
			return l->name;
	}
	return NULL;
}

void af_dns_set_key(struct af_dns *d, uint64_t key)
{
	if (d)
		d->key = key;
}
