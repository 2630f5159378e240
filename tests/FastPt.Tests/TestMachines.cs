using System.Collections.Generic;

namespace FastPt.Tests;

/// <summary>Machines and helpers the tests share.</summary>
internal static class TestMachines
{
    public const ulong KiB = 1UL << 10;
    public const ulong MiB = 1UL << 20;
    public const ulong GiB = 1UL << 30;
    public const ulong Page = 4 * KiB;

    public static Machine Create(ulong memory = 4 * GiB, PagingMode mode = PagingMode.FourLevel, bool checkedMode = true) =>
        new(new MachineOptions { MemorySize = memory, PagingMode = mode, CheckedMode = checkedMode });

    public static VirtAddr V(ulong value) => new(value);

    /// <summary>2^64 − <paramref name="bytes"/>: where the last <paramref name="bytes"/> below 2^64 begin (a
    /// constant <c>0UL - x</c> does not compile: it overflows at compile time).</summary>
    public static ulong TopMinus(ulong bytes) => unchecked(0UL - bytes);

    public static PhysAddr P(ulong value) => new(value);

    /// <summary>Leaves of an address space over [start, end) as (address, size) pairs, from a dump.</summary>
    public static List<(ulong Va, ulong Pa, PageSize Size, Protection Protection)> Leaves(AddressSpace space, ulong start, ulong length)
    {
        var result = new List<(ulong, ulong, PageSize, Protection)>();
        foreach (MappingRun run in space.Dump(V(start), length))
        {
            ulong size = run.PageSize.Bytes();
            for (long i = 0; i < run.Pages; i++)
                result.Add((run.Start.Value + (ulong)i * size, run.Physical.Value + (ulong)i * size, run.PageSize, run.Protection));
        }
        return result;
    }

    /// <summary>The page tables a set of leaves needs, by the kernel's rule: one PTE table per 2 MiB region holding
    /// a 4 KiB leaf, one PMD table per 1 GiB region holding a 4K or 2M leaf, one PUD table per 512 GiB region, and
    /// (5-level) one P4D table per 256 TiB region.</summary>
    public static PageTableCounts ExpectedTables(IEnumerable<(ulong Va, PageSize Size)> leaves, PagingMode mode)
    {
        var pte = new HashSet<ulong>();
        var pmd = new HashSet<ulong>();
        var pud = new HashSet<ulong>();
        var p4d = new HashSet<ulong>();
        foreach ((ulong va, PageSize size) in leaves)
        {
            if (size == PageSize.Size4K) pte.Add(va >> 21);
            if (size != PageSize.Size1G) pmd.Add(va >> 30);
            pud.Add(va >> 39);
            if (mode == PagingMode.FiveLevel) p4d.Add(va >> 48);
        }
        return new PageTableCounts(pte.Count, pmd.Count, pud.Count, p4d.Count);
    }
}
