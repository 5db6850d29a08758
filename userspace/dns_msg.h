/* SPDX-License-Identifier: GPL-2.0 */
/* DNS messages (RFC 1035) as the fence's stub resolver needs them:
 * the question of a query, the addresses of an answer, and error
 * replies. Every read is bounded by the message; names are returned
 * lower-cased, dotted, without the trailing dot. */
#ifndef AF_DNS_MSG_H
#define AF_DNS_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AF_DNS_NAME_MAX		254	/* 253 characters and the NUL */
#define AF_DNS_ADDRS_MAX	32	/* addresses learned from one answer */
#define AF_DNS_HDR		12

enum {
	AF_DNS_T_A = 1,
	AF_DNS_T_CNAME = 5,
	AF_DNS_T_AAAA = 28,
};

enum {
	AF_DNS_NOERROR = 0,
	AF_DNS_FORMERR = 1,
	AF_DNS_SERVFAIL = 2,
	AF_DNS_NXDOMAIN = 3,
};

struct af_dns_question {
	uint16_t id;
	uint16_t qtype;
	uint16_t qclass;
	bool response;		/* QR bit */
	char name[AF_DNS_NAME_MAX];
	size_t end;		/* offset just past the question */
};

struct af_dns_addr {
	uint8_t family;		/* 4 or 6 */
	uint8_t addr[16];
	uint32_t ttl;
};

struct af_dns_answer {
	struct af_dns_question q;
	int rcode;
	bool truncated;		/* TC bit */
	size_t naddrs;
	struct af_dns_addr addrs[AF_DNS_ADDRS_MAX];
	size_t dropped;		/* addresses beyond AF_DNS_ADDRS_MAX */
};

/* The header and the single question of a message. -EBADMSG when it is
 * malformed, has no or several questions, or the name holds anything
 * but letters, digits, '-' and '_' (such a name cannot be allowed). */
int af_dns_parse_question(const uint8_t *m, size_t len, struct af_dns_question *q);

/* A response: its question, rcode, and the A and AAAA records that
 * answer the question's name, directly or through CNAMEs. */
int af_dns_parse_answer(const uint8_t *m, size_t len, struct af_dns_answer *a);

/* Write a reply to query m (parsed as q) carrying rcode and no records
 * into out; returns its length, or 0 when cap is too small. */
size_t af_dns_error_reply(const uint8_t *m, const struct af_dns_question *q, int rcode,
			  uint8_t *out, size_t cap);

/* Whether name matches a host rule: equal, or "*.rest" and name ends
 * in ".rest" below it (any depth). */
bool af_dns_host_match(const char *rule, const char *name);

/* "A", "AAAA", "MX", ... or "TYPE65". */
const char *af_dns_type_name(uint16_t qtype, char *buf, size_t n);

#endif /* AF_DNS_MSG_H */
