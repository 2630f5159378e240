#!/usr/bin/env bash
# Runs the benchmark suites for the record, one after another, into perf-results/<label>/<suite>, with machine.txt.
# Usage: bench/run-all.sh [label]        every suite into perf-results/<date>-<cpu>-<microarchitecture>-<n>core/
#                                        (about two hours; run it on a quiet machine)
#        SUITES="TlbBenchmarks TranslateBenchmarks" bench/run-all.sh label     only those suites
#        LAUNCHES=5 ITERATIONS=20 bench/run-all.sh label                     more samples (defaults 3 and 15)
# Before the suites it builds the C reference walk (bench/native/build.sh) with the system compiler and records
# valgrind lackey traces of a few real programs (bench/traces/record.sh) when valgrind is installed.
set -euo pipefail
cd "$(dirname "$0")/.."

# The microarchitecture from the CPUID family and model /proc/cpuinfo shows ("AMD EPYC" alone names no generation).
cpu_field() { sed -n "s/^$1[[:space:]]*: *//p" /proc/cpuinfo | head -1; }
vendor="$(cpu_field vendor_id)"
family="$(cpu_field 'cpu family')"
model="$(cpu_field model)"
microarchitecture=unknown
if [ "$vendor" = AuthenticAMD ]; then
  case "$family" in
    # Family 23 (0x17): models below 0x30 are Zen and Zen+ (1 = Naples; 1 is also what QEMU's and KVM's generic
    # "EPYC" CPU model reports, whatever the host), 0x30 and up Zen 2.
    23) if [ "$model" -lt 48 ]; then microarchitecture="Zen or Zen+"; else microarchitecture="Zen 2"; fi ;;
    25) if [ "$model" -lt 16 ] || { [ "$model" -ge 32 ] && [ "$model" -lt 96 ]; }; then microarchitecture="Zen 3"; else microarchitecture="Zen 4"; fi ;;
    26) microarchitecture="Zen 5" ;;
  esac
fi
flags="$(cpu_field flags)"
if grep -qw avx512f <<<"$flags"; then vectors="AVX-512 (F$(grep -qw avx512bw <<<"$flags" && echo ', BW')$(grep -qw avx512vl <<<"$flags" && echo ', VL')), AVX2"
elif grep -qw avx2 <<<"$flags"; then vectors="AVX2, no AVX-512"
else vectors="no AVX2"; fi
slug="$(cpu_field 'model name' | tr 'A-Z ' 'a-z-' | tr -cd 'a-z0-9-')-$(tr 'A-Z' 'a-z' <<<"$microarchitecture" | tr -cd 'a-z0-9')-$(nproc)core"
label="${1:-$(date +%F)-$slug}"
out="perf-results/$label"
launches="${LAUNCHES:-3}"
iterations="${ITERATIONS:-15}"
mkdir -p "$out"

bench/native/build.sh
if command -v valgrind >/dev/null 2>&1; then bench/traces/record.sh; else echo "valgrind not installed: trace replay suites will report that"; fi
dotnet build -c Release bench/FastPt.Benchmarks >/dev/null

load_start="$(cut -d' ' -f1-3 /proc/loadavg)"
suites="${SUITES:-TranslateBenchmarks TlbBenchmarks TraceReplayBenchmarks MapUnmapBenchmarks GatherBenchmarks RemoteInvalidationBenchmarks FirstTouchBenchmarks MemchrInvBenchmarks HotRemoveBenchmarks EventSourceOverheadBenchmarks EventSourceEnabledBenchmarks}"
for suite in $suites; do
  echo "== $suite"
  dotnet run -c Release --no-build --project bench/FastPt.Benchmarks -- --filter "*.$suite.*" \
    --launchCount "$launches" --warmupCount 5 --iterationCount "$iterations" --artifacts "$out/$suite" > "$out/$suite.log" 2>&1 || echo "   failed, see $out/$suite.log"
  grep -E '^\|' "$out/$suite/results/"*.md 2>/dev/null | head -40 || true
  if grep -qE 'Exception|Build Error|failed to build' "$out/$suite.log"; then echo "   errors in $out/$suite.log (kept)"; else rm -f "$out/$suite.log"; fi
  rm -f "$out/$suite/"*.log
done

{
  echo "cpu: $(cpu_field 'model name') (vendor $vendor, family $family, model $model, stepping $(cpu_field stepping): $microarchitecture), $vectors"
  echo "cores: $(nproc); memory: $(free -g | awk '/Mem:/{print $2}') GiB; L2 $(lscpu | sed -n 's/^L2 cache: *//p'); L3 $(lscpu | sed -n 's/^L3 cache: *//p'); hypervisor: $(lscpu | sed -n 's/^Hypervisor vendor: *//p')"
  echo "dotnet: SDK $(dotnet --version); C compiler: $(cat bench/native/bin/compiler.txt 2>/dev/null || echo none)"
  echo "date: $(date -u +%FT%TZ)"
  echo "commit: $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src bench || echo ' + uncommitted changes')"
  echo "runs: $launches launches x $iterations iterations (5 warm-up) per benchmark"
  echo "load average (1, 5, 15 min) at start: $load_start; at end: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "note: a machine with more runnable threads than its $(nproc) cores is shared; a load above $(nproc) means other work ran beside the benchmarks"
} > "$out/machine.txt"
cat "$out/machine.txt"
