#!/usr/bin/env bash
# Same-run before/after comparison: extracts the tree at REF (default: main) into a scratch directory, then runs the
# chosen suites in one BenchmarkDotNet run with two jobs, "before" (built against REF's src/FastPt) and "after"
# (this tree's). The benchmark code is this tree's in both jobs: it must compile against REF's engine.
#   bench/compare.sh [REF] [OUT] [FILTER...]
#   bench/compare.sh main perf-results/2026-12-01-amd-epyc-zen3-2core/layers-compare '*TlbBenchmarks*' '*TranslateBenchmarks*'
# SOURCES='Paging/*.cs;Tlb/TlbBenchmarks.cs' compiles only those benchmark sources (and Program.cs, without its tools:
# boot-scaling, fault-1t, hvo-profile, ...) in both jobs, for a REF whose engine lacks APIs that other suites use. LAUNCHES=N runs N launches of six iterations per job (default 2
# of ten): process-to-process variance dominates on a small VM, so a conclusive comparison needs more launches. The "before" build is tried first: the script stops if it fails
# (BenchmarkDotNet would otherwise time only the "after" job and print NA for every "before" row).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
ref=${1:-main}
out=${2:-$root/BenchmarkDotNet.Artifacts/compare}
shift $(( $# < 2 ? $# : 2 ))
filters=("$@")
[ ${#filters[@]} -eq 0 ] && filters=('*TlbBenchmarks*' '*TranslateBenchmarks*')
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
git -C "$root" archive "$ref" | tar -x -C "$scratch"
if [ -n "${SOURCES:-}" ]; then export FastPtBenchSources="$SOURCES"; fi
if [ -n "${LAUNCHES:-}" ]; then export FASTPT_COMPARE_LAUNCHES="$LAUNCHES"; fi
if ! build_log=$(dotnet build -c Release "$root/bench/FastPt.Benchmarks" -p:FastPtBaseline="$scratch" \
        -o "$scratch/prebuild-before" 2>&1); then
    echo "$build_log" | grep -E 'error' | sort -u | head -20 >&2
    echo "compare.sh: the benchmarks do not compile against the engine at $ref; name the sources that do with SOURCES='...'" >&2
    exit 2
fi
echo "before: FastPt at $(git -C "$root" rev-parse --short "$ref"); after: this tree ($(git -C "$root" rev-parse --short HEAD)$(git -C "$root" diff --quiet HEAD -- src || echo ', modified'))"
dotnet run -c Release --project "$root/bench/FastPt.Benchmarks" -- compare "$scratch" \
    --filter "${filters[@]}" --artifacts "$out"
