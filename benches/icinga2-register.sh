#!/usr/bin/env bash
# Icinga2 `register` of 500 check_http targets (IPv4 and IPv6: 1,000 services on 500 hosts)
# against the test Icinga2 on 127.0.0.1 (`bash .ci/icinga2-setup.sh`), three cases:
#
#   first      nothing there yet: every object is created (median of $FIRST_RUNS, default 3,
#              this owner's objects removed before each)
#   unchanged  the same config again (median of $RUNS, default 5)
#   one        one target's port changed (alternating 81/82; median of $RUNS)
#
#   bash benches/icinga2-register.sh [AGENT] [OLD_AGENT]
#
# AGENT defaults to target/release/nixcloud-monitoring (built if missing). With OLD_AGENT (an
# agent built from an earlier commit, e.g. `git worktree add /tmp/old <rev>` and
# `cargo build --release` there) the same cases run for it too, one after the other, each
# with its own owner mark and its objects removed afterwards. Prints a Markdown table; writes
# nothing into the repository. Needs curl and the env file of .ci/icinga2-setup.sh
# ($NIXCLOUD_ICINGA2_ENV, default /tmp/nixcloud-icinga2/env).
#
# The targets' hosts are 127.0.0.1 .. 127.0.1.244 and their port 81 (closed): Icinga2 runs the
# new checks against loopback and they fail at once, so its own checks cost little while the
# agent is measured. Each agent also runs with -v once unchanged, and its log line saying what
# it wrote is shown.
set -euo pipefail
cd "$(dirname "$0")/.."
ENV_FILE=${NIXCLOUD_ICINGA2_ENV:-/tmp/nixcloud-icinga2/env}
RUNS=${RUNS:-5}
FIRST_RUNS=${FIRST_RUNS:-3}
N=${TARGETS:-500}
[ -f "$ENV_FILE" ] || { echo "no $ENV_FILE: start Icinga2 with bash .ci/icinga2-setup.sh" >&2; exit 1; }
# shellcheck disable=SC1090
. "$ENV_FILE"
NEW=${1:-target/release/nixcloud-monitoring}
OLD=${2:-}
if [ "$NEW" = target/release/nixcloud-monitoring ] && [ ! -x "$NEW" ]; then
  cargo build --release -q
fi
unset RUST_BACKTRACE RUST_LIB_BACKTRACE
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

api() { # METHOD PATH [BODY]
  local body=()
  [ $# -ge 3 ] && body=(-H 'Content-Type: application/json' --data "$3")
  curl -s --cacert "$ICINGA2_CA_FILE" --resolve "$ICINGA2_SERVER_NAME:5665:127.0.0.1" \
    -u "$ICINGA2_USER:$(head -n1 "$ICINGA2_PASSWORD_FILE")" -H 'Accept: application/json' \
    -X "$1" "https://$ICINGA2_SERVER_NAME:5665$2" "${body[@]}"
}

# Removes an owner's services, then its hosts.
cleanup() {
  for kind in services hosts; do
    api DELETE "/v1/objects/$kind?cascade=1" \
      "{\"filter\":\"${kind%s}.vars.nixcloud_monitoring_owner == o\",\"filter_vars\":{\"o\":\"$1\"}}" >/dev/null
  done
}

# config OWNER PORT_OF_TARGET_0
config() {
  local i port
  {
    cat <<EOF
backend = "icinga2"
stateDir = "$work/state"
[delivery]
timeout = 60
[icinga2]
url = "$ICINGA2_URL"
user = "$ICINGA2_USER"
passwordFile = "$ICINGA2_PASSWORD_FILE"
caFile = "$ICINGA2_CA_FILE"
serverName = "$ICINGA2_SERVER_NAME"
owner = "$1"
EOF
    for i in $(seq 0 $((N - 1))); do
      port=81
      [ "$i" = 0 ] && port=$2
      printf '[[targets.active.check_http]]\nhost = "127.0.%d.%d"\nname = "bench"\nport = %d\n' \
        $(((i + 1) / 256)) $(((i + 1) % 256)) "$port"
    done
  } >"$work/config.toml"
}

# ms AGENT: milliseconds one `register` takes (it must succeed).
ms() {
  local start end
  start=$(date +%s%N)
  "$1" --config "$work/config.toml" register >"$work/out" 2>&1 || { cat "$work/out" >&2; exit 1; }
  end=$(date +%s%N)
  echo $(((end - start) / 1000000))
}

median() { tr ' ' '\n' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# run LABEL AGENT: prints one table row per case.
run() {
  local label=$1 agent=$2 owner="bench-$1-$$" first=() same=() one=() port
  config "$owner" 81
  for _ in $(seq "$FIRST_RUNS"); do
    cleanup "$owner"
    first+=("$(ms "$agent")")
  done
  for _ in $(seq "$RUNS"); do same+=("$(ms "$agent")"); done
  port=81
  for _ in $(seq "$RUNS"); do
    port=$((port == 81 ? 82 : 81))
    config "$owner" "$port"
    one+=("$(ms "$agent")")
  done
  # What it wrote, from its own log (only agents with the read say it): one change, then none.
  config "$owner" $((port == 81 ? 82 : 81))
  for what in "one target changed" unchanged; do
    "$agent" --config "$work/config.toml" -v register 2>&1 | grep -i 'objects as wanted' \
      | sed "s/^ *INFO */$label, $what, -v: /" >>"$work/notes" || true
  done
  echo "| $label | $(echo "${first[*]}" | median) (${first[*]}) | $(echo "${same[*]}" | median) (${same[*]}) | $(echo "${one[*]}" | median) (${one[*]}) |"
  cleanup "$owner"
}

echo "Icinga2 register, $N check_http targets ($((2 * N)) services, $N hosts), times in ms: median (all runs)"
echo "$(icinga2 --version 2>/dev/null | head -n1 || true); $(nproc) cores; $(date -u +%F)"
echo
echo "| agent | first | unchanged | one target changed |"
echo "| --- | --- | --- | --- |"
if [ -n "$OLD" ]; then
  run old "$OLD"
fi
run new "$NEW"
echo
cat "$work/notes" 2>/dev/null || true
