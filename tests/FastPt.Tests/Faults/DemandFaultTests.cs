using System;
using System.Collections.Generic;
using FastPt.Tests.Mm;
using FastPt.Tests.Paging;
using Xunit;
using static FastPt.Tests.TestMachines;

namespace FastPt.Tests.Faults;

/// <summary>Anonymous regions and demand faults, one thread: what a fault maps, what the rights allow, the zero
/// page, transparent huge pages, running out of memory, and that unmapping gives every frame and table back.</summary>
public class DemandFaultTests
{
    private const ulong Base = 0x7f00_0000_0000;

    [Fact]
    public void A_first_touch_maps_a_zeroed_frame_and_unmap_gives_everything_back()
    {
        using Machine machine = Create(2 * GiB);
        using AddressSpace space = machine.CreateAddressSpace();
        long free = machine.GetStatistics().FreePages;
        space.MapAnonymous(V(Base), 8 * MiB, Protection.ReadWrite);
        Assert.Equal(free, machine.GetStatistics().FreePages); // a reservation: nothing allocated
        Assert.Equal([new AnonymousRegion(V(Base), 8 * MiB, Protection.ReadWrite, AnonymousOptions.None)], space.AnonymousRegions);
        Assert.Null(space.Lookup(V(Base)));
        Assert.Equal(0UL, space.Read<ulong>(V(Base + 0x1008)));
        space.Write(V(Base + 0x1008), 0x1234_5678UL);
        Assert.Equal(0x1234_5678UL, space.Read<ulong>(V(Base + 0x1008)));
        Mapping page = Assert.NotNull(space.Lookup(V(Base + 0x1000)));
        Assert.Equal(PageSize.Size4K, page.Size);
        Assert.Equal(Protection.ReadWrite, page.Protection);
        Assert.True(page.Dirty);
        Assert.Equal(1, space.LeafCount(PageSize.Size4K));
        // One frame and the PUD, PMD and PTE tables.
        Assert.Equal(free - 4, machine.GetStatistics().FreePages);
        Assert.True(machine.GetStatistics().PageFaults >= 1);
        space.Unmap(V(Base), 8 * MiB);
        Assert.Empty(space.AnonymousRegions);
        Assert.Equal(free, machine.GetStatistics().FreePages);
        Assert.Equal(0, space.PageTables.Total);
        PageTableConstructorTests.AssertLocksBalance(machine);
    }

    [Fact]
    public void A_recycled_frame_is_zeroed_before_it_is_mapped_again()
    {
        using Machine machine = Create(2 * GiB);
        using AddressSpace space = machine.CreateAddressSpace();
        for (int round = 0; round < 3; round++)
        {
            space.MapAnonymous(V(Base), 64 * KiB, Protection.ReadWrite);
            for (ulong a = 0; a < 64 * KiB; a += 8) Assert.Equal(0UL, space.Read<ulong>(V(Base + a)));
            for (ulong a = 0; a < 64 * KiB; a += 8) space.Write(V(Base + a), ulong.MaxValue);
            space.Unmap(V(Base), 64 * KiB);
        }
    }

    [Fact]
    public void Outside_any_region_the_fault_is_the_precise_not_mapped_fault()
    {
        using Machine machine = Create(2 * GiB);
        using AddressSpace space = machine.CreateAddressSpace();
        space.MapAnonymous(V(Base), 2 * MiB, Protection.ReadWrite);
        long free = machine.GetStatistics().FreePages;
        Translation below = space.Translate(V(Base - 8), AccessKind.Write);
        Translation above = space.Translate(V(Base + 2 * MiB), AccessKind.Read);
        Assert.Equal(new PageFault(V(Base - 8), AccessKind.Write, FaultReason.NotMapped), below.Fault);
        Assert.Equal(new PageFault(V(Base + 2 * MiB), AccessKind.Read, FaultReason.NotMapped), above.Fault);
        Assert.Equal(FaultReason.NotMapped, Assert.Throws<PageFaultException>(() => space.Read<byte>(V(Base + 2 * MiB))).Fault.Reason);
        Assert.Equal(free, machine.GetStatistics().FreePages);
    }

    [Fact]
    public void Protections_hold_a_forbidden_access_faults_and_allocates_nothing()
    {
        using Machine machine = Create(2 * GiB);
        using AddressSpace space = machine.CreateAddressSpace();
        space.MapAnonymous(V(Base), 2 * MiB, Protection.Read);
        space.MapAnonymous(V(Base + 2 * MiB), 2 * MiB, Protection.None);
        long free = machine.GetStatistics().FreePages;
        Translation write = space.Translate(V(Base), AccessKind.Write);
        Assert.Equal(FaultReason.ProtectionViolation, write.Fault.Reason);
        Assert.Equal(FaultReason.ProtectionViolation, space.Translate(V(Base + 2 * MiB), AccessKind.Read).Fault.Reason);
        Assert.Equal(FaultReason.ProtectionViolation, space.Translate(V(Base), AccessKind.Execute).Fault.Reason);
        Assert.False(space.TryWrite(V(Base + 4 * KiB - 4), new byte[8], out PageFault fault));
        Assert.Equal(FaultReason.ProtectionViolation, fault.Reason);
        Assert.Equal(free, machine.GetStatistics().FreePages);
        Assert.Equal(0, space.PageTables.Total);
        // A read of the read-only region maps a zeroed read-only page; writing still faults.
        Assert.Equal(0, space.Read<int>(V(Base + 8)));
        Assert.Equal(Protection.Read, space.Lookup(V(Base))!.Value.Protection);
        Assert.Equal(FaultReason.ProtectionViolation, space.Translate(V(Base), AccessKind.Write).Fault.Reason);
        // Protect changes the region's rights for pages faulted in and for later faults.
        space.Protect(V(Base), 4 * MiB, Protection.ReadWrite);
        space.Write(V(Base), 7);
        space.Write(V(Base + 2 * MiB), 9);
        Assert.Equal(7, space.Read<int>(V(Base)));
        Assert.Equal(9, space.Read<int>(V(Base + 2 * MiB)));
        space.Protect(V(Base + 2 * MiB), 4 * KiB, Protection.Read);
        Assert.Equal(FaultReason.ProtectionViolation, space.Translate(V(Base + 2 * MiB), AccessKind.Write).Fault.Reason);
        Assert.Equal(9, space.Read<int>(V(Base + 2 * MiB)));
        Assert.Equal(3, space.AnonymousRegions.Count); // [Base, +2M) RW, [+2M, +4K) R, the rest RW
    }

    [Fact]
    public void The_zero_page_serves_reads_and_the_first_write_gets_a_frame_of_its_own()
    {
        using Machine machine = Create(2 * GiB);
        using AddressSpace space = machine.CreateAddressSpace();
        space.MapAnonymous(V(Base), 2 * MiB, Protection.ReadWrite, AnonymousOptions.ZeroPage);
        Assert.Equal(0UL, space.Read<ulong>(V(Base))); // the PUD, PMD and PTE tables, no frame
        long free = machine.GetStatistics().FreePages;
        for (ulong a = 4 * KiB; a < 64 * KiB; a += 4 * KiB) Assert.Equal(0UL, space.Read<ulong>(V(Base + a)));
        Assert.Equal(free, machine.GetStatistics().FreePages);
        Mapping first = space.Lookup(V(Base))!.Value, second = space.Lookup(V(Base + 4 * KiB))!.Value;
        Assert.Equal(first.Frame, second.Frame); // one shared frame
        Assert.Equal(Protection.Read, first.Protection);
        Assert.Equal(16, machine.GetStatistics().ZeroPageFaults);
        // A CPU that cached the zero page must see the write once it returns.
        MmuContext other = space.CreateContext();
        Assert.Equal(0UL, other.Read<ulong>(V(Base + 4 * KiB)));
        space.Write(V(Base + 4 * KiB), 42UL);
        Assert.Equal(42UL, other.Read<ulong>(V(Base + 4 * KiB)));
        Assert.Equal(0UL, other.Read<ulong>(V(Base)));
        Assert.Equal(free - 1, machine.GetStatistics().FreePages);
        Assert.Equal(1, machine.GetStatistics().ZeroPageCopies);
        Mapping copied = space.Lookup(V(Base + 4 * KiB))!.Value;
        Assert.NotEqual(first.Frame, copied.Frame);
        Assert.Equal(Protection.ReadWrite, copied.Protection);
        // Protect to read-write leaves the zero page read-only: a write still copies.
        space.Protect(V(Base), 2 * MiB, Protection.ReadWrite);
        Assert.Equal(Protection.Read, space.Lookup(V(Base))!.Value.Protection);
        space.Write(V(Base), 1UL);
        Assert.Equal(2, machine.GetStatistics().ZeroPageCopies);
        // Unmapping frees the copies, never the zero page.
        other.Dispose();
        space.Unmap(V(Base), 2 * MiB);
        Assert.Equal(free + 3, machine.GetStatistics().FreePages);
        Assert.Equal(0UL, space.MapAnonymousAndRead(V(Base)));
    }

    [Fact]
    public void Transparent_huge_pages_need_a_whole_aligned_block_and_fall_back_to_4K_without_a_2M_frame()
    {
        using Machine machine = Create(2 * GiB);
        using AddressSpace space = machine.CreateAddressSpace();
        // 4 KiB past a 2 MiB boundary to 4 KiB before the next-but-one: blocks 1 and 2 are whole, the edges are not.
        ulong start = Base + 2 * MiB - 4 * KiB, length = 4 * MiB + 8 * KiB;
        space.MapAnonymous(V(start), length, Protection.ReadWrite, AnonymousOptions.TransparentHugePages);
        space.Write(V(start), 1);
        space.Write(V(Base + 2 * MiB + 12345), 2);
        space.Write(V(Base + 4 * MiB + 8), 3);
        space.Write(V(start + length - 4), 4);
        Assert.Equal(PageSize.Size4K, space.Lookup(V(start))!.Value.Size);
        Assert.Equal(PageSize.Size2M, space.Lookup(V(Base + 2 * MiB))!.Value.Size);
        Assert.Equal(PageSize.Size2M, space.Lookup(V(Base + 4 * MiB))!.Value.Size);
        Assert.Equal(PageSize.Size4K, space.Lookup(V(start + length - 4))!.Value.Size);
        Assert.Equal(0UL, space.Lookup(V(Base + 2 * MiB))!.Value.Frame.Value % (2 * MiB));
        Assert.Equal(2, machine.GetStatistics().ThpFaultAlloc);
        Assert.Equal(2, space.Read<int>(V(Base + 2 * MiB + 12345)));
        Assert.Equal(0, space.Read<int>(V(Base + 3 * MiB))); // the rest of the huge page is zero
        space.Unmap(V(start), length);

        // No free 2 MiB block: the fault falls back to a 4 KiB page.
        space.MapAnonymous(V(Base), 2 * MiB, Protection.ReadWrite, AnonymousOptions.TransparentHugePages);
        var hog = new List<PhysAddr>();
        while (machine.TryAllocatePhysical(4 * KiB, out PhysAddr frame)) hog.Add(frame);
        for (int i = 0; i < 8; i += 2) machine.FreePhysical(hog[i], 4 * KiB); // free frames that cannot coalesce
        space.Write(V(Base + 8), 5UL);
        Assert.Equal(PageSize.Size4K, space.Lookup(V(Base))!.Value.Size);
        Assert.Equal(1, machine.GetStatistics().ThpFaultFallback);
        for (int i = 1; i < hog.Count; i += i < 8 ? 2 : 1) machine.FreePhysical(hog[i], 4 * KiB);
        Assert.Equal(5UL, space.Read<ulong>(V(Base + 8)));
    }

    [Fact]
    public void Unmapping_part_of_a_transparent_huge_page_splits_it_and_frees_only_that_part()
    {
        using Machine machine = Create(2 * GiB);
        using AddressSpace space = machine.CreateAddressSpace();
        space.MapAnonymous(V(Base), 2 * MiB, Protection.ReadWrite, AnonymousOptions.TransparentHugePages);
        for (ulong a = 0; a < 2 * MiB; a += 4 * KiB) space.Write(V(Base + a), a);
        Assert.Equal(1, space.LeafCount(PageSize.Size2M));
        long free = machine.GetStatistics().FreePages;
        space.Unmap(V(Base + MiB), 8 * KiB);
        Assert.Equal(0, space.LeafCount(PageSize.Size2M));
        Assert.Equal(510, space.LeafCount(PageSize.Size4K));
        // A PTE table for the split, two frames back.
        Assert.Equal(free - 1 + 2, machine.GetStatistics().FreePages);
        for (ulong a = 0; a < 2 * MiB; a += 4 * KiB)
        {
            if (a is MiB or MiB + 4 * KiB) Assert.Equal(FaultReason.NotMapped, space.Translate(V(Base + a)).Fault.Reason);
            else Assert.Equal(a, space.Read<ulong>(V(Base + a)));
        }
        Assert.Equal(2, space.AnonymousRegions.Count);
        // Two regions are left, around the hole (which is neither a region nor mapped, so one unmap over all of it
        // is refused as for any unmapped range).
        space.Unmap(V(Base), MiB);
        space.Unmap(V(Base + MiB + 8 * KiB), MiB - 8 * KiB);
        // The huge page's 512 frames (two came back above), the split's PTE table, the PMD and PUD tables.
        Assert.Equal(free + 512 + 2, machine.GetStatistics().FreePages);
        Assert.Equal(0, space.PageTables.Total);
        PageTableConstructorTests.AssertLocksBalance(machine);
    }

    [Theory]
    [InlineData(PageTableLockMode.Inline)]
    [InlineData(PageTableLockMode.Allocated)]
    public void A_fault_that_runs_out_of_memory_changes_nothing_and_reports_it(PageTableLockMode mode)
    {
        using Machine machine = PageTableLockTests.Create(mode, checkedMode: true, memory: 512 * MiB);
        using AddressSpace space = machine.CreateAddressSpace();
        space.MapAnonymous(V(Base), GiB, Protection.ReadWrite);
        var hog = new List<PhysAddr>();
        while (machine.TryAllocatePhysical(4 * KiB, out PhysAddr frame)) hog.Add(frame);
        // A first fault needs a PUD, a PMD and a PTE table and a frame (and a lock slab in allocated mode); with
        // one frame fewer it fails, and whatever it had allocated is given back.
        for (int free = 0; ; free++)
        {
            FaultState before = FaultState.Take(machine, space);
            Translation t = space.Translate(V(Base + 8 * KiB), AccessKind.Write);
            if (t.Succeeded)
            {
                Assert.Equal(mode == PageTableLockMode.Allocated ? 5 : 4, free);
                break;
            }
            Assert.Equal(FaultReason.OutOfMemory, t.Fault.Reason);
            Assert.Equal(before, FaultState.Take(machine, space));
            machine.FreePhysical(hog[^1], 4 * KiB);
            hog.RemoveAt(hog.Count - 1);
        }
        Assert.Equal(1, space.LeafCount(PageSize.Size4K));
        foreach (PhysAddr frame in hog) machine.FreePhysical(frame, 4 * KiB);
        Assert.Equal(0, space.Read<int>(V(Base + 8 * KiB + 4)));
        space.Dispose();
        PageTableConstructorTests.AssertLocksBalance(machine);
    }

    [Fact]
    public void With_demand_faults_off_the_embedder_sees_the_fault_and_resolves_it_with_HandleFault()
    {
        using Machine machine = Create(2 * GiB);
        using AddressSpace space = machine.CreateAddressSpace();
        space.MapAnonymous(V(Base), 2 * MiB, Protection.ReadWrite, AnonymousOptions.ZeroPage);
        using MmuContext vcpu = space.CreateContext();
        vcpu.DemandFaults = false;
        Assert.Equal(FaultReason.NotMapped, vcpu.Translate(V(Base)).Fault.Reason);
        Assert.False(vcpu.TryTranslate(V(Base), AccessKind.Read, out _));
        Translation read = vcpu.HandleFault(V(Base), AccessKind.Read);
        Assert.True(read.Succeeded);
        Assert.Equal(Protection.Read, read.Protection); // the zero page
        Assert.Equal(FaultReason.ProtectionViolation, vcpu.Translate(V(Base), AccessKind.Write).Fault.Reason);
        Assert.True(vcpu.HandleFault(V(Base), AccessKind.Write).Succeeded); // copied
        vcpu.Write(V(Base), 3);
        Assert.Equal(3, space.Read<int>(V(Base)));
        // Outside a region, HandleFault reports the fault that stands and changes nothing.
        Assert.Equal(FaultReason.NotMapped, vcpu.HandleFault(V(Base + 2 * MiB), AccessKind.Read).Fault.Reason);
    }

    [Fact]
    public void Regions_refuse_overlaps_and_mappings_and_mapping_refuses_regions()
    {
        using Machine machine = Create(2 * GiB);
        using AddressSpace space = machine.CreateAddressSpace();
        PhysAddr frame = machine.AllocatePhysical(4 * KiB);
        space.Map(V(Base + 8 * MiB), frame, 4 * KiB, Protection.Read);
        space.MapAnonymous(V(Base), 2 * MiB, Protection.ReadWrite);
        PagingResult overlap = space.TryMapAnonymous(V(Base + MiB), 2 * MiB, Protection.Read);
        Assert.Equal(PagingError.AlreadyMapped, overlap.Error);
        Assert.Equal(Base + MiB, overlap.Address.Value);
        PagingResult overMapping = space.TryMapAnonymous(V(Base + 6 * MiB), 4 * MiB, Protection.Read);
        Assert.Equal(PagingError.AlreadyMapped, overMapping.Error);
        Assert.Equal(Base + 8 * MiB, overMapping.Address.Value);
        PagingResult map = space.TryMap(V(Base - 4 * KiB), frame, 8 * KiB, Protection.Read);
        Assert.Equal(PagingError.AlreadyMapped, map.Error);
        Assert.Equal(Base, map.Address.Value);
        Assert.Single(space.AnonymousRegions);
        Assert.Throws<ArgumentOutOfRangeException>(() => space.TryMapAnonymous(V(Base + 4 * MiB), 4 * KiB, Protection.Read, (AnonymousOptions)8));
        Assert.Equal(PagingError.Misaligned, space.TryMapAnonymous(V(Base + 4 * MiB + 1), 4 * KiB, Protection.Read).Error);
        // Unmap across a region and a mapping: the region part may have holes, the rest must be mapped.
        Assert.Equal(PagingError.NotMapped, space.TryUnmap(V(Base), 8 * MiB + 4 * KiB).Error);
        Assert.Single(space.AnonymousRegions);
        space.Write(V(Base + 4 * KiB), 1);
        space.Map(V(Base + 2 * MiB), frame, 6 * MiB, Protection.Read, PageSize.Size4K);
        space.Unmap(V(Base), 8 * MiB + 4 * KiB);
        Assert.Empty(space.AnonymousRegions);
        Assert.Equal(0, space.PageTables.Total);
    }
}

/// <summary>Everything a failed fault must leave alone: the tables and leaves, free frames, locks and their slabs.</summary>
internal sealed record FaultState(TableSnapshot Tables, long PtlocksOutstanding, long PtlockSlabPages, long FreePages, int Regions)
{
    public static FaultState Take(Machine machine, AddressSpace space)
    {
        MemoryStatistics s = machine.GetStatistics();
        return new FaultState(TableSnapshot.Take(machine, space), s.PtlocksOutstanding, s.PtlockSlabPages, s.FreePages, space.AnonymousRegions.Count);
    }
}

/// <summary>Helpers of the fault tests.</summary>
internal static class FaultTestExtensions
{
    /// <summary>Reserves a one-page region at <paramref name="va"/> and reads it (a fresh page reads zero).</summary>
    public static ulong MapAnonymousAndRead(this AddressSpace space, VirtAddr va)
    {
        space.MapAnonymous(va, 4 * KiB, Protection.Read);
        return space.Read<ulong>(va);
    }
}
