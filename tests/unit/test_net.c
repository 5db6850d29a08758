// SPDX-License-Identifier: GPL-2.0
/*
 * The network fence's userspace half that needs no kernel: the lines
 * events become.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "events.h"
#include "net.h"
#include "policy.h"
#include "../bpf/fence.h"

static struct af_ev_net ev(uint32_t op, uint16_t family, const char *addr, uint16_t port,
			   uint16_t protocol)
{
	struct af_ev_net e = {
		.hdr = { .type = AF_EV_NET, .size = sizeof(e), .tgid = 812 },
		.op = op, .family = family, .port = port, .protocol = protocol,
	};

	memcpy(e.comm, "curl", 5);
	if (addr)
		inet_pton(family, addr, e.addr);
	return e;
}

static void expect_line(const struct af_ev_net *e, const char *want)
{
	char buf[512];

	assert_int_equal(af_event_format(e, sizeof(*e), buf, sizeof(buf)), 0);
	assert_string_equal(buf, want);
}

static void test_inet_lines(void **state)
{
	struct af_ev_net e;

	(void)state;
	e = ev(AF_OP_CONNECT, AF_INET, "10.1.2.3", 443, IPPROTO_TCP);
	expect_line(&e, "denied connect 10.1.2.3:443 (curl pid 812)");
	e = ev(AF_OP_CONNECT, AF_INET6, "2001:db8::1", 80, IPPROTO_TCP);
	expect_line(&e, "denied connect [2001:db8::1]:80 (curl pid 812)");
	e = ev(AF_OP_SENDMSG, AF_INET, "10.0.0.53", 53, IPPROTO_UDP);
	e.verdict = AF_AUDITED;
	expect_line(&e, "would deny sendto 10.0.0.53:53/udp (curl pid 812)");
	e = ev(AF_OP_CONNECT, AF_INET, "10.1.2.3", 443, IPPROTO_TCP);
	e.verdict = AF_ALLOWED;
	e.flags = AF_NETF_PASSED;
	expect_line(&e, "allowed connect 10.1.2.3:443 (socket from outside the fence) (curl pid 812)");
}

static void test_unix_and_socket_lines(void **state)
{
	struct af_ev_net e;

	(void)state;
	e = ev(AF_OP_UNIX_CONNECT, AF_UNIX, NULL, 0, 0);
	strcpy(e.path, "/var/run/docker.sock");
	e.path_len = 21;
	expect_line(&e, "denied unix connect /var/run/docker.sock (curl pid 812)");
	/* Abstract: a leading NUL, no terminating one. */
	e = ev(AF_OP_UNIX_SENDMSG, AF_UNIX, NULL, 0, 0);
	memcpy(e.path, "\0dbus", 5);
	e.path_len = 5;
	e.flags = AF_NETF_ABSTRACT;
	expect_line(&e, "denied unix sendto @dbus (abstract) (curl pid 812)");
	e = ev(AF_OP_UNIX_CONNECT, AF_UNIX, NULL, 0, 0);
	strcpy(e.path, "s.sock");
	e.path_len = 7;
	e.flags = AF_NETF_RELATIVE;
	expect_line(&e, "denied unix connect s.sock (relative path) (curl pid 812)");
	e = ev(AF_OP_SOCKET, AF_INET, NULL, SOCK_RAW, IPPROTO_ICMP);
	expect_line(&e, "denied socket inet raw protocol 1 (curl pid 812)");
}

static void test_malformed_event(void **state)
{
	struct af_ev_net e = ev(AF_OP_CONNECT, AF_INET, "10.1.2.3", 443, IPPROTO_TCP);
	char buf[256];

	(void)state;
	assert_int_equal(af_net_event_format(&e, sizeof(e) - 1, buf, sizeof(buf)), -EINVAL);
	e.hdr.type = AF_EV_FILE;
	assert_int_equal(af_net_event_format(&e, sizeof(e), buf, sizeof(buf)), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_inet_lines),
		cmocka_unit_test(test_unix_and_socket_lines),
		cmocka_unit_test(test_malformed_event),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
