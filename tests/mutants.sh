#!/usr/bin/env bash
# Mutation testing of the core modules with cargo-mutants (crates.io): every mutant the tests
# do not catch is a line whose breaking no test notices. Not in CI (hours on 2 cores); run it
# before claiming the tests guard a module, then read tests/mutants-results.md.
#
#   bash tests/mutants.sh                     # the core modules, the whole test suite
#   bash tests/mutants.sh src/retry.rs        # some files only
#   MUTANTS_TESTS=unit MUTANTS_TIMEOUT=30 bash tests/mutants.sh
#                                             # unit tests only (fast, a lower bound)
#
# Needs a running test Icinga2 for the whole suite (bash .ci/icinga2-setup.sh), as tests/all.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cargo-mutants >/dev/null || cargo install --locked cargo-mutants
files=("$@")
[ ${#files[@]} -gt 0 ] || files=(src/queue.rs src/deliver.rs src/retry.rs src/result.rs src/passive.rs src/targets.rs src/config.rs src/cmd/daemon.rs src/cmd/daemon/schedule.rs)
args=()
for f in "${files[@]}"; do args+=(--file "$f"); done
test_args=()
[ "${MUTANTS_TESTS:-all}" = unit ] && test_args=(-- --bin nixcloud-monitoring)
out=$(mktemp -d)
cargo mutants "${args[@]}" --timeout "${MUTANTS_TIMEOUT:-300}" --output "$out" "${test_args[@]}" || true
python3 - "$out/mutants.out/outcomes.json" "${MUTANTS_TESTS:-all}" "${files[@]}" >tests/mutants-results.md <<'PY'
import json, sys, datetime
outcomes = json.load(open(sys.argv[1]))["outcomes"]
tests, files = sys.argv[2], sys.argv[3:]
rows = {}
missed = []
for o in outcomes:
    if o["scenario"] == "Baseline":
        continue
    m = o["scenario"]["Mutant"]
    f = m["file"]
    r = rows.setdefault(f, {"caught": 0, "missed": 0, "timeout": 0, "unviable": 0})
    key = {"CaughtMutant": "caught", "MissedMutant": "missed", "Timeout": "timeout", "Unviable": "unviable"}.get(o["summary"], "unviable")
    r[key] += 1
    if key == "missed":
        missed.append(m["name"])
print(f"# Mutation testing ({datetime.date.today()}, cargo-mutants, tests: {tests})\n")
print("| file | caught | missed | timeout | unviable | caught of viable |")
print("| --- | --- | --- | --- | --- | --- |")
for f in sorted(rows):
    r = rows[f]
    viable = r["caught"] + r["missed"] + r["timeout"]
    pct = f'{100 * (r["caught"] + r["timeout"]) / viable:.0f}%' if viable else "-"
    print(f'| `{f}` | {r["caught"]} | {r["missed"]} | {r["timeout"]} | {r["unviable"]} | {pct} |')
print("\n## Missed mutants\n")
for m in missed:
    print(f"- {m}")
PY
echo "wrote tests/mutants-results.md"
