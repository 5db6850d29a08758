/* SPDX-License-Identifier: GPL-2.0 */
/* Subcommands, one cmd_<name>.c each, dispatched by main.c's table. */
#ifndef AF_CMDS_H
#define AF_CMDS_H

#include <stdbool.h>
#include <stddef.h>

#include "policy.h"

int cmd_run(int argc, char **argv);
int cmd_policy(int argc, char **argv);
int cmd_doctor(int argc, char **argv);
int cmd_log(int argc, char **argv);
int cmd_tail(int argc, char **argv);
int cmd_exec(int argc, char **argv);
int cmd_hook(int argc, char **argv);
int cmd_daemon(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_stop(int argc, char **argv);
int cmd_update(int argc, char **argv);
int cmd_detach(int argc, char **argv);
int cmd_gc(int argc, char **argv);
int cmd_attach(int argc, char **argv);

extern const char af_usage_run[];
extern const char af_usage_policy[];
extern const char af_usage_doctor[];
extern const char af_usage_log[];
extern const char af_usage_tail[];
extern const char af_usage_exec[];
extern const char af_usage_hook[];
extern const char af_usage_daemon[];
extern const char af_usage_status[];
extern const char af_usage_stop[];
extern const char af_usage_update[];
extern const char af_usage_detach[];
extern const char af_usage_gc[];
extern const char af_usage_attach[];

/* A fence id on the command line (said when it is not one). */
#include <stdint.h>
int af_parse_fence_id(const char *s, uint64_t *id);

/* The arguments stop, detach and update share: [--control PATH]
 * [--policy FILE] (with_policy: required) FENCE. Returns -1 when parsed,
 * else the exit status to return (--help printed, or a usage error). */
struct af_fence_args {
	const char *control;
	const char *policy;
	uint64_t id;
};
int af_parse_fence_args(int argc, char **argv, const char *cmd, const char *usage,
			bool with_policy, struct af_fence_args *a);
/* Ask the daemon for op ("stop", "update", "detach") on fence id: 0,
 * -ENOENT when no daemon holds it (or none runs), -errno (said). */
int af_fence_op_daemon(const char *control, const char *op, uint64_t id, const char *policy,
		       size_t policy_len, const char *policy_file);

/* The policy `run` uses when none is given: policies/coding-agent.yaml,
 * compiled in. */
extern const char af_default_policy[];
extern const size_t af_default_policy_len;

/* Load a policy from a file, or the built-in one for NULL, and refuse
 * what this version cannot enforce; prints its own errors, and its
 * warnings when asked. */
int af_load_policy(const char *file, const char *workspace, bool warnings,
		   struct af_policy **out);

/* The label of `agentfence exec --label L -- CMD` from that process's
 * exec (an af_label_fn, recorder.h): its pid keeps L through the exec
 * of CMD, and its descendants inherit it. */
bool af_exec_label(void *ctx, const char *filename, const char *argv, size_t len,
		   char *out, size_t n);

#endif /* AF_CMDS_H */
