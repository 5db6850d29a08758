// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target for the daemon's control protocol: whatever a client
 * sends, framing and parsing stay within its bytes, a parsed request
 * obeys the protocol's limits, and a refused one leaves nothing behind.
 *   make fuzz && build/fuzz/fuzz_control -max_len=300000 corpus/
 */
#include <stdint.h>
#include <string.h>

#include "control_proto.h"

static void on_line(void *ctx, const char *line, size_t len, int err)
{
	struct af_ctl_req r;
	char why[256];

	(void)ctx;
	if (err)
		return;
	if (af_ctl_parse(line, len, &r, why, sizeof(why))) {
		if (r.policy || r.argv || r.name || r.op)
			__builtin_trap();
		return;
	}
	if (r.op == AF_CTL_NONE || r.argc > AF_CTL_ARGV_MAX || r.policy_len > AF_CTL_POLICY_MAX ||
	    (r.argv && r.argv[r.argc]) || (r.workspace && r.workspace[0] != '/') ||
	    (r.name && strchr(r.name, '/')))
		__builtin_trap();
	af_ctl_req_free(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct af_ctl_in in = {};
	size_t half = size / 2;

	/* In two pieces, so that a request split across reads is framed too. */
	if (!af_ctl_in_feed(&in, (const char *)data, half, on_line, NULL))
		af_ctl_in_feed(&in, (const char *)data + half, size - half, on_line, NULL);
	af_ctl_in_free(&in);
	on_line(NULL, (const char *)data, size, 0);
	return 0;
}
