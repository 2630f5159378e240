using System;
using System.Collections.Generic;

namespace FastPt.Mm;

/// <summary>The boot-time memory allocator (<c>memblock</c>): a list of memory regions and a list of reserved
/// regions. Allocations are carved top-down (the kernel's default) and stay reserved; what is left is handed to
/// the buddy allocator when boot ends.</summary>
internal sealed class Memblock
{
    private readonly List<Region> _memory = new();
    private readonly List<Region> _reserved = new();

    public readonly record struct Region(ulong Base, ulong Size)
    {
        public ulong End => Base + Size;
    }

    public IReadOnlyList<Region> Memory => _memory;

    public IReadOnlyList<Region> Reserved => _reserved;

    public ulong ReservedBytes
    {
        get
        {
            ulong total = 0;
            foreach (Region r in _reserved) total += r.Size;
            return total;
        }
    }

    public void AddMemory(ulong baseAddress, ulong size) => Insert(_memory, new Region(baseAddress, size));

    public void Reserve(ulong baseAddress, ulong size) => Insert(_reserved, new Region(baseAddress, size));

    /// <summary>Allocates <paramref name="size"/> bytes aligned to <paramref name="align"/> from the highest free
    /// memory (<c>memblock_phys_alloc</c>), reserving it. Returns false when nothing fits.</summary>
    public bool TryAllocate(ulong size, ulong align, out ulong address)
    {
        Region best = default;
        bool found = false;
        foreach (Region free in FreeRanges())
        {
            if (free.Size < size) continue;
            ulong candidate = (free.End - size) & ~(align - 1);
            if (candidate < free.Base) continue;
            best = new Region(candidate, size);
            found = true; // keep going: a later (higher) range wins, top-down
        }
        if (!found)
        {
            address = 0;
            return false;
        }
        Reserve(best.Base, best.Size);
        address = best.Base;
        return true;
    }

    /// <summary>Memory minus reserved, in ascending order (<c>for_each_free_mem_range</c>).</summary>
    public IEnumerable<Region> FreeRanges()
    {
        foreach (Region m in _memory)
        {
            ulong cursor = m.Base;
            foreach (Region r in _reserved)
            {
                if (r.End <= cursor || r.Base >= m.End) continue;
                if (r.Base > cursor) yield return new Region(cursor, r.Base - cursor);
                cursor = Math.Max(cursor, r.End);
                if (cursor >= m.End) break;
            }
            if (cursor < m.End) yield return new Region(cursor, m.End - cursor);
        }
    }

    private static void Insert(List<Region> list, Region region)
    {
        if (region.Size == 0) return;
        int i = 0;
        while (i < list.Count && list[i].Base < region.Base) i++;
        list.Insert(i, region);
        // Merge neighbours that touch or overlap.
        for (int j = Math.Max(0, i - 1); j + 1 < list.Count;)
        {
            Region a = list[j], b = list[j + 1];
            if (b.Base <= a.End)
            {
                list[j] = new Region(a.Base, Math.Max(a.End, b.End) - a.Base);
                list.RemoveAt(j + 1);
            }
            else if (j > i) break;
            else j++;
        }
    }
}
