#!/usr/bin/env bash
# The benchmark suite (issue #6), side by side with the original's way, on 127.0.0.1:
#
#   bash benches/run.sh                       P1, P2, P3, P5; P4 too when NIXPKGS_LIB is set
#   NIXPKGS_LIB=/path/to/nixpkgs.lib bash benches/run.sh
#
# Needs: cargo, curl, jq, hyperfine, GNU time (/usr/bin/time), python3, and nix-instantiate
# for P4 (Debian: apt-get install curl jq hyperfine time nix-bin). Writes BENCHMARKS.md.
# Takes about two minutes. Never asserts a time inside the test suite: this is where the
# numbers are made.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
load=$(cut -d" " -f1-3 /proc/loadavg)

missing=()
for tool in curl jq hyperfine python3 cargo; do command -v "$tool" >/dev/null || missing+=("$tool"); done
[ -x /usr/bin/time ] || missing+=("time (GNU)")
if [ ${#missing[@]} -gt 0 ]; then
  echo "missing: ${missing[*]} (Debian: apt-get install curl jq hyperfine time python3)" >&2
  exit 2
fi

cargo build --release --locked --quiet --bin nixcloud-monitoring --example bench_receiver
BIN=$repo/target/release/nixcloud-monitoring

# On disk like a real /var/lib (not tmpfs), so queue writes cost what they cost.
work=$(mktemp -d /var/tmp/nixcloud-bench.XXXXXX)
receiver_log=$work/receiver.log
"$repo/target/release/examples/bench_receiver" 0 >"$receiver_log" &
receiver=$!
daemon=
cleanup() {
  [ -n "$daemon" ] && kill "$daemon" 2>/dev/null || true
  kill "$receiver" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
for _ in $(seq 50); do grep -q listening "$receiver_log" && break; sleep 0.1; done
url="http://$(sed -n 's/^listening on //p' "$receiver_log")"
count() { curl -s "$url/count" | jq -r --arg p "$1" '.[$p] // 0'; }

echo "benchmark-key" >"$work/key"
export API_HOST=$url API_KEY=benchmark-key

# --- configs --------------------------------------------------------------------------
cat >"$work/p1.toml" <<EOF
apiHost = "$url"
apiKeyFile = "$work/key"
stateDir = "$work/p1-state"
[[targets.passive]]
host = "mail.lastlog.de"
name = "sometest"
timers = { check = 600, timeout = 660 }
EOF
{
  printf 'apiHost = "%s"\napiKeyFile = "%s"\nstateDir = "%s"\n' "$url" "$work/key" "$work/p2-state"
  for i in $(seq 1000); do
    printf '[[targets.active.check_http]]\nhost = "host%d.example.org"\nurl = "/health"\ncontains = "ok"\n' "$i"
  done
} >"$work/p2.toml"
sed "s|$work/p1-state|$work/p5-state|" "$work/p1.toml" >"$work/p5.toml"

# --- helpers ----------------------------------------------------------------------------
# hyperfine JSON -> "median p10 p90" in milliseconds.
stats() {
  jq -r '.results[0].times | sort | [ .[(length/2|floor)], .[(length/10|floor)], .[(length*9/10|floor)] ]
         | map(. * 1000) | map(tostring) | join(" ")' "$1"
}
# Median peak RSS in KiB over N runs of a command.
peak_rss() {
  local n=$1
  shift
  for _ in $(seq "$n"); do /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1; done | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'
}
fmt() { awk -v x="$1" 'BEGIN { printf (x < 10 ? "%.2f" : "%.0f"), x }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
verdict() { if awk -v c="$1" 'BEGIN { exit !(c) }'; then echo pass; else echo MISS; fi; }
rows=()

# --- P1: one manual result ----------------------------------------------------------------
echo "P1: one manual result (300 runs each)"
body='{"host":"mail.lastlog.de","name":"sometest","output":"快乐","perfdata":"","state":0}'
hyperfine -N --warmup 20 --runs 300 --export-json "$work/p1-agent.json" \
  "$BIN --config $work/p1.toml submit mail.lastlog.de-sometest 快乐 '' 0" >/dev/null
hyperfine -N --warmup 20 --runs 300 --export-json "$work/p1-wrapper.json" \
  "bash $repo/benches/original-wrapper.sh 快乐 '' 0" >/dev/null
hyperfine -N --warmup 20 --runs 300 --export-json "$work/p1-curl.json" \
  "curl -s -X POST -H 'Authorization: ApiKey benchmark-key' -H 'Content-Type: application/json' --data '$body' $url/api/services/results" >/dev/null
read -r a_med a_p10 a_p90 < <(stats "$work/p1-agent.json")
read -r w_med w_p10 w_p90 < <(stats "$work/p1-wrapper.json")
read -r c_med c_p10 c_p90 < <(stats "$work/p1-curl.json")
a_rss=$(peak_rss 21 "$BIN" --config "$work/p1.toml" submit mail.lastlog.de-sometest "快乐" "" 0)
w_rss=$(peak_rss 21 bash "$repo/benches/original-wrapper.sh" "快乐" "" 0)
c_rss=$(peak_rss 21 curl -s -X POST -H 'Authorization: ApiKey benchmark-key' -H 'Content-Type: application/json' --data "$body" "$url/api/services/results")
[ -z "$(ls "$work/p1-state/queue" 2>/dev/null | grep json)" ] || { echo "P1: results left in the queue" >&2; exit 1; }
rows+=("| P1 | manual result, wall time per call | agent $(fmt "$a_med") ms ($(fmt "$a_p10")–$(fmt "$a_p90")) | wrapper $(fmt "$w_med") ms ($(fmt "$w_p10")–$(fmt "$w_p90")); bare curl $(fmt "$c_med") ms ($(fmt "$c_p10")–$(fmt "$c_p90")) | $(ratio "$a_med" "$w_med") of wrapper, $(ratio "$a_med" "$c_med") of curl | ≤ 0.2 of wrapper, < curl | $(verdict "$a_med <= 0.2 * $w_med && $a_med < $c_med") |")
rows+=("| P1 | manual result, peak RSS (median of 21) | agent $(fmt "$(awk -v k="$a_rss" 'BEGIN{print k/1024}')") MiB | wrapper (bash) $(fmt "$(awk -v k="$w_rss" 'BEGIN{print k/1024}')") MiB; curl $(fmt "$(awk -v k="$c_rss" 'BEGIN{print k/1024}')") MiB | | ≤ 8 MiB | $(verdict "$a_rss <= 8192") |")

# --- P2: register 1,000 active targets (2,000 registrations) ---------------------------------
echo "P2: register 1,000 targets = 2,000 registrations"
"$BIN" --config "$work/p2.toml" check | sed -n 's/^would register .*: POST [^ ]* //p' >"$work/p2-bodies"
[ "$(wc -l <"$work/p2-bodies")" -eq 2000 ] || { echo "P2: expected 2000 bodies" >&2; exit 1; }
cat >"$work/p2-baseline.sh" <<EOF
#!/usr/bin/env bash
# One curl process per registration, as the original's units did.
while IFS= read -r body; do
  curl -s -X POST -H 'Authorization: ApiKey benchmark-key' -H 'Content-Type: application/json' --data "\$body" $url/api/services >/dev/null
done <"$work/p2-bodies"
EOF
before=$(count /api/services)
hyperfine -N --warmup 1 --runs 10 --export-json "$work/p2-agent.json" "$BIN --config $work/p2.toml register" >/dev/null
after=$(count /api/services)
[ $((after - before)) -eq 22000 ] || { echo "P2: the receiver got $((after - before)) registrations, expected 22000" >&2; exit 1; }
hyperfine -N --runs 3 --export-json "$work/p2-curl.json" "bash $work/p2-baseline.sh" >/dev/null
read -r r_med r_p10 r_p90 < <(stats "$work/p2-agent.json")
read -r b_med b_p10 b_p90 < <(stats "$work/p2-curl.json")
rows+=("| P2 | register 1,000 targets (2,000 registrations) | agent $(fmt "$r_med") ms ($(fmt "$r_p10")–$(fmt "$r_p90")) | 2,000 curl processes $(fmt "$b_med") ms ($(fmt "$b_p10")–$(fmt "$b_p90")) | $(ratio "$r_med" "$b_med") | ≤ 0.05, < 1 s | $(verdict "$r_med <= 0.05 * $b_med && $r_med < 1000") |")

# --- P3: daemon memory with 1,000 targets, idle -------------------------------------------------
echo "P3: daemon with 1,000 targets, idle"
before=$(count /api/services)
"$BIN" --config "$work/p2.toml" daemon &
daemon=$!
for _ in $(seq 200); do [ $(($(count /api/services) - before)) -ge 2000 ] && break; sleep 0.1; done
sleep 3
samples=()
for _ in 1 2 3; do samples+=("$(awk '/^VmRSS/ { print $2 }' "/proc/$daemon/status")"); sleep 1; done
hwm=$(awk '/^VmHWM/ { print $2 }' "/proc/$daemon/status")
kill -TERM "$daemon"
wait "$daemon" || true
daemon=
rss=$(printf '%s\n' "${samples[@]}" | sort -n | sed -n 2p)
rows+=("| P3 | daemon RSS after start, 1,000 targets, idle | $(fmt "$(awk -v k="$rss" 'BEGIN{print k/1024}')") MiB (peak during the start-up registration $(fmt "$(awk -v k="$hwm" 'BEGIN{print k/1024}')") MiB) | — | | ≤ 12 MiB | $(verdict "$rss <= 12288") |")

# --- P4: evaluating the NixOS module -----------------------------------------------------------
if [ -n "${NIXPKGS_LIB:-}" ] && command -v nix-instantiate >/dev/null; then
  echo "P4: module evaluation (median of 3)"
  p4() {
    for _ in 1 2 3; do bash nix/tests/eval-module.sh "$NIXPKGS_LIB" "$1" | sed -n 's/.*seconds=//p'; done | sort -n | sed -n 2p
  }
  seed=$(p4 seed)
  line=""
  for n in 100 500 1000 2000; do
    s=$(p4 "$n")
    eval "t$n=$s"
    line+="$n: $(fmt "$(awk -v s="$s" 'BEGIN{print s*1000}')") ms ($(awk -v s="$s" -v n="$n" 'BEGIN{printf "%.0f", s*1e6/n}') µs/target); "
  done
  # Linear: per-target cost at 2,000 within 2x of that at 1,000 (GC grows a little).
  rows+=("| P4 | evaluating module.nix, 1,000 targets | $(fmt "$(awk -v s="$t1000" 'BEGIN{print s*1000}')") ms; ${line% } | seed example $(fmt "$(awk -v s="$seed" 'BEGIN{print s*1000}')") ms | | linear, < 3 s | $(verdict "$t1000 < 3 && $t2000 / 2000 <= 2 * $t1000 / 1000") |")
else
  rows+=("| P4 | evaluating module.nix, 1,000 targets | skipped: set NIXPKGS_LIB to a nixpkgs.lib checkout | | | linear, < 3 s | — |")
fi

# --- P5: delivering 10,000 queued results -----------------------------------------------------------
echo "P5: flush 10,000 queued results"
before=$(count /api/services/results)
hyperfine -N --runs 5 --prepare "python3 $repo/benches/fill-queue.py $work/p5-state 10000" \
  --export-json "$work/p5.json" "$BIN --config $work/p5.toml flush" >/dev/null
delivered=$(($(count /api/services/results) - before))
[ "$delivered" -eq 50000 ] || { echo "P5: the receiver got $delivered results, expected 50000" >&2; exit 1; }
[ -z "$(ls "$work/p5-state/queue" | grep json)" ] || { echo "P5: queue not empty" >&2; exit 1; }
read -r f_med f_p10 f_p90 < <(stats "$work/p5.json")
rows+=("| P5 | deliver 10,000 queued results (\`flush\`) | $(fmt "$f_med") ms ($(fmt "$f_p10")–$(fmt "$f_p90")) | — | | < 5 s | $(verdict "$f_med < 5000") |")

# --- report --------------------------------------------------------------------------------------
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
fs=$(df -T "$work" | awk 'NR == 2 { print $2 }')
{
  cat <<EOF
# Benchmarks

Made by \`bash benches/run.sh\` (P4 with \`NIXPKGS_LIB=<nixpkgs.lib checkout>\`) on $(date -u +%Y-%m-%d):
$(nproc) cores ($cpu), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), Linux $(uname -r),
state directory on $fs, load average before the run $load. Receiver: \`examples/bench_receiver.rs\` on
127.0.0.1 (answers every request \`200 {}\`), the same for both sides. Times are medians with the
10th–90th percentile in brackets.

| # | measure | agent | baseline | ratio | target | |
| --- | --- | --- | --- | --- | --- | --- |
EOF
  printf '%s\n' "${rows[@]}"
} >"$work/report.md"
cp "$work/report.md" BENCHMARKS.md
cat BENCHMARKS.md
