#!/usr/bin/env bash
# The JIT's own listings of issue 14's hot paths, in the tier the benchmarks run, with instruction counts.
#
#   bench/disasm.sh [OUT]      default OUT: perf-results/2026-12-01-amd-epyc-zen3-2core/HotPath/listings-<commit>
#                              (<commit>: the last one that changed src/ or bench/FastPt.Benchmarks/)
#
# Builds bench/FastPt.Benchmarks in Release, then runs each benchmark below in a process of its own
# (BenchmarkDotNet in-process, short job: about ten seconds each, two to three minutes in all) with
# DOTNET_JitDisasm and DOTNET_JitStdOutFile set, so that each listing carries the profile (dynamic PGO) of the
# benchmark that runs it, as in the measured runs, where every benchmark is a process of its own. The runtime's
# defaults are kept (tiered compilation, tiered PGO, OSR; any DOTNET_ tiering override in the environment is
# removed), so the listing kept for a method is the last "Tier1" one (the final tier the measured iterations run;
# the header says "Tier1 code" and which PGO it used), else "FullOpts"; bench/disasm.py refuses a method that has
# neither. Then it counts every listing (bench/disasm.py count) into OUT/counts.md.
#
# The listings are taken on the machine's CPU (the JIT emits for it: AVX2 here, AVX-512 elsewhere); exact
# counts do not depend on load, so a shared machine is fine. NO_BUILD=1 skips the build. The trace-replay runs
# need the lackey traces (bench/traces/record.sh, or FASTPT_TRACES); without them they are skipped and said so.
set -euo pipefail
cd "$(dirname "$0")/.."
# Named by the last commit that changed the engine or the benchmarks: the code the listings are of.
commit="$(git log -1 --format=%h -- src bench/FastPt.Benchmarks)"
out="${1:-perf-results/2026-12-01-amd-epyc-zen3-2core/HotPath/listings-$commit}"
dll=bench/FastPt.Benchmarks/bin/Release/net10.0/FastPt.Benchmarks.dll
if [ "${NO_BUILD:-}" != 1 ]; then
  dotnet build bench/FastPt.Benchmarks -c Release -nologo -v q 2>&1 | grep -E ' error |Warn|Error' || true
fi
[ -f "$dll" ] || { echo "disasm.sh: $dll not built" >&2; exit 1; }
mkdir -p "$out"
out="$(cd "$out" && pwd)"
raw="$(mktemp -d)"
trap 'rm -rf "$raw"' EXIT

# Every method of these classes is listed by the JIT (all tiers); disasm.py keeps the final tier of those named.
patterns='*TlbBenchmarks:* *TranslateBenchmarks:* *TraceReplayBenchmarks:* *Cpu`1*:* *AddressSpace:* *MmuContext:* *SoftTlb:* *PhysicalMemory:* *BareWalker:*'
traces="${FASTPT_TRACES:-bench/traces}"

# run NAME FILTER METHOD...: one benchmark in its own process; METHOD is Class:Method ("?" at the end: if optimised).
run() {
  local name="$1" filter="$2"; shift 2
  echo "== $name ($filter)"
  rm -rf "$out/$name"
  if ! env -u DOTNET_TieredCompilation -u DOTNET_TC_QuickJitForLoops -u DOTNET_OSR_HitLimit -u DOTNET_TieredPGO \
      -u DOTNET_ReadyToRun -u DOTNET_TC_CallCountThreshold -u DOTNET_JitDisasmDiffable \
      DOTNET_JitDisasm="$patterns" DOTNET_JitStdOutFile="$raw/$name.asm" \
      dotnet "$dll" --filter "$filter" --job short --inProcess --artifacts "$raw/bdn-$name" > "$raw/$name.log" 2>&1; then
    tail -20 "$raw/$name.log" >&2
    echo "disasm.sh: the run of $filter failed" >&2
    exit 1
  fi
  grep -q 'executed benchmarks: [1-9]' "$raw/$name.log" || { tail -20 "$raw/$name.log" >&2; echo "disasm.sh: $filter ran no benchmark" >&2; exit 1; }
  python3 bench/disasm.py extract "$raw/$name.asm" "$out/$name" "$@"
}

# Floors: the bare four-load walk (the same Walk serves every Tlb category) and the minimal software TLB hit.
run bare-walk '*.TlbBenchmarks.BareWalkPscMiss' TlbBenchmarks:Walk
run minimal-tlb-hit '*.TlbBenchmarks.MinimalTlbHit' TlbBenchmarks:MinimalTlbHit
# Hits: a held context (the Translate loop, MmuContext.TryTranslate inlined), the per-thread context, Read<ulong>.
run held-hit '*.TlbBenchmarks.TlbHit' TlbBenchmarks:Translate
run per-thread-hit '*.TlbBenchmarks.TlbHitImplicitContext' TlbBenchmarks:TlbHitImplicitContext AddressSpace:TryTranslate? AddressSpace:get_CurrentContext? AddressSpace:CurrentContextSlow?
run read-hit '*.TlbBenchmarks.ReadHit' TlbBenchmarks:ReadHit Cpu:ReadSlow?
# Misses: refilled from the PMD-level paging-structure cache, and walked from the root (RefillFromUpper).
run psc-miss '*.TlbBenchmarks.TlbMissPscHit' TlbBenchmarks:Translate Cpu:TranslateSlow
run full-miss '*.TlbBenchmarks.FullMiss' TlbBenchmarks:Translate Cpu:TranslateSlow Cpu:RefillFromUpper
# Random translation (its three working sets run in one process: the profile is the first set's, 1 GiB of 4 KiB).
run random-bare-walk '*.TranslateBenchmarks.BareWalk' TranslateBenchmarks:BareWalk
run random-held '*.TranslateBenchmarks.FastPtHeldContext' TranslateBenchmarks:FastPtHeldContext Cpu:TranslateSlow Cpu:RefillFromUpper?
run random-per-thread '*.TranslateBenchmarks.FastPtTryTranslate' TranslateBenchmarks:FastPtTryTranslate Cpu:TranslateSlow AddressSpace:CurrentContextSlow?
# Real programs' traces, warm: FastPt through a held context and the minimal TLB (the floor) on the same trace.
if ls "$traces"/*.lackey.gz > /dev/null 2>&1; then
  export FASTPT_TRACES="$(cd "$traces" && pwd)"
  run replay-held '*.TraceReplayBenchmarks.FastPtHeldContext' TraceReplayBenchmarks:FastPtHeldContext Cpu:TranslateSlow?
  run replay-minimal-tlb '*.TraceReplayBenchmarks.MinimalTlb' TraceReplayBenchmarks:MinimalTlb TraceReplayBenchmarks:MinimalTlbMiss?
else
  echo "== replay: no traces in $traces (bench/traces/record.sh, or FASTPT_TRACES): skipped"
fi

{
  echo "commit: $(git rev-parse "$commit") (last change to src/ or bench/FastPt.Benchmarks/; HEAD $(git rev-parse --short HEAD))$(git diff --quiet HEAD -- src bench/FastPt.Benchmarks || echo ' (with uncommitted changes)')"
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "runtime: $(dotnet --list-runtimes | grep Microsoft.NETCore.App | tail -1)"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //') (family $(grep -m1 'cpu family' /proc/cpuinfo | cut -d: -f2 | tr -d ' '), model $(grep -m1 '^model\s' /proc/cpuinfo | cut -d: -f2 | tr -d ' '))"
  echo "command: bench/disasm.sh (DOTNET_JitDisasm='$patterns', one in-process short run per benchmark, runtime tiering defaults)"
} > "$out/run.txt"
python3 bench/disasm.py count "$out"
echo "listings in $out"
