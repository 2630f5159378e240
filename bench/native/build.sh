#!/usr/bin/env bash
# Builds the C reference walk (walk.c) into bin/libfastptwalk.so, bin/hostfaults (what host page faults,
# zeroing and MADV_DONTNEED cost per page: hostfaults.c) and bin/pagecopy (what a cold 4 KiB page copy costs, with
# and without prefetching: the floor under HVO's head-page copy, pagecopy.c), with the system compiler (cc, or $CC).
# bench/run-all.sh runs it; CI does not. The benchmarks find the library here, or at $FASTPT_NATIVE_WALK.
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p bin
"${CC:-cc}" -O2 -march=native -fPIC -shared -Wall -Wextra -Werror -o bin/libfastptwalk.so walk.c
"${CC:-cc}" -O2 -Wall -Wextra -Werror -o bin/hostfaults hostfaults.c
"${CC:-cc}" -O2 -Wall -Wextra -Werror -o bin/pagecopy pagecopy.c
"${CC:-cc}" --version | head -1 > bin/compiler.txt
echo "built $(pwd)/bin/libfastptwalk.so ($(cat bin/compiler.txt), -O2 -march=native)"
