#!/usr/bin/env bash
# Records valgrind lackey traces (every instruction fetch and data access) of a few real programs into
# bench/traces/<name>.lackey.gz for the trace-replay benchmarks and the TLB study, and writes traces.txt with the
# size of each. A trace already recorded is kept (RECORD=all records every one again). Inputs are generated here, so every machine records the same work (the programs and libraries
# are the machine's own: Debian's coreutils, gzip, sed). Needs valgrind (apt-get install valgrind).
set -euo pipefail
cd "$(dirname "$0")"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
seq 1 2000 | awk '{ print ($1 * 7919) % 2003 }' > "$work/numbers.txt"
seq 1 1500 > "$work/lines.txt"

record() {
  local name="$1"; shift
  if [ -s "$name.lackey.gz" ] && [ "${RECORD:-}" != all ] && grep -q "^$name " traces.txt.old 2>/dev/null; then
    grep "^$name " traces.txt.old >> traces.txt
    return
  fi
  valgrind --tool=lackey --trace-mem=yes --log-file="$work/$name.log" "$@" > /dev/null
  grep -E '^(I | [LSM] )' "$work/$name.log" | gzip -1 > "$name.lackey.gz"
  local accesses pages
  accesses="$(zcat "$name.lackey.gz" | wc -l)"
  pages="$(zcat "$name.lackey.gz" | awk '{ sub(/,.*/, "", $2); print substr($2, 1, length($2) - 3) }' | sort -u | wc -l)"
  local command="$*"
  printf "%-6s %10s accesses %6s pages  %s\n" "$name" "$accesses" "$pages" "${command//$work\//}" >> traces.txt
}

if [ -f traces.txt ]; then mv traces.txt traces.txt.old; fi
: > traces.txt
record ls ls -l /usr/lib
record sort sort -n "$work/numbers.txt"
record gzip gzip -6c "$work/lines.txt"
record sed sed -e 's/1/x/g' "$work/lines.txt"
rm -f traces.txt.old
cat traces.txt
