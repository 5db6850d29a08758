// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "dns_msg.h"

#define PTR_MAX		32	/* compression pointers followed per name */
#define RR_MAX		128	/* answer records looked at */
#define CHAIN_MAX	16	/* names in a CNAME chain */

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Decode the name at *off into out; *off moves past it (past the first
 * pointer when compressed). Pointers must point backwards, so a
 * message cannot make a loop. */
static int read_name(const uint8_t *m, size_t len, size_t *off, char *out)
{
	size_t pos = *off, o = 0, end = 0;
	int jumps = 0;

	for (;;) {
		uint8_t l;

		if (pos >= len)
			return -EBADMSG;
		l = m[pos];
		if ((l & 0xc0) == 0xc0) {
			size_t target;

			if (pos + 1 >= len || ++jumps > PTR_MAX)
				return -EBADMSG;
			target = (size_t)(l & 0x3f) << 8 | m[pos + 1];
			if (target >= pos)
				return -EBADMSG;
			if (!end)
				end = pos + 2;
			pos = target;
			continue;
		}
		if (l & 0xc0)
			return -EBADMSG;	/* 0x40, 0x80: extended label types */
		pos++;
		if (!l)
			break;
		if (pos + l > len || o + l + 1 >= AF_DNS_NAME_MAX)
			return -EBADMSG;
		if (o)
			out[o++] = '.';
		for (size_t i = 0; i < l; i++) {
			char c = (char)m[pos + i];

			if (c >= 'A' && c <= 'Z')
				c += 'a' - 'A';
			if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
				return -EBADMSG;
			out[o++] = c;
		}
		pos += l;
	}
	out[o] = 0;
	*off = end ? end : pos;
	return 0;
}

/* Move *off past the name there, whatever its labels hold. */
static int skip_name(const uint8_t *m, size_t len, size_t *off)
{
	size_t pos = *off;

	while (pos < len) {
		uint8_t l = m[pos];

		if ((l & 0xc0) == 0xc0) {
			if (pos + 2 > len)
				return -EBADMSG;
			*off = pos + 2;
			return 0;
		}
		if (l & 0xc0)
			return -EBADMSG;
		pos += 1 + l;
		if (!l) {
			*off = pos;
			return 0;
		}
	}
	return -EBADMSG;
}

int af_dns_parse_question(const uint8_t *m, size_t len, struct af_dns_question *q)
{
	size_t off = AF_DNS_HDR;
	int err;

	memset(q, 0, sizeof(*q));
	if (len < AF_DNS_HDR || get16(m + 4) != 1)
		return -EBADMSG;
	q->id = get16(m);
	q->response = m[2] & 0x80;
	err = read_name(m, len, &off, q->name);
	if (err)
		return err;
	if (off + 4 > len)
		return -EBADMSG;
	q->qtype = get16(m + off);
	q->qclass = get16(m + off + 2);
	q->end = off + 4;
	return 0;
}

struct rr {
	char owner[AF_DNS_NAME_MAX];
	uint16_t type;
	uint32_t ttl;
	size_t rdata;
	uint16_t rdlen;
};

static bool in_chain(char chain[][AF_DNS_NAME_MAX], size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(chain[i], name))
			return true;
	}
	return false;
}

int af_dns_parse_answer(const uint8_t *m, size_t len, struct af_dns_answer *a)
{
	static __thread struct rr rrs[RR_MAX];
	char chain[CHAIN_MAX][AF_DNS_NAME_MAX], target[AF_DNS_NAME_MAX];
	size_t off, nrr = 0, nchain = 1, i, ancount;
	bool grew;
	int err;

	memset(a, 0, sizeof(*a));
	err = af_dns_parse_question(m, len, &a->q);
	if (err)
		return err;
	if (!a->q.response)
		return -EBADMSG;
	a->rcode = m[3] & 0x0f;
	a->truncated = m[2] & 0x02;
	ancount = get16(m + 6);
	off = a->q.end;
	for (i = 0; i < ancount && nrr < RR_MAX; i++) {
		struct rr *r = &rrs[nrr];

		size_t name = off;

		if (skip_name(m, len, &off))
			return -EBADMSG;
		/* Names we cannot judge are not ours: skip the record. */
		if (read_name(m, len, &name, r->owner))
			r->owner[0] = 0;
		if (off + 10 > len)
			return -EBADMSG;
		r->type = get16(m + off);
		r->ttl = get32(m + off + 4);
		r->rdlen = get16(m + off + 8);
		r->rdata = off + 10;
		off = r->rdata + r->rdlen;
		if (off > len)
			return -EBADMSG;
		if (get16(m + r->rdata - 8) == 1 && r->owner[0])	/* class IN */
			nrr++;
	}
	/* The chain: the question's name and every CNAME target reached
	 * from it, however the records are ordered. */
	snprintf(chain[0], sizeof(chain[0]), "%s", a->q.name);
	do {
		grew = false;
		for (i = 0; i < nrr && nchain < CHAIN_MAX; i++) {
			size_t roff = rrs[i].rdata;

			if (rrs[i].type != AF_DNS_T_CNAME || !in_chain(chain, nchain, rrs[i].owner))
				continue;
			if (read_name(m, rrs[i].rdata + rrs[i].rdlen, &roff, target) ||
			    in_chain(chain, nchain, target))
				continue;
			snprintf(chain[nchain++], sizeof(chain[0]), "%s", target);
			grew = true;
		}
	} while (grew && nchain < CHAIN_MAX);
	for (i = 0; i < nrr; i++) {
		const struct rr *r = &rrs[i];
		struct af_dns_addr *d;

		if (!((r->type == AF_DNS_T_A && r->rdlen == 4) ||
		      (r->type == AF_DNS_T_AAAA && r->rdlen == 16)) ||
		    !in_chain(chain, nchain, r->owner))
			continue;
		if (a->naddrs == AF_DNS_ADDRS_MAX) {
			a->dropped++;
			continue;
		}
		d = &a->addrs[a->naddrs++];
		d->family = r->type == AF_DNS_T_A ? 4 : 6;
		memcpy(d->addr, m + r->rdata, r->rdlen);
		/* RFC 2181 8: a TTL with the top bit set means zero. */
		d->ttl = r->ttl & 0x80000000u ? 0 : r->ttl;
	}
	return 0;
}

size_t af_dns_error_reply(const uint8_t *m, const struct af_dns_question *q, int rcode,
			  uint8_t *out, size_t cap)
{
	if (q->end > cap || q->end < AF_DNS_HDR)
		return 0;
	memcpy(out, m, q->end);
	out[2] = 0x80 | (m[2] & 0x79);	/* QR, the query's opcode and RD */
	out[3] = 0x80 | (rcode & 0x0f);	/* RA */
	memset(out + 4, 0, 8);
	out[5] = 1;			/* QDCOUNT 1, nothing else */
	return q->end;
}

bool af_dns_host_match(const char *rule, const char *name)
{
	size_t rl, nl;

	if (rule[0] != '*')
		return !strcmp(rule, name);
	rule++;			/* ".example.com" */
	rl = strlen(rule);
	nl = strlen(name);
	return nl > rl && !strcmp(name + nl - rl, rule);
}

const char *af_dns_type_name(uint16_t qtype, char *buf, size_t n)
{
	static const struct {
		uint16_t t;
		const char *name;
	} types[] = {
		{ 1, "A" }, { 2, "NS" }, { 5, "CNAME" }, { 6, "SOA" }, { 12, "PTR" }, { 15, "MX" },
		{ 16, "TXT" }, { 28, "AAAA" }, { 33, "SRV" }, { 64, "SVCB" }, { 65, "HTTPS" },
		{ 255, "ANY" },
	};

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		if (types[i].t == qtype)
			return types[i].name;
	}
	snprintf(buf, n, "TYPE%u", qtype);
	return buf;
}
