// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "provenance.h"

/* The table grows with the tree: a daemon holds hundreds of fences, most
 * with a handful of processes (a pod's sleep, an idle agent), so a fixed
 * table big enough for a busy one (4096 buckets: 32 KiB) was most of a
 * fence's memory. Doubled when the chains average more than two nodes. */
#define BUCKETS_MIN 16

struct af_prov {
	struct af_proc **b;
	size_t nb;			/* a power of two */
	size_t nodes;			/* in the table now */
	pid_t root;
	unsigned long count;
};

struct af_prov *af_prov_new(void)
{
	struct af_prov *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->b = calloc(BUCKETS_MIN, sizeof(*p->b));
	if (!p->b) {
		free(p);
		return NULL;
	}
	p->nb = BUCKETS_MIN;
	return p;
}

static void proc_free(struct af_proc *n)
{
	free(n->argv);
	free(n->label);
	free(n);
}

void af_prov_free(struct af_prov *p)
{
	size_t i;

	if (!p)
		return;
	for (i = 0; i < p->nb; i++) {
		while (p->b[i]) {
			struct af_proc *n = p->b[i];

			p->b[i] = n->next;
			proc_free(n);
		}
	}
	free(p->b);
	free(p);
}

static size_t bucket(const struct af_prov *p, pid_t pid)
{
	return (unsigned int)pid & (p->nb - 1);
}

/* Twice the buckets; on failure the table stays as it is (longer chains,
 * still correct). */
static void grow(struct af_prov *p)
{
	size_t nb = p->nb * 2, i;
	struct af_proc **b = calloc(nb, sizeof(*b));

	if (!b)
		return;
	for (i = 0; i < p->nb; i++) {
		while (p->b[i]) {
			struct af_proc *n = p->b[i];
			size_t k = (unsigned int)n->pid & (nb - 1);

			p->b[i] = n->next;
			n->next = b[k];
			b[k] = n;
		}
	}
	free(p->b);
	p->b = b;
	p->nb = nb;
}

static struct af_proc **slot(const struct af_prov *p, pid_t pid)
{
	struct af_proc **s = &p->b[bucket(p, pid)];

	while (*s && (*s)->pid != pid)
		s = &(*s)->next;
	return s;
}

const struct af_proc *af_prov_get(const struct af_prov *p, pid_t pid)
{
	return *slot(p, pid);
}

static int set_argv(struct af_proc *n, const char *argv, size_t len)
{
	char *a = malloc(len + 1);

	if (!a)
		return -ENOMEM;
	memcpy(a, argv, len);
	a[len] = 0;
	free(n->argv);
	n->argv = a;
	n->argv_len = len;
	return 0;
}

/* A fresh node for pid, replacing a process that used the pid before. */
static struct af_proc *add(struct af_prov *p, pid_t pid, pid_t ppid)
{
	struct af_proc **s = slot(p, pid), *n = *s;

	if (n) {
		*s = n->next;
		proc_free(n);
		p->nodes--;
	}
	n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	if (p->nodes >= 2 * p->nb)
		grow(p);
	n->pid = pid;
	n->ppid = ppid;
	n->next = p->b[bucket(p, pid)];
	p->b[bucket(p, pid)] = n;
	p->nodes++;
	p->count++;
	return n;
}

int af_prov_root(struct af_prov *p, pid_t pid, pid_t ppid, char *const argv[])
{
	struct af_proc *n = add(p, pid, ppid);
	size_t len = 0, i, l;
	char *buf;

	if (!n)
		return -ENOMEM;
	p->root = pid;
	for (i = 0; argv[i]; i++)
		len += strlen(argv[i]) + 1;
	buf = malloc(len + 1);
	if (!buf)
		return -ENOMEM;
	for (len = 0, i = 0; argv[i]; i++) {
		l = strlen(argv[i]) + 1;
		memcpy(buf + len, argv[i], l);
		len += l;
	}
	n->argv = buf;
	n->argv_len = len;
	return 0;
}

int af_prov_fork(struct af_prov *p, pid_t parent, pid_t child)
{
	const struct af_proc *par = af_prov_get(p, parent);
	struct af_proc *n;

	/* The root's own fork (by the supervisor, into the fence) is
	 * already known from af_prov_root. */
	if (child == p->root && af_prov_get(p, child))
		return 0;
	n = add(p, child, parent);
	if (!n)
		return -ENOMEM;
	if (par && par->label && !(n->label = strdup(par->label)))
		return -ENOMEM;
	n->exec_rec = par ? par->exec_rec : 0;
	return par && par->argv ? set_argv(n, par->argv, par->argv_len) : 0;
}

int af_prov_exec(struct af_prov *p, pid_t pid, pid_t ppid, const char *argv, size_t len)
{
	struct af_proc *n = *slot(p, pid);

	if (!n) {
		n = add(p, pid, ppid);
		if (!n)
			return -ENOMEM;
	}
	n->ppid = ppid;
	return set_argv(n, argv, len);
}

void af_prov_exec_record(struct af_prov *p, pid_t pid, uint64_t seq)
{
	struct af_proc *n = *slot(p, pid);

	if (n)
		n->exec_rec = seq + 1;
}

int af_prov_label(struct af_prov *p, pid_t pid, const char *label)
{
	struct af_proc *n = *slot(p, pid);
	char *l;

	if (!n)
		return -ENOENT;
	l = strdup(label);
	if (!l)
		return -ENOMEM;
	free(n->label);
	n->label = l;
	return 0;
}

void af_prov_exit(struct af_prov *p, pid_t pid)
{
	struct af_proc *n = *slot(p, pid);

	/* The node stays, small: its children's records still name it as
	 * an ancestor. Its command line and label are done with (children
	 * copied them at fork). */
	if (!n)
		return;
	n->exited = true;
	free(n->argv);
	n->argv = NULL;
	n->argv_len = 0;
	free(n->label);
	n->label = NULL;
}

int af_prov_ancestry(const struct af_prov *p, pid_t pid, pid_t *out, int max)
{
	const struct af_proc *n;
	int k = 0;

	while (k < max && (n = af_prov_get(p, pid))) {
		out[k++] = pid;
		if (pid == p->root)
			break;
		pid = n->ppid;
	}
	return k;
}

unsigned long af_prov_count(const struct af_prov *p)
{
	return p->count;
}
