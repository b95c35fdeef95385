#!/usr/bin/env bash
# Every check a change must pass: formatting, lints, the Rust tests (unit and integration,
# Icinga2 included when .ci/icinga2-setup.sh has started one), and the Nix tests.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fmt --all -- --check
cargo clippy --locked --all-targets -- -D warnings
cargo test --locked
bash nix/tests/run.sh
