#!/usr/bin/env bash
# Evaluates module.nix with the real nixpkgs lib (lib.evalModules, stand-ins
# for the NixOS options it sets: nix/tests/stubs.nix).
#
#   nix/tests/eval-module.sh LIBPATH        the full check: seed example,
#                                           assertion messages, daemon mode,
#                                           then timings for 100..2000 targets
#   nix/tests/eval-module.sh LIBPATH N      one line: "eval targets=N seconds=S"
#                                           (N a number, or "seed")
#
# LIBPATH is a checkout of nix-community/nixpkgs.lib (or nixpkgs): the
# directory holding lib/, or lib/ itself. It is not part of this repository
# and this script does not download it.
set -euo pipefail

usage() {
	echo "usage: $0 LIBPATH [N]" >&2
	exit 2
}
[ $# -ge 1 ] && [ $# -le 2 ] || usage

lib=$(cd "$1" && pwd) || usage
[ -f "$lib/lib/default.nix" ] && lib="$lib/lib"
[ -f "$lib/default.nix" ] && [ -f "$lib/modules.nix" ] || {
	echo "$0: $1 does not look like nixpkgs' lib" >&2
	exit 2
}

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"
# shellcheck source=nix/tests/nix-env.sh
. nix/tests/nix-env.sh

# Evaluate N generated targets, forcing everything the module produces, and
# check that all N reached the config file with no failed assertion.
# Prints "eval targets=N seconds=S" (wall clock, including Nix's start-up).
timed_eval() {
	local n=$1 start end out
	start=$(date +%s.%N)
	out=$(nix-instantiate "${nix_args[@]}" --eval --strict -E "
		let r = import ./nix/tests/eval-module.nix { lib = import $lib; targets = $n; };
		in builtins.deepSeq r (r.failedAssertions == [ ]
		  && r.counts.renderedActive + r.counts.renderedPassive == $n)")
	end=$(date +%s.%N)
	if [ "$out" != true ]; then
		echo "eval targets=$n: unexpected result: $out" >&2
		return 1
	fi
	awk -v n="$n" -v s="$start" -v e="$end" 'BEGIN { printf "eval targets=%d seconds=%.3f\n", n, e - s }'
}

# The seed example (6 targets), timed the same way.
timed_seed() {
	local start end
	start=$(date +%s.%N)
	nix-instantiate "${nix_args[@]}" --eval --strict -E \
		"builtins.deepSeq (import ./nix/tests/eval-module.nix { lib = import $lib; targets = \"seed\"; }) true" >/dev/null
	end=$(date +%s.%N)
	awk -v s="$start" -v e="$end" 'BEGIN { printf "eval targets=seed seconds=%.3f\n", e - s }'
}

if [ $# -eq 2 ]; then
	if [ "$2" = seed ]; then
		timed_seed
		exit
	fi
	[[ $2 =~ ^[0-9]+$ ]] || usage
	timed_eval "$2"
	exit
fi

echo "nixpkgs lib: $lib"
# The report arrives on stderr via builtins.trace; the value is "ok" or an error.
nix-instantiate "${nix_args[@]}" --eval --strict nix/tests/eval-suite.nix \
	--arg lib "import $lib" 2>&1 | sed 's/^trace: //'
status=${PIPESTATUS[0]}
[ "$status" -eq 0 ] || {
	echo "eval-module: FAILED"
	exit 1
}

echo
echo "=== timings (generated targets over all kinds, 1/8 passive, half of those scripted)"
timed_seed
for n in 100 500 1000 2000; do
	timed_eval "$n"
done
echo "eval-module: ok"
