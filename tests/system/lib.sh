# Helpers of tests/system/run.sh (sourced): the container, the switch, assertions.
# Uses $repo, $work, $machine, $api, $agent_bin from run.sh.

passed=0
failed=0

ok() {
	echo "ok   $1"
	passed=$((passed + 1))
}

bad() {
	echo "FAIL $1"
	shift
	for line in "$@"; do printf '     %s\n' "$line"; done
	failed=$((failed + 1))
}

# check NAME COMMAND...: ok when the command succeeds.
check() {
	local name=$1
	shift
	if "$@"; then ok "$name"; else bad "$name" "command: $*"; fi
}

# expect_eq NAME WANT GOT
expect_eq() {
	if [ "$2" == "$3" ]; then ok "$1"; else bad "$1" "expected: $2" "got:      $3"; fi
}

# expect_match NAME REGEX TEXT
expect_match() {
	if [[ $3 =~ $2 ]]; then ok "$1"; else bad "$1" "expected to match: $2" "got: ${3:0:2000}"; fi
}

# wait_for SECONDS 'SHELL CODE': evaluates the code every 0.2 s until it succeeds; a hang
# guard, not a timing assertion. Quote the code so that $(...) in it runs on every try.
wait_for() {
	local deadline=$((SECONDS + $1))
	until eval "$2" >/dev/null 2>&1; do
		[ $SECONDS -ge $deadline ] && return 1
		sleep 0.2
	done
}

render() {
	(
		# shellcheck source=nix/tests/nix-env.sh
		. "$repo/nix/tests/nix-env.sh"
		nix-instantiate "${nix_args[@]}" --eval --strict --json "$repo/tests/system/render.nix" \
			--argstr apiHost "$api" --argstr docScripts "$work/doc-scripts.json" --argstr variant "$1" \
			--argstr smtpPort "${smtp_port:-0}"
	)
}

install_system() {
	python3 "$repo/tests/system/install.py" "$1" "$machine" "$agent_bin"
}

# Run a command inside the booted container (all its namespaces).
c() {
	nsenter -t "$leader" -a "$@"
}

users_and_keys() {
	chroot "$machine" groupadd --system nixcloud-monitoring
	chroot "$machine" useradd --system --gid nixcloud-monitoring --home-dir /var/lib/nixcloud-monitoring \
		--no-create-home --shell /usr/sbin/nologin nixcloud-monitoring
	local member
	for member in alice carol dave; do
		chroot "$machine" useradd --create-home --shell /bin/bash --groups nixcloud-monitoring "$member"
	done
	chroot "$machine" useradd --create-home --shell /bin/bash bob
	# As nixpkgs' exporters.nix makes it for the node exporter (DynamicUser = false).
	chroot "$machine" useradd --system --user-group --no-create-home --shell /usr/sbin/nologin node-exporter
	# /run is a fresh tmpfs at boot: the key is made there, as /run/keys is on NixOS.
	echo "f+ /run/keys/nixcloud-monitoring 0600 root root - system-test-key" \
		>"$machine/etc/tmpfiles.d/keys.conf"
	echo "d /run/keys 0750 root root - -" >>"$machine/etc/tmpfiles.d/keys.conf"
	echo "nixcloud-test" >"$machine/etc/hostname"
}

boot() {
	systemd-nspawn -b -D "$machine" --register=no -M "nixcloud-test-$$" --keep-unit \
		>"$work/nspawn.log" 2>&1 &
	nspawn_pid=$!
	wait_for 20 'pgrep -P "$nspawn_pid"'  || { cat "$work/nspawn.log"; return 1; }
	leader=$(pgrep -P "$nspawn_pid")
	local state=""
	for _ in $(seq 150); do
		state=$(c systemctl is-system-running 2>/dev/null || true)
		case $state in running | degraded) break ;; esac
		sleep 0.2
	done
	echo "booted: $state"
}

# The replay of `nixos-rebuild switch` to another rendered config, as switch-to-configuration
# does it: units that are gone are stopped, the new files are installed, systemd reloads, the
# active units whose file changed are restarted, and the active targets are started, which
# starts new units they want.
switch_to() {
	render "$1" >"$work/$1.json"
	local diff
	diff=$(install_system "$work/$1.json")
	echo "switch to $1: $diff"
	local unit
	for unit in $(jq_list "$diff" removed); do c systemctl stop "$unit" 2>/dev/null || true; done
	c systemctl daemon-reload
	# The activation script's tmpfiles run (directories a new config needs), for the module's
	# rules only: Debian's own tmp.conf has `D /tmp`, so a --remove over every rule would empty
	# /tmp (the running units' PrivateTmp= directories with it), which NixOS's rules do not do.
	c systemd-tmpfiles --create --remove /etc/tmpfiles.d/nixcloud-monitoring.conf
	for unit in $(jq_list "$diff" changed); do
		if [ "$(c systemctl is-active "$unit" || true)" == active ]; then
			c systemctl restart "$unit"
		fi
	done
	c systemctl start timers.target paths.target multi-user.target
}

jq_list() {
	python3 -c 'import json,sys; print(" ".join(json.loads(sys.argv[1])[sys.argv[2]]))' "$1" "$2"
}

# api_count PATH [FIELD=VALUE ...]: requests the API server accepted.
api_count() {
	python3 "$repo/tests/system/api_server.py" count "$work/api" "$@"
}

api_mode() {
	echo "$1" >"$work/api/mode"
}

# The journal of a unit since the last `mark`.
journal() {
	c journalctl --no-pager -o cat -u "$1" --since "@$mark"
}

mark_now() {
	mark=$(c date +%s)
	sleep 1
}

# The SMTP server (tests/smtp/server.py) on $smtp_port (a free one the first time); its mails
# in $work/smtp.
start_smtp() {
	rm -f "$work/smtp/port"
	/usr/bin/python3 "$repo/tests/smtp/server.py" "$work/smtp" ${smtp_port:+--port "$smtp_port"} &
	smtp_pid=$!
	wait_for 20 'test -s "$work/smtp/port"' || { echo "the SMTP server did not start"; return 1; }
	smtp_port=$(cat "$work/smtp/port")
}

stop_smtp() {
	kill "$smtp_pid" 2>/dev/null
	wait "$smtp_pid" 2>/dev/null
	smtp_pid=""
}

# mail_count TO [SUBJECT_REGEX]; mail_show TO SUBJECT_REGEX FIELD|body
mail_count() { /usr/bin/python3 "$repo/tests/system/mails.py" "$work/smtp" count "$@"; }
mail_show() { /usr/bin/python3 "$repo/tests/system/mails.py" "$work/smtp" show "$@"; }
mail_grep() { /usr/bin/python3 "$repo/tests/system/mails.py" "$work/smtp" grep "$@"; }

# expect_secure UNIT [WHAT]: systemd-analyze security gives UNIT an exposure of at most 2.0.
expect_secure() {
	local score
	score=$(c systemd-analyze security --no-pager "$1" 2>/dev/null | sed -n 's/.*Overall exposure level for .*: \([0-9.]*\).*/\1/p')
	if [ -n "$score" ] && python3 -c "import sys; sys.exit(not float(sys.argv[1]) <= 2.0)" "$score"; then
		ok "systemd-analyze security $1${2:+ ($2)}: $score (at most 2.0)"
	else
		bad "systemd-analyze security $1${2:+ ($2)}: ${score:-no score} (at most 2.0)"
	fi
}
