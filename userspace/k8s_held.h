/* SPDX-License-Identifier: GPL-2.0 */
/* Processes of a pod stopped at their first instruction until the pod's
 * fence is whole (bpf/k8s.bpf.h af_kheld): found, continued, killed. */
#ifndef AF_K8S_HELD_H
#define AF_K8S_HELD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct af_loop;

/* The node's af_kheld and af_member (of fence id's node),
 * and af_kheld_rb in loop: wake() when a process is held. mnt: the
 * cgroup2 mount. 0 or -errno (why). */
int af_kheld_open(uint64_t id, const char *mnt, struct af_loop *loop, void (*wake)(void),
		  char *why, size_t n);

/* Continue each held process whose cgroup is a fence's member now (its
 * pod's own fence is attached: the files are judged); forget the gone. */
void af_kheld_sweep(void);

/* A held process beneath the cgroup at path (a pod's), in a directory
 * right beneath it that want(name) accepts (a container, not the
 * sandbox); 0: none. */
pid_t af_kheld_find(const char *path, bool (*want)(const char *name));

/* Every held process beneath the cgroup at path: continued (cont: the
 * pod is no fence's) or killed (its pod is gone: it never ran). */
void af_kheld_decide(const char *path, bool cont, const char *why);

void af_kheld_close(struct af_loop *loop);

#endif
