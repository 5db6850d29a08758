// SPDX-License-Identifier: GPL-2.0
/*
 * agentfence hook AGENT: the agents' own PreToolUse hook (Claude Code's
 * settings.json hooks, Codex's config.toml [hooks]; both send the same
 * JSON), which rewrites a shell tool call's command to run as
 *   agentfence exec --label 'tool=Bash id=TOOL_USE_ID' -- SHELL -c 'COMMAND'
 * so that the fence's journal labels what the command does, by fork
 * lineage in the kernel's events, with the agent's own tool-call id.
 *
 * The label is attribution, not enforcement (the fence holds whatever
 * the command is): input this cannot read leaves the call unchanged,
 * with a line on stderr, and never blocks the agent.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmds.h"
#include "json.h"
#include "json_read.h"
#include "util.h"

const char af_usage_hook[] =
	"Usage: agentfence hook claude-code|codex\n"
	"\n"
	"A PreToolUse hook for the agent: reads the hook's JSON on stdin and, for a\n"
	"shell tool call (tool_name Bash), prints the hook output that runs its command\n"
	"under 'agentfence exec --label \"tool=Bash id=TOOL_USE_ID\"', so the fence's\n"
	"journal attributes the command's effects to the tool call. Other tool calls are\n"
	"left as they are (no output). Never blocks a call: what it cannot read it leaves\n"
	"unchanged, with a line on stderr. Set-up: Documentation/agents.md.\n";

#define HOOK_INPUT_MAX	(4 << 20)	/* the agents cap a command far below this */
#define HOOK_ID_MAX	128

/* Print s single-quoted for a POSIX shell. */
static void shell_quote(FILE *f, const char *s)
{
	fputc('\'', f);
	for (; *s; s++) {
		if (*s == '\'')
			fputs("'\\''", f);
		else
			fputc(*s, f);
	}
	fputc('\'', f);
}

/* A tool-call id as the agents make them (toolu_01..., call_...): it
 * goes into a label and a command line, so nothing else is taken. */
static bool valid_id(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-' || s[i] == '.'))
			return false;
	return i > 0 && i < HOOK_ID_MAX;
}

/* The shell the command was written for: the user's, when it is one
 * the agents write for; else bash. */
static const char *shell_of(void)
{
	const char *sh = getenv("SHELL"), *base;

	if (!sh || sh[0] != '/')
		return "bash";
	base = strrchr(sh, '/') + 1;
	return !strcmp(base, "bash") || !strcmp(base, "zsh") || !strcmp(base, "sh") ? sh : "bash";
}

static char *read_all(FILE *f, size_t *len)
{
	size_t cap = 65536, n = 0, got;
	char *buf = malloc(cap + 1), *nb;

	while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
		n += got;
		if (n == cap) {
			if (cap >= HOOK_INPUT_MAX) {
				free(buf);
				errno = E2BIG;
				return NULL;
			}
			cap *= 2;
			nb = realloc(buf, cap + 1);
			if (!nb)
				free(buf);
			buf = nb;
		}
	}
	if (buf)
		buf[n] = '\0';
	*len = n;
	return buf;
}

/* Leave the call as it is, saying why on stderr (the agents show a
 * hook's stderr in their debug output). */
static int unchanged(const char *why)
{
	af_warn("tool call left unlabelled: %s", why);
	return AF_EXIT_OK;
}

int cmd_hook(int argc, char **argv)
{
	static const char prefix_tail[] = " exec --label ";
	char tool[64], id[HOOK_ID_MAX], self[PATH_MAX], label[HOOK_ID_MAX + 32];
	const char *input_obj, *cmd_val;
	size_t len, input_len, cmd_len;
	char *in, *command, *rewritten = NULL;
	size_t rlen = 0;
	ssize_t n;
	FILE *m;

	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		fputs(af_usage_hook, stdout);
		return AF_EXIT_OK;
	}
	if (argc != 2 || (strcmp(argv[1], "claude-code") && strcmp(argv[1], "codex"))) {
		fputs(af_usage_hook, stderr);
		return AF_EXIT_USAGE;
	}
	in = read_all(stdin, &len);
	if (!in)
		return unchanged(strerror(errno));
	if (json_get_str(in, len, "tool_name", tool, sizeof(tool)) || strcmp(tool, "Bash")) {
		free(in);
		return AF_EXIT_OK;
	}
	if (json_get_str(in, len, "tool_use_id", id, sizeof(id)) || !valid_id(id)) {
		free(in);
		return unchanged("no tool_use_id of letters, digits, '_', '-' and '.'");
	}
	if (json_find(in, len, "tool_input", &input_obj, &input_len) || input_obj[0] != '{' ||
	    json_find(input_obj, input_len, "command", &cmd_val, &cmd_len) || cmd_val[0] != '"') {
		free(in);
		return unchanged("no tool_input.command string");
	}
	/* json_unescape keeps 4 bytes of room for a \\u escape. */
	command = malloc(cmd_len + 8);
	if (!command) {
		free(in);
		return unchanged("out of memory");
	}
	json_unescape(cmd_val + 1, cmd_len - 2, command, cmd_len + 8);
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0) {
		free(command);
		free(in);
		return unchanged("cannot find this program (/proc/self/exe)");
	}
	self[n] = '\0';
	snprintf(label, sizeof(label), "tool=Bash id=%s", id);

	m = open_memstream(&rewritten, &rlen);
	if (!m) {
		free(command);
		free(in);
		return unchanged("out of memory");
	}
	shell_quote(m, self);
	fputs(prefix_tail, m);
	shell_quote(m, label);
	fputs(" -- ", m);
	shell_quote(m, shell_of());
	fputs(" -c ", m);
	shell_quote(m, command);
	fclose(m);

	/* The tool's input as it came, the command replaced: the agents
	 * take updatedInput as the whole input. */
	fputs("{\"hookSpecificOutput\":{\"hookEventName\":\"PreToolUse\",\"updatedInput\":", stdout);
	fwrite(input_obj, 1, cmd_val - input_obj, stdout);
	json_str(stdout, rewritten);
	fwrite(cmd_val + cmd_len, 1, input_len - (cmd_val - input_obj) - cmd_len, stdout);
	fputs("}}\n", stdout);
	free(rewritten);
	free(command);
	free(in);
	return fflush(stdout) ? AF_EXIT_FAIL : AF_EXIT_OK;
}
