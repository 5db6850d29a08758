/* SPDX-License-Identifier: GPL-2.0 */
/* Decode the fence's ring buffer events into lines for people. */
#ifndef AF_EVENTS_H
#define AF_EVENTS_H

#include <stddef.h>

/* "denied write /etc/evil (bash pid 1234)"; returns -EINVAL for a
 * malformed event (wrong size or type), which callers count. */
int af_event_format(const void *data, size_t size, char *buf, size_t n);

/* The path of a file event's object: names (leaf first, NUL-separated)
 * reversed and joined, under the mount point of device dev. */
int af_event_path(unsigned int kdev, const char *names, size_t len, char *buf, size_t n);

#endif /* AF_EVENTS_H */
