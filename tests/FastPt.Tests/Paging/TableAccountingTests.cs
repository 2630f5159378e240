using System;
using System.Collections.Generic;
using System.Linq;
using Xunit;
using static FastPt.Tests.TestMachines;

namespace FastPt.Tests.Paging;

/// <summary>The accounting rule: 4 KiB pages mapped into an empty space cost exactly one PTE table per 2 MiB
/// region, one PMD table per 1 GiB region and one PUD table per 512 GiB region they touch (VmPTE), plus with
/// 5-level paging one P4D table per 256 TiB region (not in VmPTE); unmapping gives back exactly what the
/// remaining pages no longer need.</summary>
public class TableAccountingTests
{
    /// <summary>Random pages clustered around 2 MiB, 1 GiB and 512 GiB boundaries (and 256 TiB ones, and the
    /// top of the address space), so that sets straddle every kind of table boundary.</summary>
    private static SortedSet<ulong> RandomPages(Random random, PagingMode mode, ulong userTop)
    {
        var centres = new List<ulong>
        {
            5 * GiB + 2 * MiB * (ulong)random.Next(1, 500),
            7 * GiB,
            GiB * (ulong)random.Next(8, 500),
            512 * GiB,
            3 * 512 * GiB,
            userTop - 64 * MiB,
        };
        if (mode == PagingMode.FiveLevel)
        {
            centres.Add(1UL << 48);
            centres.Add((1UL << 48) * (ulong)random.Next(2, 200));
        }
        var pages = new SortedSet<ulong>();
        foreach (ulong centre in centres)
        {
            int count = random.Next(5, 60);
            for (int i = 0; i < count; i++)
            {
                // Mostly within a few pages of the boundary, sometimes a few MiB away, sometimes a run.
                long offset = random.Next(4) switch
                {
                    0 => random.Next(-2048, 2048) * 4096L,
                    1 => random.Next(-8, 8) * 4096L,
                    2 => random.Next(-40, 40) * 4096L,
                    _ => random.Next(-3, 3) * (long)(2 * MiB) + random.Next(-2, 2) * 4096L,
                };
                ulong page = (ulong)((long)centre + offset);
                int run = random.Next(3) == 0 ? random.Next(1, 700) : 1;
                for (int r = 0; r < run; r++)
                {
                    ulong p = page + (ulong)r * Page;
                    if (p < userTop) pages.Add(p);
                }
            }
        }
        return pages;
    }

    /// <summary>Contiguous runs of a sorted page set.</summary>
    private static List<(ulong Start, ulong Length)> Runs(IEnumerable<ulong> pages)
    {
        var runs = new List<(ulong Start, ulong Length)>();
        foreach (ulong p in pages)
        {
            if (runs.Count > 0 && runs[^1].Start + runs[^1].Length == p) runs[^1] = (runs[^1].Start, runs[^1].Length + Page);
            else runs.Add((p, Page));
        }
        return runs;
    }

    private static void AssertCosts(Machine machine, AddressSpace space, IEnumerable<ulong> pages, long freeEmpty, string context)
    {
        PageTableCounts expected = ExpectedTables(pages.Select(p => (p, PageSize.Size4K)), machine.PagingMode);
        PageTableCounts actual = space.PageTables;
        Assert.True(expected == actual, $"{context}: expected {expected}, actual {actual}");
        Assert.Equal(expected.Pte + expected.Pmd + expected.Pud, actual.VmPteKiB / 4);
        MemoryStatistics s = machine.GetStatistics();
        Assert.True(freeEmpty - expected.Total == s.FreePages, $"{context}: {freeEmpty - s.FreePages} frames used for {expected.Total} tables");
        Assert.Equal(expected.Pte, s.UserPageTablesByLevel[1]);
        Assert.Equal(expected.Pmd, s.UserPageTablesByLevel[2]);
        Assert.Equal(expected.Pud, s.UserPageTablesByLevel[3]);
        if (machine.PagingMode == PagingMode.FiveLevel)
        {
            Assert.Equal(expected.P4d, s.UserPageTablesByLevel[4]);
            Assert.Equal(1, s.UserPageTablesByLevel[5]);
        }
        else
        {
            Assert.Equal(1, s.UserPageTablesByLevel[4]);
        }
        Assert.Equal((ulong)pages.Count() * Page, space.MappedBytes);
    }

    [Theory]
    [InlineData(PagingMode.FourLevel, 1)]
    [InlineData(PagingMode.FourLevel, 2)]
    [InlineData(PagingMode.FourLevel, 3)]
    [InlineData(PagingMode.FiveLevel, 1)]
    [InlineData(PagingMode.FiveLevel, 2)]
    [InlineData(PagingMode.FiveLevel, 3)]
    public void Random_page_sets_cost_exactly_the_tables_their_regions_need_while_mapped_and_unmapped(PagingMode mode, int seed)
    {
        var random = new Random(seed);
        using Machine machine = Create(GiB, mode, checkedMode: seed == 1);
        using AddressSpace space = machine.CreateAddressSpace();
        long freeEmpty = machine.GetStatistics().FreePages;
        SortedSet<ulong> pages = RandomPages(random, mode, space.UserTop.Value);
        List<(ulong Start, ulong Length)> runs = Runs(pages);

        // Map the runs in random order, each in one call half of the time, page by page otherwise; frames are
        // chosen so that no huge leaf is possible.
        var mapped = new SortedSet<ulong>();
        foreach ((ulong start, ulong length) in runs.OrderBy(_ => random.Next()))
        {
            ulong pa = (ulong)random.Next(1, 1 << 16) * Page * 2 + Page;
            if (random.Next(2) == 0)
            {
                space.Map(V(start), P(pa), length, Protection.ReadWrite);
            }
            else
            {
                for (ulong p = start; p < start + length; p += Page) space.Map(V(p), P(pa + (p - start)), Page, Protection.Read, PageSize.Size4K);
            }
            for (ulong p = start; p < start + length; p += Page) mapped.Add(p);
            AssertCosts(machine, space, mapped, freeEmpty, $"seed {seed}, after mapping 0x{start:x}+0x{length:x}");
        }
        Assert.Equal(pages.Count, mapped.Count);
        Assert.Equal((long)pages.Count, space.LeafCount(PageSize.Size4K));

        // Unmap random pieces of what is left until nothing is.
        while (mapped.Count > 0)
        {
            List<(ulong Start, ulong Length)> left = Runs(mapped);
            (ulong start, ulong length) = left[random.Next(left.Count)];
            ulong pages0 = length / Page;
            ulong first = (ulong)random.NextInt64((long)pages0);
            ulong count = random.Next(3) == 0 ? pages0 - first : (ulong)random.NextInt64(1, (long)(pages0 - first) + 1);
            ulong from = start + first * Page;
            space.Unmap(V(from), count * Page);
            for (ulong i = 0; i < count; i++) mapped.Remove(from + i * Page);
            AssertCosts(machine, space, mapped, freeEmpty, $"seed {seed}, after unmapping 0x{from:x}+0x{count * Page:x}");
        }
        Assert.Equal(0, space.PageTables.Total);
        Assert.Equal(freeEmpty, machine.GetStatistics().FreePages);
    }

    [Theory]
    [InlineData(PagingMode.FourLevel)]
    [InlineData(PagingMode.FiveLevel)]
    public void A_page_on_each_side_of_every_boundary_needs_a_table_on_each_side(PagingMode mode)
    {
        using Machine machine = Create(GiB, mode);
        using AddressSpace space = machine.CreateAddressSpace();
        ulong boundary = mode == PagingMode.FiveLevel ? 1UL << 48 : 512 * GiB;
        // Two pages straddling a 256 TiB (5-level) or 512 GiB boundary, which is also a 1 GiB and 2 MiB one.
        space.Map(V(boundary - Page), P(Page), 2 * Page, Protection.Read);
        PageTableCounts expected = mode == PagingMode.FiveLevel ? new PageTableCounts(2, 2, 2, 2) : new PageTableCounts(2, 2, 2, 0);
        Assert.Equal(expected, space.PageTables);
        Assert.Equal(24, space.PageTables.VmPteKiB);
        space.Unmap(V(boundary), Page);
        Assert.Equal(mode == PagingMode.FiveLevel ? new PageTableCounts(1, 1, 1, 1) : new PageTableCounts(1, 1, 1, 0), space.PageTables);
        space.Unmap(V(boundary - Page), Page);
        Assert.Equal(0, space.PageTables.Total);
    }
}
