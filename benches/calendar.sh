#!/usr/bin/env bash
# Issue 21's speed goal: computing the gaps of 1,000 calendar targets takes under 1 s in
# `check`, and `submit` does not compute them again.
#
#   bash benches/calendar.sh [RUNS]       (default 5 runs of each)
#
# 1,000 passive targets, each its own calendar (every minute of the day from 00:00 a different
# daily time, with a tenth weekday lists, a tenth last-day-of-month, a tenth in Europe/Berlin,
# a tenth two expressions), so no two share an entry in <stateDir>/calendar.json. Measures:
#   a. `check` with no calendar.json (one systemd-analyze call for all 1,000, then the runs of
#      each over a year, enumerated by the agent),
#   b. `check` again (every gap from calendar.json),
#   c. `submit` of one target with that file there, and with $NIXCLOUD_SYSTEMD_ANALYZE set to
#      /bin/false: it must still succeed, which it could not if it asked systemd.
# Needs cargo, systemd-analyze and python3. Prints the medians (min-max); writes nothing else.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
cargo build --release --locked --quiet --bin nixcloud-monitoring
bin=$PWD/target/release/nixcloud-monitoring
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
state=$work/state
mkdir -p "$state"
python3 - "$work/config.toml" "$state" <<'EOF'
import sys
path, state = sys.argv[1], sys.argv[2]
out = [f'backend = "local"\nstateDir = "{state}"\n']
for i in range(1000):
    h, m = divmod(i, 60)
    h %= 24
    expr = f'"*-*-* {h:02}:{m:02}:00"'
    if i % 10 == 1:
        expr = f'"Mon..Fri {h:02}:{m:02}"'
    elif i % 10 == 2:
        expr = f'"*-*~01 {h:02}:{m:02}"'
    elif i % 10 == 3:
        expr = f'"*-*-* {h:02}:{m:02} Europe/Berlin"'
    elif i % 10 == 4:
        expr = f'["Mon {h:02}:{m:02}", "Thu {h:02}:{(m + 30) % 60:02}"]'
    out.append(f'[[targets.passive]]\nhost = "h"\nname = "t{i}"\ntimers = {{ calendar = {expr} }}\n')
open(path, "w").write("".join(out))
EOF
config=$work/config.toml

# Milliseconds of one command (its output discarded; a failure stops the script).
ms() {
  local start end
  start=$(date +%s%N)
  "$@" >/dev/null
  end=$(date +%s%N)
  echo $(((end - start) / 1000000))
}
median() { sort -n | awk '{ a[NR] = $1 } END { printf "%d ms (%d-%d)", a[int((NR + 1) / 2)], a[1], a[NR] }'; }

cold=()
warm=()
submit=()
for _ in $(seq "$runs"); do
  rm -f "$state/calendar.json" "$state/.config-index"
  cold+=("$(ms "$bin" --config "$config" check)")
  warm+=("$(ms "$bin" --config "$config" check)")
done
# The config index needs a config older than 2 s (racy-clean rule); a full load indexes it.
touch -d '-1 min' "$config"
"$bin" --config "$config" check >/dev/null
for _ in $(seq "$runs"); do
  submit+=("$(ms env NIXCLOUD_SYSTEMD_ANALYZE=/bin/false "$bin" --config "$config" submit h-t500 ok '' 0)")
done
echo "calendars: $(python3 -c "import json; print(len(json.load(open('$state/calendar.json'))['calendars']))") in calendar.json"
echo "check, 1,000 calendar targets, no calendar.json: $(printf '%s\n' "${cold[@]}" | median)"
echo "check, the same, gaps from calendar.json:        $(printf '%s\n' "${warm[@]}" | median)"
echo "submit of one of them (systemd-analyze unusable):  $(printf '%s\n' "${submit[@]}" | median)"
