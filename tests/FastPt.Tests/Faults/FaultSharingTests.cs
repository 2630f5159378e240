using System;
using System.Runtime.CompilerServices;
using System.Threading;
using FastPt.Diagnostics;
using FastPt.Hardware;
using FastPt.Mm;
using FastPt.Sync;
using Xunit;
using static FastPt.Tests.TestMachines;

namespace FastPt.Tests.Faults;

/// <summary>What two CPUs faulting in their own regions write in common: nothing on the fault path of a 4 KiB
/// anonymous page. The zeroing of a recycled frame leaves the frame bitmap (one word per 64 frames, shared by
/// neighbouring frames other CPUs fault in) alone, the free-page count is per CPU and balances, and the words each CPU
/// writes on every access (its counters, its flush slot) never share a cache line with another object.</summary>
public class FaultSharingTests
{
    private const ulong Base = 0x7f00_0000_0000;

    [Fact]
    public unsafe void Zeroing_a_recycled_frame_for_a_fault_clears_it_without_writing_the_frame_bitmap()
    {
        using Machine machine = Create(512 * MiB, checkedMode: false);
        BuddyAllocator buddy = machine.Memory.Buddy;
        PhysicalMemory physical = machine.Memory.Physical;

        // A frame that held data comes back (this CPU's list is LIFO) zeroed, with its bit still set: the bitmap
        // word was only read, and the user's write that follows finds the bit set and writes nothing either.
        Assert.True(buddy.TryAllocateHot(zero: true, out ulong pfn));
        ulong pa = pfn << 12;
        new Span<byte>(physical.WritePointer(pa), 4096).Fill(0x5a);
        buddy.FreeHot(pfn);
        ulong word = BitmapWord(physical, pa);
        Assert.True(buddy.TryAllocateHot(zero: true, out ulong again));
        Assert.Equal(pfn, again);
        Assert.True(new ReadOnlySpan<byte>(physical.ReadPointer(pa), 4096).IndexOfAnyExcept((byte)0) < 0, "the recycled frame was not zeroed");
        Assert.True(physical.IsFrameWritten(pa));
        Assert.Equal(word, BitmapWord(physical, pa));
        buddy.FreeHot(again);

        // A frame known zero is handed out untouched (no host page committed for it, no bit set).
        var skipped = new System.Collections.Generic.List<ulong>();
        Assert.True(buddy.TryAllocateHot(zero: false, out ulong fresh));
        while (physical.IsFrameWritten(fresh << 12))
        {
            skipped.Add(fresh); // the frame above, or one boot wrote
            Assert.True(buddy.TryAllocateHot(zero: false, out fresh));
        }
        buddy.FreeHot(fresh);
        Assert.True(buddy.TryAllocateHot(zero: true, out ulong zeroed));
        Assert.Equal(fresh, zeroed);
        Assert.False(physical.IsFrameWritten(zeroed << 12));
        Assert.True(new ReadOnlySpan<byte>(physical.ReadPointer(zeroed << 12), 4096).IndexOfAnyExcept((byte)0) < 0);
        buddy.FreeHot(zeroed);
        foreach (ulong frame in skipped) buddy.FreeHot(frame);
    }

    /// <summary>The bitmap word holding <paramref name="pa"/>'s bit, as a whole.</summary>
    private static ulong BitmapWord(PhysicalMemory physical, ulong pa)
    {
        ulong value = 0;
        ulong first = pa & ~(64UL * 4096 - 1);
        for (int i = 0; i < 64; i++)
            if (physical.IsFrameWritten(first + (ulong)i * 4096)) value |= 1UL << i;
        return value;
    }

    [Fact]
    public void Two_threads_faulting_their_own_regions_leave_every_per_cpu_count_balanced()
    {
        using Machine machine = Create(512 * MiB, checkedMode: true);
        using AddressSpace space = machine.CreateAddressSpace();
        long freeBefore = machine.GetStatistics().FreePages;
        const ulong region = 8 * MiB;
        using var start = new Barrier(2);
        var threads = new Thread[2];
        for (int t = 0; t < 2; t++)
        {
            ulong from = Base + (ulong)t * region;
            space.MapAnonymous(V(from), region, Protection.ReadWrite);
            threads[t] = new Thread(() =>
            {
                using MmuContext cpu = space.CreateContext();
                start.SignalAndWait();
                for (ulong a = from; a < from + region; a += Page) cpu.Write(V(a), (byte)(a >> 12));
            });
            threads[t].Start();
        }
        foreach (Thread t in threads) t.Join();
        long pages = 2 * (long)(region / Page);
        Assert.Equal(pages, space.LeafCount(PageSize.Size4K));
        // The per-CPU cells summed: every frame a fault took is missing from the free pages, and the free pages are
        // exactly the buddy blocks and the frames on the per-CPU lists.
        MemoryStatistics faulted = machine.GetStatistics();
        Assert.True(faulted.FreePages <= freeBefore - pages);
        long buddyPages = 0;
        for (int o = 0; o < faulted.FreeBlocksPerOrder.Count; o++) buddyPages += faulted.FreeBlocksPerOrder[o] << o;
        Assert.Equal(faulted.FreePages, buddyPages + faulted.PerCpuPages);
        for (ulong a = Base; a < Base + 2 * region; a += Page) Assert.Equal((byte)(a >> 12), space.Read<byte>(V(a)));
        space.Unmap(V(Base), 2 * region);
        Assert.Equal(freeBefore, machine.GetStatistics().FreePages);
    }

    [Fact]
    public void A_cpu_s_counters_and_flush_slot_keep_a_cache_line_from_any_neighbouring_object()
    {
        // Consecutive allocations of one thread are neighbours in memory, as a garbage collection may make two
        // CPUs' objects: the words a CPU writes on every access must be at least a cache line away from the next
        // object and from the object's own start (the previous object ends just before it).
        var slots = new ContextSlot[8];
        for (int i = 0; i < slots.Length; i++) slots[i] = new ContextSlot();
        for (int i = 0; i + 1 < slots.Length; i++)
        {
            Assert.True(OffsetInObject(slots[i], ref Unsafe.As<int, byte>(ref slots[i].Busy)) >= 64);
            long gap = Distance(ref Unsafe.As<long, byte>(ref slots[i].SeenGeneration), ref DataOf(slots[i + 1])) - sizeof(long);
            Assert.True(Math.Abs(gap) >= 64, $"a flush slot's hot words are {gap} bytes from the next object");
        }
        var counters = new CpuCounters[8];
        for (int i = 0; i < counters.Length; i++) counters[i] = new CpuCounters();
        for (int i = 0; i + 1 < counters.Length; i++)
        {
            // The first counter in the object (the hit count lives in the TLB's hit-word line: HitPathTests).
            Assert.True(OffsetInObject(counters[i], ref Unsafe.As<long, byte>(ref counters[i].Misses)) >= 64);
            long gap = Distance(ref Unsafe.As<long, byte>(ref counters[i].KernelFlushes), ref DataOf(counters[i + 1])) - sizeof(long);
            Assert.True(Math.Abs(gap) >= 64, $"a CPU's counters are {gap} bytes from the next object");
        }
    }

    [Fact]
    public void The_allocator_words_every_fault_reads_keep_128_bytes_from_their_neighbours()
    {
        // Every fault reads its zone's managed pages (populated_zone) and its CPU's slot of the per-CPU lists; the
        // objects allocated next to those arrays (the zone free counts, the buddy lists) are written by every refill
        // of any CPU. 128 bytes from either end of the array: a line and its adjacent-line prefetch pair.
        using Machine machine = Create(64 * MiB, checkedMode: false);
        BuddyAllocator buddy = machine.Memory.Buddy;
        foreach (MemoryZone zone in (MemoryZone[])[MemoryZone.Normal, MemoryZone.Movable])
        {
            (long[] cells, int index) = buddy.ManagedCell(zone);
            Assert.True(index * sizeof(long) >= 128, $"{zone}'s managed-pages cell is {index * sizeof(long)} bytes into its array");
            Assert.True((cells.Length - 1 - index) * sizeof(long) >= 128, $"{zone}'s managed-pages cell is {(cells.Length - 1 - index) * sizeof(long)} bytes before its array's end");
        }
        foreach (int slot in (int[])[0, PerCpu.Slots - 1])
        {
            (object?[] slots, int index) = buddy.PcpSlot(slot);
            Assert.True(index * IntPtr.Size >= 128, $"per-CPU slot {slot} is {index * IntPtr.Size} bytes into its array");
            Assert.True((slots.Length - 1 - index) * IntPtr.Size >= 128, $"per-CPU slot {slot} is {(slots.Length - 1 - index) * IntPtr.Size} bytes before its array's end");
        }
        Assert.Equal(buddy.ZoneManagedPages(MemoryZone.Normal) + buddy.ZoneManagedPages(MemoryZone.Movable), buddy.ManagedPages);
    }

    /// <summary>The first byte of an object's fields (just after its method-table pointer): a <c>StrongBox</c>'s
    /// only field is there.</summary>
    private static ref byte DataOf(object o) => ref Unsafe.As<StrongBox<byte>>(o).Value;

    private static long OffsetInObject(object o, ref byte field) => Distance(ref DataOf(o), ref field);

    private static long Distance(ref byte from, ref byte to) => (long)Unsafe.ByteOffset(ref from, ref to);
}
