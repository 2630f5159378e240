using System;
using System.Collections.Generic;
using Xunit;
using static FastPt.Tests.Paging.PagingFixtures;
using static FastPt.Tests.TestMachines;

namespace FastPt.Tests.Paging;

/// <summary>Partial unmap and protect split huge leaves (only where the range cuts them), translations of every
/// other page stay exactly as they were, and tables that become empty are freed, at every level.</summary>
public class SplitAndFreeTests
{
    private const ulong Pa = 2 * GiB;

    /// <summary>Asserts every page of [start, +length) outside [holeStart, holeEnd) still translates to
    /// <paramref name="pa"/> + offset, and pages inside fault as not mapped. Huge stretches are sampled every
    /// <paramref name="stride"/> bytes plus both ends of each 2 MiB block.</summary>
    private static void AssertTranslations(AddressSpace space, ulong start, ulong length, ulong pa, ulong holeStart, ulong holeEnd, ulong stride = Page)
    {
        var addresses = new SortedSet<ulong>();
        for (ulong a = start; a < start + length; a += stride) addresses.Add(a);
        for (ulong a = start; a < start + length; a += 2 * MiB)
        {
            addresses.Add(a);
            addresses.Add(a + 2 * MiB - Page);
        }
        for (ulong a = Math.Max(start, holeStart - 4 * Page); a < Math.Min(start + length, holeEnd + 4 * Page); a += Page) addresses.Add(a);
        foreach (ulong a in addresses)
        {
            Translation t = space.Translate(V(a + 0x123));
            if (a >= holeStart && a < holeEnd)
            {
                Assert.True(!t.Succeeded && t.Fault.Reason == FaultReason.NotMapped, $"0x{a:x} should be unmapped: {t}");
            }
            else
            {
                Assert.True(t.Succeeded, $"0x{a:x} should translate: {t}");
                Assert.True(pa + (a - start) + 0x123 == t.PhysAddr.Value, $"0x{a:x} moved: {t}, expected 0x{pa + (a - start) + 0x123:x}");
            }
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Unmapping_one_page_of_a_two_megabyte_leaf_splits_it_into_a_pte_table(bool checkedMode)
    {
        using Machine machine = Create(8 * GiB, checkedMode: checkedMode);
        using AddressSpace space = machine.CreateAddressSpace();
        ulong va = 4 * GiB + 6 * MiB;
        space.Map(V(va), P(Pa), 2 * MiB, Protection.ReadWrite);
        AssertTranslations(space, va, 2 * MiB, Pa, 0, 0); // fills the TLB with the huge leaf
        PageTableCounts before = space.PageTables;
        space.Unmap(V(va + 300 * Page), Page);
        AssertRuns(space, va, 2 * MiB,
            (va, 300 * Page, Pa, PageSize.Size4K, Protection.ReadWrite),
            (va + 301 * Page, 211 * Page, Pa + 301 * Page, PageSize.Size4K, Protection.ReadWrite));
        Assert.Equal(0, space.LeafCount(PageSize.Size2M));
        Assert.Equal(511, space.LeafCount(PageSize.Size4K));
        Assert.Equal(before with { Pte = before.Pte + 1 }, space.PageTables);
        AssertTranslations(space, va, 2 * MiB, Pa, va + 300 * Page, va + 301 * Page);
        AssertTablesMatchLeaves(machine, space);
    }

    [Theory]
    [InlineData(PagingMode.FourLevel, false)]
    [InlineData(PagingMode.FourLevel, true)]
    [InlineData(PagingMode.FiveLevel, true)]
    public void Unmapping_one_page_of_a_gigabyte_leaf_splits_into_a_pmd_table_and_one_pte_table(PagingMode mode, bool checkedMode)
    {
        using Machine machine = Create(8 * GiB, mode, checkedMode);
        using AddressSpace space = machine.CreateAddressSpace();
        ulong va = 3 * GiB;
        space.Map(V(va), P(Pa), GiB, Protection.Read);
        AssertTranslations(space, va, GiB, Pa, 0, 0, 64 * MiB);
        PageTableCounts before = space.PageTables;
        ulong hole = va + 700 * MiB + 5 * Page;
        space.Unmap(V(hole), Page);
        Assert.Equal(0, space.LeafCount(PageSize.Size1G));
        Assert.Equal(511, space.LeafCount(PageSize.Size2M));
        Assert.Equal(511, space.LeafCount(PageSize.Size4K));
        Assert.Equal(before with { Pmd = before.Pmd + 1, Pte = before.Pte + 1 }, space.PageTables);
        ulong block = va + 700 * MiB;
        AssertRuns(space, va, GiB,
            (va, 700 * MiB, Pa, PageSize.Size2M, Protection.Read),
            (block, 5 * Page, Pa + 700 * MiB, PageSize.Size4K, Protection.Read),
            (hole + Page, 2 * MiB - 6 * Page, Pa + 700 * MiB + 6 * Page, PageSize.Size4K, Protection.Read),
            (block + 2 * MiB, GiB - 702 * MiB, Pa + 702 * MiB, PageSize.Size2M, Protection.Read));
        AssertTranslations(space, va, GiB, Pa, hole, hole + Page, 16 * MiB);
        AssertTranslations(space, block, 2 * MiB, Pa + 700 * MiB, hole, hole + Page);
        AssertTablesMatchLeaves(machine, space);
    }

    [Fact]
    public void Unmapping_across_two_megabyte_blocks_of_a_gigabyte_leaf_splits_only_the_blocks_cut_in_part()
    {
        using Machine machine = Create(8 * GiB);
        using AddressSpace space = machine.CreateAddressSpace();
        ulong va = GiB;
        space.Map(V(va), P(Pa), GiB, Protection.ReadWrite);
        space.Unmap(V(va + MiB), 4 * MiB);
        Assert.Equal(509, space.LeafCount(PageSize.Size2M));
        Assert.Equal(512, space.LeafCount(PageSize.Size4K));
        Assert.Equal(new PageTableCounts(2, 1, 1, 0), space.PageTables);
        AssertTranslations(space, va, 8 * MiB, Pa, va + MiB, va + 5 * MiB);

        // A 2 MiB-aligned hole needs no PTE table at all.
        space.Unmap(V(va + 100 * MiB), 4 * MiB);
        Assert.Equal(507, space.LeafCount(PageSize.Size2M));
        Assert.Equal(new PageTableCounts(2, 1, 1, 0), space.PageTables);
        AssertTablesMatchLeaves(machine, space);
    }

    [Theory]
    [InlineData(PagingMode.FourLevel)]
    [InlineData(PagingMode.FiveLevel)]
    public void Protect_splits_only_where_the_range_cuts_a_leaf_and_keeps_every_frame(PagingMode mode)
    {
        using Machine machine = Create(8 * GiB, mode);
        using AddressSpace space = machine.CreateAddressSpace();
        space.Map(V(GiB), P(Pa), GiB, Protection.ReadWrite);
        space.Map(V(4 * GiB), P(Pa), 4 * MiB, Protection.ReadWrite);
        PageTableCounts empty = space.PageTables;

        // Whole leaves: no split.
        space.Protect(V(GiB), GiB, Protection.Read);
        space.Protect(V(4 * GiB), 2 * MiB, Protection.ReadExecute);
        Assert.Equal(empty, space.PageTables);
        Assert.Equal(1, space.LeafCount(PageSize.Size1G));
        Assert.Equal(2, space.LeafCount(PageSize.Size2M));
        Assert.Equal(Protection.Read, space.Lookup(V(GiB + 5))!.Value.Protection);
        Assert.Equal(Protection.ReadExecute, space.Lookup(V(4 * GiB))!.Value.Protection);
        Assert.Equal(Protection.ReadWrite, space.Lookup(V(4 * GiB + 2 * MiB))!.Value.Protection);

        // A 2 MiB-aligned part of the 1 GiB leaf: one PMD table, no PTE table.
        space.Protect(V(GiB + 2 * MiB), 4 * MiB, Protection.None);
        Assert.Equal(empty with { Pmd = empty.Pmd + 1 }, space.PageTables);
        AssertRuns(space, GiB, 8 * MiB,
            (GiB, 2 * MiB, Pa, PageSize.Size2M, Protection.Read),
            (GiB + 2 * MiB, 4 * MiB, Pa + 2 * MiB, PageSize.Size2M, Protection.None),
            (GiB + 6 * MiB, 2 * MiB, Pa + 6 * MiB, PageSize.Size2M, Protection.Read));

        // Cutting two 2 MiB leaves in part: two PTE tables.
        space.Protect(V(GiB + 9 * MiB), 2 * MiB, Protection.All);
        Assert.Equal(empty with { Pmd = empty.Pmd + 1, Pte = empty.Pte + 2 }, space.PageTables);
        AssertRuns(space, GiB + 8 * MiB, 4 * MiB,
            (GiB + 8 * MiB, MiB, Pa + 8 * MiB, PageSize.Size4K, Protection.Read),
            (GiB + 9 * MiB, 2 * MiB, Pa + 9 * MiB, PageSize.Size4K, Protection.All),
            (GiB + 11 * MiB, MiB, Pa + 11 * MiB, PageSize.Size4K, Protection.Read));

        // One page in the middle of the second 2 MiB leaf at 4 GiB.
        space.Protect(V(4 * GiB + 3 * MiB), Page, Protection.Read);
        AssertRuns(space, 4 * GiB, 4 * MiB,
            (4 * GiB, 2 * MiB, Pa, PageSize.Size2M, Protection.ReadExecute),
            (4 * GiB + 2 * MiB, MiB, Pa + 2 * MiB, PageSize.Size4K, Protection.ReadWrite),
            (4 * GiB + 3 * MiB, Page, Pa + 3 * MiB, PageSize.Size4K, Protection.Read),
            (4 * GiB + 3 * MiB + Page, MiB - Page, Pa + 3 * MiB + Page, PageSize.Size4K, Protection.ReadWrite));
        Assert.Equal(Protection.Read, space.Translate(V(4 * GiB + 3 * MiB), AccessKind.Read).Protection);
        Assert.Equal(FaultReason.ProtectionViolation, space.Translate(V(4 * GiB + 3 * MiB), AccessKind.Write).Fault.Reason);
        Assert.True(space.Translate(V(4 * GiB + 3 * MiB + Page), AccessKind.Write).Succeeded);
        AssertTranslations(space, GiB, 2 * MiB, Pa, 0, 0);
        AssertTranslations(space, GiB + 6 * MiB, GiB - 6 * MiB, Pa + 6 * MiB, 0, 0, 8 * MiB);
        AssertTablesMatchLeaves(machine, space);
    }

    [Theory]
    [InlineData(PagingMode.FourLevel)]
    [InlineData(PagingMode.FiveLevel)]
    public void Unmap_frees_every_table_it_empties_level_by_level(PagingMode mode)
    {
        using Machine machine = Create(8 * GiB, mode);
        long free0 = machine.GetStatistics().FreePages;
        using AddressSpace space = machine.CreateAddressSpace();
        long free1 = machine.GetStatistics().FreePages;
        Assert.Equal(free0 - 1, free1); // the root

        // Two pages in different 2 MiB blocks of one gigabyte, one page in another gigabyte, one in another
        // 512 GiB region and, with 5-level paging, one in another 256 TiB region.
        ulong a = 5 * GiB + 2 * MiB;
        ulong b = 5 * GiB + 300 * MiB;
        ulong c = 6 * GiB + 2 * MiB;
        ulong d = 512 * GiB + 4 * MiB;
        ulong e = mode == PagingMode.FiveLevel ? (1UL << 48) + GiB : (1UL << 46) + GiB;
        foreach (ulong va in new[] { a, b, c, d, e }) space.Map(V(va), P(Pa), Page, Protection.Read);
        long p4d = mode == PagingMode.FiveLevel ? 2 : 0;
        Assert.Equal(new PageTableCounts(5, 4, 3, p4d), space.PageTables);
        Assert.Equal(free1 - space.PageTables.Total, machine.GetStatistics().FreePages);

        void Step(ulong va, PageTableCounts expected)
        {
            space.Unmap(V(va), Page);
            Assert.Equal(expected, space.PageTables);
            Assert.Equal(free1 - expected.Total, machine.GetStatistics().FreePages);
            Assert.Null(space.Lookup(V(va)));
            Assert.Equal(FaultReason.NotMapped, space.Translate(V(va)).Fault.Reason);
        }

        Step(a, new PageTableCounts(4, 4, 3, p4d)); // the PTE table only
        Step(b, new PageTableCounts(3, 3, 3, p4d)); // PTE and PMD
        Step(e, mode == PagingMode.FiveLevel ? new PageTableCounts(2, 2, 2, 1) : new PageTableCounts(2, 2, 2, 0)); // up to the PUD (and P4D)
        Step(c, new PageTableCounts(1, 1, 1, p4d / 2)); // the last page under the first PUD table
        Step(d, new PageTableCounts(0, 0, 0, 0));
        Assert.Equal(free1, machine.GetStatistics().FreePages);
        Assert.Equal(0UL, space.MappedBytes);
        space.Dispose();
        Assert.Equal(free0, machine.GetStatistics().FreePages);
    }

    [Theory]
    [InlineData(PagingMode.FourLevel, false)]
    [InlineData(PagingMode.FiveLevel, true)]
    public void Splitting_then_unmapping_everything_gives_back_every_frame(PagingMode mode, bool checkedMode)
    {
        using Machine machine = Create(8 * GiB, mode, checkedMode);
        using AddressSpace space = machine.CreateAddressSpace();
        long free = machine.GetStatistics().FreePages;
        ulong va = mode == PagingMode.FiveLevel ? (1UL << 48) - GiB : 512 * GiB - GiB;
        // 1 GiB leaf, then 2 MiB leaves and 4 KiB pages across a 512 GiB (and, 5-level, 256 TiB) boundary.
        space.Map(V(va), P(Pa), GiB + 6 * MiB + 5 * Page, Protection.ReadWrite);
        space.Unmap(V(va + 3 * Page), 2 * Page);
        space.Protect(V(va + GiB + MiB), 2 * MiB, Protection.Read);
        space.Unmap(V(va + GiB + 4 * MiB), Page);
        space.Protect(V(va + 512 * MiB), 4 * MiB, Protection.None);
        AssertTablesMatchLeaves(machine, space);
        // Unmap the rest in pieces that cut leaves again.
        space.Unmap(V(va), 3 * Page);
        space.Unmap(V(va + 5 * Page), 700 * MiB - 5 * Page);
        AssertTablesMatchLeaves(machine, space);
        space.Unmap(V(va + 700 * MiB), GiB + 4 * MiB - 700 * MiB);
        AssertTablesMatchLeaves(machine, space);
        space.Unmap(V(va + GiB + 4 * MiB + Page), 2 * MiB - Page + 5 * Page);
        Assert.Equal(0UL, space.MappedBytes);
        Assert.Equal(0, space.PageTables.Total);
        Assert.Equal(free, machine.GetStatistics().FreePages);
        Assert.Empty(space.Dump(V(0), space.UserTop.Value));
    }

    [Fact]
    public void A_gather_shares_one_flush_between_unmaps_and_frees_tables_only_when_it_ends()
    {
        using Machine machine = Create(8 * GiB);
        using AddressSpace space = machine.CreateAddressSpace();
        long free = machine.GetStatistics().FreePages;
        space.Map(V(GiB), P(Pa + Page), 4 * MiB, Protection.ReadWrite);
        space.Map(V(9 * GiB), P(Pa + Page), 4 * MiB, Protection.ReadWrite);
        long freeMapped = machine.GetStatistics().FreePages;
        Assert.Equal(free - 7, freeMapped); // 2 + 2 PTE tables, 2 PMD tables, 1 PUD table
        long published = space.FlushesPublished;
        using (MmuGather gather = space.BeginGather())
        {
            space.Unmap(V(GiB), 4 * MiB, gather);
            space.Unmap(V(9 * GiB), 4 * MiB, gather);
            Assert.Equal(0, space.PageTables.Total);
            // Cleared, but nothing freed before the flush; one frame holds the gather's table batch
            // (tlb_remove_table allocates it when the first table goes in).
            Assert.Equal(freeMapped - 1, machine.GetStatistics().FreePages);
            Assert.Equal(published, space.FlushesPublished);
            Assert.Equal(0, gather.Flushes);
        }
        Assert.Equal(free, machine.GetStatistics().FreePages);
        Assert.Equal(published + 1, space.FlushesPublished);
        Assert.Equal(FaultReason.NotMapped, space.Translate(V(GiB)).Fault.Reason);
    }
}
