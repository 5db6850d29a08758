/* SPDX-License-Identifier: GPL-2.0 */
/* The process tree of a fence, built from its fork, exec and exit
 * events and seeded with the fence's root process: who ran what, under
 * whom, for every record of the journal. */
#ifndef AF_PROVENANCE_H
#define AF_PROVENANCE_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>

#define AF_ANCESTRY_MAX 64

struct af_proc {
	pid_t pid, ppid;
	char *argv;		/* NUL-separated, as the kernel keeps it */
	size_t argv_len;
	char *label;		/* tool-call label, NULL when none */
	/* 1 + the seq of the exec record that holds argv (a forked child's:
	 * its parent's); 0: none (the root before its exec). Records name
	 * it rather than repeat argv. */
	uint64_t exec_rec;
	bool exited;
	struct af_proc *next;	/* hash chain */
};

struct af_prov;

struct af_prov *af_prov_new(void);
void af_prov_free(struct af_prov *p);

/* The fence's first process (its parent is outside the fence). */
int af_prov_root(struct af_prov *p, pid_t pid, pid_t ppid, char *const argv[]);
/* A new process inherits its parent's command line and label until it
 * execs; a reused pid starts afresh. */
int af_prov_fork(struct af_prov *p, pid_t parent, pid_t child);
int af_prov_exec(struct af_prov *p, pid_t pid, pid_t ppid, const char *argv, size_t len);
void af_prov_exit(struct af_prov *p, pid_t pid);
/* The tool call pid (and what it starts from now on) belongs to. */
int af_prov_label(struct af_prov *p, pid_t pid, const char *label);

/* The process, or NULL if the tree never saw it. */
const struct af_proc *af_prov_get(const struct af_prov *p, pid_t pid);
/* The exec record of pid's argv is the one of seq: see exec_rec. */
void af_prov_exec_record(struct af_prov *p, pid_t pid, uint64_t seq);

/* pid, its parent, ... up to the root process: how many were stored
 * (at most max); stops at a process the tree does not know. */
int af_prov_ancestry(const struct af_prov *p, pid_t pid, pid_t *out, int max);

/* Processes seen (root, forks). */
unsigned long af_prov_count(const struct af_prov *p);

#endif /* AF_PROVENANCE_H */
