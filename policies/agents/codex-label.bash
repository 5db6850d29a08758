# SPDX-License-Identifier: GPL-2.0
# Labels each of Codex's shell tool calls in the agentfence journal with
# Codex's own call id. Codex runs a call's command as `bash -lc COMMAND`
# with CODEX_TOOL_CALL_ID in its environment; bash sources $BASH_ENV in
# every non-interactive shell, so with BASH_ENV naming this file (set in
# ~/.codex/config.toml, codex-config.toml here) the shell runs the
# command again, once, as
#   agentfence exec --label 'tool=Bash id=CALL_ID' -- bash -c COMMAND
# and the fence labels everything it does by fork lineage. Outside a
# fence, agentfence exec just runs the command. Codex's PreToolUse hook
# cannot rewrite its exec_command tool (0.171), hence this.
if [ -n "${CODEX_TOOL_CALL_ID-}" ] && [ -n "${BASH_EXECUTION_STRING-}" ] &&
	[ "${AF_LABELLED-}" != "$CODEX_TOOL_CALL_ID" ]; then
	case $CODEX_TOOL_CALL_ID in
	*[!A-Za-z0-9_.-]*) ;;
	*)
		export AF_LABELLED="$CODEX_TOOL_CALL_ID"
		if command -v "${AGENTFENCE:-agentfence}" >/dev/null 2>&1; then
			exec "${AGENTFENCE:-agentfence}" exec --label "tool=Bash id=$CODEX_TOOL_CALL_ID" -- \
				"$BASH" -c "$BASH_EXECUTION_STRING"
		fi
		;;
	esac
fi
