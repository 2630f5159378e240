using System;
using System.Collections.Generic;
using System.Threading;
using FastPt.Mm;
using Xunit;
using static FastPt.Tests.TestMachines;

namespace FastPt.Tests.Mm;

public class BuddyAllocatorTests
{
    [Fact]
    public void Allocations_are_naturally_aligned_and_frees_coalesce_back()
    {
        using Machine machine = Create(4 * GiB);
        BuddyAllocator buddy = machine.Memory.Buddy;
        MemoryStatistics before = machine.GetStatistics();
        var blocks = new List<(ulong Pfn, int Order)>();
        var random = new Random(7);
        for (int i = 0; i < 400; i++)
        {
            int order = random.Next(0, 12);
            Assert.True(buddy.TryAllocate(order, zero: false, out ulong pfn));
            Assert.Equal(0UL, pfn & ((1UL << order) - 1));
            blocks.Add((pfn, order));
        }
        Assert.True(buddy.TryAllocate(9, zero: false, out ulong huge2M));
        Assert.Equal(0UL, huge2M & 511);
        blocks.Add((huge2M, 9));
        Assert.True(buddy.TryAllocate(18, zero: false, out ulong huge1G));
        Assert.Equal(0UL, huge1G & ((1UL << 18) - 1));
        blocks.Add((huge1G, 18));

        long expectedFree = before.FreePages;
        foreach ((ulong _, int order) in blocks) expectedFree -= 1L << order;
        Assert.Equal(expectedFree, buddy.FreePages);

        // Disjoint.
        var seen = new HashSet<ulong>();
        foreach ((ulong pfn, int order) in blocks)
            for (ulong p = pfn; p < pfn + (1UL << order); p += 1) Assert.True(seen.Add(p), $"pfn {p:x} handed out twice");

        random.Shuffle(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(blocks));
        foreach ((ulong pfn, int order) in blocks) buddy.Free(pfn, order);
        MemoryStatistics after = machine.GetStatistics();
        Assert.Equal(before.FreePages, after.FreePages);
        Assert.Equal(before.FreeBlocksPerOrder, after.FreeBlocksPerOrder);
    }

    [Fact]
    public void Double_free_is_refused()
    {
        using Machine machine = Create(1 * GiB);
        BuddyAllocator buddy = machine.Memory.Buddy;
        Assert.True(buddy.TryAllocate(0, zero: false, out ulong pfn));
        buddy.Free(pfn, 0);
        Assert.Throws<InvalidOperationException>(() => buddy.Free(pfn, 0));
    }

    [Fact]
    public void A_free_of_the_wrong_size_or_of_a_frame_never_allocated_is_refused_with_nothing_changed()
    {
        using Machine machine = Create(256 * MiB);
        PhysAddr block = machine.AllocatePhysical(8 * KiB);
        PhysAddr neighbour = machine.AllocatePhysical(4 * KiB);
        PhysAddr kernelTable = PhysAddr.FromPfn(machine.Memory.InitMm.RootPa >> 12);
        ulong bootMemmap = machine.LookupKernel(machine.VmemmapBase)!.Value.Frame.Value;
        var before = MachineSnapshot.Take(machine);
        (string Case, Action Free)[] refused =
        [
            ("a smaller size", () => machine.FreePhysical(block, 4 * KiB)),
            ("a larger size", () => machine.FreePhysical(block, 16 * KiB)),
            ("the tail of the block", () => machine.FreePhysical(block + 4 * KiB, 4 * KiB)),
            ("a free frame", () => machine.FreePhysical(block + 64 * MiB, 4 * KiB)),
            ("a kernel page table", () => machine.FreePhysical(kernelTable, 4 * KiB)),
            ("the boot memmap", () => machine.FreePhysical(P(bootMemmap), 4 * KiB)),
        ];
        foreach ((string name, Action free) in refused)
        {
            var error = Assert.Throws<ArgumentException>(free);
            Assert.False(string.IsNullOrEmpty(error.Message), name);
            before.AssertUnchanged(machine, $"free of {name}");
        }
        Assert.Contains("8192", Assert.Throws<ArgumentException>(() => machine.FreePhysical(block, 4 * KiB)).Message);

        machine.FreePhysical(block, 8 * KiB);
        // The second free of the same block is the same clear refusal, not a corrupted allocator.
        var after = MachineSnapshot.Take(machine);
        Assert.Throws<ArgumentException>(() => machine.FreePhysical(block, 8 * KiB));
        after.AssertUnchanged(machine, "second free");
        machine.FreePhysical(neighbour, 4 * KiB);
    }

    [Fact]
    public void Racing_frees_of_one_block_free_it_once()
    {
        using Machine machine = Create(256 * MiB, checkedMode: false);
        long free = machine.GetStatistics().FreePages;
        for (int round = 0; round < 200; round++)
        {
            PhysAddr block = machine.AllocatePhysical(16 * KiB);
            int freed = 0, refused = 0;
            using var go = new Barrier(2);
            void Free()
            {
                go.SignalAndWait();
                try
                {
                    machine.FreePhysical(block, 16 * KiB);
                    Interlocked.Increment(ref freed);
                }
                catch (ArgumentException)
                {
                    Interlocked.Increment(ref refused);
                }
            }
            var other = new Thread(Free);
            other.Start();
            Free();
            other.Join();
            Assert.Equal((1, 1), (freed, refused));
            Assert.Equal(free, machine.GetStatistics().FreePages);
        }
    }

    [Fact]
    public void Allocation_fails_cleanly_when_memory_is_exhausted()
    {
        using Machine machine = Create(256 * MiB);
        BuddyAllocator buddy = machine.Memory.Buddy;
        Assert.False(buddy.TryAllocate(18, zero: false, out _));
        var taken = new List<ulong>();
        while (buddy.TryAllocate(0, zero: false, out ulong pfn)) taken.Add(pfn);
        Assert.Equal(0, buddy.FreePages);
        Span<ulong> many = stackalloc ulong[4];
        Assert.False(buddy.TryAllocateBulk(many, zero: false));
        foreach (ulong pfn in taken) buddy.Free(pfn, 0);
        Assert.Equal(taken.Count, buddy.FreePages);
    }

    [Fact]
    public void Range_checks_see_allocated_frames()
    {
        using Machine machine = Create(2 * GiB);
        BuddyAllocator buddy = machine.Memory.Buddy;
        Assert.True(buddy.TryAllocate(0, zero: false, out ulong busy));
        ulong subsection = busy & ~511UL;
        Assert.False(buddy.IsRangeFree(subsection, subsection + 512, out ulong firstBusy));
        Assert.Equal(busy, firstBusy);
        buddy.Free(busy, 0);
        // The top of memory holds the boot memmap: reserved, never free.
        ulong top = (2 * GiB) >> 12;
        Assert.False(buddy.IsRangeFree(top - 512, top, out _));
        Assert.True(buddy.IsRangeFree(0, 1UL << 15, out _));
    }

    [Fact]
    public void Isolating_a_section_splits_the_gigabyte_block_around_it_and_freeing_it_merges_back()
    {
        using Machine machine = Create(2 * GiB);
        BuddyAllocator buddy = machine.Memory.Buddy;
        long free = buddy.FreePages;
        MemoryStatistics before = machine.GetStatistics();
        Assert.Equal(1, before.FreeBlocksPerOrder[18]); // [0, 1 GiB)
        ulong start = (512 * MiB) >> 12, end = start + (1UL << 15);

        long taken = buddy.Isolate(start, end);
        Assert.Equal(1L << 15, taken);
        Assert.Equal(free - (1L << 15), buddy.FreePages);
        Assert.False(buddy.IsFree(start));
        Assert.False(buddy.IsFree(end - 1));
        Assert.True(buddy.IsFree(start - 1));
        Assert.True(buddy.IsFree(end));
        Assert.True(buddy.IsFree(0));
        Assert.Equal(0, machine.GetStatistics().FreeBlocksPerOrder[18]);

        buddy.FreeRange(start, end);
        Assert.Equal(free, buddy.FreePages);
        Assert.Equal(before.FreeBlocksPerOrder, machine.GetStatistics().FreeBlocksPerOrder);
    }
}
