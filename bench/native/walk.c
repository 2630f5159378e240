/* The physical limit of a translation, in C: the same four dependent loads as the managed BareWalker, over
 * FastPt's own native tables and through the same physical-address-to-host-pointer lookup (one load of the
 * 128 MiB arena base). No checks, no Accessed bit. Built by build.sh with the system compiler; the benchmarks
 * load it at run time and call it once per invocation, so the call costs nothing per translation. */
#include <stddef.h>
#include <stdint.h>

#define ARENA_SHIFT 27
#define ARENA_MASK ((UINT64_C(1) << ARENA_SHIFT) - 1)
#define ADDRESS_MASK UINT64_C(0x000FFFFFFFFFF000)
#define HUGE_ADDRESS_MASK UINT64_C(0x000FFFFFFFE00000)
#define HUGE_BIT (UINT64_C(1) << 7)

static inline uint64_t entry_at(const uintptr_t *arenas, uint64_t table_pa, uint64_t index)
{
    const uint64_t *table = (const uint64_t *)(arenas[table_pa >> ARENA_SHIFT] + (table_pa & ARENA_MASK));
    return table[index];
}

/* Sum of the physical addresses of va[0..count): 4-level tables, 4 KiB or 2 MiB leaves. */
uint64_t fastpt_bare_walk(const uint64_t *va, size_t count, uint64_t root_pa, const uintptr_t *arenas)
{
    uint64_t sum = 0;
    for (size_t i = 0; i < count; i++) {
        uint64_t v = va[i];
        uint64_t e = entry_at(arenas, root_pa, (v >> 39) & 511);
        e = entry_at(arenas, e & ADDRESS_MASK, (v >> 30) & 511);
        e = entry_at(arenas, e & ADDRESS_MASK, (v >> 21) & 511);
        if (e & HUGE_BIT) {
            sum += (e & HUGE_ADDRESS_MASK) | (v & ((UINT64_C(1) << 21) - 1));
            continue;
        }
        e = entry_at(arenas, e & ADDRESS_MASK, (v >> 12) & 511);
        sum += (e & ADDRESS_MASK) | (v & 4095);
    }
    return sum;
}
