#!/usr/bin/env bash
# Many agents against one Icinga2: $AGENTS agents (default 100), each with its own owner mark
# `agent-NN`, its own config and state directory and $TARGETS passive targets (default 20), all
# on the test Icinga2 of .ci/icinga2-setup.sh (127.0.0.1:5665).
#
#   bash benches/many-agents.sh [AGENT]
#
#   register   every agent runs `register` at the same moment (AGENTS processes at once)
#   submit     then every agent submits one result per target at the same moment
#              (AGENTS x TARGETS `submit` processes at once, as their timers would fire)
#
# For each phase: wall time until every process ended, their exit codes (0 delivered, 3 queued,
# 4 refused, 5 queue full), Icinga2's CPU time (utime+stime from /proc/<pid>/stat, summed over
# the daemon's process group, before and after) and the agents' CPU time (bash `times`). After
# `submit`: the time until Icinga2's API shows every service with the output just submitted
# (polled every 0.2 s), and that no agent has anything queued or rejected. A second
# `register` of all agents (unchanged) is measured the same way. Prints Markdown; writes
# nothing into the repository; the agents' objects are removed before and after.
#
# AGENT defaults to target/release/nixcloud-monitoring (built if missing). Needs curl, python3
# and the env file of .ci/icinga2-setup.sh ($NIXCLOUD_ICINGA2_ENV).
set -euo pipefail
cd "$(dirname "$0")/.."
ENV_FILE=${NIXCLOUD_ICINGA2_ENV:-/tmp/nixcloud-icinga2/env}
AGENTS=${AGENTS:-100}
TARGETS=${TARGETS:-20}
PIDFILE=${ICINGA2_PIDFILE:-/run/icinga2/icinga2.pid}
[ -f "$ENV_FILE" ] || { echo "no $ENV_FILE: start Icinga2 with bash .ci/icinga2-setup.sh" >&2; exit 1; }
# shellcheck disable=SC1090
. "$ENV_FILE"
AGENT=${1:-target/release/nixcloud-monitoring}
if [ "$AGENT" = target/release/nixcloud-monitoring ] && [ ! -x "$AGENT" ]; then
  cargo build --release -q
fi
AGENT=$(realpath "$AGENT")
unset RUST_BACKTRACE RUST_LIB_BACKTRACE
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
run_id=$$

api() { # METHOD PATH [BODY]
  local body=()
  [ $# -ge 3 ] && body=(-H 'Content-Type: application/json' --data "$3")
  curl -s --cacert "$ICINGA2_CA_FILE" --resolve "$ICINGA2_SERVER_NAME:5665:127.0.0.1" \
    -u "$ICINGA2_USER:$(head -n1 "$ICINGA2_PASSWORD_FILE")" -H 'Accept: application/json' \
    -X "$1" "https://$ICINGA2_SERVER_NAME:5665$2" "${body[@]}"
}

owner() { printf 'agent-%02d' "$1"; }

cleanup() {
  for kind in services hosts; do
    api DELETE "/v1/objects/$kind?cascade=1" \
      "{\"filter\":\"match(\\\"agent-*\\\", ${kind%s}.vars.nixcloud_monitoring_owner)\"}" >/dev/null
  done
}

# Icinga2's CPU time in clock ticks: every process of the daemon's group.
icinga_ticks() {
  local pgid
  pgid=$(cat "$PIDFILE")
  awk -v g="$pgid" '{ sub(/^.*\) /, ""); if ($3 == g) t += $12 + $13 } END { print t + 0 }' \
    /proc/[0-9]*/stat 2>/dev/null
}
HZ=$(getconf CLK_TCK)

# Children's CPU time so far (user+sys, seconds), from bash's `times` (run in this shell, not
# in a command substitution's subshell, whose children are not these).
child_cpu() {
  times >"$work/times"
  tail -n1 "$work/times" | awk '{
    n = 0; for (i = 1; i <= 2; i++) { split($i, a, "m"); sub(/s$/, "", a[2]); n += a[1] * 60 + a[2] }
    printf "%.2f", n }' >"$work/cpu"
}

now_ms() { echo $(($(date +%s%N) / 1000000)); }

for a in $(seq 0 $((AGENTS - 1))); do
  o=$(owner "$a")
  mkdir -p "$work/$o"
  {
    cat <<EOF
backend = "icinga2"
stateDir = "$work/$o/state"
[delivery]
timeout = 60
[icinga2]
url = "$ICINGA2_URL"
user = "$ICINGA2_USER"
passwordFile = "$ICINGA2_PASSWORD_FILE"
caFile = "$ICINGA2_CA_FILE"
serverName = "$ICINGA2_SERVER_NAME"
owner = "$o"
EOF
    for t in $(seq 0 $((TARGETS - 1))); do
      printf '[[targets.passive]]\nhost = "%s"\nname = "t%02d"\n' "$o" "$t"
    done
  } >"$work/$o/config.toml"
done

# phase NAME CMD...: runs CMD (which starts the processes in the background and waits) and
# prints a table row: wall ms, exit codes, Icinga2 CPU, agents' CPU.
phase() {
  local name=$1 t0 t1 c0 c1 a0 a1 codes
  shift
  rm -f "$work"/rc.*
  child_cpu; a0=$(cat "$work/cpu"); c0=$(icinga_ticks); t0=$(now_ms)
  "$@"
  t1=$(now_ms); c1=$(icinga_ticks); child_cpu; a1=$(cat "$work/cpu")
  codes=$(cat "$work"/rc.* | sort | uniq -c | awk '{printf "%s%d x exit %s", sep, $1, $2; sep=", "}')
  LAST_T0=$t0
  echo "| $name | $(ls "$work"/rc.* | wc -l) | $((t1 - t0)) | $codes | $(awk -v a="$c0" -v b="$c1" -v hz="$HZ" 'BEGIN{printf "%.2f", (b - a) / hz}') | $(awk -v a="$a0" -v b="$a1" 'BEGIN{printf "%.2f", b - a}') |" >>"$work/rows"
}

register_all() {
  local a o
  for a in $(seq 0 $((AGENTS - 1))); do
    o=$(owner "$a")
    ( rc=0; "$AGENT" --config "$work/$o/config.toml" register >"$work/$o/register.log" 2>&1 || rc=$?
      echo "$rc" >"$work/rc.$o" ) &
  done
  wait
}

submit_all() {
  local a t o
  for a in $(seq 0 $((AGENTS - 1))); do
    o=$(owner "$a")
    for t in $(seq -f '%02g' 0 $((TARGETS - 1))); do
      ( rc=0; "$AGENT" --config "$work/$o/config.toml" submit "$o-t$t" "run $run_id $o t$t" "" 0 \
          >>"$work/$o/submit.log" 2>&1 || rc=$?
        echo "$rc" >"$work/rc.$o.$t" ) &
    done
  done
  wait
}

# How many services of the agents show this run's output for their own target.
visible() {
  api GET /v1/objects/services \
    '{"filter":"match(\"agent-*\", service.vars.nixcloud_monitoring_owner)","attrs":["__name","last_check_result"]}' |
    python3 -c '
import json, sys
run = sys.argv[1]
n = 0
for r in json.load(sys.stdin).get("results", []):
    host, svc = r["name"].split("!", 1)
    out = ((r["attrs"].get("last_check_result") or {}).get("output") or "")
    n += out == f"run {run} {host} {svc}"
print(n)' "$run_id"
}

count_services() {
  api GET /v1/objects/services \
    '{"filter":"match(\"agent-*\", service.vars.nixcloud_monitoring_owner)","attrs":["__name"]}' |
    python3 -c 'import json, sys; print(len(json.load(sys.stdin).get("results", [])))'
}

load=$(cut -d' ' -f1-3 /proc/loadavg)
cleanup
total=$((AGENTS * TARGETS))
phase "register (first)" register_all
services=$(count_services)
phase "submit" submit_all
submit_t0=$LAST_T0
seen=0
for _ in $(seq 600); do
  seen=$(visible)
  [ "$seen" = "$total" ] && break
  sleep 0.2
done
visible_ms=$(($(now_ms) - submit_t0))
queued=$(find "$work" -path '*/state/queue*' -name '*.json' | wc -l)
rejected=$(find "$work" -path '*/state/rejected*' -name '*.json' | wc -l)
phase "register (unchanged)" register_all

echo "Many agents: $AGENTS agents x $TARGETS passive targets = $total services on one Icinga2"
echo "$(icinga2 --version 2>/dev/null | head -n1 || true); $(nproc) cores; $(date -u +%F); load average before: $load"
echo
echo "| phase | processes | wall ms | exit codes | Icinga2 CPU s | agents' CPU s |"
echo "| --- | --- | --- | --- | --- | --- |"
cat "$work/rows"
echo
echo "- services after the first register: $services of $total"
echo "- submitted output visible through the API: $seen of $total, ${visible_ms} ms after the submits started"
echo "- left queued: $queued, rejected: $rejected"
grep -h -i -E 'error|refused|queued' "$work"/agent-*/submit.log "$work"/agent-*/register.log 2>/dev/null | sort | uniq -c | sort -rn | head -5 || true
cleanup
