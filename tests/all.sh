#!/usr/bin/env bash
# Every check a change must pass: formatting, lints, the Rust tests (unit and integration,
# Icinga2 included when .ci/icinga2-setup.sh has started one), and the Nix tests. A test that
# had to skip says so (SKIPPED) and is listed at the end; under CI (CI set) a skip is a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fmt --all -- --check
cargo clippy --locked --all-targets -- -D warnings
NIXCLOUD_SKIP_LOG=$(mktemp)
export NIXCLOUD_SKIP_LOG
trap 'rm -f "$NIXCLOUD_SKIP_LOG"' EXIT
cargo test --locked
bash nix/tests/run.sh
# nix/prometheus.nix's output against the real promtool, Prometheus, node and blackbox exporters.
bash tests/prometheus/run.sh
if [ -s "$NIXCLOUD_SKIP_LOG" ]; then
	echo "SKIPPED ($(wc -l <"$NIXCLOUD_SKIP_LOG") tests; they passed nothing):"
	sed 's/^/  SKIPPED /' "$NIXCLOUD_SKIP_LOG"
	if [ -n "${CI:-}" ]; then
		echo "CI must not skip tests" >&2
		exit 1
	fi
fi
