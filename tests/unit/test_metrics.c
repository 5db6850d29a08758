// SPDX-License-Identifier: GPL-2.0
/* metrics.h's pure parts: --listen ADDR:PORT, and the Prometheus text
 * format (label values escaped: a pod name is the cluster's, not ours),
 * and k8s.h's pod tag (the members every record of a pod's fence has). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "k8s.h"
#include "metrics.h"

static int parse(const char *arg, struct sockaddr_storage *ss)
{
	char why[256] = "";
	socklen_t len;
	int err = af_metrics_parse_listen(arg, ss, &len, why, sizeof(why));

	if (err)
		assert_true(why[0]);
	return err;
}

static void test_listen(void **state)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *a = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
	char buf[64];

	(void)state;
	assert_int_equal(parse(":9464", &ss), 0);
	assert_int_equal(a->sin_family, AF_INET);
	assert_int_equal(ntohs(a->sin_port), 9464);
	assert_int_equal(a->sin_addr.s_addr, htonl(INADDR_ANY));
	assert_int_equal(parse("127.0.0.1:1", &ss), 0);
	assert_int_equal(ntohs(a->sin_port), 1);
	assert_string_equal(inet_ntop(AF_INET, &a->sin_addr, buf, sizeof(buf)), "127.0.0.1");
	assert_int_equal(parse("[::1]:65535", &ss), 0);
	assert_int_equal(a6->sin6_family, AF_INET6);
	assert_int_equal(ntohs(a6->sin6_port), 65535);
	assert_string_equal(inet_ntop(AF_INET6, &a6->sin6_addr, buf, sizeof(buf)), "::1");
	const char *bad[] = { "", ":", "9464", ":0", ":65536", ":-1", ": 9464", ":9464x",
			      "127.0.0.1:", "localhost:9464", "300.1.1.1:9464", "::1:9464",
			      "[::1:9464", "[127.0.0.1]:9464", "1.2.3.4.5:9464",
			      "[0123456789abcdef0123456789abcdef0123456789abcdef]:1" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse(bad[i], &ss) != -EINVAL)
			fail_msg("--listen '%s' taken", bad[i]);
	}
}

static void test_text_format(void **state)
{
	struct af_obuf b = {};

	(void)state;
	af_prom_family(&b, "agentfence_x_total", "counter", "Things.");
	af_prom_sample(&b, "agentfence_x_total", 0, NULL);
	af_prom_sample(&b, "agentfence_x_total", 18446744073709551615ULL, "pod", "a\"b\\c\nd", "kind",
		       "file", NULL);
	af_prom_sample(&b, "agentfence_x_total", 7, "pod", NULL, NULL);
	assert_false(b.oom);
	assert_true(af_obuf_reserve(&b, 1) == 0);
	b.p[b.len] = 0;
	assert_string_equal(b.p,
			    "# HELP agentfence_x_total Things.\n"
			    "# TYPE agentfence_x_total counter\n"
			    "agentfence_x_total 0\n"
			    "agentfence_x_total{pod=\"a\\\"b\\\\c\\nd\",kind=\"file\"} 18446744073709551615\n"
			    "agentfence_x_total{pod=\"\"} 7\n");
	free(b.p);
}

static void test_pod_tag(void **state)
{
	char *t = NULL;

	(void)state;
	assert_int_equal(af_k8s_pod_tag("default/agent", "af-node", &t), 0);
	assert_string_equal(t, ",\"pod\":{\"namespace\":\"default\",\"name\":\"agent\",\"node\":\"af-node\"}");
	free(t);
	/* Names come from the API: JSON-escaped like any string. */
	assert_int_equal(af_k8s_pod_tag("ns/a\"b", "n", &t), 0);
	assert_string_equal(t, ",\"pod\":{\"namespace\":\"ns\",\"name\":\"a\\\"b\",\"node\":\"n\"}");
	free(t);
}

static void test_container_tag(void **state)
{
	char *t = NULL;

	(void)state;
	/* Beside the pod, the 12 digits docker ps shows. */
	assert_int_equal(af_k8s_container_tag("agent", "4a5b6c7d8e9f00112233445566778899", &t), 0);
	assert_string_equal(t, ",\"container\":{\"name\":\"agent\",\"id\":\"4a5b6c7d8e9f\"}");
	free(t);
	/* NULL: the pod's sandbox. */
	assert_int_equal(af_k8s_container_tag(NULL, "0123456789abcdef", &t), 0);
	assert_string_equal(t, ",\"container\":{\"sandbox\":true,\"id\":\"0123456789ab\"}");
	free(t);
	assert_int_equal(af_k8s_container_tag("a\"b", "0123", &t), 0);
	assert_string_equal(t, ",\"container\":{\"name\":\"a\\\"b\",\"id\":\"0123\"}");
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_listen),
		cmocka_unit_test(test_text_format),
		cmocka_unit_test(test_pod_tag),
		cmocka_unit_test(test_container_tag),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
