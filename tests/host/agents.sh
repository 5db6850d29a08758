# SPDX-License-Identifier: GPL-2.0
# The real agents, unmodified (Claude Code and Codex from npm, pinned in
# scripts/agents), fenced as a normal user the way sudo starts them,
# driven by a scripted model on loopback (tests/helpers/modelserver.py)
# that hands each one tool call: write a file in the workspace, append to
# ~/.bashrc, write outside, connect to a loopback port the policy does not
# allow. And the user switch itself: SUDO_UID, --user, root only when
# asked, the one line a non-root user gets.
source "$(dirname "$0")/../lib.sh"

PY=/usr/bin/python3
AGENT_USER=afagent
BASE=/var/tmp/agentfence-agents

# The agents start in seconds on the host, the fence in about one more;
# npm's cold install fetches from the registry.
af_limit test_claude_code_fenced_as_the_user 90
af_limit test_codex_fenced_as_the_user 90
af_limit test_npm_install_cold_and_warm_cache 120
af_limit test_cargo_cache_under_profiles 90

# A user to run as, and a fresh home and workspace for it under $BASE,
# not under /tmp (which the profiles make writable). Sets D, H, WS, UID_,
# GID_ and SUDO (the environment sudo gives).
as_user() {
	id -u "$AGENT_USER" >/dev/null 2>&1 ||
		useradd --system --shell /bin/bash --home-dir "$BASE/nohome" --no-create-home "$AGENT_USER" ||
		fail "cannot create the test user $AGENT_USER"
	mkdir -p "$BASE"
	chmod 755 "$BASE"
	D=$(mktemp -d "$BASE/t.XXXXXX")
	chmod 755 "$D"
	trap 'rm -rf "$D"' EXIT
	H=$D/home
	WS=$D/ws
	mkdir -p "$H" "$WS"
	printf '# the user'"'"'s own\n' >"$H/.bashrc"
	chown -R "$AGENT_USER:" "$H" "$WS"
	usermod -d "$H" "$AGENT_USER" || fail "usermod -d $H"
	UID_=$(id -u "$AGENT_USER")
	GID_=$(id -g "$AGENT_USER")
	SUDO=(env SUDO_UID="$UID_" SUDO_GID="$GID_" SUDO_USER="$AGENT_USER" HOME=/root)
}

need_agents() {
	local why
	why=$("$TOP/scripts/agents" fetch 2>&1) || skip "the agents cannot be installed: $why"
	BIN=$("$TOP/scripts/agents" path)
}

# A listener on a loopback port the policy does not allow (BLOCKED_PORT),
# so that a refused connect is the fence's doing, not a closed port's;
# then the scripted model (MODEL_PORT, MODEL_LOG), whose tool call runs
# TOOL_CMD with BLOCKED replaced by that port.
start_model() {
	local i
	MODEL_LOG=$D/model.log
	$PY "$TOP/tests/helpers/modelserver.py" --port-file "$D/blocked" --log "$D/blocked.log" \
		--command true &
	for ((i = 0; i < 100; i++)); do
		[ -s "$D/blocked" ] && break
		sleep 0.05
	done
	BLOCKED_PORT=$(cat "$D/blocked") || fail "the listener did not start"
	$PY "$TOP/tests/helpers/modelserver.py" --port-file "$D/port" --log "$MODEL_LOG" \
		--command "${TOOL_CMD/BLOCKED/$BLOCKED_PORT}" &
	for ((i = 0; i < 100; i++)); do
		[ -s "$D/port" ] && break
		sleep 0.05
	done
	MODEL_PORT=$(cat "$D/port") || fail "the model server did not start"
	trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$D"' EXIT
}

# The shipped profile with loopback narrowed to the model's port and no
# host rules: nothing but the model server is reachable, and a lookup
# of any name would be a refusal the test sees.
make_policy() {	# profile
	sed -e 's/allow_loopback: true/allow_loopback: false/' \
		-e "s|^    allow:\$|    allow:\n      - {cidr: 127.0.0.1/32, ports: [$MODEL_PORT], protocol: tcp}|" \
		-e '/{host: /d' "$TOP/policies/$1.yaml" >"$D/policy.yaml"
	grep -q "ports: \[$MODEL_PORT\]" "$D/policy.yaml" || fail "test policy: no loopback rule"
}

# What the tool call does: one effect the workspace takes, three the
# fence refuses.
TOOL_CMD='touch made-by-tool; echo pwned >>~/.bashrc; touch ../outside; exec 3<>/dev/tcp/127.0.0.1/BLOCKED; echo connected'

# The journal against what the model server issued: the workspace write
# labelled with the tool call's id; the refusals too; nothing refused
# that no tool call did (the agent's housekeeping).
check_journal() {	# journal id-field
	$PY - "$1" "$MODEL_LOG" "$2" "$WS" "$D" "$BLOCKED_PORT" <<-'EOF'
	import json, os, sys
	jpath, mlog, field, ws, d, blocked = sys.argv[1:]
	ids = [e[field] for e in map(json.loads, open(mlog)) if field in e]
	assert len(ids) == 1, "model server issued %r" % ids
	label = "tool=Bash id=" + ids[0]
	recs = [json.loads(l) for l in open(jpath)]
	# glibc asks nscd first at every user lookup: a socket that is not
	# there, denied, journaled, not printed; not the agent's doing.
	def absent_socket(r):
	    e = r.get("effect", "")
	    return e.startswith("denied unix connect /") and not os.path.exists(e.split(" ")[3])
	bad = [r for r in recs if r.get("verdict") in ("denied", "refused") and "label" not in r
	       and not absent_socket(r)]
	assert not bad, "refusals no tool call caused (housekeeping): %s" % [r.get("effect") for r in bad]
	# The recorder resolves a relative path by the process's cwd, and
	# leaves it relative when the process is gone first (touch is
	# quick): either form names the file in the workspace.
	made = [r for r in recs if r.get("type") == "file" and
	        r.get("path") in (ws + "/made-by-tool", "made-by-tool")]
	assert made, "no file record of the workspace write: %s" % [
	    (r.get("type"), r.get("effect"), r.get("label")) for r in recs
	    if "made-by-tool" in json.dumps(r) or r.get("type") == "lost"]
	assert all(r.get("label") == label for r in made), \
	    "workspace write labelled %r, not %r" % ([r.get("label") for r in made], label)
	refused = [r for r in recs if r.get("verdict") in ("denied", "refused")]
	eff = " | ".join(r.get("effect", "") for r in refused)
	assert any(r.get("effect", "").startswith("refused ") and
	           (d + "/ws/../outside (" in r["effect"] or " ../outside (" in r["effect"]) and
	           r.get("label") == label for r in refused), \
	    "the write outside is not a labelled refusal: " + eff
	assert any(r.get("effect") == "denied connect 127.0.0.1:" + blocked and r.get("label") == label
	           for r in refused), "the connect to port %s is not a labelled refusal: %s" % (blocked, eff)
	start = recs[0]
	assert start["box"]["user"]["uid"] != 0, "fence_start box: %r" % start["box"]
	EOF
}

# The journal is root's, out of the user's reach.
check_journal_owner() {	# journal
	assert_eq 0 "$(stat -c %u "$1")" "journal owner"
	(( (0$(stat -c %a "$1") & 7) == 0 )) || fail "journal mode $(stat -c %a "$1"): others may read it"
	! runuser -u "$AGENT_USER" -- sh -c "echo x >>'$1'" 2>/dev/null || fail "the user can write the journal"
}

# No refusal in a journal but glibc's nscd probe (a socket that is not
# there) and, if given, refusals whose effect contains ALLOWED.
no_refusals() {	# journal [allowed]
	$PY - "$1" "${2:-}" <<-'EOF' || fail "refusals in $1"
	import json, os, sys
	def absent_socket(e):
	    return e.startswith("denied unix connect /") and not os.path.exists(e.split(" ")[3])
	bad = [r.get("effect") for r in map(json.loads, open(sys.argv[1]))
	       if r.get("verdict") in ("denied", "refused") and not absent_socket(r.get("effect", ""))
	       and not (sys.argv[2] and sys.argv[2] in r.get("effect", ""))]
	assert not bad, bad
	EOF
}

test_claude_code_fenced_as_the_user() {
	as_user
	need_agents
	start_model
	make_policy claude-code
	# Claude Code's hook, installed the documented way before the fence
	# (~/.claude/settings.json is protected inside it).
	mkdir -m 0700 "$H/.claude"
	sed "s|/usr/local/bin/agentfence|$AF|" "$TOP/policies/agents/claude-code-settings.json" \
		>"$H/.claude/settings.json"
	chown -R "$AGENT_USER:" "$H/.claude"
	local j=$D/journal.jsonl
	cd "$WS" || fail "cd $WS"
	assert_exit 0 "${SUDO[@]}" ANTHROPIC_BASE_URL="http://127.0.0.1:$MODEL_PORT" \
		ANTHROPIC_API_KEY=sk-test "$AF" run --policy "$D/policy.yaml" --journal "$j" -- \
		"$BIN/claude" -p "make a file" --allowedTools Bash
	assert_contains "$OUT" "All done." "the agent finished its turn"
	assert_eq "$UID_ $GID_" "$(stat -c '%u %g' "$WS/made-by-tool")" "the tool call's file is the user's"
	assert_file_eq "$H/.bashrc" "# the user's own" "~/.bashrc unchanged"
	assert_missing "$D/outside" "the write outside"
	assert_eq "$UID_ 700" "$(stat -c '%u %a' "$H/.claude")" "~/.claude"
	[ -e "$H/.claude/.claude.json" ] || fail "Claude Code's state is not in ~/.claude (CLAUDE_CONFIG_DIR)"
	assert_missing "$H/.claude.json" "~/.claude.json in HOME"
	for d in .npm .cache/pip .cargo/registry .cargo/git; do
		assert_eq "$UID_ 700" "$(stat -c '%u %a' "$H/$d")" "created for the user: ~/$d"
	done
	check_journal "$j" tool_use_id || fail "journal: $(grep -c . "$j") records"
	check_journal_owner "$j"
	assert_no_leftovers
}

test_codex_fenced_as_the_user() {
	as_user
	need_agents
	start_model
	make_policy codex
	# Codex's own configuration, as a user writes it: the scripted
	# provider, the BASH_ENV labeller, and what Codex fetches by itself
	# at start turned off (github.com, ab.chatgpt.com: not loopback).
	mkdir -p "$H/.codex"
	cat >"$H/.codex/config.toml" <<-TOML
	model = "gpt-test"
	model_provider = "scripted"
	check_for_update_on_startup = false
	[model_providers.scripted]
	name = "scripted"
	base_url = "http://127.0.0.1:$MODEL_PORT/v1"
	env_key = "SCRIPTED_API_KEY"
	wire_api = "responses"
	[shell_environment_policy]
	set = { BASH_ENV = "$TOP/policies/agents/codex-label.bash", AGENTFENCE = "$AF" }
	[features]
	plugins = false
	[analytics]
	enabled = false
	TOML
	chown -R "$AGENT_USER:" "$H/.codex"
	local j=$D/journal.jsonl
	cd "$WS" || fail "cd $WS"
	assert_exit 0 "${SUDO[@]}" SCRIPTED_API_KEY=sk-test "$AF" run --policy "$D/policy.yaml" \
		--journal "$j" -- "$BIN/codex" exec --skip-git-repo-check \
		--dangerously-bypass-approvals-and-sandbox "make a file"
	assert_contains "$OUT" "All done." "the agent finished its turn"
	assert_eq "$UID_ $GID_" "$(stat -c '%u %g' "$WS/made-by-tool")" "the tool call's file is the user's"
	assert_file_eq "$H/.bashrc" "# the user's own" "~/.bashrc unchanged"
	assert_missing "$D/outside" "the write outside"
	[ -d "$H/.codex/sessions" ] || fail "Codex kept no session in ~/.codex"
	check_journal "$j" call_id || fail "journal: $(grep -c . "$j") records"
	check_journal_owner "$j"
	assert_no_leftovers
}

# npm install from the registry (the profiles allow registry.npmjs.org
# by name) as the user, with the user's ~/.npm cold, then warm.
test_npm_install_cold_and_warm_cache() {
	as_user
	command -v npm >/dev/null || skip "npm is not installed"
	timeout 20 npm view --cache "$D/probe-cache" is-number version >/dev/null 2>&1 ||
		skip "the npm registry is unreachable"
	local j1=$D/j1.jsonl j2=$D/j2.jsonl t0 t1 t2
	cd "$WS" || fail "cd $WS"
	printf '{"name":"ws","version":"1.0.0","private":true}\n' >package.json
	chown "$AGENT_USER:" package.json
	t0=$(af_now)
	assert_exit 0 "${SUDO[@]}" "$AF" run --policy "$TOP/policies/coding-agent.yaml" --journal "$j1" -- \
		npm install --no-audit --no-fund is-number@7.0.0
	t1=$(af_now)
	[ -f "$WS/node_modules/is-number/package.json" ] || fail "not installed: $OUT $ERR"
	assert_eq "$UID_" "$(stat -c '%u' "$H/.npm/_cacache")" "the cache is the user's"
	rm -rf "$WS/node_modules" "$WS/package-lock.json"
	assert_exit 0 "${SUDO[@]}" "$AF" run --policy "$TOP/policies/coding-agent.yaml" --journal "$j2" -- \
		npm install --no-audit --no-fund --prefer-offline is-number@7.0.0
	t2=$(af_now)
	[ -f "$WS/node_modules/is-number/package.json" ] || fail "not installed from the warm cache: $OUT $ERR"
	$PY - "$j1" "$j2" <<-'EOF' || fail "refusals in npm's journals"
	import json, os, sys
	def absent_socket(e):
	    return e.startswith("denied unix connect /") and not os.path.exists(e.split(" ")[3])
	for p in sys.argv[1:]:
	    bad = [r.get("effect") for r in map(json.loads, open(p))
	           if r.get("verdict") in ("denied", "refused") and not absent_socket(r.get("effect", ""))]
	    assert not bad, "%s: %s" % (p, bad)
	EOF
	echo "npm install: cold $(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}') s, warm $(awk -v a="$t1" -v b="$t2" 'BEGIN{print b-a}') s"
	assert_no_leftovers
}

# pip's cache under each shipped profile, as the user: no PyPI here, so
# the package is a local sdist with no dependencies (built with the
# system's setuptools, installed without build isolation), which pip
# builds into a wheel and caches in ~/.cache/pip/wheels, created for the
# user by run. No refusal but glibc's nscd probe.
test_pip_cache_under_profiles() {
	as_user
	/usr/bin/python3 -m pip --version >/dev/null 2>&1 || skip "the system python3 has no pip"
	/usr/bin/python3 -c 'import setuptools' 2>/dev/null || skip "the system python3 has no setuptools"
	local prof j pkg=$D/pkg
	mkdir -p "$pkg/aftestpkg"
	printf 'from setuptools import setup\nsetup(name="aftestpkg", version="0.1", packages=["aftestpkg"])\n' >"$pkg/setup.py"
	echo 'X = 42' >"$pkg/aftestpkg/__init__.py"
	(cd "$pkg" && /usr/bin/python3 setup.py -q sdist >/dev/null 2>&1) || fail "cannot build the sdist"
	chmod -R a+rX "$pkg"
	cd "$WS" || fail "cd $WS"
	for prof in coding-agent claude-code codex; do
		j=$D/pip-$prof.jsonl
		rm -rf "$H/.cache" "$WS/lib"
		assert_exit 0 "${SUDO[@]}" "$AF" run --policy "$TOP/policies/$prof.yaml" --journal "$j" -- \
			/usr/bin/python3 -m pip install --disable-pip-version-check --no-index --no-build-isolation \
			--target "$WS/lib" "$pkg/dist/aftestpkg-0.1.tar.gz"
		[ -f "$WS/lib/aftestpkg/__init__.py" ] || fail "$prof: not installed: $OUT $ERR"
		local whl
		whl=$(find "$H/.cache/pip/wheels" -name 'aftestpkg-0.1-*.whl' | head -1)
		[ -n "$whl" ] || fail "$prof: no wheel in pip's cache: $(find "$H/.cache" | head)"
		assert_eq "$UID_" "$(stat -c %u "$whl")" "$prof: the cached wheel is the user's"
		assert_eq "$UID_" "$(stat -c %u "$H/.cache/pip")" "$prof: the cache is the user's"
		no_refusals "$j"
	done
	assert_no_leftovers
}

# cargo's registry under each shipped profile: no crates.io here, so the
# dependency comes from a local registry (source replacement,
# local-registry: an index and a .crate of a crate with no dependencies
# of its own), which cargo unpacks into ~/.cargo/registry/src as from
# crates.io, under its locks in ~/.cargo. cargo is rustup's, under
# /root, which the test user cannot reach: root runs it, with a home of
# its own for ${HOME}. The one refusal allowed is the rollback journal
# of cargo's last-use database (policies: cargo goes on without it).
test_cargo_cache_under_profiles() {
	as_user
	local cargo=${CARGO:-$(command -v cargo)} prof j reg=$D/reg c=$D/crate
	[ -x "$cargo" ] || skip "cargo is not installed"
	mkdir -p "$reg/index/af/te" "$D/build/aftestcrate-0.1.0/src" "$c/src" "$c/.cargo"
	printf '[package]\nname = "aftestcrate"\nversion = "0.1.0"\nedition = "2021"\n' \
		>"$D/build/aftestcrate-0.1.0/Cargo.toml"
	echo 'pub fn x() -> u32 { 42 }' >"$D/build/aftestcrate-0.1.0/src/lib.rs"
	tar -C "$D/build" -czf "$reg/aftestcrate-0.1.0.crate" aftestcrate-0.1.0
	printf '{"name":"aftestcrate","vers":"0.1.0","deps":[],"cksum":"%s","features":{},"yanked":false}\n' \
		"$(sha256sum "$reg/aftestcrate-0.1.0.crate" | cut -d' ' -f1)" >"$reg/index/af/te/aftestcrate"
	printf '[package]\nname = "ws"\nversion = "0.1.0"\nedition = "2021"\n[dependencies]\naftestcrate = "0.1.0"\n' \
		>"$c/Cargo.toml"
	echo 'fn main() { println!("crate says {}", aftestcrate::x()); }' >"$c/src/main.rs"
	printf '[source.crates-io]\nreplace-with = "afreg"\n[source.afreg]\nlocal-registry = "%s"\n' "$reg" \
		>"$c/.cargo/config.toml"
	cd "$c" || fail "cd $c"
	for prof in coding-agent claude-code codex; do
		j=$D/cargo-$prof.jsonl
		rm -rf "$D/roothome" "$c/target"
		mkdir -p "$D/roothome"
		assert_exit 0 env HOME="$D/roothome" RUSTUP_HOME="${RUSTUP_HOME:-/root/.rustup}" \
			"$AF" run --policy "$TOP/policies/$prof.yaml" --workspace "$c" --journal "$j" -- \
			"$cargo" run --offline -q
		assert_eq "crate says 42" "$OUT" "$prof: built and ran"
		ls -d "$D/roothome/.cargo/registry/src/"*/aftestcrate-0.1.0 >/dev/null 2>&1 ||
			fail "$prof: not unpacked into ~/.cargo/registry: $(find "$D/roothome" -maxdepth 4)"
		[ -e "$D/roothome/.cargo/.package-cache" ] || fail "$prof: no package cache lock"
		no_refusals "$j" '/.cargo/.global-cache-journal '
	done
	assert_no_leftovers
}

# Not as root: one line that says what run needs and why; doctor says
# what it could not probe instead of naming a backend.
test_not_root_one_line() {
	as_user
	cd "$WS" || fail "cd $WS"
	assert_exit 3 runuser -u "$AGENT_USER" -- "$AF" run -- true
	assert_eq 1 "$(printf '%s\n' "$ERR" | wc -l)" "one line: $ERR"
	assert_contains "$ERR" "agentfence run: needs root: " "what it needs"
	assert_contains "$ERR" "sudo agentfence run" "the way"
	assert_exit 3 runuser -u "$AGENT_USER" -- "$AF" doctor
	assert_contains "$OUT" "backend:           unknown: not probed as uid $UID_" "doctor"
	assert_not_contains "$OUT" "backend:           landlock" "doctor claims no backend"
	assert_exit 3 runuser -u "$AGENT_USER" -- "$AF" doctor --json
	printf '%s' "$OUT" | $PY -c 'import json,sys; d=json.load(sys.stdin); assert d["backend"] is None and "root" in d["not_probed"], d' ||
		fail "doctor --json: $OUT"
	assert_exit 0 runuser -u "$AGENT_USER" -- "$AF" run --help
}

# Who the command runs as: sudo's user with its groups and environment;
# --user by name and by uid; root only as --user root or when started
# as root without sudo, said on the terminal; an unknown user refused.
test_user_sudo_and_user_flag() {
	as_user
	local P=(--policy "$TOP/policies/coding-agent.yaml" --no-journal)
	local probe='echo "$(id -u) $(id -g) $(id -G) $HOME $USER $LOGNAME ${SUDO_UID-none}"; touch mine; grep ^Cap[EPB] /proc/self/status | tr "\n" " "'
	getent group audio >/dev/null && usermod -a -G audio "$AGENT_USER"
	cd "$WS" || fail "cd $WS"
	assert_exit 0 "${SUDO[@]}" "$AF" run "${P[@]}" -- sh -c "$probe"
	assert_contains "$OUT" "$UID_ $GID_ $(id -G "$AGENT_USER") $H $AGENT_USER $AGENT_USER none" "as sudo's user"
	assert_contains "$OUT" "CapPrm:	0000000000000000 CapEff:	0000000000000000 CapBnd:	0000000000000000" "no capabilities"
	assert_not_contains "$ERR" "runs as root" "no root note"
	# id's user lookups try nscd's socket, which is not there: denied,
	# not shouted about.
	[ -e /var/run/nscd/socket ] || assert_not_contains "$ERR" "nscd" "no line for an absent socket"
	assert_eq "$UID_ $GID_" "$(stat -c '%u %g' mine)" "the file is the user's"
	rm -f mine
	assert_exit 0 "$AF" run "${P[@]}" --user "$AGENT_USER" -- sh -c "$probe"
	assert_contains "$OUT" "$UID_ $GID_ " "--user NAME"
	assert_exit 0 "$AF" run "${P[@]}" --user "$UID_" -- sh -c "$probe"
	assert_contains "$OUT" "$UID_ $GID_ " "--user UID"
	assert_exit 0 "${SUDO[@]}" "$AF" run "${P[@]}" --user root -- sh -c "$probe"
	assert_contains "$OUT" "0 0 " "--user root"
	assert_contains "$OUT" "CapPrm:	0000000000000000" "root without capabilities"
	assert_contains "$ERR" "agentfence: the command runs as root (--user root)" "said on the terminal"
	assert_exit 0 env -u SUDO_UID -u SUDO_GID "$AF" run "${P[@]}" -- sh -c "$probe"
	assert_contains "$OUT" "0 0 " "started as root, no sudo"
	assert_contains "$ERR" "the command runs as root: agentfence was started as root, not through sudo" "said"
	assert_exit 2 "$AF" run "${P[@]}" --user no-such-user-af -- true
	assert_contains "$ERR" "--user no-such-user-af: no such user" "unknown user"
	# On a terminal, the command's pty is the user's: it can reopen it.
	assert_exit 0 $PY "$TOP/tests/helpers/ptyrun.py" -- "${SUDO[@]}" "$AF" run "${P[@]}" -- \
		sh -c 'stat -c "pty owner %u" "$(tty)"; : >"$(tty)" && echo reopened'
	assert_contains "$OUT" "pty owner $UID_" "the pty's owner"
	assert_contains "$OUT" "reopened" "the user reopens its terminal"
	# A workspace the user cannot enter is refused before anything runs.
	mkdir -m 0700 "$D/closed"
	assert_exit 2 "${SUDO[@]}" "$AF" run "${P[@]}" --workspace "$D/closed" -- true
	assert_contains "$ERR" "the workspace $D/closed is not open to $AGENT_USER: Permission denied" "closed workspace"
	# A writable path run creates is made as the user: not through a
	# link the user planted to a place only root may write.
	rm -rf "$H/.cache"
	ln -s /etc "$H/.cache"
	chown -h "$AGENT_USER:" "$H/.cache"
	assert_exit 125 "${SUDO[@]}" "$AF" run "${P[@]}" -- true
	assert_contains "$ERR" "cannot create the writable path $H/.cache/pip as $AGENT_USER: Permission denied" "created as the user"
	assert_missing /etc/pip "/etc/pip"
	assert_no_leftovers
}

af_main "$@"
