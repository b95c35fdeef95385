#!/usr/bin/env bash
# Issue 12.2's Prometheus target: rewriting the textfile for 1,000 passive targets (every one
# registered, with a last result carrying three perfdata values) takes under 50 ms.
#
#   bash benches/prometheus-textfile.sh          N=1000 targets, RUNS=100 measured runs
#
# Two measures:
# - the rewrite itself, as the backend reports it at -vv (read the store, save it, render,
#   write the textfile; nothing fsynced), for RUNS `submit`s of a fresh result;
# - `submit` of one result, process start to exit (hyperfine -N), with backend "prometheus"
#   against the same with backend "local" (which appends one line and fsyncs it), both with
#   the same 1,000-target config: the difference is what the textfile costs a caller.
# State directories go to BENCH_DIR (default /var/tmp, a real disk). Needs cargo, hyperfine
# and python3. Prints the numbers; writes nothing outside its scratch directory.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
N=${N:-1000}
RUNS=${RUNS:-100}
BENCH_DIR=${BENCH_DIR:-/var/tmp}
for tool in cargo hyperfine python3; do
  command -v "$tool" >/dev/null || { echo "missing: $tool" >&2; exit 2; }
done
unset RUST_BACKTRACE RUST_LIB_BACKTRACE
cargo build --release --locked --quiet --bin nixcloud-monitoring
BIN=$repo/target/release/nixcloud-monitoring
work=$(mktemp -d "$BENCH_DIR/prometheus-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
PERF="load1=0.5;1;2;0 'disk /'=40%;80;90;0;100 rta=1.2ms;100;200"

config() { # backend, state dir, file
  {
    printf 'backend = "%s"\nstateDir = "%s"\n' "$1" "$2"
    printf '[prometheus]\ntextfile = "%s/textfile/nixcloud-monitoring.prom"\n' "$work"
    for i in $(seq "$N"); do
      printf '[[targets.passive]]\nhost = "host%d.example.org"\nname = "backup"\n' "$i"
      printf 'timers = { check = 60, timeout = 180 }\n'
    done
  } >"$3"
}
config prometheus "$work/state-prometheus" "$work/prometheus.toml"
config local "$work/state-local" "$work/local.toml"

# Every target registered and with a result, so the file is as large as it gets.
export NIXCLOUD_MONITORING_CONFIG=$work/prometheus.toml
"$BIN" register >/dev/null
for i in $(seq "$N"); do
  "$BIN" submit "host$i.example.org-backup" fine "$PERF" 0 >/dev/null
done
file=$work/textfile/nixcloud-monitoring.prom
series=$(grep -vc '^#' "$file")
bytes=$(stat -c %s "$file")

# 1. The rewrite itself, from the backend's own debug line.
for _ in $(seq "$RUNS"); do
  "$BIN" -vv submit host1.example.org-backup fine "$PERF" 0 2>&1 >/dev/null |
    sed -n 's/.*prometheus: \([0-9]*\) targets: store read \([0-9]*\) µs, saved \([0-9]*\) µs, rendered \([0-9]*\) µs, .* written \([0-9]*\) µs; total \([0-9]*\) µs.*/\1 \2 \3 \4 \5 \6/p'
done >"$work/write.txt"
[ "$(wc -l <"$work/write.txt")" -eq "$RUNS" ] || {
  echo "expected $RUNS debug lines from the backend, got $(wc -l <"$work/write.txt")" >&2
  exit 1
}

# 2. submit, whole process, prometheus against local.
hyperfine -N --warmup 10 --runs "$RUNS" --export-json "$work/prometheus.json" \
  "env NIXCLOUD_MONITORING_CONFIG=$work/prometheus.toml $BIN submit host1.example.org-backup fine \"$PERF\" 0" >/dev/null
hyperfine -N --warmup 10 --runs "$RUNS" --export-json "$work/local.json" \
  "env NIXCLOUD_MONITORING_CONFIG=$work/local.toml $BIN submit host1.example.org-backup fine \"$PERF\" 0" >/dev/null

load=$(cut -d" " -f1-3 /proc/loadavg)
python3 - "$work" "$N" "$series" "$bytes" "$(df -PT "$work" | awk 'NR == 2 { print $2 }')" "$load" <<'EOF'
import json, statistics, sys
work, n, series, size, fs, load = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5], sys.argv[6]

def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(p / 100 * (len(xs) - 1)))]

def fmt(xs, scale=1.0):
    return f"{statistics.median(xs) * scale:.2f} ({pct(xs, 10) * scale:.2f}–{pct(xs, 90) * scale:.2f})"

rows = [list(map(int, l.split())) for l in open(f"{work}/write.txt")]
assert all(r[0] == n for r in rows), "the store does not hold every target"
col = lambda i: [r[i] / 1000 for r in rows]
runs = {k: json.load(open(f"{work}/{k}.json"))["results"][0]["times"] for k in ("prometheus", "local")}
diff = statistics.median(runs["prometheus"]) - statistics.median(runs["local"])
total = statistics.median(col(5))
print(f"Prometheus textfile: {n} targets, {series} series, {size / 1024:.0f} KiB; state on {fs}; "
      f"{len(rows)} runs, median (10th–90th percentile), ms; load average after {load}")
print("| measure | ms |")
print("| --- | --- |")
print(f"| rewrite, total (lock held; target < 50 ms: {'pass' if total < 50 else 'MISS'}) | {fmt(col(5))} |")
print(f"| — read targets.json | {fmt(col(1))} |")
print(f"| — save targets.json (no fsync) | {fmt(col(2))} |")
print(f"| — render | {fmt(col(3))} |")
print(f"| — write the textfile (rename, no fsync) | {fmt(col(4))} |")
print(f"| submit, backend prometheus (process start to exit) | {fmt(runs['prometheus'], 1000)} |")
print(f"| submit, backend local (same config) | {fmt(runs['local'], 1000)} |")
print(f"| difference of the medians | {diff * 1000:.2f} |")
EOF
