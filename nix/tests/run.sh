#!/usr/bin/env bash
# Nix checks that need nothing but `nix-instantiate` (Debian: nix-bin), no
# nixpkgs and no daemon. Run from anywhere inside the repository:
#
#   nix/tests/run.sh
#
#  1. `nix-instantiate --parse` on every .nix file of the repository (a failure
#     fails the run; a success is not counted as a test);
#  2. `nix-instantiate --eval --strict` on each nix/tests/test-*.nix through
#     harness.nix, comparing the pure helpers of nix/ to expected values.
#
# Ends with "nix tests: N passed, M failed" and exits non-zero on any failure.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"

# shellcheck source=nix/tests/nix-env.sh
. nix/tests/nix-env.sh

passed=0
failed=0

# --- 1. parse every .nix file -------------------------------------------------
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	mapfile -t files < <(
		{
			git ls-files -- '*.nix'
			git ls-files --others --exclude-standard -- '*.nix'
		} | sort -u
	)
else
	mapfile -t files < <(find . -name '*.nix' -not -path './.git/*' -not -path './target/*' | sed 's|^\./||' | sort)
fi

# A file that merely parses is no passed test: parse errors fail the run, successes are not
# counted.
parse_failed=0
for f in "${files[@]}"; do
	[ -f "$f" ] || continue
	if ! out=$(nix-instantiate "${nix_args[@]}" --parse "$f" 2>&1 >/dev/null); then
		parse_failed=$((parse_failed + 1))
		echo "FAIL parse $f"
		echo "$out" | sed 's/^/  /'
	fi
done
failed=$((failed + parse_failed))
echo "parsed ${#files[@]} .nix files ($parse_failed failed; not counted as tests)"

# --- 2. pure helper tests -------------------------------------------------------
for t in nix/tests/test-*.nix; do
	if out=$(nix-instantiate "${nix_args[@]}" --eval --strict \
		-E "import ./nix/tests/harness.nix ./$t" 2>&1); then
		echo "ok   $t: $out cases"
		passed=$((passed + out))
	else
		echo "FAIL $t"
		echo "$out" | sed 's/^/  /'
		# harness.nix ends its message with "nix-tests-failed=K total=N"; an
		# evaluation error (no such line) counts as all of the file failing once.
		if [[ $out =~ nix-tests-failed=([0-9]+)\ total=([0-9]+) ]]; then
			failed=$((failed + BASH_REMATCH[1]))
			passed=$((passed + BASH_REMATCH[2] - BASH_REMATCH[1]))
		else
			failed=$((failed + 1))
		fi
	fi
done

echo "nix tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
