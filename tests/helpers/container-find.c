// SPDX-License-Identifier: GPL-2.0
/*
 * container-find [--runtime R] [--namespace NS] REF: af_container_find()
 * against the real runtimes, for tests/host/container.sh. Prints
 * "RUNTIME ID NAME PID CGROUP", or the reason and exits 1 (ENOENT: 3,
 * ENOTUNIQ: 4, ESRCH: 5) so the test can tell the failures apart.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "container.h"

int main(int argc, char **argv)
{
	enum af_runtime rt = AF_RUNTIME_ANY;
	const char *ns = NULL;
	struct af_container c;
	char why[2048];
	int i, err;

	for (i = 1; i + 1 < argc && argv[i][0] == '-'; i += 2) {
		if (!strcmp(argv[i], "--runtime") && !af_runtime_from_name(argv[i + 1], &rt))
			continue;
		if (!strcmp(argv[i], "--namespace")) {
			ns = argv[i + 1];
			continue;
		}
		break;
	}
	if (i != argc - 1) {
		fprintf(stderr, "usage: container-find [--runtime docker|containerd|podman] [--namespace NS] REF\n");
		return 2;
	}
	err = af_container_find(argv[i], rt, ns, &c, why, sizeof(why));
	if (err) {
		printf("%s\n", why);
		return err == -ENOENT ? 3 : err == -ENOTUNIQ ? 4 : err == -ESRCH ? 5 : 1;
	}
	printf("%s %s %s %d %s\n", af_runtime_name(c.e.runtime), c.e.id, c.e.name, c.e.pid, c.cgroup);
	printf("via %s\n", c.via);
	return 0;
}
