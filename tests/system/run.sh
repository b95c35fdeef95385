#!/usr/bin/env bash
# The system test: the module's units, rendered as NixOS renders them (render.nix), booted
# under a real systemd (Debian in systemd-nspawn, PID 1 in a container) with NixOS's PATH,
# against a real HTTP server on 127.0.0.1 (api_server.py). As root, on Debian 12:
#
#   bash tests/system/run.sh            # needs systemd-container, debootstrap, nix-bin, python3
#
# The first run debootstraps a base tree into /var/lib/machines/nixcloud-base (about 1.5 min);
# every run boots a fresh copy of it. Ends with "system tests: N passed, M failed".
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"

if [ "$(id -u)" != 0 ]; then
	echo "tests/system/run.sh must run as root (it boots a container)" >&2
	exit 2
fi
for tool in systemd-nspawn debootstrap nix-instantiate python3 nsenter /usr/bin/python3; do
	command -v "$tool" >/dev/null || {
		echo "tests/system/run.sh: $tool is missing (bash .ci/run installs it)" >&2
		exit 2
	}
done

base=/var/lib/machines/nixcloud-base
# One tree per run, so that two runs (two checkouts) do not meet.
machine=/var/lib/machines/nixcloud-test-$$
work=$(mktemp -d /tmp/nixcloud-system.XXXXXX)
nspawn_pid=""
server_pid=""
smtp_pid=""
# shellcheck source=tests/system/lib.sh
. tests/system/lib.sh

finished=""
cleanup() {
	if [ -z "$finished" ]; then
		echo "system: aborted (a step failed outside an assertion) after $passed passed, $((failed + 1)) failed"
	fi
	[ -n "$nspawn_pid" ] && kill "$nspawn_pid" 2>/dev/null && wait "$nspawn_pid" 2>/dev/null
	[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null
	[ -n "$smtp_pid" ] && kill "$smtp_pid" 2>/dev/null
	if [ -n "${NIXCLOUD_SYSTEM_KEEP:-}" ]; then echo "kept: $work $machine"; else rm -rf "$work" "$machine"; fi
}
trap cleanup EXIT

# ---- the base tree (cached between runs) ----------------------------------------------------
# msmtp: the sendmail of the notify tests (as programs.msmtp gives NixOS one).
if [ ! -x "$base/usr/bin/gawk" ] || [ ! -x "$base/usr/bin/msmtp" ]; then
	mirror=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)
	rm -rf "$base.tmp"
	debootstrap --variant=minbase \
		--include=systemd,systemd-sysv,dbus,bash,coreutils,util-linux,procps,gawk,iproute2,iputils-ping,findutils,grep,sed,msmtp \
		bookworm "$base.tmp" "${mirror:-http://deb.debian.org/debian}" >"$work/debootstrap.log" 2>&1 ||
		{ tail -20 "$work/debootstrap.log"; exit 1; }
	rm -rf "$base"
	mv "$base.tmp" "$base"
fi

# ---- the agent, the API server ---------------------------------------------------------------
cargo build --locked --quiet
agent_bin=${CARGO_TARGET_DIR:-$repo/target}/debug/nixcloud-monitoring

mkdir -p "$work/api"
python3 tests/system/api_server.py serve "$work/api" &
server_pid=$!
wait_for 10 'test -s "$work/api/port"' 
api="http://127.0.0.1:$(cat "$work/api/port")"
python3 tests/system/doc_scripts.py "$repo" >"$work/doc-scripts.json"
# A real SMTP server on the host's 127.0.0.1 (the container shares the network): where the
# notify cases' mail goes, through msmtp's sendmail and over SMTP (Debian's python3-aiosmtpd).
# On port 25 when it is free, as README's "an MTA on 127.0.0.1:25" is.
if ! (exec 3<>/dev/tcp/127.0.0.1/25) 2>/dev/null; then smtp_port=25; fi
start_smtp

# ---- boot ------------------------------------------------------------------------------------
rm -rf "$machine"
cp -a "$base" "$machine"
render v1 >"$work/v1.json"
install_system "$work/v1.json"
users_and_keys
boot

# ---- the cases -------------------------------------------------------------------------------
# shellcheck source=tests/system/cases.sh
. tests/system/cases.sh
# shellcheck source=tests/system/notify-cases.sh
. tests/system/notify-cases.sh
# shellcheck source=tests/system/catchup-cases.sh
. tests/system/catchup-cases.sh

finished=yes
echo "system: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
