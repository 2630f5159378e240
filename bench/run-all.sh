#!/usr/bin/env bash
# Runs every benchmark suite for the record, one after another, into perf-results/<date>-<machine>/<suite>.
# Usage: bench/run-all.sh [label]   (run on a quiet machine; takes about half an hour)
#        SUITES="TlbBenchmarks TranslateBenchmarks" bench/run-all.sh label   runs only those suites
set -euo pipefail
cd "$(dirname "$0")/.."
label="${1:-$(date +%F)-$(lscpu | sed -n 's/^Model name: *//p' | tr ' A-Z' '-a-z' | tr -cd 'a-z0-9-')}"
out="perf-results/$label"
mkdir -p "$out"
dotnet build -c Release bench/FastPt.Benchmarks >/dev/null
suites="${SUITES:-TranslateBenchmarks MapUnmapBenchmarks TlbBenchmarks GatherBenchmarks RemoteInvalidationBenchmarks MemchrInvBenchmarks HotRemoveBenchmarks EventSourceOverheadBenchmarks EventSourceEnabledBenchmarks}"
for suite in $suites; do
  echo "== $suite"
  dotnet run -c Release --no-build --project bench/FastPt.Benchmarks -- --filter "*.$suite.*" \
    --warmupCount 3 --iterationCount 12 --launchCount 1 --artifacts "$out/$suite" > "$out/$suite.log" 2>&1 || echo "   failed, see $out/$suite.log"
  grep -E '^\|' "$out/$suite/results/"*.md 2>/dev/null | head -40 || true
  rm -f "$out/$suite.log" "$out/$suite/"*.log
done
{ echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB"; echo "date: $(date -u +%FT%TZ)"; dotnet --version; } > "$out/machine.txt"
