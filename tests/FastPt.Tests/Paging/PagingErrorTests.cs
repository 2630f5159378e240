using System;
using System.Collections.Generic;
using Xunit;
using static FastPt.Tests.Paging.PagingFixtures;
using static FastPt.Tests.TestMachines;

namespace FastPt.Tests.Paging;

/// <summary>Every error is typed and names the address where it was found, and a failed operation changes
/// nothing: not a leaf, not a table, not a free frame.</summary>
public class PagingErrorTests
{
    private const ulong Pa = 2 * GiB;

    /// <summary>A space with a bit of everything: a 1 GiB leaf at 1 GiB, a 2 MiB leaf at 4 GiB, 4 KiB pages at
    /// 4 GiB + 4 MiB (16 pages, then a hole of one page, then 16 more) and a PROT_NONE page.</summary>
    private static AddressSpace Populated(Machine machine)
    {
        AddressSpace space = machine.CreateAddressSpace();
        space.Map(V(GiB), P(Pa), GiB, Protection.ReadWrite);
        space.Map(V(4 * GiB), P(Pa), 2 * MiB, Protection.Read);
        space.Map(V(4 * GiB + 4 * MiB), P(Pa + Page), 16 * Page, Protection.ReadWrite);
        space.Map(V(4 * GiB + 4 * MiB + 17 * Page), P(Pa + 20 * Page), 16 * Page, Protection.ReadExecute);
        space.Map(V(4 * GiB + 8 * MiB), P(Pa), Page, Protection.None);
        Assert.Equal(1UL, space.Translate(V(GiB + 1), AccessKind.Write).PhysAddr.Value - Pa); // some A/D bits set
        return space;
    }

    [Theory]
    [InlineData(PagingMode.FourLevel)]
    [InlineData(PagingMode.FiveLevel)]
    public void Zero_length_and_wrapping_ranges_are_invalid_arguments(PagingMode mode)
    {
        using Machine machine = Create(8 * GiB, mode);
        using AddressSpace space = Populated(machine);
        ulong wrapping = ulong.MaxValue - Page + 1;
        foreach ((ulong va, ulong length) in new[] { (8 * GiB, 0UL), (GiB, 0UL), (wrapping, 2 * Page) })
        {
            AssertFailsAndChangesNothing(machine, space, () => space.TryMap(V(va), P(Pa), length, Protection.Read),
                () => space.Map(V(va), P(Pa), length, Protection.Read), PagingError.InvalidArgument, va);
            AssertFailsAndChangesNothing(machine, space, () => space.TryUnmap(V(va), length),
                () => space.Unmap(V(va), length), PagingError.InvalidArgument, va);
            AssertFailsAndChangesNothing(machine, space, () => space.TryProtect(V(va), length, Protection.Read),
                () => space.Protect(V(va), length, Protection.Read), PagingError.InvalidArgument, va);
        }
    }

    [Theory]
    [InlineData(PagingMode.FourLevel, 0x0000_8000_0000_0000UL)]
    [InlineData(PagingMode.FourLevel, 0x1234_0000_0000_0000UL)]
    [InlineData(PagingMode.FourLevel, 0xFFF0_8000_0000_0000UL)]
    [InlineData(PagingMode.FiveLevel, 0x0100_0000_0000_0000UL)]
    [InlineData(PagingMode.FiveLevel, 0x8000_0000_0000_0000UL)]
    public void Non_canonical_addresses_are_refused(PagingMode mode, ulong va)
    {
        using Machine machine = Create(8 * GiB, mode);
        using AddressSpace space = Populated(machine);
        AssertFailsAndChangesNothing(machine, space, () => space.TryMap(V(va), P(Pa), Page, Protection.Read),
            () => space.Map(V(va), P(Pa), Page, Protection.Read), PagingError.NonCanonical, va);
        AssertFailsAndChangesNothing(machine, space, () => space.TryUnmap(V(va), Page),
            () => space.Unmap(V(va), Page), PagingError.NonCanonical, va);
        AssertFailsAndChangesNothing(machine, space, () => space.TryProtect(V(va), Page, Protection.None),
            () => space.Protect(V(va), Page, Protection.None), PagingError.NonCanonical, va);
        Translation t = space.Translate(V(va));
        Assert.Equal(new PageFault(V(va), AccessKind.Read, FaultReason.NonCanonical), t.Fault);
    }

    [Theory]
    [InlineData(PagingMode.FourLevel)]
    [InlineData(PagingMode.FiveLevel)]
    public void Ranges_above_the_user_top_and_physical_ranges_beyond_the_machine_are_out_of_range(PagingMode mode)
    {
        using Machine machine = Create(8 * GiB, mode);
        using AddressSpace space = Populated(machine);
        ulong top = space.UserTop.Value;
        ulong kernel = machine.DirectMapBase.Value;
        foreach ((ulong va, ulong length) in new[] { (top - Page, 2 * Page), (top - 2 * MiB, 4 * MiB), (kernel, Page), (ulong.MaxValue - 2 * Page + 1, Page), (ulong.MaxValue - Page + 1, Page), (kernel, 0UL - kernel) })
        {
            AssertFailsAndChangesNothing(machine, space, () => space.TryMap(V(va), P(Pa), length, Protection.Read),
                () => space.Map(V(va), P(Pa), length, Protection.Read), PagingError.OutOfRange, va);
            AssertFailsAndChangesNothing(machine, space, () => space.TryUnmap(V(va), length),
                () => space.Unmap(V(va), length), PagingError.OutOfRange, va);
            AssertFailsAndChangesNothing(machine, space, () => space.TryProtect(V(va), length, Protection.Read),
                () => space.Protect(V(va), length, Protection.Read), PagingError.OutOfRange, va);
        }
        ulong max = machine.MaxPhysicalAddress.Value;
        foreach ((ulong pa, ulong length) in new[] { (max - Page, 2 * Page), (max, Page), (max - 2 * MiB, 4 * MiB), (max - GiB, 2 * GiB), (ulong.MaxValue - Page + 1, Page) })
        {
            ulong va = 8 * GiB;
            AssertFailsAndChangesNothing(machine, space, () => space.TryMap(V(va), P(pa), length, Protection.Read),
                () => space.Map(V(va), P(pa), length, Protection.Read), PagingError.OutOfRange, va);
        }
        // The last page below each limit is fine.
        space.Map(V(top - Page), P(max - Page), Page, Protection.Read);
        Assert.Equal(max - Page, space.Lookup(V(top - Page))!.Value.Frame.Value);
        space.Unmap(V(top - Page), Page);
        AssertTablesMatchLeaves(machine, space);
    }

    [Theory]
    [InlineData(PagingMode.FourLevel)]
    [InlineData(PagingMode.FiveLevel)]
    public void A_kernel_dump_may_end_exactly_at_the_top_of_the_address_space(PagingMode mode)
    {
        using Machine machine = Create(8 * GiB, mode);
        ulong kernelHalf = mode == PagingMode.FiveLevel ? 0xFF00_0000_0000_0000UL : 0xFFFF_8000_0000_0000UL;
        // The top page and the page below it are both fine (nothing maps them).
        Assert.Empty(machine.DumpKernel(V(ulong.MaxValue - Page + 1), Page));
        Assert.Empty(machine.DumpKernel(V(ulong.MaxValue - 2 * Page + 1), Page));
        // The whole kernel half, up to 2^64, holds exactly the direct map and the vmemmap.
        IReadOnlyList<MappingRun> all = machine.DumpKernel(V(kernelHalf), 0UL - kernelHalf, int.MaxValue);
        ulong directBytes = 0, vmemmapBytes = 0;
        foreach (MappingRun run in all)
        {
            if (run.Start.Value >= machine.VmemmapBase.Value) vmemmapBytes += run.Length;
            else directBytes += run.Length;
        }
        Assert.Equal(8 * GiB, directBytes);
        Assert.Equal((ulong)machine.GetStatistics().MemmapFrames * Page, vmemmapBytes);
        // Past 2^64, empty, non-canonical or across the hole: refused.
        Assert.Throws<ArgumentOutOfRangeException>(() => machine.DumpKernel(V(ulong.MaxValue - Page + 1), 2 * Page));
        Assert.Throws<ArgumentOutOfRangeException>(() => machine.DumpKernel(V(ulong.MaxValue - Page + 1), 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => machine.DumpKernel(V(kernelHalf - Page), Page));
        Assert.Throws<ArgumentOutOfRangeException>(() => machine.DumpKernel(V(0), kernelHalf + Page));
    }

    [Fact]
    public void Misaligned_addresses_lengths_and_forced_sizes_are_refused()
    {
        using Machine machine = Create(8 * GiB);
        using AddressSpace space = Populated(machine);
        ulong va = 8 * GiB;
        var maps = new List<(ulong Va, ulong Pa, ulong Length, PageSize? Size)>
        {
            (va + 1, Pa, Page, null),
            (va, Pa, Page + 1, null),
            (va, Pa, 100, null),
            (va, Pa + 8, Page, null),
            (va + Page, Pa, 2 * MiB, PageSize.Size2M),
            (va, Pa, 2 * MiB + Page, PageSize.Size2M),
            (va, Pa + Page, 2 * MiB, PageSize.Size2M),
            (va + 2 * MiB, Pa, GiB, PageSize.Size1G),
            (va, Pa, GiB + 2 * MiB, PageSize.Size1G),
            (va, Pa + 2 * MiB, GiB, PageSize.Size1G),
            (va + 4, Pa, Page, PageSize.Size4K),
            (va, Pa + 4, Page, PageSize.Size4K),
        };
        foreach ((ulong v, ulong p, ulong length, PageSize? size) in maps)
        {
            AssertFailsAndChangesNothing(machine, space, () => space.TryMap(V(v), P(p), length, Protection.Read, size),
                () => space.Map(V(v), P(p), length, Protection.Read, size), PagingError.Misaligned, v);
        }
        foreach ((ulong v, ulong length) in new[] { (GiB + 1, Page), (GiB, Page - 1), (GiB + 2048, 2 * MiB), (4 * GiB + 4 * MiB, 3 * Page + 1) })
        {
            AssertFailsAndChangesNothing(machine, space, () => space.TryUnmap(V(v), length),
                () => space.Unmap(V(v), length), PagingError.Misaligned, v);
            AssertFailsAndChangesNothing(machine, space, () => space.TryProtect(V(v), length, Protection.Read),
                () => space.Protect(V(v), length, Protection.Read), PagingError.Misaligned, v);
        }
    }

    [Theory]
    [InlineData(PagingMode.FourLevel)]
    [InlineData(PagingMode.FiveLevel)]
    public void Mapping_over_anything_mapped_reports_the_first_mapped_page_and_what_maps_it(PagingMode mode)
    {
        using Machine machine = Create(8 * GiB, mode);
        using AddressSpace space = Populated(machine);
        Mapping giga = space.Lookup(V(GiB))!.Value;
        Mapping two = space.Lookup(V(4 * GiB))!.Value;
        Mapping small = space.Lookup(V(4 * GiB + 4 * MiB))!.Value;
        Mapping afterHole = space.Lookup(V(4 * GiB + 4 * MiB + 17 * Page))!.Value;
        Mapping none = space.Lookup(V(4 * GiB + 8 * MiB))!.Value;
        Assert.True(giga.Accessed && giga.Dirty);
        var cases = new List<(ulong Va, ulong Pa, ulong Length, PageSize? Size, ulong At, Mapping Existing)>
        {
            // Exactly the same mapping again.
            (GiB, Pa, GiB, null, GiB, giga),
            // Starting in a hole below, ending inside the 1 GiB leaf: tables would be needed for the hole part.
            (GiB - 6 * MiB - Page, Pa, 6 * MiB + 2 * Page, null, GiB, giga),
            // Inside the 1 GiB leaf, not at its start.
            (GiB + 3 * MiB, Pa + 3 * MiB, 2 * MiB, null, GiB + 3 * MiB, giga),
            // Starting in the middle of the 2 MiB leaf, running beyond it.
            (4 * GiB + MiB, Pa, 4 * MiB, null, 4 * GiB + MiB, two),
            // A 2 MiB-aligned range that would get a 2 MiB leaf where a PTE table with 4 KiB pages is.
            (4 * GiB + 4 * MiB, Pa, 2 * MiB, null, 4 * GiB + 4 * MiB, small),
            (4 * GiB + 4 * MiB, Pa, 2 * MiB, PageSize.Size2M, 4 * GiB + 4 * MiB, small),
            // Over the hole between the two runs of small pages: the first page after the hole is reported.
            (4 * GiB + 4 * MiB + 16 * Page, Pa, 4 * Page, null, 4 * GiB + 4 * MiB + 17 * Page, afterHole),
            // Ending on the PROT_NONE page, which is mapped.
            (4 * GiB + 6 * MiB, Pa + 8 * Page, 2 * MiB + Page, null, 4 * GiB + 8 * MiB, none),
            // A 1 GiB forced leaf over the gigabyte holding the small pages.
            (4 * GiB, Pa, GiB, PageSize.Size1G, 4 * GiB, two),
        };
        foreach ((ulong va, ulong pa, ulong length, PageSize? size, ulong at, Mapping existing) in cases)
        {
            PagingResult result = AssertFailsAndChangesNothing(machine, space, () => space.TryMap(V(va), P(pa), length, Protection.All, size),
                () => space.Map(V(va), P(pa), length, Protection.All, size), PagingError.AlreadyMapped, at);
            Assert.Equal(existing, result.Existing);
        }
    }

    [Theory]
    [InlineData(PagingMode.FourLevel)]
    [InlineData(PagingMode.FiveLevel)]
    public void Forcing_a_smaller_size_under_a_huge_leaf_is_a_huge_parent_entry(PagingMode mode)
    {
        using Machine machine = Create(8 * GiB, mode);
        using AddressSpace space = Populated(machine);
        Mapping giga = space.Lookup(V(GiB))!.Value;
        Mapping two = space.Lookup(V(4 * GiB))!.Value;
        var cases = new List<(ulong Va, ulong Length, PageSize Size, ulong At, Mapping Existing)>
        {
            (GiB + 5 * Page, Page, PageSize.Size4K, GiB + 5 * Page, giga),
            (GiB + 6 * MiB, 2 * MiB, PageSize.Size2M, GiB + 6 * MiB, giga),
            (GiB + 6 * MiB, 2 * MiB, PageSize.Size4K, GiB + 6 * MiB, giga),
            (4 * GiB + 2 * MiB - Page, Page, PageSize.Size4K, 4 * GiB + 2 * MiB - Page, two),
            // Starting in the hole below the 2 MiB leaf.
            (4 * GiB - 4 * Page, 8 * Page, PageSize.Size4K, 4 * GiB, two),
        };
        foreach ((ulong va, ulong length, PageSize size, ulong at, Mapping existing) in cases)
        {
            PagingResult result = AssertFailsAndChangesNothing(machine, space, () => space.TryMap(V(va), P(Pa), length, Protection.Read, size),
                () => space.Map(V(va), P(Pa), length, Protection.Read, size), PagingError.HugeParentEntry, at);
            Assert.Equal(existing, result.Existing);
        }
        // Without a forced size the same request is simply already mapped.
        AssertFailed(space.TryMap(V(GiB + 5 * Page), P(Pa), Page, Protection.Read), PagingError.AlreadyMapped, GiB + 5 * Page);
    }

    [Theory]
    [InlineData(PagingMode.FourLevel)]
    [InlineData(PagingMode.FiveLevel)]
    public void Unmap_and_protect_of_a_range_with_a_hole_fail_at_the_first_hole_without_splitting_anything(PagingMode mode)
    {
        using Machine machine = Create(8 * GiB, mode);
        using AddressSpace space = Populated(machine);
        var cases = new List<(ulong Va, ulong Length, ulong Hole)>
        {
            // Nothing mapped at all.
            (16 * GiB, Page, 16 * GiB),
            (3 * GiB, 2 * GiB, 3 * GiB),
            // Hole in the middle of small pages.
            (4 * GiB + 4 * MiB, 33 * Page, 4 * GiB + 4 * MiB + 16 * Page),
            // Starts inside the 2 MiB leaf (a split would be needed) and runs into the hole above it.
            (4 * GiB + MiB, 2 * MiB, 4 * GiB + 2 * MiB),
            // Inside the 1 GiB leaf (two splits would be needed) and beyond its end.
            (2 * GiB - 3 * MiB - Page, 3 * MiB + 2 * Page, 2 * GiB),
            // Hole first, then mapped pages.
            (GiB - Page, 2 * Page, GiB - Page),
            // Mapped run, then the PROT_NONE page (mapped), then a hole.
            (4 * GiB + 8 * MiB, 2 * Page, 4 * GiB + 8 * MiB + Page),
        };
        foreach ((ulong va, ulong length, ulong hole) in cases)
        {
            AssertFailsAndChangesNothing(machine, space, () => space.TryUnmap(V(va), length),
                () => space.Unmap(V(va), length), PagingError.NotMapped, hole);
            foreach (Protection protection in Protections)
            {
                AssertFailsAndChangesNothing(machine, space, () => space.TryProtect(V(va), length, protection),
                    () => space.Protect(V(va), length, protection), PagingError.NotMapped, hole);
            }
        }
        Assert.Equal(1, space.LeafCount(PageSize.Size1G));
        Assert.Equal(1, space.LeafCount(PageSize.Size2M));
    }

    [Theory]
    [InlineData(PagingMode.FourLevel)]
    [InlineData(PagingMode.FiveLevel)]
    public void Running_out_of_frames_for_tables_fails_cleanly_for_map_unmap_and_protect(PagingMode mode)
    {
        using var machine = new Machine(new MachineOptions { MemorySize = 256 * MiB, PagingMode = mode, CheckedMode = true });
        using AddressSpace space = machine.CreateAddressSpace();
        // A 1 GiB leaf (its frames need not exist to be mapped) and some 4 KiB pages, before memory runs out.
        space.Map(V(GiB), P(0), GiB, Protection.ReadWrite);
        space.Map(V(8 * GiB), P(Page), 4 * Page, Protection.ReadWrite);
        ExhaustFramesLeaving(machine, 8);
        Assert.Equal(8, machine.GetStatistics().FreePages);

        // 64 MiB of 4 KiB pages in a fresh 512 GiB region needs 32 PTE + 1 PMD + 1 PUD tables (+ 1 P4D).
        ulong far = 1UL << 40;
        AssertFailsAndChangesNothing(machine, space, () => space.TryMap(V(far), P(Page), 64 * MiB, Protection.Read),
            () => space.Map(V(far), P(Page), 64 * MiB, Protection.Read), PagingError.OutOfFrames, far);
        // Needs exactly 9 tables: one more than there are frames.
        AssertFailsAndChangesNothing(machine, space, () => space.TryMap(V(far), P(Page), 7 * 2 * MiB, Protection.Read),
            () => space.Map(V(far), P(Page), 7 * 2 * MiB, Protection.Read), PagingError.OutOfFrames, far);

        // Use all but one of the frames, for real: a PMD table and six PTE tables.
        space.Map(V(16 * GiB), P(Page), 6 * 2 * MiB - Page, Protection.Read);
        Assert.Equal(1, machine.GetStatistics().FreePages);
        // Splitting the 1 GiB leaf around one page needs a PMD table and a PTE table: one frame is not enough.
        AssertFailsAndChangesNothing(machine, space, () => space.TryUnmap(V(GiB + 5 * MiB), Page),
            () => space.Unmap(V(GiB + 5 * MiB), Page), PagingError.OutOfFrames, GiB + 5 * MiB);
        AssertFailsAndChangesNothing(machine, space, () => space.TryProtect(V(GiB + 5 * MiB), Page, Protection.Read),
            () => space.Protect(V(GiB + 5 * MiB), Page, Protection.Read), PagingError.OutOfFrames, GiB + 5 * MiB);
        // A 2 MiB-aligned part needs only the PMD table: that works, and uses the last frame.
        space.Protect(V(GiB + 4 * MiB), 2 * MiB, Protection.Read);
        Assert.Equal(0, machine.GetStatistics().FreePages);
        Assert.Equal(512, space.LeafCount(PageSize.Size2M));
        Assert.Equal(0, space.LeafCount(PageSize.Size1G));
        AssertTablesMatchLeaves(machine, space);
        // Unmapping whole pages frees tables and needs none.
        space.Unmap(V(16 * GiB), 6 * 2 * MiB - Page);
        Assert.Equal(7, machine.GetStatistics().FreePages);
        AssertTablesMatchLeaves(machine, space);
    }

    /// <summary>Allocates every free frame of the machine, then gives back exactly <paramref name="left"/>.</summary>
    private static void ExhaustFramesLeaving(Machine machine, int left)
    {
        var blocks = new List<(PhysAddr Pa, ulong Size)>();
        for (int order = 18; order >= 0; order--)
        {
            while (machine.TryAllocatePhysical(Page << order, out PhysAddr pa)) blocks.Add((pa, Page << order));
        }
        Assert.Equal(0, machine.GetStatistics().FreePages);
        (PhysAddr back, ulong size) = blocks.Find(b => b.Size >= (ulong)left * Page);
        machine.FreePhysical(back, size);
        while (machine.GetStatistics().FreePages > left) machine.AllocatePhysical(Page);
    }
}
