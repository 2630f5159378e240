using System;
using System.Collections.Generic;
using System.Linq;
using FastPt.Mm;
using Xunit;
using static FastPt.Tests.TestMachines;

namespace FastPt.Tests.Mm;

/// <summary>The per-CPU page lists demand faults allocate from and free to: their frames are free pages (counted in
/// the free pages, not in buddyinfo), every allocation finds them when the buddy lists are empty, hot-remove drains
/// them before it isolates and leaves them alone when it refuses, and frees through them are still checked and
/// poisoned.</summary>
public class PerCpuPagesTests
{
    private const ulong Base = 0x7f00_0000_0000;
    private const ulong Section = 128 * MiB;

    private static long BuddyPages(MemoryStatistics s)
    {
        long pages = 0;
        for (int o = 0; o < s.FreeBlocksPerOrder.Count; o++) pages += s.FreeBlocksPerOrder[o] << o;
        return pages;
    }

    /// <summary>Faults in and unmaps a region so that its frames end on this thread's per-CPU lists.</summary>
    private static void FaultAndUnmap(AddressSpace space, ulong length)
    {
        space.MapAnonymous(V(Base), length, Protection.ReadWrite);
        for (ulong a = 0; a < length; a += 4 * KiB) space.Write(V(Base + a), (byte)1);
        space.Unmap(V(Base), length);
    }

    [Fact]
    public void Frames_on_the_per_cpu_lists_are_free_pages_that_an_exhausting_allocation_still_gets()
    {
        using Machine machine = Create(512 * MiB);
        using AddressSpace space = machine.CreateAddressSpace();
        long freeEmpty = machine.GetStatistics().FreePages;
        FaultAndUnmap(space, 8 * MiB);
        MemoryStatistics s = machine.GetStatistics();
        Assert.InRange(s.PerCpuPages, 1, BuddyAllocator.PcpHigh);
        Assert.Equal(s.FreePages, BuddyPages(s) + s.PerCpuPages); // buddyinfo and the lists add up to the free pages
        Assert.Equal(freeEmpty, s.FreePages); // every frame came back (the tables too)

        // Taking every frame takes the listed ones too (the lists are drained when the buddy lists run dry)...
        var hog = new List<PhysAddr>();
        while (machine.TryAllocatePhysical(4 * KiB, out PhysAddr frame)) hog.Add(frame);
        MemoryStatistics exhausted = machine.GetStatistics();
        Assert.Equal(0, exhausted.FreePages);
        Assert.Equal(0, exhausted.PerCpuPages);
        Assert.Equal(freeEmpty, hog.Count);
        // ... and with nothing free a fault fails and changes nothing.
        space.MapAnonymous(V(Base), 2 * MiB, Protection.ReadWrite);
        Assert.Equal(FaultReason.OutOfMemory, space.Translate(V(Base), AccessKind.Write).Fault.Reason);
        Assert.Equal(exhausted.FreeBlocksPerOrder, machine.GetStatistics().FreeBlocksPerOrder);
        Assert.Equal(0, machine.GetStatistics().FreePages);
        foreach (PhysAddr frame in hog) machine.FreePhysical(frame, 4 * KiB);
        space.Unmap(V(Base), 2 * MiB);
        Assert.Equal(freeEmpty, machine.GetStatistics().FreePages);
    }

    [Fact]
    public void Hot_remove_drains_the_per_cpu_lists_before_it_isolates_and_a_refusal_leaves_them_alone()
    {
        using Machine machine = Create(1 * GiB);
        long freeBefore = machine.GetStatistics().FreePages;
        machine.AddMemory(P(8 * GiB), Section);
        AddressSpace space = machine.CreateAddressSpace();
        // Faults take movable memory first: the hot-added section's.
        space.MapAnonymous(V(Base), 4 * MiB, Protection.ReadWrite);
        for (ulong a = 0; a < 4 * MiB; a += 4 * KiB) space.Write(V(Base + a), (byte)1);
        Assert.True(space.Lookup(V(Base))!.Value.Frame.Value >= 8 * GiB);
        space.Unmap(V(Base + 4 * KiB), 4 * MiB - 4 * KiB); // all but one page: their frames go on the lists
        MemoryStatistics busy = machine.GetStatistics();
        Assert.True(busy.PerCpuPages > 0);

        // One page still mapped: refused, and the lists (and the buddy lists) are as they were.
        HotplugResult refused = machine.TryRemoveMemory(P(8 * GiB), Section);
        Assert.Equal(HotplugError.Busy, refused.Error);
        MemoryStatistics after = machine.GetStatistics();
        Assert.Equal(busy.PerCpuPages, after.PerCpuPages);
        Assert.Equal(busy.FreeBlocksPerOrder, after.FreeBlocksPerOrder);
        Assert.Equal(busy.FreePages, after.FreePages);

        // Free: the listed frames of the section are drained and the section goes.
        space.Unmap(V(Base), 4 * KiB);
        machine.RemoveMemory(P(8 * GiB), Section);
        MemoryStatistics removed = machine.GetStatistics();
        Assert.Equal(0, removed.PerCpuPages);
        Assert.Equal(0, removed.MovableFreePages);
        space.Dispose();
        Assert.Equal(freeBefore, machine.GetStatistics().FreePages);
    }

    [Fact]
    public unsafe void A_listed_frame_is_poisoned_and_a_second_free_of_it_is_caught()
    {
        using Machine machine = Create(512 * MiB, checkedMode: true);
        BuddyAllocator buddy = machine.Memory.Buddy;
        Assert.True(buddy.TryAllocateHot(zero: true, out ulong pfn));
        Assert.Equal(0, *(long*)machine.Memory.Physical.ReadPointer(pfn << 12));
        long free = buddy.FreePages;
        buddy.FreeHot(pfn);
        Assert.Equal(free + 1, buddy.FreePages);
        Assert.Equal(0x6b6b6b6b6b6b6b6bUL, *(ulong*)machine.Memory.Physical.ReadPointer((pfn << 12) + 4088));
        Assert.NotEqual(0UL, machine.Memory.Memmap.Get(pfn)->Flags & PageFlags.Poisoned);
        Assert.ThrowsAny<InvalidOperationException>(() => buddy.FreeHot(pfn));
        Assert.ThrowsAny<InvalidOperationException>(() => buddy.Free(pfn, 0));
        // The next allocation of this CPU takes it back, zeroed and no longer marked.
        Assert.True(buddy.TryAllocateHot(zero: true, out ulong again));
        Assert.Equal(pfn, again);
        Assert.Equal(0UL, machine.Memory.Memmap.Get(pfn)->Flags & PageFlags.Poisoned);
        Assert.Equal(0UL, *(ulong*)machine.Memory.Physical.ReadPointer((pfn << 12) + 4088));
        buddy.FreeHot(again);
    }

    [Fact]
    public void A_stream_of_allocations_refills_in_growing_batches_and_a_free_shrinks_them()
    {
        using Machine machine = Create(512 * MiB, checkedMode: false);
        BuddyAllocator buddy = machine.Memory.Buddy;
        long freeBefore = buddy.FreePages;
        var held = new List<ulong>();
        void Take(int frames)
        {
            for (int i = 0; i < frames; i++)
            {
                Assert.True(buddy.TryAllocateHot(zero: false, out ulong pfn));
                held.Add(pfn);
            }
        }
        // nr_pcp_alloc: 31, then 62, then 93 frames per zone-lock acquisition while nothing is freed (93 leaves a
        // batch of room below the high mark).
        int[] refills = [BuddyAllocator.PcpBatch, 2 * BuddyAllocator.PcpBatch, 3 * BuddyAllocator.PcpBatch, 3 * BuddyAllocator.PcpBatch];
        foreach (int refill in refills)
        {
            Take(1);
            Assert.Equal(refill - 1, buddy.PerCpuPages);
            Take(refill - 1);
            Assert.Equal(0, buddy.PerCpuPages);
        }
        // A free halves the factor: once the list is empty again, the refill takes 62.
        buddy.FreeHot(held[^1]);
        held.RemoveAt(held.Count - 1);
        Take(1);
        Assert.Equal(0, buddy.PerCpuPages);
        Take(1);
        Assert.Equal(2 * BuddyAllocator.PcpBatch - 1, buddy.PerCpuPages);
        Assert.Equal(freeBefore - held.Count, buddy.FreePages);
        foreach (ulong pfn in held) buddy.FreeHot(pfn);
        Assert.Equal(freeBefore, buddy.FreePages);
    }

    [Fact]
    public void Threads_keep_lists_of_their_own_and_every_frame_comes_back()
    {
        using Machine machine = Create(1 * GiB);
        long freeBefore = machine.GetStatistics().FreePages;
        BuddyAllocator buddy = machine.Memory.Buddy;
        var threads = Enumerable.Range(0, 4).Select(_ => new System.Threading.Thread(() =>
        {
            var held = new Stack<ulong>();
            for (int round = 0; round < 50; round++)
            {
                for (int i = 0; i < 100; i++)
                {
                    Assert.True(buddy.TryAllocateHot(zero: false, out ulong pfn));
                    held.Push(pfn);
                }
                while (held.Count > 0) buddy.FreeHot(held.Pop());
            }
        })).ToArray();
        foreach (System.Threading.Thread t in threads) t.Start();
        foreach (System.Threading.Thread t in threads) t.Join();
        MemoryStatistics s = machine.GetStatistics();
        Assert.Equal(freeBefore, s.FreePages);
        Assert.Equal(s.FreePages, BuddyPages(s) + s.PerCpuPages);
        Assert.InRange(s.PerCpuPages, 4, 4 * BuddyAllocator.PcpHigh);
    }
}
