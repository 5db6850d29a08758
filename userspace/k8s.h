/* SPDX-License-Identifier: GPL-2.0 */
/* `agentfence daemon --kubernetes`: the pods bound to this node, listed
 * and watched through the API server (libcurl, http.h; JSON with
 * jansson), fenced when annotated agentfence.io/policy, with policies
 * from ConfigMaps of the daemon's namespace labelled agentfence.io/policy
 * (key policy.yaml). The fences are the daemon's (daemon.h): a pod's is
 * an attach of its pod cgroup. */
#ifndef AF_K8S_H
#define AF_K8S_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct af_loop;

struct af_k8s_opts {
	const char *kubeconfig;	/* NULL: in-cluster service account, else $KUBECONFIG */
	const char *node;	/* NULL: $NODE_NAME, else the host name */
	const char *namespace;	/* the policies' ConfigMaps; NULL: "agentfence" */
	const char *journal_dir;	/* a journal per pod; NULL: AF_K8S_JOURNAL_DIR */
};

#define AF_K8S_JOURNAL_DIR "/var/log/agentfence/pods"
#define AF_K8S_ANN_POLICY "agentfence.io/policy"
#define AF_K8S_ANN_WORKSPACE "agentfence.io/workspace"
/* The hold fence's "pod uid" (its attach record's container): no pod's. */
#define AF_K8S_HOLD_UID "hold"

/* Connect (credentials read, not yet the API), start the watches; their
 * results are handled in loop. 0, or -errno (said with af_err). */
int af_k8s_start(const struct af_k8s_opts *o, struct af_loop *loop);
void af_k8s_stop(void);

/* This node's name: o->node, else $NODE_NAME, else the host name;
 * -EINVAL (said) when it is no Kubernetes node name. */
int af_k8s_node_name(const struct af_k8s_opts *o, char *out, size_t n);

/* What every journal record of a pod's fence carries (journal.h
 * af_journal_set_tag): ',"pod":{"namespace":..,"name":..,"node":..}'
 * from ns_name "NS/NAME", malloc'd, rendered once per fence. Without the
 * uid: its 36 bytes in every record cost 4-8 % more per event (bench/
 * RESULTS.md, Kubernetes); the journal is the pod's and its k8s_pod
 * record has it.
 * 0 or -ENOMEM. */
int af_k8s_pod_tag(const char *ns_name, const char *node, char **out);

/* What a record of a process in a pod's container carries beside the
 * pod (recorder.h af_ctag_fn): ',"container":{"name":NAME,"id":..}', or
 * ',"container":{"sandbox":true,"id":..}' with name NULL (the pod's
 * sandbox, pause); id the first 12 digits of cid. Rendered once per
 * container, malloc'd. 0 or -ENOMEM. */
int af_k8s_container_tag(const char *name, const char *cid, char **out);

/* For /metrics and /readyz (the daemon's loop): whether the first list of
 * the node's pods was handled (every pod there fenced or pending), and
 * how often a list or watch was retried after a failure. */
bool af_k8s_synced(void);
uint64_t af_k8s_reconnects(void);

/* The fail-closed policy of a pod whose policy is missing or invalid. */
extern const char af_k8s_deny_all[];

#endif
