#!/usr/bin/env bash
# Runs the crypto suite benchmarks (registry wrapper vs raw library call) and the ESP
# seal+open benchmark (vs raw AEAD calls) and the policy classifier, same run, and writes
# docs/BENCHMARKS.md. Sections other scripts own (from the `<!-- throughput:begin` marker of
# scripts/throughput.sh to the end of the file) are carried over unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf target/criterion
cargo bench -p crypto --bench suites -- --noplot "$@"
cargo bench -p esp --bench esp -- --noplot "$@"
cargo bench -p policy --bench classify -- --noplot "$@"
python3 scripts/bench_report.py target/criterion > docs/BENCHMARKS.md.new
if [ -f docs/BENCHMARKS.md ] && grep -q '<!-- throughput:begin' docs/BENCHMARKS.md; then
    { echo; sed -n '/<!-- throughput:begin/,$p' docs/BENCHMARKS.md; } >> docs/BENCHMARKS.md.new
fi
mv docs/BENCHMARKS.md.new docs/BENCHMARKS.md
echo "wrote docs/BENCHMARKS.md"
