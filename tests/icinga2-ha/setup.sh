#!/usr/bin/env bash
# Two more Icinga2 nodes on 127.0.0.1 forming one HA zone ("master", endpoints ha1 and ha2),
# beside the single test Icinga2 of .ci/icinga2-setup.sh (which must have run first: its CA
# signs these nodes' certificates, so the tests trust one ca.crt). The tests of
# tests/it/icinga2_ha.rs stop and start these nodes; the single node is never touched.
#
#   bash tests/icinga2-ha/setup.sh               configure and start both; writes $HA_DIR/env
#   bash tests/icinga2-ha/setup.sh stop          stop both
#   bash tests/icinga2-ha/setup.sh stop-node N   stop node N (1 or 2)
#   bash tests/icinga2-ha/setup.sh start-node N  start node N and wait until its API answers
#
# Each node has its own config (icinga2.conf only: no conf.d, no sample objects), data, log,
# cache, spool and run directories under $HA_DIR/haN (default /tmp/nixcloud-icinga2-ha),
# chosen with -DConfiguration.<Dir>=..., and its API on 127.0.0.1:5667 / 5668. The cluster
# connection between them is on the same ports; accept_config and accept_commands let each
# take the other's runtime objects (those made through the API) and check results. Run as root.
set -euo pipefail

HA_DIR=${NIXCLOUD_ICINGA2_HA_DIR:-/tmp/nixcloud-icinga2-ha}
MAIN_DIR=${NIXCLOUD_ICINGA2_DIR:-/tmp/nixcloud-icinga2}
PORTS=(0 5667 5668)

node_dir() { printf '%s/ha%s' "$HA_DIR" "$1"; }

defines() {
  local d
  d=$(node_dir "$1")
  printf '%s\n' -c "$d/etc/icinga2.conf" \
    "-DConfiguration.ConfigDir=$d/etc" "-DConfiguration.DataDir=$d/lib" \
    "-DConfiguration.LogDir=$d/log" "-DConfiguration.CacheDir=$d/cache" \
    "-DConfiguration.SpoolDir=$d/spool" "-DConfiguration.InitRunDir=$d/run"
}

stop_node() {
  local pidfile pid
  pidfile="$(node_dir "$1")/run/icinga2.pid"
  [ -f "$pidfile" ] || return 0
  pid=$(cat "$pidfile")
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  # A SIGKILLed leader leaves its worker holding the port: end the whole group.
  kill -KILL -- "-$pid" 2>/dev/null || true
  rm -f "$pidfile"
}

api_code() {
  curl -sk -o /dev/null -w '%{http_code}' -u "nixcloud-test:$(cat "$HA_DIR/password")" \
    -H 'Accept: application/json' "https://127.0.0.1:${PORTS[$1]}/v1/objects/hosts" || true
}

start_node() {
  local d args
  d=$(node_dir "$1")
  stop_node "$1"
  mkdir -p "$d/run/cmd"
  chown -R nagios:nagios "$d"
  mapfile -t args < <(defines "$1")
  # As in .ci/icinga2-setup.sh: `daemon -d` may never return although the daemon is up.
  timeout 60 icinga2 daemon "${args[@]}" -d -e "$d/log/error.log" >"$d/log/start.log" 2>&1 ||
    echo "ha$1: icinga2 daemon -d did not return within 60 s; probing the API instead"
  for _ in $(seq 150); do
    [ "$(api_code "$1")" = 200 ] && return 0
    sleep 0.2
  done
  echo "ha$1: the API on 127.0.0.1:${PORTS[$1]} did not come up"
  cat "$d/log/start.log" "$d/log/error.log" 2>/dev/null || true
  return 1
}

case "${1:-}" in
  stop) stop_node 1; stop_node 2; exit 0 ;;
  stop-node) stop_node "$2"; exit 0 ;;
  start-node) start_node "$2"; exit 0 ;;
  "") ;;
  *) echo "usage: $0 [stop | stop-node N | start-node N]" >&2; exit 2 ;;
esac

[ -f /var/lib/icinga2/ca/ca.key ] || { echo "no CA: run bash .ci/icinga2-setup.sh first" >&2; exit 1; }
stop_node 1
stop_node 2
mkdir -p "$HA_DIR"
password=$(head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
printf '%s\n' "$password" >"$HA_DIR/password"
chmod 600 "$HA_DIR/password"

for n in 1 2; do
  d=$(node_dir "$n")
  # A fresh start: no objects or replay logs of earlier runs.
  rm -rf "$d"
  mkdir -p "$d"/{etc,lib/certs,log,cache,spool,run/cmd}
  # icinga2 pki runs as nagios too.
  chown -R nagios:nagios "$d"
  # Certificates from the single node's CA (pki sign-csr uses /var/lib/icinga2/ca).
  icinga2 pki new-cert --cn "ha$n" --key "$d/lib/certs/ha$n.key" --csr "$d/lib/certs/ha$n.csr" >"$d/log/pki.log" 2>&1 || { cat "$d/log/pki.log"; exit 1; }
  icinga2 pki sign-csr --csr "$d/lib/certs/ha$n.csr" --cert "$d/lib/certs/ha$n.crt" >>"$d/log/pki.log" 2>&1 || { cat "$d/log/pki.log"; exit 1; }
  cp /var/lib/icinga2/ca/ca.crt "$d/lib/certs/ca.crt"
  cat >"$d/etc/icinga2.conf" <<EOF
const NodeName = "ha$n"
const ZoneName = "master"
const TicketSalt = ""
const PluginDir = "/usr/lib/nagios/plugins"
const PluginContribDir = "/usr/lib/nagios/plugins"
const ManubulonPluginDir = "/usr/lib/nagios/plugins"

object Endpoint "ha1" { host = "127.0.0.1"; port = ${PORTS[1]} }
object Endpoint "ha2" { host = "127.0.0.1"; port = ${PORTS[2]} }
object Zone "master" { endpoints = [ "ha1", "ha2" ] }

include <itl>
include <plugins>

object ApiListener "api" {
  bind_host = "127.0.0.1"
  bind_port = ${PORTS[$n]}
  accept_config = true
  accept_commands = true
}
object CheckerComponent "checker" { }
object FileLogger "main-log" { severity = "information"; path = LogDir + "/icinga2.log" }

object ApiUser "nixcloud-test" {
  password = "$password"
  // What docs/icinga2.md tells self-hosters to grant.
  permissions = [ "objects/query/*", "objects/create/*", "objects/modify/*",
                  "objects/delete/*", "actions/process-check-result",
                  "actions/reschedule-check" ]
}
EOF
  chown -R nagios:nagios "$d"
  mapfile -t args < <(defines "$n")
  icinga2 daemon "${args[@]}" -C >"$d/log/validate.log" 2>&1 || { cat "$d/log/validate.log"; exit 1; }
done

start_node 1
start_node 2

cat >"$HA_DIR/env" <<EOF
ICINGA2_HA_URLS=https://127.0.0.1:${PORTS[1]} https://127.0.0.1:${PORTS[2]}
ICINGA2_HA_NODES=ha1 ha2
ICINGA2_USER=nixcloud-test
ICINGA2_PASSWORD_FILE=$HA_DIR/password
ICINGA2_CA_FILE=/var/lib/icinga2/ca/ca.crt
ICINGA2_HA_SETUP=$(cd "$(dirname "$0")" && pwd)/setup.sh
EOF
echo "Icinga2 HA zone master: ha1 on https://127.0.0.1:${PORTS[1]}, ha2 on https://127.0.0.1:${PORTS[2]}; settings in $HA_DIR/env (main dir $MAIN_DIR untouched)"
