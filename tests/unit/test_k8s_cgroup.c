// SPDX-License-Identifier: GPL-2.0
/* Pods' and containers' cgroups for both kubelet cgroup drivers, and the
 * driver found from what exists (a fake cgroup2 tree in a temp dir). */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "k8s_cgroup.h"
#include "../../bpf/k8s_name.h"

#define UID "1f6b6c2e-8d3a-4c8b-9f1e-0123456789ab"
#define UID_ "1f6b6c2e_8d3a_4c8b_9f1e_0123456789ab"
#define CID "4a5b6c7d8e9f00112233445566778899aabbccddeeff00112233445566778899"

static void test_qos(void **state)
{
	enum af_k8s_qos q;

	(void)state;
	assert_int_equal(af_k8s_qos_parse("Guaranteed", &q), 0);
	assert_int_equal(q, AF_K8S_GUARANTEED);
	assert_int_equal(af_k8s_qos_parse("Burstable", &q), 0);
	assert_int_equal(q, AF_K8S_BURSTABLE);
	assert_int_equal(af_k8s_qos_parse("BestEffort", &q), 0);
	assert_int_equal(q, AF_K8S_BESTEFFORT);
	assert_int_equal(af_k8s_qos_parse("besteffort", &q), -EINVAL);
	assert_int_equal(af_k8s_qos_parse(NULL, &q), -EINVAL);
}

static void test_cgroupfs(void **state)
{
	char p[512];

	(void)state;
	assert_int_equal(af_k8s_pod_cgroup(AF_K8S_CGROUPFS, AF_K8S_BESTEFFORT, UID, p, sizeof(p)), 0);
	assert_string_equal(p, "kubepods/besteffort/pod" UID);
	assert_int_equal(af_k8s_pod_cgroup(AF_K8S_CGROUPFS, AF_K8S_BURSTABLE, UID, p, sizeof(p)), 0);
	assert_string_equal(p, "kubepods/burstable/pod" UID);
	assert_int_equal(af_k8s_pod_cgroup(AF_K8S_CGROUPFS, AF_K8S_GUARANTEED, UID, p, sizeof(p)), 0);
	assert_string_equal(p, "kubepods/pod" UID);
	assert_int_equal(af_k8s_container_cgroup(AF_K8S_CGROUPFS, AF_K8S_BESTEFFORT, UID,
						 "containerd://" CID, p, sizeof(p)), 0);
	assert_string_equal(p, "kubepods/besteffort/pod" UID "/" CID);
}

static void test_systemd(void **state)
{
	char p[512];

	(void)state;
	assert_int_equal(af_k8s_pod_cgroup(AF_K8S_SYSTEMD, AF_K8S_BESTEFFORT, UID, p, sizeof(p)), 0);
	assert_string_equal(p, "kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_ ".slice");
	assert_int_equal(af_k8s_pod_cgroup(AF_K8S_SYSTEMD, AF_K8S_BURSTABLE, UID, p, sizeof(p)), 0);
	assert_string_equal(p, "kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_ ".slice");
	assert_int_equal(af_k8s_pod_cgroup(AF_K8S_SYSTEMD, AF_K8S_GUARANTEED, UID, p, sizeof(p)), 0);
	assert_string_equal(p, "kubepods.slice/kubepods-pod" UID_ ".slice");
	assert_int_equal(af_k8s_container_cgroup(AF_K8S_SYSTEMD, AF_K8S_BURSTABLE, UID,
						 "containerd://" CID, p, sizeof(p)), 0);
	assert_string_equal(p, "kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_
			    ".slice/cri-containerd-" CID ".scope");
	assert_int_equal(af_k8s_container_cgroup(AF_K8S_SYSTEMD, AF_K8S_GUARANTEED, UID,
						 "cri-o://" CID, p, sizeof(p)), 0);
	assert_string_equal(p, "kubepods.slice/kubepods-pod" UID_ ".slice/crio-" CID ".scope");
}

/* Names that would walk out of kubepods, or are not what the API says. */
static void test_bad_input(void **state)
{
	char p[512], tiny[16];

	(void)state;
	assert_int_equal(af_k8s_pod_cgroup(AF_K8S_CGROUPFS, AF_K8S_BESTEFFORT, "../../x", p, sizeof(p)), -EINVAL);
	assert_int_equal(af_k8s_pod_cgroup(AF_K8S_CGROUPFS, AF_K8S_BESTEFFORT, "", p, sizeof(p)), -EINVAL);
	assert_int_equal(af_k8s_pod_cgroup(AF_K8S_CGROUPFS, AF_K8S_BESTEFFORT, NULL, p, sizeof(p)), -EINVAL);
	assert_int_equal(af_k8s_pod_cgroup(AF_K8S_CGROUPFS, AF_K8S_BESTEFFORT, "ab/cd", p, sizeof(p)), -EINVAL);
	assert_int_equal(af_k8s_pod_cgroup(AF_K8S_CGROUPFS, (enum af_k8s_qos)7, UID, p, sizeof(p)), -EINVAL);
	assert_int_equal(af_k8s_pod_cgroup(AF_K8S_CGROUPFS, AF_K8S_BESTEFFORT, UID, tiny, sizeof(tiny)),
			 -ENAMETOOLONG);
	assert_int_equal(af_k8s_container_cgroup(AF_K8S_CGROUPFS, AF_K8S_BESTEFFORT, UID, CID, p, sizeof(p)),
			 -EINVAL);	/* no scheme */
	assert_int_equal(af_k8s_container_cgroup(AF_K8S_CGROUPFS, AF_K8S_BESTEFFORT, UID,
						 "containerd://../x", p, sizeof(p)), -EINVAL);
	assert_int_equal(af_k8s_container_cgroup(AF_K8S_CGROUPFS, AF_K8S_BESTEFFORT, UID,
						 "containerd://", p, sizeof(p)), -EINVAL);
	assert_int_equal(af_k8s_container_cgroup(AF_K8S_CGROUPFS, AF_K8S_BESTEFFORT, UID,
						 "rkt://" CID, p, sizeof(p)), -EINVAL);
}

static void test_find(void **state)
{
	char root[] = "/tmp/af-k8s-cg.XXXXXX", p[1024], cmd[2048];
	enum af_k8s_driver drv;

	(void)state;
	assert_non_null(mkdtemp(root));
	assert_int_equal(af_k8s_pod_cgroup_find(root, AF_K8S_BESTEFFORT, UID, &drv, p, sizeof(p)), -ENOENT);
	snprintf(cmd, sizeof(cmd), "mkdir -p %s/kubepods/besteffort/pod" UID, root);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(af_k8s_pod_cgroup_find(root, AF_K8S_BESTEFFORT, UID, &drv, p, sizeof(p)), 0);
	assert_int_equal(drv, AF_K8S_CGROUPFS);
	assert_non_null(strstr(p, "/kubepods/besteffort/pod" UID));
	/* Another QoS class is not this pod. */
	assert_int_equal(af_k8s_pod_cgroup_find(root, AF_K8S_BURSTABLE, UID, &drv, p, sizeof(p)), -ENOENT);
	snprintf(cmd, sizeof(cmd), "mkdir -p %s/kubepods.slice/kubepods-burstable.slice/"
		 "kubepods-burstable-pod" UID_ ".slice", root);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(af_k8s_pod_cgroup_find(root, AF_K8S_BURSTABLE, UID, &drv, p, sizeof(p)), 0);
	assert_int_equal(drv, AF_K8S_SYSTEMD);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	assert_int_equal(system(cmd), 0);
}

/* bpf/k8s_name.h, the rule raw_tp/cgroup_mkdir holds a new cgroup of a
 * kubepods cgroup by: every pod cgroup either driver makes is a pod's,
 * the QoS levels and other names are not. */
static int pod_name(const char *s)
{
	return af_k8s_pod_name(s, strlen(s));
}

static void test_pod_name(void **state)
{
	static const enum af_k8s_qos qos[] = { AF_K8S_GUARANTEED, AF_K8S_BURSTABLE, AF_K8S_BESTEFFORT };
	char p[512];
	const char *base;

	(void)state;
	for (size_t d = 0; d < 2; d++) {
		for (size_t i = 0; i < 3; i++) {
			assert_int_equal(af_k8s_pod_cgroup(d ? AF_K8S_SYSTEMD : AF_K8S_CGROUPFS, qos[i], UID,
							   p, sizeof(p)), 0);
			base = strrchr(p, '/') + 1;
			assert_true(strlen(base) < AF_K8S_NAME_SCAN);
			assert_int_equal(pod_name(base), 1);
		}
	}
	assert_int_equal(pod_name("pod" UID), 1);
	assert_int_equal(pod_name("kubepods-pod" UID_ ".slice"), 1);
	assert_int_equal(pod_name("kubepods-besteffort-pod" UID_ ".slice"), 1);
	/* QoS levels, containers, others */
	assert_int_equal(pod_name("burstable"), 0);
	assert_int_equal(pod_name("besteffort"), 0);
	assert_int_equal(pod_name("kubepods-burstable.slice"), 0);
	assert_int_equal(pod_name("kubepods-besteffort.slice"), 0);
	assert_int_equal(pod_name("cri-containerd-" CID ".scope"), 0);
	assert_int_equal(pod_name(CID), 0);
	assert_int_equal(pod_name("pod"), 0);
	assert_int_equal(pod_name(""), 0);
	assert_int_equal(pod_name("kubepods-"), 0);
	assert_int_equal(pod_name("system.slice-pod12"), 0);
	/* n bounds the scan: a name cut before "-pod" is none */
	assert_int_equal(af_k8s_pod_name("kubepods-burstable-pod" UID_ ".slice", 20), 0);
	/* longer than the kernel side's key: never a pod's */
	memset(p, 'a', 200);
	memcpy(p, "pod", 3);
	p[200] = 0;
	assert_int_equal(pod_name(p), 0);
}

/* A container's cgroup directory name back to its id: what names the
 * container of a pod's records (k8s.c, "containers"). */
static void test_cgroup_container(void **state)
{
	char cid[130], small[8], rel[512];

	(void)state;
	assert_int_equal(af_k8s_cgroup_container(CID, cid, sizeof(cid)), 0);
	assert_string_equal(cid, CID);
	assert_int_equal(af_k8s_cgroup_container("cri-containerd-" CID ".scope", cid, sizeof(cid)), 0);
	assert_string_equal(cid, CID);
	assert_int_equal(af_k8s_cgroup_container("crio-" CID ".scope", cid, sizeof(cid)), 0);
	assert_string_equal(cid, CID);
	assert_int_equal(af_k8s_cgroup_container("docker-" CID ".scope", cid, sizeof(cid)), 0);
	assert_string_equal(cid, CID);
	/* What af_k8s_container_cgroup makes, both drivers, comes back. */
	assert_int_equal(af_k8s_container_cgroup(AF_K8S_SYSTEMD, AF_K8S_BURSTABLE, UID,
						 "containerd://" CID, rel, sizeof(rel)), 0);
	assert_int_equal(af_k8s_cgroup_container(strrchr(rel, '/') + 1, cid, sizeof(cid)), 0);
	assert_string_equal(cid, CID);
	/* Not containers of the pod: cri-o's monitor, a sub-cgroup's
	 * name, words, a scope without an id. */
	assert_int_equal(af_k8s_cgroup_container("crio-conmon-" CID ".scope", cid, sizeof(cid)), -EINVAL);
	assert_int_equal(af_k8s_cgroup_container("init.scope", cid, sizeof(cid)), -EINVAL);
	assert_int_equal(af_k8s_cgroup_container("cri-containerd-.scope", cid, sizeof(cid)), -EINVAL);
	assert_int_equal(af_k8s_cgroup_container("cri-containerd-" CID, cid, sizeof(cid)), -EINVAL);
	assert_int_equal(af_k8s_cgroup_container("4A5B6C7D8E9F0011", cid, sizeof(cid)), -EINVAL);
	assert_int_equal(af_k8s_cgroup_container("abc", cid, sizeof(cid)), -EINVAL);
	assert_int_equal(af_k8s_cgroup_container("", cid, sizeof(cid)), -EINVAL);
	assert_int_equal(af_k8s_cgroup_container(CID, small, sizeof(small)), -ENAMETOOLONG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_qos),
		cmocka_unit_test(test_cgroupfs),
		cmocka_unit_test(test_systemd),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_find),
		cmocka_unit_test(test_pod_name),
		cmocka_unit_test(test_cgroup_container),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
