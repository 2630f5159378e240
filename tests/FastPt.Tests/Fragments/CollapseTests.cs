using System;
using FastPt.Tests.Paging;
using Xunit;
using static FastPt.Tests.TestMachines;

namespace FastPt.Tests.Fragments;

/// <summary>Collapse of a PTE table into a 2 MiB leaf, in place and with a copy; refusals change nothing.</summary>
public class CollapseTests
{
    [Theory]
    [InlineData(1, PteFreeDeferScheme.MarkAndDeferAtLastReference)]
    [InlineData(16, PteFreeDeferScheme.DeferredRefcount)]
    public void In_place_collapse_turns_the_table_into_a_leaf_seen_by_every_cpu_and_defers_the_table(int perBlock, PteFreeDeferScheme scheme)
    {
        using Machine machine = FragmentMachines.Create(perBlock, scheme);
        using AddressSpace space = machine.CreateAddressSpace();
        PhysAddr frames = machine.AllocatePhysical(2 * MiB);
        MemoryStatistics before = machine.GetStatistics();
        space.Map(V(GiB), frames, 2 * MiB, Protection.ReadWrite, PageSize.Size4K);
        space.Write(V(GiB + 3 * Page), 0xfeedUL);
        using MmuContext cpu = space.CreateContext();
        // The CPU caches the PTE table as a partial walk and a TLB entry of 4 KiB.
        Assert.Equal(PageSize.Size4K, cpu.Translate(V(GiB + 5 * Page)).PageSize);
        Assert.Equal(PageSize.Size4K, cpu.Translate(V(GiB + 6 * Page)).PageSize);

        space.Collapse(V(GiB));

        Assert.Equal(0, space.LeafCount(PageSize.Size4K));
        Assert.Equal(1, space.LeafCount(PageSize.Size2M));
        Assert.Equal(0, space.PageTables.Pte);
        // A stale cached walk would still find the 4 KiB PTE of the old table: the flush dropped it.
        Translation after = cpu.Translate(V(GiB + 7 * Page + 1));
        Assert.Equal(PageSize.Size2M, after.PageSize);
        Assert.Equal(frames + (7 * Page + 1), after.PhysAddr);
        Assert.Equal(0xfeedUL, cpu.Read<ulong>(V(GiB + 3 * Page)));
        Mapping leaf = space.Lookup(V(GiB))!.Value;
        Assert.True(leaf.Accessed && leaf.Dirty); // A and D carried over from the PTEs
        MemoryStatistics collapsed = machine.GetStatistics();
        Assert.Equal(1, collapsed.CollapsesInPlace);
        Assert.Equal(1, collapsed.TablesDeferred);

        machine.RcuBarrier();
        space.Unmap(V(GiB), 2 * MiB);
        space.Dispose();
        machine.RcuBarrier();
        MemoryStatistics end = machine.GetStatistics();
        Assert.Equal(before.FreePages + 1, end.FreePages); // the root table went too
        Assert.Equal(0, end.PteBlocks);
        Assert.Equal(end.PteBlocksAllocated, end.PteBlocksFreed);
        Assert.Equal(0, end.UseAfterFreeDetected);
    }

    [Fact]
    public void Collapse_with_copy_gathers_scattered_frames_into_one_2_mib_frame()
    {
        using Machine machine = FragmentMachines.Create(2);
        using AddressSpace space = machine.CreateAddressSpace();
        PhysAddr pool = machine.AllocatePhysical(4 * MiB);
        // 512 frames in reverse order, every other one of a 4 MiB pool.
        for (int i = 0; i < 512; i++)
            space.Map(V(GiB + (ulong)i * Page), pool + (ulong)(511 - i) * 2 * Page, Page, Protection.ReadWrite);
        for (int i = 0; i < 512; i += 3) space.Write(V(GiB + (ulong)i * Page + 16), (ulong)i * 31 + 7);
        PhysAddr huge = machine.AllocatePhysical(2 * MiB);

        space.Collapse(V(GiB), huge);

        Assert.Equal(1, space.LeafCount(PageSize.Size2M));
        Translation t = space.Translate(V(GiB + 9 * Page + 16));
        Assert.Equal(huge + (9 * Page + 16), t.PhysAddr);
        for (int i = 0; i < 512; i++)
        {
            ulong expected = i % 3 == 0 ? (ulong)i * 31 + 7 : 0;
            Assert.Equal(expected, space.Read<ulong>(V(GiB + (ulong)i * Page + 16)));
        }
        // The old frames are the caller's and untouched.
        var old = new byte[8];
        machine.ReadPhysical(pool + (511 - 9) * 2 * Page + 16, old);
        Assert.Equal(9UL * 31 + 7, BitConverter.ToUInt64(old));
        Assert.Equal(1, machine.GetStatistics().CollapsesWithCopy);
        machine.RcuBarrier();
        Assert.Equal(0, machine.GetStatistics().RcuPendingTableBytes);
    }

    [Fact]
    public void Every_refusal_changes_nothing()
    {
        using Machine machine = FragmentMachines.Create(16);
        using AddressSpace space = machine.CreateAddressSpace();
        PhysAddr pool = machine.AllocatePhysical(16 * MiB);
        PhysAddr huge = machine.AllocatePhysical(2 * MiB);
        ulong contiguous = GiB, holed = GiB + 2 * MiB, mixed = GiB + 4 * MiB, scattered = GiB + 6 * MiB, leaf = GiB + 8 * MiB;
        space.Map(V(contiguous), pool, 2 * MiB, Protection.ReadWrite, PageSize.Size4K);
        space.Map(V(holed), pool, 2 * MiB, Protection.ReadWrite, PageSize.Size4K);
        space.Unmap(V(holed + 77 * Page), Page);
        space.Map(V(mixed), pool, 2 * MiB, Protection.ReadWrite, PageSize.Size4K);
        space.Protect(V(mixed + 300 * Page), Page, Protection.Read);
        space.Map(V(scattered), pool + 4 * MiB + Page, 2 * MiB, Protection.ReadWrite, PageSize.Size4K); // not 2 MiB aligned
        space.Map(V(leaf), pool, 2 * MiB, Protection.ReadWrite, PageSize.Size2M);
        space.Map(V(4 * GiB), new PhysAddr(0), GiB, Protection.Read, PageSize.Size1G);

        void Refused(ulong va, PhysAddr? copyTo, PagingError error, ulong at) =>
            PagingFixtures.AssertFailsAndChangesNothing(machine, space, () => space.TryCollapse(V(va), copyTo),
                () => space.Collapse(V(va), copyTo), error, at);

        var fragments = FragmentMachines.FragmentState(machine);
        Refused(holed, null, PagingError.NotCollapsible, holed + 77 * Page);
        Refused(holed, huge, PagingError.NotCollapsible, holed + 77 * Page);
        Refused(mixed, null, PagingError.NotCollapsible, mixed + 300 * Page);
        Refused(scattered, null, PagingError.NotCollapsible, scattered);
        Refused(leaf, null, PagingError.NotCollapsible, leaf);
        Refused(4 * GiB, null, PagingError.HugeParentEntry, 4 * GiB);
        Refused(3 * GiB, null, PagingError.NotMapped, 3 * GiB);
        Refused(contiguous + Page, null, PagingError.Misaligned, contiguous + Page);
        Refused(contiguous, huge + Page, PagingError.Misaligned, contiguous);
        Refused(contiguous, pool, PagingError.InvalidArgument, contiguous); // the copy would overwrite its source
        Refused(contiguous, new PhysAddr(1UL << 45), PagingError.OutOfRange, contiguous);
        Assert.Equal(fragments, FragmentMachines.FragmentState(machine));
        Assert.Equal(0, machine.GetStatistics().TablesDeferred);

        // And what the refusals were about works once it is right.
        space.Collapse(V(scattered), huge);
        space.Collapse(V(contiguous));
        Assert.Equal(2, machine.GetStatistics().TablesDeferred);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(16)]
    public void Collapse_in_an_anonymous_region_copies_into_a_huge_page_of_its_own_and_frees_the_old_pages(int perBlock)
    {
        using Machine machine = FragmentMachines.Create(perBlock, memory: GiB);
        using AddressSpace space = machine.CreateAddressSpace();
        space.MapAnonymous(V(GiB), 4 * MiB, Protection.ReadWrite);
        for (int p = 0; p < 512; p++) space.Write(V(GiB + (ulong)p * Page), 0xab00UL + (ulong)p);
        machine.RcuBarrier();
        long free = machine.GetStatistics().FreePages;

        space.Collapse(V(GiB));
        machine.RcuBarrier();

        Mapping leaf = space.Lookup(V(GiB))!.Value;
        Assert.Equal(PageSize.Size2M, leaf.Size);
        Assert.True(leaf.Accessed && leaf.Dirty);
        for (int p = 0; p < 512; p++) Assert.Equal(0xab00UL + (ulong)p, space.Read<ulong>(V(GiB + (ulong)p * Page)));
        MemoryStatistics after = machine.GetStatistics();
        // One 2 MiB page in, 512 pages and the PTE table (with 1 per block) out.
        Assert.Equal(free - 512 + 512 + (perBlock == 1 ? 1 : 0), after.FreePages);
        Assert.Equal(1, after.CollapsesWithCopy);
        Assert.Equal(0, after.UseAfterFreeDetected);
        // The huge page is the region's: a partial protect splits it, the unmap frees it.
        space.Protect(V(GiB + 5 * Page), Page, Protection.Read);
        Assert.Equal(0xab05UL, space.Read<ulong>(V(GiB + 5 * Page)));
        space.Unmap(V(GiB), 4 * MiB);
        machine.RcuBarrier();
        Assert.Equal(0, machine.GetStatistics().PteFragmentsInUse);
    }

    [Fact]
    public void Refusals_in_anonymous_regions_change_nothing()
    {
        using Machine machine = FragmentMachines.Create(2, memory: GiB);
        using AddressSpace space = machine.CreateAddressSpace();
        PhysAddr huge = machine.AllocatePhysical(2 * MiB);
        ulong whole = GiB, zero = GiB + 2 * MiB, partial = GiB + 4 * MiB + MiB;
        space.MapAnonymous(V(whole), 2 * MiB, Protection.ReadWrite);
        space.MapAnonymous(V(zero), 2 * MiB, Protection.ReadWrite, AnonymousOptions.ZeroPage);
        space.MapAnonymous(V(partial), 2 * MiB, Protection.ReadWrite); // half of two 2 MiB blocks
        for (int p = 0; p < 512; p++)
        {
            space.Write(V(whole + (ulong)p * Page), 1UL);
            space.Read<ulong>(V(zero + (ulong)p * Page)); // the zero page, read-only
        }
        machine.RcuBarrier();

        void Refused(ulong va, PhysAddr? copyTo, PagingError error, ulong at) =>
            PagingFixtures.AssertFailsAndChangesNothing(machine, space, () => space.TryCollapse(V(va), copyTo),
                () => space.Collapse(V(va), copyTo), error, at);

        Refused(whole, huge, PagingError.InvalidArgument, whole);
        Refused(zero, null, PagingError.NotCollapsible, zero);
        Refused(partial - MiB, null, PagingError.NotCollapsible, partial);
        FrameHog hog = FrameHog.TakeAll(machine, singles: 0);
        Refused(whole, null, PagingError.OutOfFrames, whole); // no 2 MiB page to collapse into
        hog.ReleaseAll();
        space.Collapse(V(whole));
        Assert.Equal(1, machine.GetStatistics().CollapsesWithCopy);
    }

    /// <summary>The steady state of map, collapse and unmap allocates no managed memory on the calling thread (RCU
    /// callbacks, which free the deferred tables, run on it too).</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Collapse_allocates_nothing_in_the_steady_state(bool copy)
    {
        using Machine machine = new(new MachineOptions { MemorySize = GiB });
        using AddressSpace space = machine.CreateAddressSpace();
        PhysAddr frames = machine.AllocatePhysical(2 * MiB), target = machine.AllocatePhysical(2 * MiB);
        void Once()
        {
            space.Map(V(GiB), frames, 2 * MiB, Protection.ReadWrite, PageSize.Size4K);
            space.Collapse(V(GiB), copy ? target : null);
            space.Unmap(V(GiB), 2 * MiB);
        }
        for (int i = 0; i < 300; i++) Once();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 300; i++) Once();
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(0, allocated);
    }
}
