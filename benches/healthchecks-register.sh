#!/usr/bin/env bash
# Issue 12's Healthchecks target: registering 1,000 passive targets takes at most 1/20 of the
# time of one curl per target against the same server.
#
#   bash benches/healthchecks-register.sh            against the stand-in (tests/standins)
#   HC_URL=http://127.0.0.1:8001 HC_KEY=<32 chars> bash benches/healthchecks-register.sh
#                                                    against a real Healthchecks you run
#
# Three agent runs, each timed whole (process start to exit): the first registration (1,000
# checks created), an unchanged one (one listing, nothing written) and one with a single
# target changed. The baseline is what a shell script does: one `curl` per target with the
# same upsert body (`unique: ["name"]`), so its second run also writes nothing new. With the
# stand-in, each side gets a fresh server so both start from an empty project.
# Needs curl, python3 and the release binary (built here). Prints a table; writes nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
N=${N:-1000}
cargo build --release --locked --quiet --bin nixcloud-monitoring
BIN=$repo/target/release/nixcloud-monitoring
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# A server: the given one, or a fresh stand-in. Sets URL and KEY.
server() {
  if [ -n "${HC_URL:-}" ]; then
    URL=$HC_URL KEY=${HC_KEY:?set HC_KEY with HC_URL}
    return
  fi
  KEY=KKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKK
  local out=$work/standin.$RANDOM
  python3 tests/standins/healthchecks.py --port 0 --api-key "$KEY" >"$out" 2>/dev/null &
  pids+=($!)
  for _ in $(seq 100); do grep -q listening "$out" 2>/dev/null && break; sleep 0.1; done
  URL=http://127.0.0.1:$(sed -n 's/listening on //p' "$out")
}

now() { date +%s.%N; }
secs() { python3 -c "print(f'{$2 - $1:.2f}')"; }

# --- the agent ------------------------------------------------------------------------------
server
printf %s "$KEY" >"$work/key"
{
  printf 'backends = ["healthchecks"]\nstateDir = "%s/state"\n' "$work"
  printf '[healthchecks]\nurl = "%s"\napiKeyFile = "%s/key"\nowner = "bench-%s"\n' "$URL" "$work" "$$"
  for i in $(seq "$N"); do
    printf '[[targets.passive]]\nhost = "h%d"\nname = "job"\n' "$i"
  done
} >"$work/config.toml"
export NIXCLOUD_MONITORING_CONFIG=$work/config.toml
t0=$(now); "$BIN" register >/dev/null; t1=$(now)
"$BIN" register >/dev/null; t2=$(now)
sed -i '0,/name = "job"/s//name = "job2"/' "$work/config.toml"
"$BIN" register >/dev/null; t3=$(now)
agent_first=$(secs "$t0" "$t1"); agent_same=$(secs "$t1" "$t2"); agent_one=$(secs "$t2" "$t3")

# --- one curl per target ---------------------------------------------------------------------
server
curl_round() {
  for i in $(seq "$N"); do
    curl -sf -o /dev/null -X POST "$URL/api/v3/checks/" -H "X-Api-Key: $KEY" \
      -d "{\"name\": \"h$i-job\", \"tags\": \"baseline\", \"timeout\": 600, \"grace\": 10200, \"unique\": [\"name\"]}"
  done
}
t0=$(now); curl_round; t1=$(now); curl_round; t2=$(now)
curl_first=$(secs "$t0" "$t1"); curl_same=$(secs "$t1" "$t2")

ratio() { python3 -c "print(f'{$1 / $2:.3f}')"; }
echo "Healthchecks registration of $N passive targets against ${HC_URL:-the stand-in}"
echo "| run | agent (s) | one curl per target (s) | agent / curl |"
echo "|---|---|---|---|"
echo "| first (all created) | $agent_first | $curl_first | $(ratio "$agent_first" "$curl_first") |"
echo "| unchanged | $agent_same | $curl_same | $(ratio "$agent_same" "$curl_same") |"
echo "| one target changed | $agent_one | (as unchanged) | $(ratio "$agent_one" "$curl_same") |"
