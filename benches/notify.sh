#!/usr/bin/env bash
# Issue 20's targets for the notify destination, side by side in one run, against a real SMTP
# server on 127.0.0.1 (tests/smtp/server.py, Debian's python3-aiosmtpd):
#
#   1. a result that changes nothing: `submit` with local + notify (an SMTP channel) costs at
#      most 1 ms more than with local alone (hyperfine -N, same 1,000-target config);
#   2. a notice reaches the SMTP server within 1 s of the `submit` that caused it (no other
#      notice in the window before): from the submit's start to the mail's file appearing;
#   3. 1,000 targets turning CRITICAL at once cost one digest and under 1 s of the agent's CPU:
#      1,000 results queued while the SMTP server is down, then one `flush` (user + system
#      time from /usr/bin/time);
#   4. the daemon's RSS grows by at most 1 MiB with notify on for 1,000 targets: VmRSS of a
#      daemon with local alone and of one with local + notify, each after its first passes.
#
#   bash benches/notify.sh           N=1000 targets, RUNS=100 runs for (1), 20 notices for (2)
#
# State directories go to BENCH_DIR (default /var/tmp). Needs cargo, hyperfine, /usr/bin/time,
# /usr/bin/python3 with aiosmtpd. Prints the numbers; writes nothing outside its scratch dir.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
N=${N:-1000}
RUNS=${RUNS:-100}
NOTICES=${NOTICES:-20}
BENCH_DIR=${BENCH_DIR:-/var/tmp}
for tool in cargo hyperfine /usr/bin/time /usr/bin/python3; do
  command -v "$tool" >/dev/null || { echo "missing: $tool" >&2; exit 2; }
done
/usr/bin/python3 -c 'import aiosmtpd' || { echo "missing: python3-aiosmtpd" >&2; exit 2; }
unset RUST_BACKTRACE RUST_LIB_BACKTRACE
cargo build --release --locked --quiet --bin nixcloud-monitoring
BIN=$repo/target/release/nixcloud-monitoring
work=$(mktemp -d "$BENCH_DIR/notify-bench.XXXXXX")
smtp_pid=""
daemon_pid=""
cleanup() {
  [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null
  [ -n "$smtp_pid" ] && kill "$smtp_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

smtp_port=""
start_smtp() {
  rm -f "$work/smtp/port"
  /usr/bin/python3 tests/smtp/server.py "$work/smtp" ${smtp_port:+--port "$smtp_port"} &
  smtp_pid=$!
  for _ in $(seq 100); do [ -s "$work/smtp/port" ] && break; sleep 0.1; done
  smtp_port=$(cat "$work/smtp/port")
}
stop_smtp() { kill "$smtp_pid"; wait "$smtp_pid" 2>/dev/null || true; smtp_pid=""; }
mails() { find "$work/smtp" -name 'mail-*.eml' | wc -l; }
start_smtp

config() { # file, state dir, with notify (yes/no), window
  {
    if [ "$3" = yes ]; then
      printf 'backends = ["local", "notify"]\n'
    else
      printf 'backend = "local"\n'
    fi
    printf 'stateDir = "%s"\n' "$2"
    if [ "$3" = yes ]; then
      printf '[notify]\nwindow = %s\n' "$4"
      printf '[notify.channels.relay]\ntype = "smtp"\nhost = "127.0.0.1"\nport = %s\ntls = "none"\n' "$smtp_port"
      printf 'to = ["bench@example.org"]\n'
    fi
    for i in $(seq "$N"); do
      printf '[[targets.passive]]\nhost = "host%d.example.org"\nname = "backup"\n' "$i"
    done
  } >"$1"
}
config "$work/local.toml" "$work/state-local" no 0
config "$work/notify.toml" "$work/state-notify" yes 0

# 1. A result that changes nothing (OK after OK), local against local + notify.
for c in local notify; do
  NIXCLOUD_MONITORING_CONFIG=$work/$c.toml "$BIN" submit host1.example.org-backup fine "" 0 >/dev/null
done
sleep 2.5 # settled, so both index their config as a real machine's is
for c in local notify; do
  hyperfine -N --warmup 10 --runs "$RUNS" --export-json "$work/$c.json" \
    "env NIXCLOUD_MONITORING_CONFIG=$work/$c.toml $BIN submit host1.example.org-backup fine \"\" 0" >/dev/null
done
[ "$(mails)" -eq 0 ] || { echo "an OK after an OK sent a mail" >&2; exit 1; }

# 2. From a submit's start to its notice in the SMTP server (window 0: nothing holds it; each
# a new problem of its own target, since a second one of the same target within the hour
# would wait for the flap hold).
export NIXCLOUD_MONITORING_CONFIG=$work/notify.toml
: >"$work/latency.txt"
for i in $(seq "$NOTICES"); do
  before=$(mails)
  start=$(date +%s%N)
  "$BIN" submit "host$((i + 1)).example.org-backup" "broken $i" "" 2 >/dev/null
  until [ "$(mails)" -gt "$before" ]; do
    [ $(($(date +%s%N) - start)) -lt 10000000000 ] || { echo "notice $i did not arrive" >&2; exit 1; }
    sleep 0.005
  done
  echo $((($(date +%s%N) - start) / 1000)) >>"$work/latency.txt"
done

# 3. 1,000 targets turn CRITICAL while the mail server is down; then one flush.
stop_smtp
for i in $(seq "$N"); do
  "$BIN" submit "host$i.example.org-backup" "disk full" "" 2 >/dev/null 2>&1 || true
done
queued=$(find "$work/state-notify/queue/notify-relay" -maxdepth 1 -name '*.json' | wc -l)
start_smtp
before=$(mails)
/usr/bin/time -f "%U %S %e" -o "$work/flush-time.txt" "$BIN" flush >/dev/null 2>&1 || true
digests=$(($(mails) - before))
digest_subject=$(/usr/bin/python3 tests/system/mails.py "$work/smtp" show bench@example.org "targets:" Subject)

# 4. The daemon's RSS with and without notify, 1,000 targets, after its first passes.
rss_of() { # config -> VmRSS in KiB after 8 s
  NIXCLOUD_MONITORING_CONFIG=$1 "$BIN" daemon 2>/dev/null &
  daemon_pid=$!
  sleep 8
  awk '/^VmRSS/ { print $2 }' "/proc/$daemon_pid/status"
  kill "$daemon_pid"
  wait "$daemon_pid" 2>/dev/null || true
  daemon_pid=""
}
rss_local=$(rss_of "$work/local.toml")
rss_notify=$(rss_of "$work/notify.toml")

load=$(cut -d" " -f1-3 /proc/loadavg)
/usr/bin/python3 - "$work" "$N" "$queued" "$digests" "$digest_subject" "$rss_local" "$rss_notify" "$load" <<'EOF'
import json, statistics, sys
work, n, queued, digests, subject, rss_local, rss_notify, load = sys.argv[1:9]

def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(p / 100 * (len(xs) - 1)))]

def times(name):
    return [t * 1000 for t in json.load(open(f"{work}/{name}.json"))["results"][0]["times"]]

def fmt(xs):
    return f"{statistics.median(xs):.2f} ({pct(xs, 10):.2f}–{pct(xs, 90):.2f})"

local, notify = times("local"), times("notify")
lat = [int(l) / 1000 for l in open(f"{work}/latency.txt")]
user, system, wall = open(f"{work}/flush-time.txt").read().split()[-3:]
cpu = float(user) + float(system)
diff = statistics.median(notify) - statistics.median(local)
grow = (int(rss_notify) - int(rss_local)) / 1024
ok = lambda b: "pass" if b else "MISS"
print(f"machine load average: {load}; {n} passive targets")
print("| measure | value | target |")
print("| --- | --- | --- |")
print(f"| `submit` of an OK after an OK, local (ms) | {fmt(local)} | |")
print(f"| `submit` of an OK after an OK, local + notify (ms) | {fmt(notify)} | |")
print(f"| difference of the medians (ms) | {diff:.2f} | ≤ 1 ms: {ok(diff <= 1)} |")
print(f"| submit to notice in the SMTP server ({len(lat)} notices, ms) | {fmt(lat)}, max {max(lat):.1f} | < 1,000 ms: {ok(max(lat) < 1000)} |")
print(f"| 1,000 CRITICAL at once: results queued, mails after the flush | {queued}, {digests} ({subject}) | one digest: {ok(int(digests) == 1)} |")
print(f"| — the flush's CPU (user + system, s) | {cpu:.2f} (wall {float(wall):.2f}) | < 1 s: {ok(cpu < 1)} |")
print(f"| daemon VmRSS, local / local + notify (MiB) | {int(rss_local) / 1024:.1f} / {int(rss_notify) / 1024:.1f} | |")
print(f"| — growth with notify (MiB) | {grow:.2f} | ≤ 1 MiB: {ok(grow <= 1)} |")
EOF
