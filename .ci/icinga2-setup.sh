#!/usr/bin/env bash
# A throw-away Icinga2 for the integration tests: Debian's packages, the API on 127.0.0.1 only,
# a random ApiUser password, no sample objects, started without systemd.
#
#   bash .ci/icinga2-setup.sh          install (if needed), configure, start; writes $ENV_FILE
#   bash .ci/icinga2-setup.sh stop     stop the daemon (its whole process group) and the HA pair
#
# Then it starts the HA pair of tests/icinga2-ha/setup.sh too (two more nodes forming zone
# "master" on 127.0.0.1:5667/5668, certificates from this node's CA) for tests/it/icinga2_ha.rs;
# NIXCLOUD_ICINGA2_NO_HA=1 leaves it out (those tests are then skipped, or fail under CI).
#
# The tests read $ENV_FILE: $NIXCLOUD_ICINGA2_ENV, default /tmp/nixcloud-icinga2/env (the same
# default as tests/it/icinga2.rs). $NIXCLOUD_ICINGA2_DIR (default /tmp/nixcloud-icinga2) holds
# the password file and the validation log. Run as root; safe to run again (restarts Icinga2
# with a new password and without the objects of earlier runs).
set -euo pipefail

DIR=${NIXCLOUD_ICINGA2_DIR:-/tmp/nixcloud-icinga2}
ENV_FILE=${NIXCLOUD_ICINGA2_ENV:-$DIR/env}
PIDFILE=/run/icinga2/icinga2.pid

stop() {
  if [ -f "$PIDFILE" ]; then
    pid=$(cat "$PIDFILE")
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    # A SIGKILLed leader leaves its worker holding the port: end the whole group.
    kill -KILL -- "-$pid" 2>/dev/null || true
    rm -f "$PIDFILE"
  fi
}

HA_SETUP="$(dirname "$0")/../tests/icinga2-ha/setup.sh"

if [ "${1:-}" = stop ]; then
  stop
  bash "$HA_SETUP" stop
  exit 0
fi

# curl: the readiness probe below and the tests' own view of the API.
if ! command -v icinga2 >/dev/null || [ ! -x /usr/lib/nagios/plugins/check_http ] \
  || [ ! -x /usr/lib/nagios/plugins/check_dns ] || ! command -v curl >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends icinga2 monitoring-plugins-basic \
    monitoring-plugins-standard monitoring-plugins-contrib bind9-dnsutils curl ca-certificates >/dev/null
fi

stop
mkdir -p "$DIR" "$(dirname "$ENV_FILE")"

# The CA and the node certificate (issued for the node name, not for 127.0.0.1).
if [ ! -f /var/lib/icinga2/certs/ca.crt ]; then
  icinga2 api setup >/dev/null
fi
# The node name is whatever Icinga2 chose (its certificate is named after it).
node=$(basename "$(ls /var/lib/icinga2/certs/*.crt | grep -v '/ca\.crt$' | head -1)" .crt)

password=$(head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
printf '%s\n' "$password" >"$DIR/password"
chmod 600 "$DIR/password"

cat >/etc/icinga2/features-available/api.conf <<EOF
object ApiListener "api" {
  bind_host = "127.0.0.1"
  bind_port = 5665
  ticket_salt = TicketSalt
}
EOF
ln -sf ../features-available/api.conf /etc/icinga2/features-enabled/api.conf

cat >/etc/icinga2/conf.d/api-users.conf <<EOF
object ApiUser "nixcloud-test" {
  password = "$password"
  // Exactly what docs/icinga2.md tells self-hosters to grant, so the tests prove it is enough.
  permissions = [ "objects/query/*", "objects/create/*", "objects/modify/*",
                  "objects/delete/*", "actions/process-check-result",
                  "actions/reschedule-check" ]
}
EOF

# No sample objects (the local machine's host and its services, notifications by mail).
: >/etc/icinga2/conf.d/hosts.conf
: >/etc/icinga2/conf.d/services.conf
: >/etc/icinga2/conf.d/notifications.conf
# But the stock services.conf rules that catch any host with an address stay, as on a
# self-hoster's default install: the tests prove the agent's hosts do not get them (they carry
# no address). Were they caught, these checks would only run against 127.0.0.1.
cat >/etc/icinga2/conf.d/stock-apply-rules.conf <<'EOF2'
apply Service "ping4" {
  check_command = "ping4"
  vars.ping_address = "127.0.0.1"
  assign where host.address
}
apply Service "ping6" {
  check_command = "ping6"
  vars.ping_address = "::1"
  assign where host.address6
}
apply Service "ssh" {
  check_command = "ssh"
  vars.ssh_address = "127.0.0.1"
  assign where host.address || host.address6
}
EOF2

# Objects of earlier runs.
rm -rf /var/lib/icinga2/api/packages/_api
mkdir -p /run/icinga2/cmd
chown -R nagios:nagios /run/icinga2 /var/lib/icinga2 /var/log/icinga2 /var/cache/icinga2

icinga2 daemon -C >"$DIR/validate.log" 2>&1 || { cat "$DIR/validate.log"; exit 1; }
# `daemon -d` returns once the forked daemon says it is up; once here that word never came
# and the parent waited forever (the daemon itself was up). The API probe below decides.
timeout 60 icinga2 daemon -d -e /var/log/icinga2/error.log ||
  echo "icinga2 daemon -d did not return within 60 s; probing the API instead"

# Up when the API answers at all (the test user may not read /v1/status: any HTTP code will do).
api_code() {
  curl -sk -o /dev/null -w '%{http_code}' -u "nixcloud-test:$password" -H 'Accept: application/json' \
    https://127.0.0.1:5665/v1/objects/hosts || true
}
for _ in $(seq 100); do
  [ "$(api_code)" = 200 ] && break
  sleep 0.2
done
[ "$(api_code)" = 200 ] || { echo "Icinga2 API did not come up"; cat /var/log/icinga2/error.log; exit 1; }

cat >"$ENV_FILE" <<EOF
ICINGA2_URL=https://127.0.0.1:5665
ICINGA2_USER=nixcloud-test
ICINGA2_PASSWORD_FILE=$DIR/password
ICINGA2_CA_FILE=/var/lib/icinga2/certs/ca.crt
ICINGA2_SERVER_NAME=$node
EOF
echo "Icinga2 API on https://127.0.0.1:5665 (certificate name $node); settings in $ENV_FILE"

if [ "${NIXCLOUD_ICINGA2_NO_HA:-}" != 1 ]; then
  bash "$HA_SETUP"
fi
