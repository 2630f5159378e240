// What the host charges for the memory policies of PhysicalMemory (issue 14, first touch), per 4 KiB page, on fresh
// anonymous mappings as NativeMemory.AllocZeroed gives large arenas: a first write (one host fault), a first read
// (the shared zero page) and a write after it (a second fault), zeroing a committed page (what handing out a recycled
// frame costs), giving 2 MiB back with MADV_DONTNEED and the fault that follows on reuse, MADV_POPULATE_WRITE, and a
// first write with transparent huge pages advised. Linux only. Built by build.sh into bin/hostfaults; run it bare.
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

#define SIZE (64UL << 20)
#define CHUNK (2UL << 20)
#define PAGES (SIZE / 4096)

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e9 + t.tv_nsec;
}

static char *fresh(int huge)
{
    char *raw = mmap(NULL, SIZE + CHUNK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) { perror("mmap"); exit(1); }
    char *p = (char *)(((unsigned long)raw + CHUNK - 1) & ~(CHUNK - 1));
    madvise(p, SIZE, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
    return p;
}

static void touch(char *p) { for (unsigned long i = 0; i < SIZE; i += 4096) p[i] = 1; }

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 3;
    printf("ns per 4 KiB page: write-fault read-fault write-after-read memset-committed dontneed-2M refault populate-write thp-first-write\n");
    for (int r = 0; r < rounds; r++)
    {
        char *a = fresh(0), *b = fresh(0), *c = fresh(0), *h = fresh(1);
        volatile char sink = 0;
        double t = now(); touch(a); double write = now() - t;
        t = now(); for (unsigned long i = 0; i < SIZE; i += 4096) sink += b[i]; double read = now() - t;
        t = now(); touch(b); double writeAfterRead = now() - t;
        t = now(); for (unsigned long i = 0; i < SIZE; i += 4096) memset(a + i, 0, 4096); double zero = now() - t;
        t = now(); for (unsigned long i = 0; i < SIZE; i += CHUNK) madvise(a + i, CHUNK, MADV_DONTNEED); double discard = now() - t;
        t = now(); touch(a); double refault = now() - t;
        t = now(); int rc = madvise(c, SIZE, MADV_POPULATE_WRITE); double populate = rc == 0 ? now() - t : -PAGES;
        t = now(); touch(h); double thp = now() - t;
        printf("%.0f %.0f %.0f %.0f %.0f %.0f %.0f %.0f\n", write / PAGES, read / PAGES, writeAfterRead / PAGES, zero / PAGES,
               discard / PAGES, refault / PAGES, populate / PAGES, thp / PAGES);
        (void)sink;
    }
    return 0;
}
