#!/usr/bin/env bash
# The project's one test command (README "Test"; .ci/run calls exactly this).
# Formatting, lints, every unit/property/known-answer/fixture test, then a short bounded fuzz
# run of every parser when a nightly toolchain is present.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo test --workspace
# Fuzzing is a smoke run here (FUZZ_SECONDS per target); docs/FUZZING.md describes the long run.
bash scripts/fuzz.sh "${FUZZ_SECONDS:-20}"
