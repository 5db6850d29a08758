/* SPDX-License-Identifier: GPL-2.0 */
/* The supervisor: one event loop that owns fences (run: one, a daemon:
 * many). A supervised fence is a cgroup, the BPF fence on it, its
 * recorder (journal), DNS stub and live stream; the supervisor routes
 * each fence's events to its recorder and, unless quiet, its denials to
 * stderr. Commands (cmd_run.c) parse argv and call these; they print
 * their own errors with af_err(). */
#ifndef AF_SUPERVISOR_H
#define AF_SUPERVISOR_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "backend.h"
#include "policy.h"
#include "recorder.h"

struct af_sup;
struct af_sup_fence;
struct af_loop;

/* A denial line, as run prints it ("agentfence: LINE"). */
typedef void (*af_denial_fn)(void *ctx, const char *line);

/* What a fence is made of. */
struct af_fence_spec {
	const char *name;		/* its cgroup: agentfence/<name> */
	const struct af_policy *policy;	/* kept by the caller while the fence lives */
	const char *policy_file;	/* journaled as the policy's file; NULL: policy->file */
	enum af_backend backend;	/* af_sup_choose_backend's */
	bool strict;			/* refuse what this kernel's fence cannot cover */
	bool quiet;			/* no denials on stderr, no summary */
	int denials;			/* enum af_denials_mode: how stderr gets them */
	const char *journal;		/* NULL: no journal */
	uint64_t journal_max;		/* rotation size; 0: default */
	uint64_t journal_keep_bytes;	/* retention (journal.h); 0: default, AF_KEEP_OFF */
	uint64_t journal_keep_days;
	const char *workspace;
	char *const *argv;		/* the command, journaled and streamed */
	af_label_fn label_of;		/* tool-call labels (cmds.h: af_exec_label) */
	void *label_ctx;
	/* The command's process box (box.h), journaled; the supervisor
	 * relays its pty, sends it SIGWINCH and, since the command has a
	 * session of its own, forwards every signal; it closes the pty
	 * when the fence comes down. NULL: no box. */
	struct af_box *box;
	/* Denial lines go here (the daemon sends them to the run that
	 * asked for the fence); NULL: stderr, unless quiet. */
	af_denial_fn on_denial;
	void *denial_ctx;
	/* Fence this existing cgroup (an absolute path beneath the cgroup2
	 * mount) instead of making agentfence/<name>: closing the fence
	 * then leaves the cgroup and what runs in it (detach). */
	const char *cgroup;
	/* The policy's document, stored with the fence for adoption
	 * (optional), and ${HOME} it was read with (NULL: $HOME). */
	const void *policy_bytes;
	size_t policy_len;
	const char *home;
	/* Journaled as the box when box is NULL: the box of a command
	 * someone else starts in the fence (run through the daemon). */
	const struct af_box *journal_box;
	/* Who supervises it, for status: the daemon's pid when it holds
	 * the fence for a run of that pid. 0: this process. */
	pid_t client;
	/* Members every journal record carries (journal.h
	 * af_journal_set_tag): an attach's container. NULL: none. */
	const char *journal_tag;
};

/* Block the signals the supervisor handles (SIGCHLD, SIGINT, SIGTERM,
 * SIGHUP, SIGQUIT, SIGWINCH) before anything exists to clean up: one that comes
 * during set-up waits for the loop. Makes the caller a subreaper. */
int af_sup_open(struct af_sup **out);
void af_sup_close(struct af_sup *s);	/* the signal mask as it was */

/* The backend to use for want (NONE: the best) and policy p; prints why
 * not and returns -ENOTSUP when none can enforce what is asked. */
int af_sup_choose_backend(enum af_backend want, const struct af_policy *p, bool strict,
			  enum af_backend *out);

/* Where the journal goes: arg (relative to the cwd), or the default
 * path (recorder.h). It must not exist and must lie outside every
 * writable path of p, where the fenced command could edit it. Prints
 * why not. */
int af_sup_journal_path(const char *arg, const struct af_policy *p, char *out, size_t n);

/* Create the fence: cgroup, DNS stub, BPF fence, journal, stream, and
 * the death watch (watch.h: policy->on_supervisor_exit). Prints
 * what failed and returns -errno, or AF_SUP_REFUSED when spec->strict
 * refuses what this kernel's fence does not cover. */
#define AF_SUP_REFUSED	1
int af_sup_fence_open(struct af_sup *s, const struct af_fence_spec *spec,
		      struct af_sup_fence **out);

/* What runs in the fence's cgroup from its first instruction: fn, in a
 * child, with the signal mask the caller had (fn must not return). The
 * child's pid, its exit ends af_sup_wait; -errno on failure. */
typedef void (*af_child_fn)(void *ctx, const sigset_t *oldmask);
pid_t af_sup_fence_spawn(struct af_sup_fence *f, af_child_fn fn, void *ctx);

/* Serve events, signals (forwarded to the fence's command) and streams
 * until the command exits; its wait(2) status in *status. */
int af_sup_wait(struct af_sup *s, struct af_sup_fence *f, int *status);

/* Kill what is left in the fence, remove its cgroup, journal its end
 * with exit_code, close it. Returns 0, or -errno when the journal is
 * incomplete (said on stderr). */
int af_sup_fence_close(struct af_sup_fence *f, int exit_code);

/* Its fence id (the cgroup's id) and cgroup path. */
uint64_t af_sup_fence_id(const struct af_sup_fence *f);
const char *af_sup_fence_cgroup(const struct af_sup_fence *f);
/* Its journal, for records of the caller's own (attach); NULL: none. */
struct af_journal *af_sup_fence_journal(struct af_sup_fence *f);
/* Its recorder (recorder.h af_recorder_set_ctag); NULL: no journal. */
struct af_recorder *af_sup_fence_recorder(struct af_sup_fence *f);

/* A fence another supervisor (the daemon) holds, its cgroup at cgpath:
 * this one only starts the command in it (af_sup_fence_spawn), relays
 * its pty and signals and waits for it (af_sup_wait). Closing it
 * closes the pty and the cgroup's descriptor, nothing else: the
 * holder kills what is left and journals the end. */
int af_sup_fence_remote(struct af_sup *s, const char *cgpath, uint64_t id, struct af_box *box,
			char *const *argv, struct af_sup_fence **out);

/* Called in the parent between fork and the child's first step: the
 * child waits until gate returns; when it fails, the child is killed
 * and spawn fails with its error. (run through the daemon: tell the
 * daemon the command's pid before the command does anything.) */
typedef int (*af_gate_fn)(void *ctx, pid_t child);
void af_sup_fence_set_gate(struct af_sup_fence *f, af_gate_fn fn, void *ctx);

/* The command someone else started in the fence (run through the
 * daemon): pid, its parent's pid. Journaled like a spawn's. */
void af_sup_fence_set_root(struct af_sup_fence *f, pid_t pid, pid_t parent);

/* Do not collect dead fences (af_fence_gc) at each fence's opening:
 * the caller does, now and then (the daemon, which opens many). */
void af_sup_no_gc(struct af_sup *s);
/* Unmap the ring buffers of fences that had no event since the last
 * call (af_fence_trim): a daemon of many quiet fences, now and then. */
void af_sup_trim(struct af_sup *s);

/* The supervisor's loop, for more descriptors (the control socket). */
struct af_loop *af_sup_loop(struct af_sup *s);

/* Serve every fence's events, DNS stubs and streams until SIGTERM,
 * SIGINT, SIGHUP or SIGQUIT: returns that signal's number, or -errno.
 * Exited children are reaped meanwhile. (The daemon's loop.) */
int af_sup_serve(struct af_sup *s);

/* The fences held, in no particular order: NULL after the last. */
struct af_sup_fence *af_sup_fence_next(struct af_sup *s, struct af_sup_fence *prev);
struct af_sup_fence *af_sup_fence_find(struct af_sup *s, uint64_t id);

/* Denials by kind (metrics): what an op (bpf/fence.h enum af_op) is
 * about; af_deny_kinds[kind] is its name ("file", "network", ...). */
enum { AF_DK_FILE, AF_DK_NETWORK, AF_DK_UNIX, AF_DK_DNS, AF_DK_PROCESS, AF_DK_SYSTEM, AF_DK_MAX };
extern const char *const af_deny_kinds[AF_DK_MAX];
unsigned int af_deny_kind(unsigned int op);

/* What status shows of a fence. */
struct af_sup_fence_info {
	uint64_t id;
	const char *cgroup;
	const char *policy;		/* its name */
	const char *sha256;		/* the policy's hash */
	const char *backend;
	const char *journal;		/* "" without one */
	pid_t root;			/* the command; 0: none yet */
	pid_t client;			/* the run it is held for; 0: none */
	bool owned;			/* we made its cgroup (stop removes it) */
	uint64_t events, denied, audited, dropped;
	uint64_t denied_kind[AF_DK_MAX];	/* denied, by af_deny_kind */
};
void af_sup_fence_info(const struct af_sup_fence *f, struct af_sup_fence_info *out);

/* Swap the fence's policy for p (kept by the caller while the fence
 * lives): compiled, applied at once, journaled with both hashes. Says
 * on stderr what failed; the old policy stays in force then. */
int af_sup_fence_update(struct af_sup_fence *f, const struct af_policy *p, const char *file,
			const void *bytes, size_t len);

/* Take up an orphaned fence (fence.h af_fence_adopt): resume its
 * journal's chain, journal the events the kernel kept and a "gap"
 * record with how many were lost while nobody read, restart its DNS
 * stub on the fence's ports (names fail closed until then), start its
 * stream and watcher, thaw it, and journal that. Says what failed; the
 * fence then stays as it was (enforced, frozen if it was). */
struct af_adopt_spec {
	uint64_t id;
	const struct af_policy *policy;	/* kept by the caller while the fence lives */
	const char *policy_file;
	const char *journal;		/* NULL: none */
	const char *cgroup;
	enum af_backend backend;
	bool owned;
	uint16_t dns_port4, dns_port6;
	const char *workspace, *home;
	pid_t old_supervisor;
	char *const *argv;
	af_denial_fn on_denial;
	void *denial_ctx;
	const char *journal_tag;	/* as af_fence_spec's */
};
int af_sup_fence_adopt(struct af_sup *s, const struct af_adopt_spec *a, struct af_sup_fence **out);

/* Stop reading the fence and forget it; its enforcement stays (and its
 * watcher applies on_supervisor_exit only if we die, not now). */
void af_sup_fence_release(struct af_sup_fence *f);

/* Close a fence without touching its cgroup nor what runs there:
 * enforcement is removed (detach). Only for fences of a cgroup the
 * supervisor did not make (spec.cgroup): -EPERM otherwise. */
int af_sup_fence_detach(struct af_sup_fence *f);

#endif /* AF_SUPERVISOR_H */
