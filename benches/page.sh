#!/usr/bin/env bash
# Issue 22's targets for the status page (the page backend):
#   - rewriting the page for 100 targets with 90 days of history: under 20 ms;
#   - a `submit` with page among the backends: at most 3 ms more than without;
#   - the history of 100 targets at a 1-minute interval: under 6.4 MiB on disk.
#
#   bash benches/page.sh          RUNS=50 measured runs each
#
# The histories are made by src/backend/page/fixture.rs (the agent's own History::record, one
# result a minute for 90 days for each of 100 targets, with a WARNING/CRITICAL half hour and a
# silence every 9 days), run as an ignored test in release mode. Then, from the backend's own
# -vv line (the lock held: histories, page made, files written):
#   - the rewrite after a result: one target rendered again, the other 99 parts joined;
#   - the full rewrite: every target rendered from its history and its own page and details
#     file written (what a new build or a lost parts file costs; the first result after
#     midnight renders every target too but writes no target pages), the parts file removed
#     before each run;
# and the whole `submit` (hyperfine -N), backends = ["local", "page"] against backend = "local"
# with the same 100 targets (local appends a line and fsyncs it).
# State goes to BENCH_DIR (default /var/tmp, a real disk). Needs cargo, hyperfine, python3.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
RUNS=${RUNS:-50}
BENCH_DIR=${BENCH_DIR:-/var/tmp}
for tool in cargo hyperfine python3; do
  command -v "$tool" >/dev/null || { echo "missing: $tool" >&2; exit 2; }
done
unset RUST_BACKTRACE RUST_LIB_BACKTRACE
work=$(mktemp -d "$BENCH_DIR/page-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

echo "building (release) and making the histories ..." >&2
cargo build --release --locked --quiet --bin nixcloud-monitoring
NIXCLOUD_PAGE_FIXTURE=$work/state cargo test --release --locked --quiet --bin nixcloud-monitoring \
  page_fixture -- --ignored >/dev/null
BIN=$repo/target/release/nixcloud-monitoring
history=$work/state/page/history
disk_kib=$(du -sk "$history" | cut -f1)
apparent_kib=$(du -sk --apparent-size "$history" | cut -f1)
files=$(find "$history" -name '*.hist' | wc -l)
[ "$files" -eq 100 ] || { echo "expected 100 histories, found $files" >&2; exit 1; }

config() { # backends line, state dir, file
  {
    printf '%s\nstateDir = "%s"\n[page]\ndir = "%s/www"\n' "$1" "$2" "$work"
    for i in $(seq 0 99); do
      printf '[[targets.passive]]\nhost = "host%d.example.org"\nname = "check%d"\n' $((i / 10)) "$i"
      printf 'timers = { check = 1, timeout = 3 }\n'
    done
  } >"$3"
}
config 'backends = ["local", "page"]' "$work/state" "$work/page.toml"
config 'backend = "local"' "$work/state-local" "$work/local.toml"
PERF="load=0.5;1;2;0"
submit() { # config, target number
  "$BIN" --config "$1" -vv submit "host$(($2 % 100 / 10)).example.org-check$(($2 % 100))" fine "$PERF" 0 2>&1 >/dev/null
}
line='s/.*page: \([0-9]*\) targets, \([0-9]*\) rendered: histories \([0-9]*\) µs, page made \([0-9]*\) µs, .* (\([0-9]*\) bytes) written \([0-9]*\) µs; total \([0-9]*\) µs.*/\1 \2 \3 \4 \5 \6 \7/p'

# The first result renders everything and fills the parts file.
submit "$work/page.toml" 0 >/dev/null
for i in $(seq "$RUNS"); do submit "$work/page.toml" "$i" | sed -n "$line"; done >"$work/incremental.txt"
for i in $(seq "$RUNS"); do
  rm -f "$work/state/page/rendered"
  submit "$work/page.toml" "$i" | sed -n "$line"
done >"$work/full.txt"
for f in incremental full; do
  [ "$(wc -l <"$work/$f.txt")" -eq "$RUNS" ] || { echo "expected $RUNS debug lines ($f)" >&2; exit 1; }
done
index_bytes=$(stat -c %s "$work/www/index.html")
status_bytes=$(stat -c %s "$work/www/status.json")

hyperfine -N --warmup 5 --runs "$RUNS" --export-json "$work/with.json" \
  "$BIN --config $work/page.toml submit host1.example.org-check10 fine $PERF 0" >/dev/null
hyperfine -N --warmup 5 --runs "$RUNS" --export-json "$work/without.json" \
  "$BIN --config $work/local.toml submit host1.example.org-check10 fine $PERF 0" >/dev/null

load=$(cut -d" " -f1-3 /proc/loadavg)
python3 - "$work" "$disk_kib" "$apparent_kib" "$index_bytes" "$status_bytes" \
  "$(df -PT "$work" | awk 'NR == 2 { print $2 }')" "$load" <<'EOF'
import json, statistics, sys
work, disk, apparent, index, status, fs, load = sys.argv[1:8]
disk, apparent = int(disk), int(apparent)

def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(p / 100 * (len(xs) - 1)))]

def fmt(xs):
    return f"{statistics.median(xs):.2f} ({pct(xs, 10):.2f}–{pct(xs, 90):.2f})"

def rows(name):
    return [list(map(int, l.split())) for l in open(f"{work}/{name}.txt")]

inc, full = rows("incremental"), rows("full")
assert all(r[0] == 100 and r[1] == 1 for r in inc), "a result should render one target"
assert all(r[0] == 100 and r[1] == 100 for r in full), "a full rewrite renders all 100"
ms = lambda rs, i: [r[i] / 1000 for r in rs]
runs = {k: json.load(open(f"{work}/{k}.json"))["results"][0]["times"] for k in ("with", "without")}
diff = (statistics.median(runs["with"]) - statistics.median(runs["without"])) * 1000
t_inc, t_full = statistics.median(ms(inc, 6)), statistics.median(ms(full, 6))
ok = lambda c: "pass" if c else "MISS"
print(f"Status page: 100 targets, 90 days of one-minute results; index.html {int(index) / 1024:.0f} KiB, "
      f"status.json {int(status) / 1024:.0f} KiB; state on {fs}; {len(inc)} runs each, median "
      f"(10th–90th percentile), ms; load average after {load}")
print()
print("| measure | ms |")
print("| --- | --- |")
print(f"| rewrite after a result, total (lock held; target < 20 ms: {ok(t_inc < 20)}) | {fmt(ms(inc, 6))} |")
print(f"| — histories (list, parts file read, one history read and written) | {fmt(ms(inc, 2))} |")
print(f"| — page made (one target rendered, 100 joined) | {fmt(ms(inc, 3))} |")
print(f"| — files written (index.html, status.json, the target's page and details, parts file) | {fmt(ms(inc, 5))} |")
print(f"| full rewrite, every target rendered from its history (target < 20 ms: {ok(t_full < 20)}) | {fmt(ms(full, 6))} |")
print(f"| — page made | {fmt(ms(full, 3))} |")
print(f"| — files written (also 100 target pages and 100 details files) | {fmt(ms(full, 5))} |")
print(f"| `submit`, backends local and page (process start to exit) | {fmt([t * 1000 for t in runs['with']])} |")
print(f"| `submit`, backend local alone (same targets) | {fmt([t * 1000 for t in runs['without']])} |")
print(f"| difference of the medians (target ≤ 3 ms: {ok(diff <= 3)}) | {diff:.2f} |")
print()
print(f"History of the 100 targets on disk: {disk} KiB ({disk / 1024:.2f} MiB, {apparent} KiB of data; "
      f"target < 6.4 MiB: {ok(disk < 6.4 * 1024)}).")
EOF
