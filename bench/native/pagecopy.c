// What a cold 4 KiB page copy costs on this machine, in C: the floor under HVO's head-page copy
// (vmemmap_remap_free's copy_page), without .NET, the simulated machine or its allocator.
//
// The layout of a batched 2 MiB optimize: 512 source pages 32 KiB apart (each folio's head vmemmap page; a folio's
// descriptors fill 8 pages), 512 destination pages scattered over a 64 MiB region (pages the allocator hands out),
// all touched once before (no host page faults). Before each round the caches are flushed by writing a 64 MiB
// buffer; then the 512 copies are timed, in each variant:
//   plain        memcpy of each page
//   pf-src       the next source page prefetched (prefetcht0, every line) before this copy
//   pf-both      the next source and the next destination prefetched
//   pf-both-2    the same, two pages ahead
//   work-<ns>    pf-both with <ns> of other work (a spin) after each copy, as the optimize has (PTE writes, frees,
//                lookups): how much of the copy the prefetch can hide behind work
// Prints the median and the minimum over the rounds, in ns per page.
// Usage: bin/pagecopy [rounds]   (default 41)
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define PAGE 4096
#define FOLIOS 512
#define SOURCE_STRIDE (8 * PAGE)
#define DEST_REGION (64UL << 20)
#define EVICT (64UL << 20)

static uint64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void *map(size_t size)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) { perror("mmap"); exit(1); }
    // 4 KiB host pages, as the simulated machine's arenas get by default.
    madvise(p, size, MADV_NOHUGEPAGE);
    memset(p, 1, size);
    return p;
}

static void prefetch_page(const char *p)
{
    for (int i = 0; i < PAGE; i += 64) __builtin_prefetch(p + i, 0, 3);
}

static volatile uint64_t sink;

static void spin(uint64_t ns)
{
    if (ns == 0) return;
    uint64_t end = now_ns() + ns;
    while (now_ns() < end) sink++;
}

static int compare(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 41;
    if (rounds < 1 || rounds > 10000) { fprintf(stderr, "pagecopy: rounds must be 1 to 10000\n"); return 2; }
    char *sources = map((size_t)FOLIOS * SOURCE_STRIDE);
    char *dest_region = map(DEST_REGION);
    char *evict = map(EVICT);
    char *dest[FOLIOS], *src[FOLIOS];
    srand(1);
    for (int i = 0; i < FOLIOS; i++)
    {
        src[i] = sources + (size_t)i * SOURCE_STRIDE;
        dest[i] = dest_region + ((size_t)rand() % (DEST_REGION / PAGE)) * PAGE;
    }
    struct { const char *name; int ahead; int pf_dest; int pf_src; uint64_t work; } variants[] = {
        { "plain", 0, 0, 0, 0 },
        { "pf-src", 1, 0, 1, 0 },
        { "pf-both", 1, 1, 1, 0 },
        { "pf-both-2", 2, 1, 1, 0 },
        { "plain+work-500", 0, 0, 0, 500 },
        { "pf-both+work-500", 1, 1, 1, 500 },
        { "pf-both-2+work-500", 2, 1, 1, 500 },
    };
    int n = (int)(sizeof variants / sizeof variants[0]);
    double *samples = malloc(sizeof(double) * (size_t)rounds);
    printf("%-20s %10s %10s   (ns per 4 KiB page; work is not counted)\n", "variant", "median", "min");
    for (int v = 0; v < n; v++)
    {
        for (int r = 0; r < rounds; r++)
        {
            memset(evict, r, EVICT);
            uint64_t copying = 0;
            for (int i = 0; i < FOLIOS; i++)
            {
                uint64_t t0 = now_ns();
                int next = i + variants[v].ahead;
                if (variants[v].ahead && next < FOLIOS)
                {
                    if (variants[v].pf_src) prefetch_page(src[next]);
                    if (variants[v].pf_dest) prefetch_page(dest[next]);
                }
                memcpy(dest[i], src[i], PAGE);
                copying += now_ns() - t0;
                spin(variants[v].work);
            }
            samples[r] = (double)copying / FOLIOS;
        }
        qsort(samples, (size_t)rounds, sizeof(double), compare);
        printf("%-20s %10.0f %10.0f\n", variants[v].name, samples[rounds / 2], samples[0]);
    }
    free(samples);
    return 0;
}
