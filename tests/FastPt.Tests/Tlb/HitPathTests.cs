using System;
using System.Runtime.CompilerServices;
using FastPt.Hardware;
using Xunit;
using static FastPt.Tests.TestMachines;

namespace FastPt.Tests.Tlb;

/// <summary>The TLB hit path's layout and counting: the byte offsets the hit indexes with are the slots the fills
/// write, an entry is one cache line, and the fast paths count hits exactly.</summary>
public class HitPathTests
{
    private static readonly VirtAddr Base = V(1UL << 39);

    [Fact]
    public void An_entry_is_one_cache_line()
    {
        Assert.Equal(64, Unsafe.SizeOf<TlbEntry>());
    }

    /// <summary>The hit count is the word beside the hit word, in their own line of the pinned TLB storage (neither
    /// an entry's line nor outside the array), and it is the count the context's statistics report.</summary>
    [Fact]
    public unsafe void The_hit_count_shares_the_hit_word_s_line_and_is_the_reported_count()
    {
        var tlb = new SoftTlb(64, 16);
        ulong word = (ulong)tlb.HitWordAddress, count = (ulong)tlb.HitCountAddress, first = (ulong)Unsafe.AsPointer(ref tlb.Entry(0));
        Assert.Equal(0UL, word % 64);
        Assert.Equal(word / 64, count / 64);
        Assert.True(count + sizeof(long) <= first, "the hit count overlaps the first entry");
        Assert.True(Unsafe.AreSame(ref *(long*)count, ref SoftTlb.HitCountOf((TlbEntry*)first)));
        ulong storage = (ulong)Unsafe.AsPointer(ref tlb.Storage[0]);
        Assert.True(word >= storage && count + sizeof(long) <= storage + (ulong)tlb.Storage.Length);

        using Machine machine = Create(64 * MiB, checkedMode: false);
        using AddressSpace space = machine.CreateAddressSpace();
        space.Map(Base, P(16 * MiB), Page, Protection.ReadWrite, PageSize.Size4K);
        using MmuContext cpu = space.CreateContext();
        Assert.True(cpu.TryTranslate(Base, AccessKind.Read, out _)); // a miss: fills
        long before = cpu.Statistics.Hits, spaceBefore = space.TlbStatistics.Hits;
        for (int i = 0; i < 10; i++) Assert.True(cpu.TryTranslate(Base + (ulong)i, AccessKind.Read, out _));
        Assert.Equal(before + 10, cpu.Statistics.Hits);
        Assert.Equal(spaceBefore + 10, space.TlbStatistics.Hits);
    }

    /// <summary>Read and Write compare the tag of the first byte's set with the page of the last byte: an access
    /// crossing into the next page must never be served from one page's frame, also when both pages are cached, in
    /// TLBs of one set (1 and 2 entries, whose data paths never hit) and of many; an access within a page still
    /// hits (counted). The two pages map to frames far apart, so a read from one frame gives other bytes.</summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(4)]
    [InlineData(64)]
    public void Accesses_crossing_a_page_read_and_write_both_frames(int tlbEntries)
    {
        using var machine = new Machine(new MachineOptions { MemorySize = 2 * GiB, TlbEntries = tlbEntries, CheckedMode = false });
        using AddressSpace space = machine.CreateAddressSpace();
        space.Map(Base, P(1 * GiB), Page, Protection.ReadWrite, PageSize.Size4K);
        space.Map(Base + Page, P(1 * GiB + 64 * MiB), Page, Protection.ReadWrite, PageSize.Size4K);
        using MmuContext cpu = space.CreateContext();
        var bytes = new byte[2 * Page];
        for (int i = 0; i < bytes.Length; i++) bytes[i] = (byte)(i * 7 + 3);
        Assert.True(cpu.TryWrite(Base, bytes, out _));
        for (int off = (int)Page - 16; off < (int)Page; off++)
        {
            // Both pages cached (the second one last: in a one-set TLB it sits in the first page's set).
            Assert.Equal(bytes[0], cpu.Read<byte>(Base));
            Assert.Equal(bytes[Page], cpu.Read<byte>(Base + Page));
            Assert.Equal(BitConverter.ToUInt64(bytes, off), cpu.Read<ulong>(Base + (ulong)off));
            ulong value = 0x0102030405060708UL * (ulong)(off + 1);
            cpu.Write<ulong>(Base + (ulong)off, value);
            BitConverter.TryWriteBytes(bytes.AsSpan(off), value);
            var back = new byte[bytes.Length];
            Assert.True(cpu.TryRead(Base, back, out _));
            Assert.Equal(bytes, back);
        }
        // Ends at the page's end: a hit (the fast path's, or for a one-set TLB the slow path's lookup) except in the
        // one-entry TLB, which holds the page read last.
        long hits = cpu.Statistics.Hits;
        Assert.Equal(BitConverter.ToUInt64(bytes, (int)Page - 8), cpu.Read<ulong>(Base + Page - 8));
        Assert.Equal(tlbEntries == 1 ? hits : hits + 1, cpu.Statistics.Hits);
    }

    /// <summary>A value larger than a page never takes a fast path (the page-offset check of a 4 KiB hit could not
    /// hold for it): it is read and written page by page, each page from its own frame.</summary>
    [Fact]
    public void A_value_larger_than_a_page_reads_and_writes_every_page_s_frame()
    {
        using Machine machine = Create(2 * GiB, checkedMode: false);
        using AddressSpace space = machine.CreateAddressSpace();
        for (int p = 0; p < 3; p++)
            space.Map(Base + (ulong)p * Page, P(1 * GiB + (ulong)p * 64 * MiB), Page, Protection.ReadWrite, PageSize.Size4K);
        using MmuContext cpu = space.CreateContext();
        for (int p = 0; p < 3; p++) cpu.Write<ulong>(Base + (ulong)p * Page, (ulong)p + 1); // every page cached
        Pages2 value = cpu.Read<Pages2>(Base + 8);
        Assert.Equal(0UL, value[0]);
        Assert.Equal(2UL, value[(int)(Page / 8) - 1]); // the second page's first word
        value[(int)(Page / 8) - 1] = 42;
        value[2 * (int)(Page / 8) - 1] = 43;
        cpu.Write(Base + 8, value);
        Assert.Equal(42UL, cpu.Read<ulong>(Base + Page));
        Assert.Equal(43UL, cpu.Read<ulong>(Base + 2 * Page));
    }

    [System.Runtime.CompilerServices.InlineArray(2 * 512)]
    private struct Pages2
    {
        private ulong _first;
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(64)]
    [InlineData(1024)]
    public void The_hit_path_s_byte_offsets_are_the_slots_the_fills_write(int entries)
    {
        var tlb = new SoftTlb(entries, 16);
        var random = new Random(entries);
        for (int i = 0; i < 4096; i++)
        {
            ulong va = (ulong)random.NextInt64() << 1 ^ (ulong)random.Next();
            Assert.True(Unsafe.AreSame(ref tlb.Entry(tlb.IndexOf(va)), ref tlb.EntryAt(tlb.Way0Offset(va))), $"0x{va:x}");
            Assert.True(Unsafe.AreSame(ref tlb.HugeEntry(tlb.HugeIndexOf(va)), ref tlb.HugeEntryAt(tlb.HugeOffset(va))), $"0x{va:x}");
        }
    }

    /// <summary>Every fast path (translate, read, write; 4 KiB and 2 MiB) counts its hits exactly and takes no
    /// miss once warm, and returns the right address and data from the one-line entries.</summary>
    [Fact]
    public void The_fast_paths_count_every_hit_exactly()
    {
        using Machine machine = Create(2 * GiB, checkedMode: false);
        using AddressSpace space = machine.CreateAddressSpace();
        space.Map(Base, P(1 * GiB), 2 * MiB, Protection.ReadWrite, PageSize.Size4K);
        space.Map(Base + 4 * MiB, P(1 * GiB + 4 * MiB), 4 * MiB, Protection.ReadWrite, PageSize.Size2M);
        using MmuContext cpu = space.CreateContext();
        const int Pages = 40;
        for (int p = 0; p < Pages; p++) cpu.Write<ulong>(Base + (ulong)p * Page, (ulong)p); // misses: fill and dirty
        cpu.Write<ulong>(Base + 4 * MiB, 7);
        cpu.Write<ulong>(Base + 6 * MiB, 9);
        long hitsBefore = cpu.Statistics.Hits, missesBefore = cpu.Statistics.Misses;
        long expected = 0;
        for (int round = 0; round < 3; round++)
        {
            for (int p = 0; p < Pages; p++)
            {
                VirtAddr va = Base + (ulong)p * Page;
                Assert.True(cpu.TryTranslate(va + 8, AccessKind.Read, out PhysAddr pa));
                Assert.Equal(1 * GiB + (ulong)p * Page + 8, pa.Value);
                Assert.Equal((ulong)p, cpu.Read<ulong>(va));
                cpu.Write<ulong>(va + 16, (ulong)round);
                expected += 3;
            }
            Assert.Equal(7UL, cpu.Read<ulong>(Base + 4 * MiB));
            cpu.Write<ulong>(Base + 6 * MiB + 8, 1);
            Assert.True(cpu.TryTranslate(Base + 6 * MiB + 0x1234, AccessKind.Write, out PhysAddr hugePa));
            Assert.Equal(1 * GiB + 6 * MiB + 0x1234, hugePa.Value);
            expected += 3;
        }
        Assert.Equal(expected, cpu.Statistics.Hits - hitsBefore);
        Assert.Equal(0, cpu.Statistics.Misses - missesBefore);
    }

    /// <summary>The fast paths check coherence through the hit word alone: a flush published by another
    /// operation makes the next translate, read and write miss and apply it (the unmapped page faults, the
    /// remapped one reads the new frame), after which the fast paths hit again.</summary>
    [Fact]
    public void A_published_flush_makes_every_fast_path_miss_until_it_is_applied()
    {
        using Machine machine = Create(2 * GiB, checkedMode: false);
        using AddressSpace space = machine.CreateAddressSpace();
        space.Map(Base, P(1 * GiB), 2 * Page, Protection.ReadWrite, PageSize.Size4K);
        using MmuContext cpu = space.CreateContext();
        cpu.Write<ulong>(Base, 11);
        cpu.Write<ulong>(Base + Page, 22);
        Assert.True(cpu.TryTranslate(Base, AccessKind.Read, out _));
        Assert.False(cpu.FlushSignalled);

        space.Unmap(Base, Page);
        Assert.True(cpu.FlushSignalled);
        Assert.False(cpu.TryTranslate(Base, AccessKind.Read, out _));
        Assert.False(cpu.FlushSignalled);

        space.Unmap(Base + Page, Page);
        space.Map(Base + Page, P(1 * GiB + 8 * Page), Page, Protection.ReadWrite, PageSize.Size4K);
        Assert.True(cpu.FlushSignalled);
        _ = cpu.Read<ulong>(Base + Page); // the read applies the flushes
        Assert.False(cpu.FlushSignalled);
        Assert.True(cpu.TryTranslate(Base + Page, AccessKind.Write, out PhysAddr pa));
        Assert.Equal(1 * GiB + 8 * Page, pa.Value);

        space.Protect(Base + Page, Page, Protection.Read);
        Assert.True(cpu.FlushSignalled);
        Assert.Throws<PageFaultException>(() => cpu.Write<ulong>(Base + Page, 1));
        Assert.False(cpu.FlushSignalled);
    }

    /// <summary>A signal that arrives after its flush was applied (the owner read the new generation between the
    /// flusher's publish and its signal) costs one slow-path translation and is cleared: the context is not left
    /// missing, and the hits stay exact.</summary>
    [Fact]
    public void A_late_signal_is_cleared_by_the_next_translation()
    {
        using Machine machine = Create(2 * GiB, checkedMode: false);
        using AddressSpace space = machine.CreateAddressSpace();
        space.Map(Base, P(1 * GiB), Page, Protection.ReadWrite, PageSize.Size4K);
        using MmuContext cpu = space.CreateContext();
        Assert.True(cpu.TryTranslate(Base, AccessKind.Read, out _));
        TlbStatistics before = cpu.Statistics;
        cpu.Slot.SignalFlush();
        Assert.True(cpu.FlushSignalled);
        for (int i = 0; i < 10; i++)
        {
            Assert.True(cpu.TryTranslate(Base + 8, AccessKind.Read, out PhysAddr pa));
            Assert.Equal(1 * GiB + 8, pa.Value);
            Assert.False(cpu.FlushSignalled);
        }
        Assert.Equal(10, cpu.Statistics.Hits - before.Hits);
        Assert.Equal(0, cpu.Statistics.Misses - before.Misses);
    }

    /// <summary>The epoch wraps (nine bits, the all-ones value reserved for the signal) many times over: every
    /// translation stays right and no wrap looks like a signal.</summary>
    [Fact]
    public void Epoch_wraps_never_look_like_a_flush_signal()
    {
        using Machine machine = Create(2 * GiB, checkedMode: false);
        using AddressSpace space = machine.CreateAddressSpace();
        space.Map(Base, P(1 * GiB), 4 * Page, Protection.ReadWrite, PageSize.Size4K);
        using MmuContext cpu = space.CreateContext();
        for (int i = 0; i < 1200; i++)
        {
            cpu.FlushLocal();
            Assert.False(cpu.FlushSignalled);
            VirtAddr va = Base + ((ulong)(i % 4) * Page + 16);
            Assert.True(cpu.TryTranslate(va, AccessKind.Read, out PhysAddr pa));
            Assert.Equal(1 * GiB + (ulong)(i % 4) * Page + 16, pa.Value);
            Assert.True(cpu.TryTranslate(va, AccessKind.Read, out pa)); // the hit of the entry just filled
            Assert.Equal(1 * GiB + (ulong)(i % 4) * Page + 16, pa.Value);
        }
    }

    /// <summary>A disposed context's signal stays: every fast path misses and throws.</summary>
    [Fact]
    public void A_disposed_context_never_hits()
    {
        using Machine machine = Create(2 * GiB, checkedMode: false);
        using AddressSpace space = machine.CreateAddressSpace();
        space.Map(Base, P(1 * GiB), Page, Protection.ReadWrite, PageSize.Size4K);
        MmuContext cpu = space.CreateContext();
        cpu.Write<ulong>(Base, 5);
        Assert.Equal(5UL, cpu.Read<ulong>(Base));
        cpu.Dispose();
        Assert.True(cpu.FlushSignalled);
        Assert.Throws<ObjectDisposedException>(() => cpu.TryTranslate(Base, AccessKind.Read, out _));
        Assert.Throws<ObjectDisposedException>(() => cpu.Read<ulong>(Base));
        Assert.Throws<ObjectDisposedException>(() => cpu.Write<ulong>(Base, 1));
        Assert.True(cpu.FlushSignalled);
    }
}
