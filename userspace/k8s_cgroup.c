// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "k8s_cgroup.h"

static const char *const qos_dir[] = {
	[AF_K8S_GUARANTEED] = "",
	[AF_K8S_BURSTABLE] = "burstable",
	[AF_K8S_BESTEFFORT] = "besteffort",
};

int af_k8s_qos_parse(const char *s, enum af_k8s_qos *out)
{
	if (!s)
		return -EINVAL;
	if (!strcmp(s, "Guaranteed"))
		*out = AF_K8S_GUARANTEED;
	else if (!strcmp(s, "Burstable"))
		*out = AF_K8S_BURSTABLE;
	else if (!strcmp(s, "BestEffort"))
		*out = AF_K8S_BESTEFFORT;
	else
		return -EINVAL;
	return 0;
}

/* A UID is a path component we build: nothing but hex and dashes. */
static int uid_ok(const char *uid)
{
	size_t len = uid ? strlen(uid) : 0;

	if (!len || len > 64)
		return 0;
	return strspn(uid, "0123456789abcdefABCDEF-") == len;
}

static int fmt(char *out, size_t n, const char *f, ...) __attribute__((format(printf, 3, 4)));
static int fmt(char *out, size_t n, const char *f, ...)
{
	va_list ap;
	int len;

	va_start(ap, f);
	len = vsnprintf(out, n, f, ap);
	va_end(ap);
	return len < 0 ? -EINVAL : (size_t)len >= n ? -ENAMETOOLONG : 0;
}

int af_k8s_pod_cgroup(enum af_k8s_driver drv, enum af_k8s_qos qos, const char *uid,
		      char *out, size_t n)
{
	char u[65];
	size_t i;

	if (!uid_ok(uid) || (unsigned int)qos > AF_K8S_BESTEFFORT)
		return -EINVAL;
	if (drv == AF_K8S_CGROUPFS)
		return qos == AF_K8S_GUARANTEED ? fmt(out, n, "kubepods/pod%s", uid) :
		       fmt(out, n, "kubepods/%s/pod%s", qos_dir[qos], uid);
	if (drv != AF_K8S_SYSTEMD)
		return -EINVAL;
	/* systemd's unit names take '-' as the slice separator. */
	for (i = 0; uid[i]; i++)
		u[i] = uid[i] == '-' ? '_' : uid[i];
	u[i] = '\0';
	return qos == AF_K8S_GUARANTEED ? fmt(out, n, "kubepods.slice/kubepods-pod%s.slice", u) :
	       fmt(out, n, "kubepods.slice/kubepods-%s.slice/kubepods-%s-pod%s.slice",
		   qos_dir[qos], qos_dir[qos], u);
}

int af_k8s_container_cgroup(enum af_k8s_driver drv, enum af_k8s_qos qos, const char *uid,
			    const char *container_id, char *out, size_t n)
{
	static const struct {
		const char *scheme, *scope;
	} rt[] = {
		{ "containerd://", "cri-containerd" },
		{ "cri-o://", "crio" },
		{ "docker://", "docker" },
	};
	char pod[512];
	const char *cid = NULL, *scope = NULL;
	size_t i, len;
	int err;

	for (i = 0; container_id && i < sizeof(rt) / sizeof(rt[0]); i++) {
		len = strlen(rt[i].scheme);
		if (!strncmp(container_id, rt[i].scheme, len)) {
			cid = container_id + len;
			scope = rt[i].scope;
			break;
		}
	}
	if (!cid || !*cid || strlen(cid) > 128 || strspn(cid, "0123456789abcdef") != strlen(cid))
		return -EINVAL;
	err = af_k8s_pod_cgroup(drv, qos, uid, pod, sizeof(pod));
	if (err)
		return err;
	return drv == AF_K8S_CGROUPFS ? fmt(out, n, "%s/%s", pod, cid) :
	       fmt(out, n, "%s/%s-%s.scope", pod, scope, cid);
}

int af_k8s_cgroup_container(const char *name, char *cid, size_t n)
{
	static const char *const scopes[] = { "cri-containerd-", "crio-", "docker-" };
	size_t len = strlen(name), pre = 0, i;

	for (i = 0; i < sizeof(scopes) / sizeof(scopes[0]); i++) {
		size_t l = strlen(scopes[i]);

		if (len > l + 6 && !strncmp(name, scopes[i], l) && !strcmp(name + len - 6, ".scope")) {
			pre = l;
			len -= l + 6;
			break;
		}
	}
	/* The ids the runtimes give are 64 hex digits; a shorter one of
	 * at least 12 is taken, never a word ("crio-conmon-..."). */
	if (len < 12 || len > 128 || strspn(name + pre, "0123456789abcdef") != len)
		return -EINVAL;
	if (len >= n)
		return -ENAMETOOLONG;
	memcpy(cid, name + pre, len);
	cid[len] = '\0';
	return 0;
}

int af_k8s_pod_cgroup_find(const char *mnt, enum af_k8s_qos qos, const char *uid,
			   enum af_k8s_driver *drv, char *out, size_t n)
{
	static const enum af_k8s_driver drivers[] = { AF_K8S_CGROUPFS, AF_K8S_SYSTEMD };
	char rel[512];
	struct stat st;
	int err;

	for (size_t i = 0; i < 2; i++) {
		err = af_k8s_pod_cgroup(drivers[i], qos, uid, rel, sizeof(rel));
		if (err)
			return err;
		err = fmt(out, n, "%s/%s", mnt, rel);
		if (err)
			return err;
		if (!stat(out, &st) && S_ISDIR(st.st_mode)) {
			if (drv)
				*drv = drivers[i];
			return 0;
		}
	}
	out[0] = '\0';
	return -ENOENT;
}
