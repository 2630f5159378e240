using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using FastPt.Hardware;
using Xunit;
using static FastPt.Tests.TestMachines;

namespace FastPt.Tests.Mm;

/// <summary>A frame handed out reads zero, whatever happened to it and its neighbours before; a frame nothing wrote
/// is handed out without being written (so the host commits nothing for it), at 4 KiB granularity.</summary>
public class FreshFrameTests
{
    private const ulong Region = 1UL << 39;

    [Fact]
    public void A_never_written_frame_beside_written_ones_is_handed_out_without_a_write()
    {
        using Machine machine = Create(1 * GiB, checkedMode: false);
        PhysicalMemory physical = machine.Memory.Physical;
        var frames = new PhysAddr[1024];
        for (int i = 0; i < frames.Length; i++) frames[i] = machine.AllocatePhysical(Page);
        for (int i = 0; i < frames.Length; i += 2) machine.WritePhysical(frames[i] + 100, [1, 2, 3]);
        for (int i = frames.Length - 1; i >= 0; i--) machine.FreePhysical(frames[i], Page);
        // Tracked per 4 KiB frame: exactly the written ones may hold data, their never-written neighbours (in the
        // same 2 MiB chunks, which the 2 MiB check zero-filled whole before) are known zero.
        for (int i = 0; i < frames.Length; i++)
        {
            Assert.Equal(i % 2 == 0, physical.IsFrameWritten(frames[i].Value));
            Assert.True(physical.IsWritten(frames[i].Value));
        }

        var buffer = new byte[Page];
        for (int i = 0; i < frames.Length; i++)
        {
            PhysAddr frame = machine.AllocatePhysical(Page);
            machine.ReadPhysical(frame, buffer);
            Assert.True(Array.TrueForAll(buffer, b => b == 0), $"frame {frame} handed out with data in it");
            // Zero-filling went through no write pointer (which would mark the frame): a written frame was cleared
            // and is known zero again, a never-written one was not touched at all.
            Assert.False(physical.IsFrameWritten(frame.Value), $"frame {frame} handed out marked as holding data");
        }
    }

    /// <summary>Counts the host page faults of handing out and mapping never-written frames (this thread's, from
    /// <c>getrusage</c>): no data frame may be faulted in (the zeroing skips known-zero frames), and each page of
    /// descriptors only once (a load before the first store maps the host's zero page and the store faults again:
    /// two faults per descriptor page before the buddy allocator's split wrote first).</summary>
    [Fact]
    public void Handing_out_never_written_frames_faults_in_no_data_page_and_each_descriptor_page_once()
    {
        if (!OperatingSystem.IsLinux()) return;
        const int frames = 4096;
        HandOutAndMap(frames); // compiles every path on this thread first (the JIT's own faults are not the engine's)
        long faults = HandOutAndMap(frames);
        // 64-byte descriptors (64 per page), a page table per 512 frames, and slack for upper tables and the
        // runtime's own pages: about 78 measured, against about 140 when a descriptor page faulted twice.
        const long bound = frames / 64 + frames / 512 + 24;
        Assert.True(faults <= bound, $"{faults} host page faults handing out {frames} fresh frames, at most {bound} expected");
    }

    private static long HandOutAndMap(int frames)
    {
        using Machine machine = Create(1 * GiB, checkedMode: false);
        AddressSpace space = machine.CreateAddressSpace();
        long before = ThreadMinorFaults();
        for (int i = 0; i < frames; i++)
            space.Map(V(Region + (ulong)i * Page), machine.AllocatePhysical(Page), Page, Protection.ReadWrite);
        return ThreadMinorFaults() - before;
    }

    private static long ThreadMinorFaults()
    {
        Assert.Equal(0, GetRusage(1 /* RUSAGE_THREAD */, out Rusage usage));
        return usage.MinorFaults;
    }

    [DllImport("libc", EntryPoint = "getrusage", SetLastError = true)]
    private static extern int GetRusage(int who, out Rusage usage);

    /// <summary><c>struct rusage</c> on 64-bit Linux: two timevals, then fourteen longs.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct Rusage
    {
        public long UserSeconds, UserMicroseconds, SystemSeconds, SystemMicroseconds;
        public long MaxRss, SharedRss, UnsharedData, UnsharedStack;
        public long MinorFaults, MajorFaults;
        public long Swaps, BlockIn, BlockOut, MessagesSent, MessagesReceived, Signals, VoluntarySwitches, InvoluntarySwitches;
    }

    [Theory]
    [InlineData(1, false)]
    [InlineData(2, false)]
    [InlineData(3, true)]
    public void Every_frame_handed_out_reads_zero_after_any_history(int seed, bool checkedMode)
    {
        using Machine machine = Create(1 * GiB, checkedMode: checkedMode);
        using AddressSpace space = machine.CreateAddressSpace();
        using MmuContext cpu = space.CreateContext();
        var random = new Random(seed);
        var held = new List<(PhysAddr Pa, ulong Size, ulong Va)>();
        ulong nextVa = Region;
        for (int step = 0; step < 600; step++)
        {
            int op = random.Next(10);
            if (op < 4 || held.Count == 0)
            {
                // 4 KiB to 4 MiB blocks; a 2 MiB or larger one is mapped with 2 MiB leaves, so writes through the
                // TLB land anywhere in a leaf through one entry.
                ulong size = Page << random.Next(11);
                PhysAddr pa = machine.AllocatePhysical(size);
                AssertZero(machine, pa, size);
                ulong va = nextVa;
                nextVa += Math.Max(size, 2 * MiB) * 2;
                space.Map(V(va), pa, size, Protection.ReadWrite, size >= 2 * MiB ? PageSize.Size2M : PageSize.Size4K);
                held.Add((pa, size, va));
            }
            else if (op < 6)
            {
                (PhysAddr pa, ulong size, _) = held[random.Next(held.Count)];
                var data = new byte[(int)Math.Min((ulong)random.Next(1, 9000), size)];
                random.NextBytes(data);
                ulong at = (ulong)random.NextInt64((long)(size - (ulong)data.Length) + 1);
                machine.WritePhysical(pa + at, data);
            }
            else if (op < 8)
            {
                (_, ulong size, ulong va) = held[random.Next(held.Count)];
                ulong at = (ulong)random.NextInt64((long)(size / 8)) * 8;
                cpu.Write(V(va + at), (ulong)random.NextInt64() | 1);
            }
            else
            {
                int i = random.Next(held.Count);
                (PhysAddr pa, ulong size, ulong va) = held[i];
                held.RemoveAt(i);
                space.Unmap(V(va), size);
                machine.FreePhysical(pa, size);
            }
        }
    }

    [Fact]
    public void Frames_of_hot_added_and_re_added_memory_read_zero()
    {
        using Machine machine = Create(1 * GiB, checkedMode: false);
        ulong start = 8 * GiB;
        const ulong section = 128 * MiB;
        machine.AddMemory(P(start), section);
        // The new memory is ZONE_MOVABLE, where data comes from first.
        var frames = new List<PhysAddr>();
        for (int i = 0; i < 2048; i++)
        {
            PhysAddr frame = machine.AllocatePhysical(Page);
            Assert.True(frame.Value >= start);
            AssertZero(machine, frame, Page);
            machine.WritePhysical(frame + 8, [0xAA, 0xBB]);
            frames.Add(frame);
        }
        foreach (PhysAddr frame in frames) machine.FreePhysical(frame, Page);

        // Remove it all and add it back (the arena goes): no written byte comes back.
        machine.RemoveMemory(P(start), section);
        machine.AddMemory(P(start), section);
        AssertAllocationsZero(machine, start, 2048);

        // One 2 MiB subsection at a time (its host chunk discarded, the arena kept): the same.
        var blocks = new List<PhysAddr>();
        for (int i = 0; i < 4; i++)
        {
            PhysAddr block = machine.AllocatePhysical(2 * MiB);
            Assert.True(block.Value >= start);
            var pattern = new byte[2 * MiB];
            Array.Fill(pattern, (byte)0x5A);
            machine.WritePhysical(block, pattern);
            blocks.Add(block);
        }
        foreach (PhysAddr block in blocks) machine.FreePhysical(block, 2 * MiB);
        var readded = new HashSet<ulong>();
        foreach (PhysAddr block in blocks)
        {
            if (!machine.TryRemoveMemory(block, 2 * MiB).IsSuccess) continue;
            machine.AddMemory(block, 2 * MiB);
            readded.Add(block.Value);
        }
        Assert.NotEmpty(readded);
        var again = new List<PhysAddr>();
        while (readded.Count > 0 && machine.TryAllocatePhysical(2 * MiB, out PhysAddr block))
        {
            AssertZero(machine, block, 2 * MiB);
            readded.Remove(block.Value);
            again.Add(block);
        }
        Assert.Empty(readded);
        foreach (PhysAddr block in again) machine.FreePhysical(block, 2 * MiB);
    }

    private static void AssertAllocationsZero(Machine machine, ulong start, int count)
    {
        var frames = new List<PhysAddr>();
        for (int i = 0; i < count; i++)
        {
            if (!machine.TryAllocatePhysical(Page, out PhysAddr frame)) break;
            AssertZero(machine, frame, Page);
            frames.Add(frame);
        }
        Assert.Contains(frames, f => f.Value >= start);
        foreach (PhysAddr frame in frames) machine.FreePhysical(frame, Page);
    }

    private static void AssertZero(Machine machine, PhysAddr pa, ulong size)
    {
        var buffer = new byte[Math.Min(size, 64 * KiB)];
        for (ulong at = 0; at < size; at += (ulong)buffer.Length)
        {
            machine.ReadPhysical(pa + at, buffer);
            int nonZero = Array.FindIndex(buffer, b => b != 0);
            Assert.True(nonZero < 0, $"the block at {pa} ({size} bytes) was handed out with data at +{at + (ulong)nonZero}");
        }
    }
}
