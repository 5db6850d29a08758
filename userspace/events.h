/* SPDX-License-Identifier: GPL-2.0 */
/* Decode the fence's events: the only userspace code that knows their
 * layouts (bpf/fence.h, bpf/events.h) beyond the common header. Pure:
 * no loader, no command, no libbpf. */
#ifndef AF_EVENTS_H
#define AF_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct af_decision;

/* "denied write /etc/evil (bash pid 1234)"; returns -EINVAL for a
 * malformed event (wrong size or type), which callers count. */
int af_event_format(const void *data, size_t size, char *buf, size_t n);

/* The same for one kind: AF_EV_NET, AF_EV_DNS. */
int af_net_event_format(const void *data, size_t size, char *buf, size_t n);
int af_dns_event_format(const void *data, size_t size, char *buf, size_t n);

/* The decision (op, verdict) of a decision event (file, sys, net, dns),
 * NULL for any other event or a short one. */
const struct af_decision *af_event_decision(const void *data, size_t size);

/* A packed file effect record (AF_EV_FILEOP_PK, bpf/events.h) of size
 * bytes as struct af_ev_fileop into out (sizeof(struct af_ev_fileop)
 * bytes): the unpacked size (AF_FILEOP_SHORT, AF_FILEOP_CO_SIZE or the
 * whole struct), or -EINVAL for a record whose lengths do not add up. */
long af_fileop_unpack(const void *data, size_t size, void *out);

/* What a traced system call (af_ev_fileop) does: "unlink", "mkdir",
 * "create/open for write"...; whether it is symlink(2) (path is the
 * link's target, path2 the new name). */
const char *af_fileop_verb(int sysno, uint32_t flags);
bool af_fileop_is_symlink(int sysno);

/* The path of a file event's object: names (leaf first, NUL-separated)
 * reversed and joined, under the mount point of device dev. */
int af_event_path(unsigned int kdev, const char *names, size_t len, char *buf, size_t n);
/* Names leaf first that run up to the task's root (AF_EVF_PATH_ROOTED):
 * the path as the task sees it, "(unreachable)" first when outside it. */
int af_event_rooted_path(const char *names, size_t len, bool unreachable, char *buf, size_t n);

/* Names of addresses for event lines (the DNS stub's answers). */
typedef const char *(*af_event_namer)(void *ctx, int family, const uint8_t *addr);
void af_event_set_namer(af_event_namer fn, void *ctx);

#endif /* AF_EVENTS_H */
