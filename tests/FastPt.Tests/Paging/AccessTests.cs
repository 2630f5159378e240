using System;
using System.Buffers.Binary;
using System.Linq;
using Xunit;
using static FastPt.Tests.Paging.PagingFixtures;
using static FastPt.Tests.TestMachines;

namespace FastPt.Tests.Paging;

/// <summary>Reads and writes through translation: across pages and discontiguous frames, all or nothing when a
/// page faults (no data, no Accessed or Dirty bit), rights enforced, and caches that follow every change.</summary>
public class AccessTests
{
    private static byte[] Pattern(int length, int seed)
    {
        var data = new byte[length];
        new Random(seed).NextBytes(data);
        return data;
    }

    private static byte[] ReadPhysical(Machine machine, PhysAddr pa, int length)
    {
        var data = new byte[length];
        machine.ReadPhysical(pa, data);
        return data;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Reads_and_writes_cross_pages_onto_discontiguous_frames(bool checkedMode)
    {
        (Machine machine, PhysAddr pool) = MachineWithPool(checkedMode: checkedMode);
        using Machine owner = machine;
        using AddressSpace space = machine.CreateAddressSpace();
        ulong va = GiB - Page;
        // Four pages whose frames are out of order: 5, 2, 100, 101.
        space.Map(V(va), pool + 5 * Page, Page, Protection.ReadWrite);
        space.Map(V(va + Page), pool + 2 * Page, Page, Protection.ReadWrite);
        space.Map(V(va + 2 * Page), pool + 100 * Page, 2 * Page, Protection.ReadWrite);

        byte[] small = Pattern(64, 1);
        space.Write(V(va + Page - 20), small);
        Assert.Equal(small[..20], ReadPhysical(machine, pool + (6 * Page - 20), 20));
        Assert.Equal(small[20..], ReadPhysical(machine, pool + 2 * Page, 44));
        var back = new byte[64];
        space.Read(V(va + Page - 20), back);
        Assert.Equal(small, back);

        byte[] large = Pattern(3 * (int)Page + 100, 2);
        Assert.True(space.TryWrite(V(va + 50), large, out PageFault none));
        Assert.Equal(default, none);
        Assert.Equal(large[..(int)(Page - 50)], ReadPhysical(machine, pool + (5 * Page + 50), (int)(Page - 50)));
        Assert.Equal(large[(int)(Page - 50)..(int)(2 * Page - 50)], ReadPhysical(machine, pool + 2 * Page, (int)Page));
        Assert.Equal(large[(int)(2 * Page - 50)..], ReadPhysical(machine, pool + 100 * Page, large.Length - (int)(2 * Page - 50)));
        var largeBack = new byte[large.Length];
        Assert.True(space.TryRead(V(va + 50), largeBack, out _));
        Assert.Equal(large, largeBack);

        // Typed values are little-endian and may straddle pages too.
        space.Write(V(va + Page - 3), 0x1122_3344_5566_7788UL);
        Assert.Equal(new byte[] { 0x88, 0x77, 0x66 }, ReadPhysical(machine, pool + (6 * Page - 3), 3));
        Assert.Equal(new byte[] { 0x55, 0x44, 0x33, 0x22, 0x11 }, ReadPhysical(machine, pool + 2 * Page, 5));
        Assert.Equal(0x1122_3344_5566_7788UL, space.Read<ulong>(V(va + Page - 3)));
        Assert.Equal(0x3344_5566u, space.Read<uint>(V(va + Page - 1)));
        space.Write(V(va + 2 * Page + 8), (ushort)0xBEEF);
        Assert.Equal(0xBEEF, BinaryPrimitives.ReadUInt16LittleEndian(ReadPhysical(machine, pool + (100 * Page + 8), 2)));

        // An explicit context sees the same bytes.
        using MmuContext context = space.CreateContext();
        Assert.Equal(0x1122_3344_5566_7788UL, context.Read<ulong>(V(va + Page - 3)));
        context.Write(V(va + 3 * Page - 2), 0xCAFEu);
        Assert.Equal(0xCAFEu, space.Read<uint>(V(va + 3 * Page - 2)));
        // Aliases: the frame mapped twice shows one write through either address.
        space.Map(V(4 * GiB), pool + 2 * Page, Page, Protection.Read);
        Assert.Equal(space.Read<ulong>(V(va + Page + 100)), space.Read<ulong>(V(4 * GiB + 100)));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_faulting_access_reads_and_writes_nothing_and_sets_no_accessed_or_dirty_bit(bool checkedMode)
    {
        (Machine machine, PhysAddr pool) = MachineWithPool(checkedMode: checkedMode);
        using Machine owner = machine;
        using AddressSpace space = machine.CreateAddressSpace();
        ulong a = 2 * GiB;          // read-write
        ulong b = a + Page;         // read-only
        ulong c = a + 2 * Page;     // not mapped
        ulong d = a + 3 * Page;     // PROT_NONE
        ulong e = a + 4 * Page;     // read-write
        space.Map(V(a), pool, Page, Protection.ReadWrite);
        space.Map(V(b), pool + Page, Page, Protection.Read);
        space.Map(V(d), pool + 3 * Page, Page, Protection.None);
        space.Map(V(e), pool + 4 * Page, Page, Protection.ReadWrite);

        void AssertBits(ulong va, bool accessed, bool dirty)
        {
            Mapping m = space.Lookup(V(va))!.Value;
            Assert.True(accessed == m.Accessed && dirty == m.Dirty, $"0x{va:x}: expected A={accessed} D={dirty}, got {m}");
        }

        byte[] data = Pattern(32, 3);
        Assert.False(space.TryWrite(V(b - 16), data, out PageFault fault));
        Assert.Equal(new PageFault(V(b), AccessKind.Write, FaultReason.ProtectionViolation), fault);
        Assert.Equal(new byte[16], ReadPhysical(machine, pool + (Page - 16), 16));
        AssertBits(a, false, false);
        AssertBits(b, false, false);

        PageFaultException thrown = Assert.Throws<PageFaultException>(() => space.Write(V(b - 4), 0x0102_0304_0506_0708UL));
        Assert.Equal(new PageFault(V(b), AccessKind.Write, FaultReason.ProtectionViolation), thrown.Fault);
        Assert.Equal(new byte[16], ReadPhysical(machine, pool + (Page - 16), 16));
        AssertBits(a, false, false);

        // Reading b then c: c is a hole. The destination is left alone.
        var destination = Enumerable.Repeat((byte)0xCC, 300).ToArray();
        Assert.False(space.TryRead(V(c - 100), destination, out fault));
        Assert.Equal(new PageFault(V(c), AccessKind.Read, FaultReason.NotMapped), fault);
        Assert.All(destination, x => Assert.Equal(0xCC, x));
        AssertBits(b, false, false);
        Assert.Equal(FaultReason.NotMapped, Assert.Throws<PageFaultException>(() => space.Read<ulong>(V(c - 4))).Fault.Reason);

        // From the PROT_NONE page into a read-write one.
        Assert.False(space.TryRead(V(e - 8), new byte[16], out fault));
        Assert.Equal(new PageFault(V(e - 8), AccessKind.Read, FaultReason.ProtectionViolation), fault);
        Assert.False(space.TryWrite(V(e - 8), new byte[16], out fault));
        Assert.Equal(new PageFault(V(e - 8), AccessKind.Write, FaultReason.ProtectionViolation), fault);
        AssertBits(e, false, false);
        AssertBits(d, false, false);

        // The first page already read (Accessed, cached) must still not become dirty from a failed write.
        Assert.Equal(0UL, space.Read<ulong>(V(a)));
        AssertBits(a, true, false);
        Assert.False(space.TryWrite(V(b - 8), new byte[16], out _));
        AssertBits(a, true, false);
        // A write sets Dirty; reads never do.
        space.Write(V(a + 8), 42UL);
        AssertBits(a, true, true);
        Assert.Equal(0UL, space.Read<ulong>(V(b)));
        AssertBits(b, true, false);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Translate_enforces_rights_and_sets_accessed_and_dirty_only_when_allowed(bool checkedMode)
    {
        using Machine machine = Create(8 * GiB, checkedMode: checkedMode);
        using AddressSpace space = machine.CreateAddressSpace();
        ulong pa = 2 * GiB;
        space.Map(V(GiB), P(pa), 2 * MiB, Protection.Read);
        space.Map(V(GiB + 2 * MiB), P(pa), Page, Protection.ReadExecute);
        space.Map(V(GiB + 4 * MiB), P(pa), 2 * MiB, Protection.ReadWrite);
        space.Map(V(GiB + 8 * MiB), P(pa), Page, Protection.None);

        Assert.Equal(FaultReason.ProtectionViolation, space.Translate(V(GiB + 5), AccessKind.Write).Fault.Reason);
        Assert.Equal(FaultReason.ProtectionViolation, space.Translate(V(GiB + 5), AccessKind.Execute).Fault.Reason);
        Assert.False(space.Lookup(V(GiB))!.Value.Accessed);
        Assert.False(space.TryTranslate(V(GiB + 5), AccessKind.Write, out _));
        Assert.True(space.Translate(V(GiB + 5), AccessKind.Read).Succeeded);
        Assert.Equal(new Mapping(V(GiB), P(pa), PageSize.Size2M, Protection.Read, true, false), space.Lookup(V(GiB + 3 * Page)));

        Assert.True(space.Translate(V(GiB + 2 * MiB + 7), AccessKind.Execute).Succeeded);
        Assert.True(space.TryTranslate(V(GiB + 2 * MiB + 7), AccessKind.Execute, out PhysAddr executed));
        Assert.Equal(pa + 7, executed.Value);
        Assert.Equal(FaultReason.ProtectionViolation, space.Translate(V(GiB + 2 * MiB), AccessKind.Write).Fault.Reason);
        Assert.Equal(FaultReason.ProtectionViolation, space.Translate(V(GiB + 4 * MiB), AccessKind.Execute).Fault.Reason);
        Assert.False(space.Lookup(V(GiB + 4 * MiB))!.Value.Accessed);

        Translation write = space.Translate(V(GiB + 5 * MiB + 9), AccessKind.Write);
        Assert.True(write.Succeeded);
        Assert.Equal(pa + MiB + 9, write.PhysAddr.Value);
        Assert.Equal(new Mapping(V(GiB + 4 * MiB), P(pa), PageSize.Size2M, Protection.ReadWrite, true, true), space.Lookup(V(GiB + 4 * MiB)));

        foreach (AccessKind access in new[] { AccessKind.Read, AccessKind.Write, AccessKind.Execute })
        {
            Assert.Equal(new PageFault(V(GiB + 8 * MiB + 1), access, FaultReason.ProtectionViolation), space.Translate(V(GiB + 8 * MiB + 1), access).Fault);
            Assert.Equal(new PageFault(V(GiB + 9 * MiB), access, FaultReason.NotMapped), space.Translate(V(GiB + 9 * MiB), access).Fault);
            Assert.Equal(FaultReason.OutOfRange, space.Translate(machine.DirectMapBase, access).Fault.Reason);
            Assert.Equal(FaultReason.NonCanonical, space.Translate(V(1UL << 60), access).Fault.Reason);
            Assert.False(space.TryTranslate(V(GiB + 8 * MiB), access, out _));
        }
        Assert.False(space.Lookup(V(GiB + 8 * MiB))!.Value.Accessed);
    }

    [Fact]
    public void Mapping_frames_that_are_not_present_memory_faults_on_access()
    {
        using Machine machine = Create(GiB);
        using AddressSpace space = machine.CreateAddressSpace();
        space.Map(V(GiB), P(16 * GiB), Page, Protection.ReadWrite);
        Assert.Equal(FaultReason.PhysicalMemoryAbsent, space.Translate(V(GiB)).Fault.Reason);
        Assert.False(space.TryWrite(V(GiB), new byte[8], out PageFault fault));
        Assert.Equal(new PageFault(V(GiB), AccessKind.Write, FaultReason.PhysicalMemoryAbsent), fault);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Cached_translations_follow_protect_unmap_and_remap_in_every_context(bool checkedMode)
    {
        (Machine machine, PhysAddr pool) = MachineWithPool(checkedMode: checkedMode);
        using Machine owner = machine;
        using AddressSpace space = machine.CreateAddressSpace();
        using MmuContext other = space.CreateContext();
        ulong va = 3 * GiB;
        space.Map(V(va), pool, 2 * MiB, Protection.ReadWrite);      // a 2 MiB leaf
        space.Map(V(va + 2 * MiB), pool + Page, Page, Protection.ReadWrite); // a 4 KiB page
        foreach (ulong at in new[] { va + 8, va + 2 * MiB + 8 })
        {
            // Warm both contexts' TLBs with write entries.
            space.Write(V(at), 1UL);
            other.Write(V(at), 2UL);
            Assert.Equal(2UL, space.Read<ulong>(V(at)));

            space.Protect(V(at & ~(Page - 1)), Page, Protection.Read);
            Assert.Equal(FaultReason.ProtectionViolation, Assert.Throws<PageFaultException>(() => space.Write(V(at), 3UL)).Fault.Reason);
            Assert.Equal(FaultReason.ProtectionViolation, Assert.Throws<PageFaultException>(() => other.Write(V(at), 3UL)).Fault.Reason);
            Assert.Equal(2UL, other.Read<ulong>(V(at)));

            space.Protect(V(at & ~(Page - 1)), Page, Protection.None);
            Assert.Equal(FaultReason.ProtectionViolation, Assert.Throws<PageFaultException>(() => other.Read<ulong>(V(at))).Fault.Reason);
            Assert.Equal(FaultReason.ProtectionViolation, space.Translate(V(at)).Fault.Reason);

            space.Protect(V(at & ~(Page - 1)), Page, Protection.ReadWrite);
            other.Write(V(at), 4UL);
            Assert.Equal(4UL, space.Read<ulong>(V(at)));

            space.Unmap(V(at & ~(Page - 1)), Page);
            Assert.Equal(FaultReason.NotMapped, Assert.Throws<PageFaultException>(() => space.Read<ulong>(V(at))).Fault.Reason);
            Assert.Equal(FaultReason.NotMapped, Assert.Throws<PageFaultException>(() => other.Read<ulong>(V(at))).Fault.Reason);
            Assert.False(other.TryTranslate(V(at), AccessKind.Read, out _));

            // Mapped again onto another frame: both contexts see the new frame.
            machine.WritePhysical(pool + (300 * Page + 8), BitConverter.GetBytes(0x5555UL));
            space.Map(V(at & ~(Page - 1)), pool + 300 * Page, Page, Protection.Read);
            Assert.Equal(0x5555UL, other.Read<ulong>(V(at)));
            Assert.Equal(0x5555UL, space.Read<ulong>(V(at)));
            Assert.Equal((pool + (300 * Page + 8)).Value, other.Translate(V(at)).PhysAddr.Value);
        }
        // The rest of the split 2 MiB leaf kept its frames and data.
        Assert.Equal((pool + (Page + 8)).Value, other.Translate(V(va + Page + 8)).PhysAddr.Value);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_context_that_missed_many_flushes_still_sees_the_current_tables(bool checkedMode)
    {
        (Machine machine, PhysAddr pool) = MachineWithPool(checkedMode: checkedMode);
        using Machine owner = machine;
        using AddressSpace space = machine.CreateAddressSpace();
        using MmuContext idle = space.CreateContext();
        ulong va = 7 * GiB;
        space.Map(V(va), pool, 64 * Page, Protection.ReadWrite);
        for (ulong i = 0; i < 64; i++) Assert.True(idle.Translate(V(va + i * Page), AccessKind.Write).Succeeded);
        // Far more flushes than the flush ring holds, each taking something from a page the idle context cached.
        for (ulong round = 0; round < 3; round++)
        {
            for (ulong i = 0; i < 64; i++) space.Protect(V(va + i * Page), Page, Protection.Read);
            for (ulong i = 0; i < 64; i++) space.Protect(V(va + i * Page), Page, Protection.ReadWrite);
        }
        for (ulong i = 0; i < 64; i += 2) space.Unmap(V(va + i * Page), Page);
        for (ulong i = 1; i < 64; i += 4) space.Protect(V(va + i * Page), Page, Protection.Read);
        for (ulong i = 0; i < 64; i++)
        {
            Translation t = idle.Translate(V(va + i * Page), AccessKind.Write);
            FaultReason? expected = i % 2 == 0 ? FaultReason.NotMapped : i % 4 == 1 ? FaultReason.ProtectionViolation : null;
            Assert.True(expected is null ? t.Succeeded : !t.Succeeded && t.Fault.Reason == expected, $"page {i}: expected {expected?.ToString() ?? "success"}, got {t}");
        }
    }

    [Theory]
    [InlineData(PagingMode.FourLevel)]
    [InlineData(PagingMode.FiveLevel)]
    public void Address_spaces_are_independent_and_a_context_switch_drops_the_old_translations(PagingMode mode)
    {
        (Machine machine, PhysAddr pool) = MachineWithPool(mode);
        using Machine owner = machine;
        using AddressSpace first = machine.CreateAddressSpace();
        using AddressSpace second = machine.CreateAddressSpace();
        ulong va = 3 * GiB;
        first.Map(V(va), pool, 2 * MiB, Protection.ReadWrite);
        second.Map(V(va), pool + 2 * MiB, 2 * MiB + Page, Protection.Read);
        Assert.Equal(new PageTableCounts(0, 1, 1, mode == PagingMode.FiveLevel ? 1 : 0), first.PageTables);
        Assert.Equal(new PageTableCounts(1, 1, 1, mode == PagingMode.FiveLevel ? 1 : 0), second.PageTables);
        first.Write(V(va + 8), 11UL);
        Assert.Equal(0UL, second.Read<ulong>(V(va + 8)));

        using MmuContext context = first.CreateContext();
        Assert.Equal(pool.Value + 8, context.Translate(V(va + 8), AccessKind.Write).PhysAddr.Value);
        context.SwitchTo(second);
        Assert.Same(second, context.AddressSpace);
        Assert.Equal(pool.Value + 2 * MiB + 8, context.Translate(V(va + 8)).PhysAddr.Value);
        Assert.Equal(FaultReason.ProtectionViolation, context.Translate(V(va + 8), AccessKind.Write).Fault.Reason);

        // Changes to one space do not reach the other.
        first.Unmap(V(va), 2 * MiB);
        Assert.Equal(0, first.PageTables.Total);
        Assert.Equal(pool.Value + 2 * MiB + 8, second.Translate(V(va + 8)).PhysAddr.Value);
        Assert.Equal(pool.Value + 2 * MiB + 8, context.Translate(V(va + 8)).PhysAddr.Value);
        context.SwitchTo(first);
        Assert.Equal(FaultReason.NotMapped, context.Translate(V(va + 8)).Fault.Reason);
        Assert.Throws<ArgumentException>(() => second.Translate(V(va), AccessKind.Read, context));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Unmapping_a_page_drops_every_cached_copy_of_its_translation(bool checkedMode)
    {
        (Machine machine, PhysAddr pool) = MachineWithPool(checkedMode: checkedMode);
        using Machine owner = machine;
        using AddressSpace space = machine.CreateAddressSpace();
        ulong a = 6 * GiB;
        // b is one TLB size (1024 entries) above a: both fall in one set of the 2-way TLB, so a moves between ways.
        ulong b = a + (ulong)machine.Options.TlbEntries * Page;
        space.Map(V(a), pool, Page, Protection.All);
        space.Map(V(b), pool + Page, Page, Protection.ReadWrite);
        Assert.True(space.Translate(V(a), AccessKind.Read).Succeeded);   // a cached
        Assert.True(space.Translate(V(b), AccessKind.Read).Succeeded);   // b in way 0, a moved to way 1
        Assert.True(space.Translate(V(a), AccessKind.Write).Succeeded);  // first write sets D: a refilled in way 0, b to way 1
        Assert.True(space.Translate(V(b), AccessKind.Read).Succeeded);   // b back in way 0 (swapped), a in way 1
        space.Unmap(V(a), Page);
        foreach (AccessKind access in new[] { AccessKind.Read, AccessKind.Execute, AccessKind.Write })
        {
            Translation t = space.Translate(V(a + 16), access);
            Assert.True(!t.Succeeded && t.Fault.Reason == FaultReason.NotMapped, $"{access} at the unmapped page translated: {t}");
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Translation_reports_the_rights_the_leaf_has_now(bool checkedMode)
    {
        (Machine machine, PhysAddr pool) = MachineWithPool(checkedMode: checkedMode);
        using Machine owner = machine;
        using AddressSpace space = machine.CreateAddressSpace();
        space.Map(V(GiB), pool, Page, Protection.Read);
        Assert.Equal(Protection.Read, space.Translate(V(GiB), AccessKind.Read).Protection);
        // Granting rights is not flushed, but the translation must not report the old rights.
        space.Protect(V(GiB), Page, Protection.ReadWrite);
        Assert.Equal(Protection.ReadWrite, space.Lookup(V(GiB))!.Value.Protection);
        Translation t = space.Translate(V(GiB), AccessKind.Read);
        Assert.True(Protection.ReadWrite == t.Protection, $"Translate after granting write reports {t.Protection}, the leaf is ReadWrite");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Collecting_dirty_and_accessed_bits_reports_exactly_the_touched_pages_and_rearms_them(bool checkedMode)
    {
        (Machine machine, PhysAddr pool) = MachineWithPool(checkedMode: checkedMode);
        using Machine owner = machine;
        using AddressSpace space = machine.CreateAddressSpace();
        using MmuContext other = space.CreateContext();
        ulong va = 5 * GiB;
        // 64 pages, a hole of 16 pages, then a 2 MiB leaf.
        space.Map(V(va), pool + Page, 64 * Page, Protection.ReadWrite);
        space.Map(V(va + 2 * MiB), pool + 2 * MiB, 2 * MiB, Protection.ReadWrite);
        var bitmap = new ulong[1024 / 64];
        Assert.Equal(0, space.CollectDirty(V(va), 4 * MiB, bitmap));
        Assert.All(bitmap, w => Assert.Equal(0UL, w));

        space.Write(V(va + 3 * Page + 5), 1UL);
        other.Write(V(va + 40 * Page), (byte)1);
        space.Write(V(va + 2 * MiB + 7 * Page), 1UL);
        Assert.Equal(2 + 512, space.CollectDirty(V(va), 4 * MiB, bitmap));
        Assert.Equal((1UL << 3) | (1UL << 40), bitmap[0]);
        for (int w = 8; w < 16; w++) Assert.Equal(ulong.MaxValue, bitmap[w]);
        Assert.False(space.Lookup(V(va + 3 * Page))!.Value.Dirty);
        Assert.False(space.Lookup(V(va + 2 * MiB))!.Value.Dirty);

        // Nothing written since: nothing reported. Then the same contexts write again through whatever they
        // cached: the Dirty bits must come back.
        Assert.Equal(0, space.CollectDirty(V(va), 4 * MiB, bitmap));
        space.Write(V(va + 3 * Page + 5), 2UL);
        other.Write(V(va + 40 * Page), (byte)2);
        other.Write(V(va + 2 * MiB + 7 * Page), 2UL);
        Assert.True(space.Lookup(V(va + 3 * Page))!.Value.Dirty);
        Assert.True(space.Lookup(V(va + 40 * Page))!.Value.Dirty);
        Assert.True(space.Lookup(V(va + 2 * MiB))!.Value.Dirty);
        Assert.Equal(2 + 512, space.CollectDirty(V(va), 4 * MiB, bitmap));

        // A range that covers part of the 2 MiB leaf reports the pages in range; the leaf keeps its bit so the
        // pages outside the range are not lost.
        other.Write(V(va + 2 * MiB + 9 * Page), 3UL);
        var part = new ulong[1];
        Assert.Equal(16, space.CollectDirty(V(va + 2 * MiB + 16 * Page), 16 * Page, part));
        Assert.Equal(0xFFFFUL, part[0]);
        Assert.True(space.Lookup(V(va + 2 * MiB))!.Value.Dirty);
        Assert.Equal(512, space.CollectDirty(V(va + 2 * MiB), 2 * MiB, bitmap));

        // Accessed: reads set it, collection clears it and re-arms it.
        Assert.Equal(2 + 512, space.CollectAccessed(V(va), 4 * MiB, bitmap)); // mapping sets no Accessed bit
        Assert.Equal(0, space.CollectAccessed(V(va), 4 * MiB, bitmap));
        Assert.Equal(2UL, space.Read<ulong>(V(va + 3 * Page + 5)));
        Assert.Equal(2, other.Read<byte>(V(va + 40 * Page)));
        Assert.True(space.Lookup(V(va + 3 * Page))!.Value.Accessed);
        Assert.Equal(2, space.CollectAccessed(V(va), 4 * MiB, bitmap));
        Assert.Equal((1UL << 3) | (1UL << 40), bitmap[0]);
        Assert.False(space.Lookup(V(va + 3 * Page))!.Value.Accessed);
        Assert.Equal(2UL, space.Read<ulong>(V(va + 3 * Page + 5)));
        Assert.True(space.Lookup(V(va + 3 * Page))!.Value.Accessed);
    }

    [Fact]
    public void Data_survives_splits_of_the_leaf_that_maps_it()
    {
        (Machine machine, PhysAddr pool) = MachineWithPool();
        using Machine owner = machine;
        using AddressSpace space = machine.CreateAddressSpace();
        ulong va = GiB;
        space.Map(V(va), pool, GiB, Protection.ReadWrite);
        byte[] data = Pattern((int)(4 * MiB), 9);
        space.Write(V(va + 10 * MiB), data);
        space.Unmap(V(va + 11 * MiB), Page);
        space.Protect(V(va + 12 * MiB + Page), 3 * Page, Protection.Read);
        var back = new byte[MiB];
        space.Read(V(va + 10 * MiB), back);
        Assert.Equal(data[..(int)MiB], back);
        var rest = new byte[3 * MiB - Page];
        space.Read(V(va + 11 * MiB + Page), rest);
        Assert.Equal(data[(int)(MiB + Page)..], rest);
        Assert.Equal(FaultReason.ProtectionViolation, space.Translate(V(va + 12 * MiB + 2 * Page), AccessKind.Write).Fault.Reason);
    }
}
