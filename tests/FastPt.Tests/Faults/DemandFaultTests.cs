using System;
using System.Collections.Generic;
using FastPt.Tests.Mm;
using Xunit;
using static FastPt.Tests.TestMachines;

namespace FastPt.Tests.Faults;

/// <summary>Anonymous regions and demand faults, one thread: what a fault maps, what the rights allow, the zero
/// page, transparent huge pages, and that unmapping gives every frame and table back.</summary>
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
}
