// SPDX-License-Identifier: GPL-2.0
/*
 * DNS messages as the fence's stub reads and writes them: the question,
 * the addresses an answer gives a name (CNAME chains, records that are
 * not the name's), hostile messages (pointer loops, lengths beyond the
 * end), error replies, host rule matching and the lines events become.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "dns.h"
#include "dns_msg.h"
#include "events.h"
#include "util.h"
#include "../bpf/fence.h"

struct msg {
	uint8_t b[1024];
	size_t n;
};

static void put(struct msg *m, const void *p, size_t n)
{
	memcpy(m->b + m->n, p, n);
	m->n += n;
}

static void put16(struct msg *m, uint16_t v)
{
	uint8_t b[2] = { v >> 8, v & 0xff };

	put(m, b, 2);
}

static void put_name(struct msg *m, const char *name)
{
	const char *dot;

	while (*name) {
		size_t l;

		dot = strchr(name, '.');
		l = dot ? (size_t)(dot - name) : strlen(name);
		m->b[m->n++] = (uint8_t)l;
		put(m, name, l);
		name += l + (dot ? 1 : 0);
	}
	m->b[m->n++] = 0;
}

static void header(struct msg *m, bool response, int rcode, uint16_t an)
{
	m->n = 0;
	put16(m, 0xbeef);
	m->b[m->n++] = response ? 0x81 : 0x01;	/* QR, RD */
	m->b[m->n++] = response ? 0x80 | rcode : 0;
	put16(m, 1);
	put16(m, an);
	put16(m, 0);
	put16(m, 0);
}

static void question(struct msg *m, const char *name, uint16_t type)
{
	put_name(m, name);
	put16(m, type);
	put16(m, 1);
}

/* A record whose owner is a pointer to offset 12 (the question's name)
 * when owner is NULL. */
static void rr(struct msg *m, const char *owner, uint16_t type, uint32_t ttl, const void *rdata,
	       uint16_t len)
{
	if (owner) {
		put_name(m, owner);
	} else {
		put16(m, 0xc00c);
	}
	put16(m, type);
	put16(m, 1);
	put16(m, ttl >> 16);
	put16(m, ttl & 0xffff);
	put16(m, len);
	put(m, rdata, len);
}

static void test_question(void **state)
{
	struct af_dns_question q;
	struct msg m;

	(void)state;
	header(&m, false, 0, 0);
	question(&m, "API.Example.COM", AF_DNS_T_AAAA);
	assert_int_equal(af_dns_parse_question(m.b, m.n, &q), 0);
	assert_string_equal(q.name, "api.example.com");
	assert_int_equal(q.qtype, AF_DNS_T_AAAA);
	assert_int_equal(q.id, 0xbeef);
	assert_false(q.response);
	assert_int_equal(q.end, m.n);
	/* Truncated anywhere: refused, never read past the end. */
	for (size_t n = 0; n < m.n; n++)
		assert_int_equal(af_dns_parse_question(m.b, n, &q), -EBADMSG);
}

static void test_question_hostile_names(void **state)
{
	static const char *const bad[] = { "a b.com", "a\x01.com", "a.c\xc3\xa9", "a/b.com" };
	struct af_dns_question q;
	struct msg m;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		header(&m, false, 0, 0);
		question(&m, bad[i], 1);
		assert_int_equal(af_dns_parse_question(m.b, m.n, &q), -EBADMSG);
	}
	/* A dot inside a label would make "a.b" of one label. */
	header(&m, false, 0, 0);
	put(&m, "\x03" "a.b" "\x03" "com" "\x00\x00\x01\x00\x01", 13);
	assert_int_equal(af_dns_parse_question(m.b, m.n, &q), -EBADMSG);
	/* A pointer to itself, and one forward. */
	header(&m, false, 0, 0);
	put(&m, "\xc0\x0c\x00\x01\x00\x01", 6);
	assert_int_equal(af_dns_parse_question(m.b, m.n, &q), -EBADMSG);
	header(&m, false, 0, 0);
	put(&m, "\xc0\x20\x00\x01\x00\x01", 6);
	assert_int_equal(af_dns_parse_question(m.b, m.n, &q), -EBADMSG);
	/* Two questions. */
	header(&m, false, 0, 0);
	m.b[5] = 2;
	question(&m, "a.com", 1);
	question(&m, "b.com", 1);
	assert_int_equal(af_dns_parse_question(m.b, m.n, &q), -EBADMSG);
	/* 254 characters: one too many. */
	{
		char name[300] = "";

		for (i = 0; i < 4; i++)
			strcat(name, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.");
		strcat(name, "abcd");
		header(&m, false, 0, 0);
		question(&m, name, 1);
		assert_int_equal(af_dns_parse_question(m.b, m.n, &q), -EBADMSG);
	}
}

static void test_answer_addresses_and_cname(void **state)
{
	static const uint8_t a1[4] = { 192, 0, 2, 1 }, a2[4] = { 192, 0, 2, 2 },
			     evil[4] = { 203, 0, 113, 66 };
	uint8_t a6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
	struct af_dns_answer a;
	struct msg m, target;

	(void)state;
	header(&m, true, 0, 5);
	question(&m, "api.example.com", AF_DNS_T_A);
	/* The chain's records in any order: target's address first. */
	rr(&m, "edge.cdn.net", AF_DNS_T_A, 60, a1, 4);
	target.n = 0;
	put_name(&target, "edge.cdn.net");
	rr(&m, NULL, AF_DNS_T_CNAME, 300, target.b, target.n);
	rr(&m, "edge.cdn.net", AF_DNS_T_AAAA, 30, a6, 16);
	/* Not the name's: an address for some other owner. */
	rr(&m, "evil.example.org", AF_DNS_T_A, 60, evil, 4);
	rr(&m, NULL, AF_DNS_T_A, 0x80000001u, a2, 4);
	assert_int_equal(af_dns_parse_answer(m.b, m.n, &a), 0);
	assert_int_equal(a.rcode, 0);
	assert_int_equal(a.naddrs, 3);
	assert_memory_equal(a.addrs[0].addr, a1, 4);
	assert_int_equal(a.addrs[0].family, 4);
	assert_int_equal(a.addrs[0].ttl, 60);
	assert_int_equal(a.addrs[1].family, 6);
	assert_memory_equal(a.addrs[1].addr, a6, 16);
	assert_memory_equal(a.addrs[2].addr, a2, 4);
	assert_int_equal(a.addrs[2].ttl, 0);	/* top bit set: zero (RFC 2181) */
	/* Every truncation is an error or fewer addresses, never a read
	 * past the end (ASan in check-asan). */
	for (size_t n = 0; n < m.n; n++) {
		if (!af_dns_parse_answer(m.b, n, &a))
			assert_true(a.naddrs < 3);
	}
}

static void test_answer_rejects_queries_and_counts_drops(void **state)
{
	static const uint8_t a1[4] = { 192, 0, 2, 1 };
	struct af_dns_answer a;
	struct msg m;
	int i;

	(void)state;
	header(&m, false, 0, 0);
	question(&m, "a.com", 1);
	assert_int_equal(af_dns_parse_answer(m.b, m.n, &a), -EBADMSG);
	header(&m, true, AF_DNS_NOERROR, AF_DNS_ADDRS_MAX + 3);
	question(&m, "a.com", 1);
	for (i = 0; i < AF_DNS_ADDRS_MAX + 3; i++)
		rr(&m, NULL, AF_DNS_T_A, 60, a1, 4);
	assert_int_equal(af_dns_parse_answer(m.b, m.n, &a), 0);
	assert_int_equal(a.naddrs, AF_DNS_ADDRS_MAX);
	assert_int_equal(a.dropped, 3);
	/* An A record of the wrong size is not an address. */
	header(&m, true, AF_DNS_NXDOMAIN, 1);
	question(&m, "a.com", 1);
	rr(&m, NULL, AF_DNS_T_A, 60, a1, 3);
	assert_int_equal(af_dns_parse_answer(m.b, m.n, &a), 0);
	assert_int_equal(a.rcode, AF_DNS_NXDOMAIN);
	assert_int_equal(a.naddrs, 0);
}

static void test_error_reply(void **state)
{
	struct af_dns_question q;
	uint8_t out[512];
	struct msg m;
	size_t n;

	(void)state;
	header(&m, false, 0, 0);
	question(&m, "evil.example", 1);
	put(&m, "\x00\x00\x29\x10\x00\x00\x00\x00\x00\x00\x00", 11);	/* EDNS OPT */
	m.b[11] = 1;	/* ARCOUNT */
	assert_int_equal(af_dns_parse_question(m.b, m.n, &q), 0);
	n = af_dns_error_reply(m.b, &q, AF_DNS_NXDOMAIN, out, sizeof(out));
	assert_int_equal(n, q.end);
	assert_int_equal(out[0], 0xbe);
	assert_int_equal(out[2], 0x81);		/* QR, RD kept */
	assert_int_equal(out[3], 0x83);		/* RA, NXDOMAIN */
	assert_int_equal(out[5], 1);		/* the question, nothing else */
	assert_int_equal(out[7] | out[9] | out[11], 0);
	assert_memory_equal(out + 12, m.b + 12, q.end - 12);
	assert_int_equal(af_dns_error_reply(m.b, &q, AF_DNS_NXDOMAIN, out, 12), 0);
}

static void test_host_match(void **state)
{
	(void)state;
	assert_true(af_dns_host_match("api.example.com", "api.example.com"));
	assert_false(af_dns_host_match("api.example.com", "xapi.example.com"));
	assert_false(af_dns_host_match("api.example.com", "api.example.com.evil"));
	assert_true(af_dns_host_match("*.example.com", "a.example.com"));
	assert_true(af_dns_host_match("*.example.com", "a.b.example.com"));
	assert_false(af_dns_host_match("*.example.com", "example.com"));
	assert_false(af_dns_host_match("*.example.com", "badexample.com"));
	assert_false(af_dns_host_match("*.example.com", "a.example.com.evil"));
}

static void test_event_lines(void **state)
{
	struct af_ev_dns e = {
		.hdr = { .type = AF_EV_DNS, .size = sizeof(e) },
		.op = AF_OP_DNS, .verdict = AF_DENIED, .qtype = 1, .rcode = AF_DNS_NXDOMAIN,
	};
	char buf[512];

	(void)state;
	strcpy(e.name, "evil.example");
	assert_int_equal(af_event_format(&e, sizeof(e), buf, sizeof(buf)), 0);
	assert_string_equal(buf, "denied dns lookup evil.example (A): NXDOMAIN");
	e.hdr.tgid = 812;
	memcpy(e.comm, "curl", 5);
	e.qtype = 65;
	assert_int_equal(af_event_format(&e, sizeof(e), buf, sizeof(buf)), 0);
	assert_string_equal(buf, "denied dns lookup evil.example (HTTPS): NXDOMAIN (curl pid 812)");
	e.verdict = AF_ALLOWED;
	e.rcode = 0;
	e.qtype = 1;
	e.naddrs = 2;
	e.ttl = 70;
	e.family[0] = 4;
	inet_pton(AF_INET, "192.0.2.1", e.addr[0]);
	e.family[1] = 6;
	inet_pton(AF_INET6, "2001:db8::1", e.addr[1]);
	strcpy(e.name, "api.example.com");
	assert_int_equal(af_event_format(&e, sizeof(e), buf, sizeof(buf)), 0);
	assert_string_equal(buf, "allowed dns api.example.com (A) -> 192.0.2.1, 2001:db8::1 for 70s (curl pid 812)");
	e.naddrs = 0;
	e.rcode = AF_DNS_SERVFAIL;
	assert_int_equal(af_event_format(&e, sizeof(e), buf, sizeof(buf)), 0);
	assert_string_equal(buf, "dns lookup api.example.com (A): SERVFAIL (curl pid 812)");
	assert_int_equal(af_event_format(&e, sizeof(e) - 1, buf, sizeof(buf)), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_question),
		cmocka_unit_test(test_question_hostile_names),
		cmocka_unit_test(test_answer_addresses_and_cname),
		cmocka_unit_test(test_answer_rejects_queries_and_counts_drops),
		cmocka_unit_test(test_error_reply),
		cmocka_unit_test(test_host_match),
		cmocka_unit_test(test_event_lines),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
