/* SPDX-License-Identifier: GPL-2.0 */
/* What `run` records: every event of the fence, attributed to its
 * process (provenance.h), as a journal record (journal.h), and the
 * counts for the end-of-run summary. */
#ifndef AF_RECORDER_H
#define AF_RECORDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "backend.h"
#include "journal.h"
#include "policy.h"

struct af_recorder;

#define AF_KEEP_OFF	UINT64_MAX

/* The label a process takes from its own exec (argv: NUL-separated, len
 * bytes; filename: what was exec'd): true with it in out. Who gives
 * labels, and how, is the caller's business (`agentfence exec --label`). */
typedef bool (*af_label_fn)(void *ctx, const char *filename, const char *argv, size_t len,
			    char *out, size_t n);

/* The members a record of a process in cgroup (struct af_hdr.cgroup: its
 * id's low 32 bits) carries beside the fence's tag: a pod's container,
 * ',"container":{...}' (journal.h af_journal_add), or NULL for none;
 * *len its length. The callee renders it once per cgroup and keeps it
 * until the recorder is closed; it may write a record of its own to
 * the journal first (the recorder calls it before it begins the
 * process's record). */
typedef const char *(*af_ctag_fn)(void *ctx, struct af_journal *j, uint32_t cgroup, size_t *len);

struct af_recorder_opts {
	const char *journal;		/* file to write */
	uint64_t rotate_bytes;		/* 0: default */
	uint64_t keep_bytes, keep_days;	/* retention of the journal's directory
					 * (journal.h); 0: default, AF_KEEP_OFF: none */
	const struct af_policy *policy;	/* its sha256 is journaled */
	const char *policy_file;	/* NULL: policy->file */
	enum af_backend backend;
	const char *workspace;
	const char *cgroup;
	uint64_t fence_id;
	char *const *argv;		/* the command */
	bool process_events;		/* the fence reports processes */
	const struct af_box *box;	/* the process box (box.h), or NULL */
	bool resume;			/* continue the journal's chain (adoption): no
					 * fence_start; the caller writes its gap */
	pid_t run_pid;			/* the run that starts the command, when it is
					 * not us (the daemon holds its fence); 0: us */
	af_label_fn label_of;		/* NULL: no labels */
	void *label_ctx;
	const char *tag;		/* members every record carries (journal.h
					 * af_journal_set_tag): an attach's container */
};

/* Create the journal and write its fence_start record. */
int af_recorder_open(const struct af_recorder_opts *o, struct af_recorder **out,
		     char *why, size_t why_size);

/* The command started as pid (its parent: us). */
void af_recorder_root(struct af_recorder *r, pid_t pid, char *const argv[]);

/* The command started as pid by parent (run, when the daemon holds the
 * fence): parent's fork of it is not the agent's. */
void af_recorder_root_from(struct af_recorder *r, pid_t pid, pid_t parent, char *const argv[]);

/* Drops up to total are accounted for (the gap record of an adoption
 * said them): no lost record for them. */
void af_recorder_lost_base(struct af_recorder *r, uint64_t total);
/* Free without writing fence_end (the caller closed the journal). */
void af_recorder_free(struct af_recorder *r);

/* The journal, for records of the supervisor's own (policy_update, gap). */
struct af_journal *af_recorder_journal(struct af_recorder *r);

/* Who names the container of each process record (a pod's fence:
 * k8s.c); fn NULL: nobody. */
void af_recorder_set_ctag(struct af_recorder *r, af_ctag_fn fn, void *ctx);

/* One ring buffer event: update the process tree, write its record. */
void af_recorder_event(struct af_recorder *r, const void *data, size_t size);

/* Events the kernel could not deliver so far (a running total): the
 * increase since the last call becomes a "lost" record. */
void af_recorder_lost(struct af_recorder *r, uint64_t total);

/* A file effect the kernel refused (EACCES, EPERM, EROFS at the call's
 * exit): its path as journaled, and a denial line like a decision's
 * ("denied unlink /etc/x (rm pid 5)"). False for any other event. On
 * the Landlock backend these exits are the only trace of a refusal
 * (Landlock reports nothing to the fence); whose refusal it was is the
 * caller's to decide (outside the writable paths: the fence's). */
bool af_fileop_refusal(const void *data, size_t size, char *path, size_t pn, char *line,
		       size_t n);

/* Hand every record written to fn as well (journal.h's tap). */
void af_recorder_tap(struct af_recorder *r, af_journal_tap_fn fn, void *ctx);

/* The seq of the next record. */
uint64_t af_recorder_next_seq(void *r);

/* Write fence_end with run's exit code (128+N: signal N), close the journal,
 * and print the summary (unless quiet). Returns 0 or -errno of the
 * first journal write that failed. */
int af_recorder_close(struct af_recorder *r, int exit_code, bool quiet);

#define AF_SYSTEM_JOURNAL_DIR "/var/log/agentfence"

/* Default journal: $XDG_STATE_HOME/agentfence/<run-id>.jsonl; with
 * XDG_STATE_HOME unset, AF_SYSTEM_JOURNAL_DIR/<run-id>.jsonl for root
 * (a system fence) and ~/.local/state/agentfence/... for other users. */
int af_journal_default_path(char *out, size_t n);

/* The writable root of the policy that path (which need not exist yet:
 * its nearest existing ancestor counts) lies beneath, or NULL. */
const char *af_policy_writable_root(const struct af_policy *p, const char *path);

#endif /* AF_RECORDER_H */
