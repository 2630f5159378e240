using System;
using FastPt.Hardware;
using Xunit;
using static FastPt.Tests.TestMachines;

namespace FastPt.Tests.Hardware;

public unsafe class PhysicalMemoryTests
{
    [Fact]
    public void Reads_do_not_count_as_written_and_writes_count_one_chunk()
    {
        using var memory = new PhysicalMemory(64 * GiB, adviseHugePages: false);
        Assert.Equal(0, memory.LiveArenas);
        Assert.Equal(0, memory.ReadPointer(5 * GiB + 123)[0]);
        var buffer = new byte[64];
        memory.Read(40 * GiB, buffer);
        Assert.All(buffer, b => Assert.Equal(0, b));
        Assert.Equal(0, memory.WrittenChunks);
        memory.WritePointer(5 * GiB + 8)[0] = 7;
        Assert.Equal(1, memory.WrittenChunks);
        Assert.Equal(7, memory.ReadPointer(5 * GiB + 8)[0]);
        Assert.True(memory.IsWritten(5 * GiB));
        Assert.False(memory.IsWritten(5 * GiB + PhysicalMemory.ChunkSize));
        Assert.Equal(2, memory.LiveArenas);
    }

    [Fact]
    public void Zero_fill_of_untouched_memory_costs_nothing()
    {
        using var memory = new PhysicalMemory(8 * GiB, adviseHugePages: false);
        memory.Fill(0, 2 * GiB, 0);
        Assert.Equal(0, memory.WrittenChunks);
        Assert.Equal(0, memory.LiveArenas);
        memory.Fill(0, 4 * MiB, 0xFD);
        Assert.Equal(2, memory.WrittenChunks);
        Assert.Equal(0xFD, memory.ReadPointer(4 * MiB - 1)[0]);
        Assert.Equal(0, memory.ReadPointer(4 * MiB)[0]);
    }

    [Fact]
    public void Reads_and_writes_cross_chunk_and_arena_boundaries()
    {
        using var memory = new PhysicalMemory(1 * GiB, adviseHugePages: false);
        var data = new byte[3 * 1024 * 1024];
        new Random(1).NextBytes(data);
        ulong at = PhysicalMemory.ArenaSize - 1000;
        memory.Write(at, data);
        var back = new byte[data.Length];
        memory.Read(at, back);
        Assert.Equal(data, back);
        Assert.Equal(3, memory.WrittenChunks);
        Assert.Equal(2, memory.LiveArenas);
    }

    [Fact]
    public void Release_discards_contents_and_dispose_frees_every_arena()
    {
        var memory = new PhysicalMemory(64 * GiB, adviseHugePages: true);
        memory.WritePointer(0)[0] = 1;
        memory.WritePointer(10 * GiB)[0] = 1;
        memory.WritePointer(10 * GiB + 4 * MiB)[0] = 1;
        memory.WritePointer(63 * GiB)[0] = 1;
        Assert.Equal(4, memory.WrittenChunks);
        Assert.Equal(3, memory.LiveArenas);

        // One chunk of a section: discarded, reads zero again, the arena stays.
        memory.Release(10 * GiB, PhysicalMemory.ChunkSize);
        Assert.Equal(0, memory.ReadPointer(10 * GiB)[0]);
        Assert.Equal(1, memory.ReadPointer(10 * GiB + 4 * MiB)[0]);
        Assert.Equal(3, memory.WrittenChunks);
        // A whole section: the arena goes.
        memory.Release(10 * GiB, PhysicalMemory.ArenaSize);
        Assert.Equal(2, memory.LiveArenas);
        Assert.Equal(2, memory.WrittenChunks);
        Assert.Equal(0, memory.ReadPointer(10 * GiB + 4 * MiB)[0]);

        memory.Dispose();
        Assert.Equal(0, memory.LiveArenas);
        Assert.Equal(0, memory.WrittenChunks);
        Assert.Throws<ObjectDisposedException>(() => memory.WritePointer(PhysicalMemory.ArenaSize * 7));
    }

    [Fact]
    public void Frames_are_known_zero_at_4_KiB_granularity()
    {
        using var memory = new PhysicalMemory(1 * GiB, adviseHugePages: false);
        memory.WritePointer(5 * Page + 8)[0] = 7;
        Assert.True(memory.IsFrameWritten(5 * Page));
        Assert.False(memory.IsFrameWritten(4 * Page));
        Assert.False(memory.IsFrameWritten(6 * Page));
        Assert.True(memory.IsWritten(0)); // the chunk counts

        // A zero fill over the chunk writes only the written frame, which is known zero again.
        memory.Fill(0, PhysicalMemory.ChunkSize, 0);
        Assert.Equal(0, memory.ReadPointer(5 * Page + 8)[0]);
        Assert.False(memory.IsFrameWritten(5 * Page));

        // A part of a frame zeroed leaves the frame marked: the rest of it may hold data.
        memory.WritePointer(7 * Page)[100] = 1;
        memory.WritePointer(7 * Page)[3000] = 2;
        memory.Fill(7 * Page + 64, 1024, 0);
        Assert.Equal(0, memory.ReadPointer(7 * Page)[100]);
        Assert.Equal(2, memory.ReadPointer(7 * Page)[3000]);
        Assert.True(memory.IsFrameWritten(7 * Page));

        // A ranged write pointer (a 2 MiB TLB entry) marks every frame of the range; so do Write and a non-zero Fill.
        memory.WritePointer(4 * MiB, 2 * MiB);
        Assert.True(memory.IsFrameWritten(4 * MiB) && memory.IsFrameWritten(6 * MiB - Page));
        Assert.False(memory.IsFrameWritten(6 * MiB));
        memory.Write(PhysicalMemory.ArenaSize - 100, new byte[3 * Page]);
        for (ulong f = PhysicalMemory.ArenaSize - Page; f < PhysicalMemory.ArenaSize + 3 * Page; f += Page)
            Assert.True(memory.IsFrameWritten(f));
        Assert.False(memory.IsFrameWritten(PhysicalMemory.ArenaSize + 3 * Page));
        memory.Fill(9 * MiB + 10, 3 * Page, 0x11);
        Assert.True(memory.IsFrameWritten(9 * MiB) && memory.IsFrameWritten(9 * MiB + 3 * Page));
        memory.Fill(9 * MiB, 4 * Page, 0);
        Assert.False(memory.IsFrameWritten(9 * MiB) || memory.IsFrameWritten(9 * MiB + 3 * Page));
        Assert.Equal(0, memory.ReadPointer(9 * MiB + 10)[0]);

        // Discarding a chunk (hot-remove of a subsection) leaves its frames known zero.
        memory.Release(4 * MiB, PhysicalMemory.ChunkSize);
        Assert.False(memory.IsFrameWritten(4 * MiB));
        Assert.False(memory.IsFrameWritten(6 * MiB - Page));
    }

    [Fact]
    public void A_zero_fill_ending_at_an_arena_end_zeroes_the_last_frames()
    {
        // The arena-relative end offset of such a range is 0: the frame loop must count from the range's start.
        using var memory = new PhysicalMemory(1 * GiB, adviseHugePages: false);
        ulong last = PhysicalMemory.ArenaSize - Page;
        memory.Fill(last - Page, 2 * Page, 0x6b);
        memory.Fill(last, Page, 0);
        Assert.Equal(0, memory.ReadPointer(last + 8)[0]);
        Assert.False(memory.IsFrameWritten(last));
        Assert.Equal(0x6b, memory.ReadPointer(last - Page)[0]);
        memory.Fill(last - Page, 2 * Page, 0);
        Assert.Equal(0, memory.ReadPointer(last - Page)[0]);
        Assert.False(memory.IsFrameWritten(last - Page));
    }

    [Fact]
    public void Entry_format_is_x86()
    {
        Assert.Equal(0x8000_0000_0000_0001UL | 0x4 | 0x80, PageTableEntry.UserLeafBits(Protection.Read, 2));
        Assert.Equal(0x7UL, PageTableEntry.UserLeafBits(Protection.ReadWrite | Protection.Execute, 1));
        Assert.Equal(0x000F_FFFF_FFE0_0000UL, PageTableEntry.LeafAddressMask(2));
        Assert.Equal(0x000F_FFFF_C000_0000UL, PageTableEntry.LeafAddressMask(3));
        ulong protNone = PageTableEntry.UserLeafBits(Protection.None, 1) | 0x1234_5000;
        Assert.False(PageTableEntry.IsPresent(protNone));
        Assert.True(PageTableEntry.IsLeaf(protNone, 1));
        Assert.Equal(Protection.None, PageTableEntry.ProtectionOf(protNone));
        ulong leaf = 0x4000_0000UL | PageTableEntry.UserLeafBits(Protection.ReadWrite, 2) | PageTableEntry.Dirty;
        ulong readOnly = PageTableEntry.WithProtection(leaf, Protection.Read, 2);
        Assert.Equal(0x4000_0000UL, PageTableEntry.LeafAddress(readOnly, 2));
        Assert.True((readOnly & PageTableEntry.Dirty) != 0);
        Assert.True(PageTableEntry.IsDowngrade(leaf, readOnly));
        Assert.False(PageTableEntry.IsDowngrade(readOnly, leaf));
    }
}
