// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target for the DNS stub's message parser: whatever a fenced
 * process or a resolver sends, parsing stays within the message and an
 * error reply stays within its buffer.
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Iuserspace \
 *	userspace/dns_msg.c tests/unit/fuzz_dns.c -o fuzz_dns
 *   ./fuzz_dns -max_len=1024 corpus/
 */
#include <stdint.h>
#include <string.h>

#include "dns_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct af_dns_answer a;
	struct af_dns_question q;
	uint8_t out[AF_DNS_HDR + AF_DNS_NAME_MAX + 8];
	size_t i;

	if (!af_dns_parse_question(data, size, &q)) {
		if (strlen(q.name) >= AF_DNS_NAME_MAX || q.end > size)
			__builtin_trap();
		af_dns_error_reply(data, &q, AF_DNS_NXDOMAIN, out, sizeof(out));
		af_dns_host_match("*.example.com", q.name);
	}
	if (!af_dns_parse_answer(data, size, &a)) {
		if (a.naddrs > AF_DNS_ADDRS_MAX)
			__builtin_trap();
		for (i = 0; i < a.naddrs; i++)
			if (a.addrs[i].family != 4 && a.addrs[i].family != 6)
				__builtin_trap();
	}
	return 0;
}
