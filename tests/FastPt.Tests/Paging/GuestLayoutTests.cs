using System;
using System.Linq;
using Xunit;
using static FastPt.Tests.Paging.PagingFixtures;
using static FastPt.Tests.TestMachines;

namespace FastPt.Tests.Paging;

/// <summary>Address spaces covering the whole canonical range (<see cref="AddressSpaceLayout.FullCanonical"/>): both
/// halves map, translate, unmap and protect, up to and including the top page that ends exactly at 2^64; nothing
/// wraps; a range across the non-canonical hole or past 2^64 is refused with nothing changed; TLB and
/// paging-structure-cache tags keep addresses apart that share their low bits.</summary>
public class GuestLayoutTests
{
    private static ulong LowerEnd(PagingMode mode) => mode == PagingMode.FiveLevel ? 1UL << 56 : 1UL << 47;

    private static ulong HigherStart(PagingMode mode) => 0UL - LowerEnd(mode);

    private static Machine Guest(PagingMode mode, out AddressSpace space, bool checkedMode = true, ulong memory = GiB)
    {
        Machine machine = Create(memory, mode, checkedMode);
        space = machine.CreateAddressSpace(AddressSpaceLayout.FullCanonical);
        return machine;
    }

    [Theory]
    [InlineData(PagingMode.FourLevel)]
    [InlineData(PagingMode.FiveLevel)]
    public void The_default_layout_still_ends_below_the_hole(PagingMode mode)
    {
        using Machine machine = Create(GiB, mode);
        using AddressSpace space = machine.CreateAddressSpace();
        Assert.Equal(AddressSpaceLayout.User, space.Layout);
        ulong high = HigherStart(mode) + 0x1000_0000_0000;
        AssertFailsAndChangesNothing(machine, space, () => space.TryMap(V(high), P(0), Page, Protection.Read),
            () => space.Map(V(high), P(0), Page, Protection.Read), PagingError.OutOfRange, high);
        // A range leaving the lower half is out of range there (as before), not a crossing of the hole.
        AssertFailsAndChangesNothing(machine, space, () => space.TryMap(V(LowerEnd(mode) - Page), P(0), 2 * Page, Protection.Read),
            () => space.Map(V(LowerEnd(mode) - Page), P(0), 2 * Page, Protection.Read), PagingError.OutOfRange, LowerEnd(mode) - Page);
        Assert.False(space.Contains(V(high)));
        Assert.True(space.Contains(V(LowerEnd(mode) - 1)));
        Assert.Equal(FaultReason.OutOfRange, space.Translate(V(high)).Fault.Reason);
        Assert.Equal(FaultReason.OutOfRange, space.TranslateLockless(V(high)).Fault.Reason);
        Assert.Equal(HigherStart(mode), space.HigherHalfStart.Value);
        Assert.Throws<ArgumentOutOfRangeException>(() => machine.CreateAddressSpace((AddressSpaceLayout)7));
    }

    [Theory]
    [InlineData(PagingMode.FourLevel, 0xffff_8000_0000_0000UL)]
    [InlineData(PagingMode.FourLevel, 0xffff_9000_0000_0000UL)]
    [InlineData(PagingMode.FourLevel, 0x0000_7fff_ffff_f000UL)]
    [InlineData(PagingMode.FiveLevel, 0xff00_0000_0000_0000UL)]
    [InlineData(PagingMode.FiveLevel, 0xff11_0000_0000_0000UL)]
    [InlineData(PagingMode.FiveLevel, 0x00ff_ffff_ffff_f000UL)]
    public void A_page_at_either_edge_of_the_hole_maps_translates_and_unmaps(PagingMode mode, ulong va)
    {
        using Machine machine = Guest(mode, out AddressSpace space);
        using (space)
        {
            Assert.True(space.Contains(V(va)));
            long free = machine.GetStatistics().FreePages;
            PhysAddr frame = machine.AllocatePhysical(Page);
            space.Map(V(va), frame, Page, Protection.ReadWrite);
            Assert.Equal(frame.Value + 0x123, space.Translate(V(va + 0x123)).PhysAddr.Value);
            Assert.Equal(frame.Value + 0x123, space.TranslateLockless(V(va + 0x123)).PhysAddr.Value);
            space.Write(V(va + 8), 0x1122_3344_5566_7788UL);
            Assert.Equal(0x1122_3344_5566_7788UL, space.Read<ulong>(V(va + 8)));
            Assert.Equal(new Mapping(V(va), frame, PageSize.Size4K, Protection.ReadWrite, true, true), space.Lookup(V(va)));
            AssertRuns(space, va, Page, (va, Page, frame.Value, PageSize.Size4K, Protection.ReadWrite));
            Assert.Equal(1, space.CountMappings(V(va), Page).Size4K.Leaves);
            AssertTablesMatchLeaves(machine, space);
            space.Unmap(V(va), Page);
            Assert.Equal(FaultReason.NotMapped, space.Translate(V(va)).Fault.Reason);
            Assert.Null(space.Lookup(V(va)));
            Assert.Equal(0, space.PageTables.Total);
            machine.FreePhysical(frame, Page);
            Assert.Equal(free, machine.GetStatistics().FreePages);
        }
    }

    public static TheoryData<PagingMode, PageSize> TopPages => new()
    {
        { PagingMode.FourLevel, PageSize.Size4K }, { PagingMode.FourLevel, PageSize.Size2M }, { PagingMode.FourLevel, PageSize.Size1G },
        { PagingMode.FiveLevel, PageSize.Size4K }, { PagingMode.FiveLevel, PageSize.Size2M }, { PagingMode.FiveLevel, PageSize.Size1G },
    };

    /// <summary>The last page of each size below 2^64: every computation on its end (2^64, which wraps to 0) is
    /// where an unchecked sum breaks. The flushes matter most: a translation cached before unmap or protect
    /// must not survive them.</summary>
    [Theory]
    [MemberData(nameof(TopPages))]
    public void The_top_page_of_each_size_maps_translates_protects_and_unmaps(PagingMode mode, PageSize size)
    {
        (Machine machine, PhysAddr pool) = MachineWithPool(mode, checkedMode: false);
        using (machine)
        using (AddressSpace space = machine.CreateAddressSpace(AddressSpaceLayout.FullCanonical))
        using (MmuContext context = space.CreateContext())
        {
            long free = machine.GetStatistics().FreePages;
            ulong bytes = size.Bytes();
            ulong va = 0UL - bytes;
            space.Map(V(va), pool, bytes, Protection.ReadWrite, size);
            Assert.Equal(1, space.LeafCount(size));
            // The last byte of the address space, through both the implicit and an explicit context (TLB hits next).
            for (int i = 0; i < 3; i++)
            {
                Assert.Equal(pool.Value + bytes - 1, space.Translate(V(ulong.MaxValue)).PhysAddr.Value);
                Assert.True(context.TryTranslate(V(ulong.MaxValue), AccessKind.Write, out PhysAddr pa));
                Assert.Equal(pool.Value + bytes - 1, pa.Value);
            }
            Assert.Equal(size, space.Translate(V(ulong.MaxValue)).PageSize);
            context.Write(V(ulong.MaxValue - 7), 0xfeed_face_cafe_beefUL);
            Assert.Equal(0xfeed_face_cafe_beefUL, space.Read<ulong>(V(ulong.MaxValue - 7)));
            // An access running past 2^64 faults without touching anything.
            Assert.False(context.TryWrite(V(ulong.MaxValue - 3), new byte[8], out PageFault past));
            Assert.Equal(FaultReason.OutOfRange, past.Reason);
            Assert.Equal(0xfeed_face_cafe_beefUL, space.Read<ulong>(V(ulong.MaxValue - 7)));
            // GUP-fast up to 2^64: the top page alone, then the last four pages (a hole below the top 4 KiB page).
            var one = new PhysAddr[1];
            Assert.Equal(1, space.GetPagesLockless(V(TopMinus(Page)), one));
            Assert.Equal(pool.Value + bytes - Page, one[0].Value);
            var tail = new PhysAddr[4];
            Assert.Equal(size == PageSize.Size4K ? 0 : 4, space.GetPagesLockless(V(TopMinus(4 * Page)), tail));
            if (size != PageSize.Size4K)
                Assert.Equal(Enumerable.Range(0, 4).Select(i => pool.Value + bytes - (ulong)(4 - i) * Page), tail.Select(p => p.Value));

            AssertRuns(space, va, bytes, (va, bytes, pool.Value, size, Protection.ReadWrite));
            MappingTotals totals = space.CountMappings(V(HigherStart(mode)), 0UL - HigherStart(mode));
            Assert.Equal(new MappingCount(1, 1, bytes), totals.Of(size));
            AssertTablesMatchLeaves(machine, space);
            // Dirty log of the top page: written above, reported once, then clean.
            var bits = new ulong[1];
            Assert.Equal(1, space.CollectDirty(V(TopMinus(Page)), Page, bits));
            Assert.Equal(1UL, bits[0]);
            // A huge leaf only partly in the range keeps its Dirty bit (the rest of it would lose its record).
            Assert.Equal(size == PageSize.Size4K ? 0 : 1, space.CollectDirty(V(TopMinus(Page)), Page, bits));

            // Taking write away is flushed, though the write is cached in both contexts' TLBs.
            space.Protect(V(va), bytes, Protection.Read);
            Assert.False(context.TryTranslate(V(ulong.MaxValue), AccessKind.Write, out _));
            Assert.Equal(FaultReason.ProtectionViolation, space.Translate(V(ulong.MaxValue), AccessKind.Write).Fault.Reason);
            Assert.Equal(Protection.Read, space.Lookup(V(ulong.MaxValue))!.Value.Protection);
            // The top 4 KiB of a huge leaf alone: split, and only that page changes.
            if (size != PageSize.Size4K)
            {
                space.Protect(V(TopMinus(Page)), Page, Protection.ReadWrite);
                Assert.True(context.TryTranslate(V(ulong.MaxValue), AccessKind.Write, out _));
                Assert.False(context.TryTranslate(V(TopMinus(Page) - 1), AccessKind.Write, out _));
                AssertTablesMatchLeaves(machine, space);
            }

            Assert.True(context.TryTranslate(V(ulong.MaxValue), AccessKind.Read, out _));
            space.Unmap(V(va), bytes);
            Assert.False(context.TryTranslate(V(ulong.MaxValue), AccessKind.Read, out _));
            Assert.Equal(FaultReason.NotMapped, space.Translate(V(ulong.MaxValue)).Fault.Reason);
            Assert.Equal(FaultReason.NotMapped, space.TranslateLockless(V(ulong.MaxValue)).Fault.Reason);
            Assert.Equal(0, space.PageTables.Total);
            Assert.Equal(free, machine.GetStatistics().FreePages);
        }
    }

    [Theory]
    [InlineData(PagingMode.FourLevel)]
    [InlineData(PagingMode.FiveLevel)]
    public void A_range_across_the_hole_or_past_2_to_the_64_is_refused_and_changes_nothing(PagingMode mode)
    {
        using Machine machine = Guest(mode, out AddressSpace space);
        using (space)
        {
            ulong low = LowerEnd(mode) - Page, high = HigherStart(mode), top = TopMinus(Page);
            PhysAddr frames = machine.AllocatePhysical(4 * Page);
            space.Map(V(low), frames, Page, Protection.ReadWrite);
            space.Map(V(high), frames + Page, Page, Protection.ReadWrite);
            space.Map(V(top), frames + 2 * Page, Page, Protection.ReadWrite);
            space.MapAnonymous(V(high + 64 * Page), 4 * Page, Protection.ReadWrite);
            space.Write(V(high + 64 * Page), 7L);
            MachineSnapshot machineBefore = MachineSnapshot.Take(machine);
            TableSnapshot before = TableSnapshot.Take(machine, space);
            int regions = space.AnonymousRegions.Count;

            // From the last page below the hole to the first above it, as a length that covers the hole exactly,
            // and from inside the hole.
            ulong across = high - low + Page;
            AssertFailsAndChangesNothing(machine, space, () => space.TryMap(V(low), frames, 2 * Page, Protection.Read),
                () => space.Map(V(low), frames, 2 * Page, Protection.Read), PagingError.NonCanonical, low);
            AssertFailsAndChangesNothing(machine, space, () => space.TryUnmap(V(low), across),
                () => space.Unmap(V(low), across), PagingError.NonCanonical, low);
            AssertFailsAndChangesNothing(machine, space, () => space.TryDiscard(V(low), across),
                () => space.Discard(V(low), across), PagingError.NonCanonical, low);
            AssertFailsAndChangesNothing(machine, space, () => space.TryProtect(V(low), across, Protection.None),
                () => space.Protect(V(low), across, Protection.None), PagingError.NonCanonical, low);
            AssertFailsAndChangesNothing(machine, space, () => space.TryMapAnonymous(V(low - Page), 3 * Page, Protection.Read),
                () => space.MapAnonymous(V(low - Page), 3 * Page, Protection.Read), PagingError.NonCanonical, low - Page);
            AssertFailsAndChangesNothing(machine, space, () => space.TryMap(V(LowerEnd(mode)), frames, Page, Protection.Read),
                () => space.Map(V(LowerEnd(mode)), frames, Page, Protection.Read), PagingError.NonCanonical, LowerEnd(mode));
            Assert.Throws<PagingException>(() => space.Dump(V(low), 2 * Page));
            Assert.Throws<PagingException>(() => space.CountMappings(V(low), across));
            Assert.Throws<PagingException>(() => space.CollectDirty(V(low), 2 * Page, new ulong[1]));
            Assert.Throws<ArgumentOutOfRangeException>(() => space.GetPagesLockless(V(low), new PhysAddr[2]));
            Assert.Equal(FaultReason.NonCanonical, space.Translate(V(LowerEnd(mode))).Fault.Reason);
            Assert.False(space.TryRead(V(LowerEnd(mode) - 4), new byte[8], out PageFault hole));
            Assert.Equal(FaultReason.NonCanonical, hole.Reason);

            // Past 2^64: the top page and one more wraps.
            AssertFailsAndChangesNothing(machine, space, () => space.TryMap(V(top), frames, 2 * Page, Protection.Read),
                () => space.Map(V(top), frames, 2 * Page, Protection.Read), PagingError.InvalidArgument, top);
            AssertFailsAndChangesNothing(machine, space, () => space.TryUnmap(V(top), 2 * Page),
                () => space.Unmap(V(top), 2 * Page), PagingError.InvalidArgument, top);
            AssertFailsAndChangesNothing(machine, space, () => space.TryDiscard(V(top), ulong.MaxValue),
                () => space.Discard(V(top), ulong.MaxValue), PagingError.InvalidArgument, top);
            AssertFailsAndChangesNothing(machine, space, () => space.TryProtect(V(top), 2 * Page, Protection.None),
                () => space.Protect(V(top), 2 * Page, Protection.None), PagingError.InvalidArgument, top);
            AssertFailsAndChangesNothing(machine, space, () => space.TryMapAnonymous(V(top - Page), 3 * Page, Protection.Read),
                () => space.MapAnonymous(V(top - Page), 3 * Page, Protection.Read), PagingError.InvalidArgument, top - Page);
            Assert.Throws<ArgumentOutOfRangeException>(() => space.GetPagesLockless(V(top), new PhysAddr[2]));
            Assert.False(space.TryRead(V(ulong.MaxValue - 3), new byte[8], out PageFault wrap));
            Assert.Equal(FaultReason.OutOfRange, wrap.Reason);

            Assert.Equal(before, TableSnapshot.Take(machine, space));
            Assert.Equal(regions, space.AnonymousRegions.Count);
            machineBefore.AssertUnchanged(machine, "after the refused ranges");
            Assert.Equal(7L, space.Read<long>(V(high + 64 * Page)));
        }
    }

    /// <summary>Two addresses whose low bits agree land in the same TLB, large-page TLB and paging-structure-cache
    /// slots: only the full, sign-extended address in the tags tells them apart. 4-level: the lower half and the
    /// higher half share the low 47 bits (two canonical 48-bit addresses cannot share 48); 5-level: addresses
    /// that differ only in bits 48–55 share the low 48 bits, and both halves the low 56.</summary>
    [Theory]
    [InlineData(PagingMode.FourLevel, 0x0000_0012_3440_0000UL, 0xffff_8012_3440_0000UL)]
    [InlineData(PagingMode.FiveLevel, 0x0000_0012_3440_0000UL, 0x0001_0012_3440_0000UL)]
    [InlineData(PagingMode.FiveLevel, 0x0000_0012_3440_0000UL, 0xff00_0012_3440_0000UL)]
    [InlineData(PagingMode.FiveLevel, 0xff01_0012_3440_0000UL, 0xff00_0012_3440_0000UL)]
    public void Addresses_that_share_their_low_bits_never_share_a_cached_translation(PagingMode mode, ulong a, ulong b)
    {
        using Machine machine = Guest(mode, out AddressSpace space, checkedMode: false, memory: 2 * GiB);
        using (space)
        using (MmuContext context = space.CreateContext())
        {
            // 4 KiB pages (TLB and PMD-level cache) and a 2 MiB leaf above them (large-page TLB, PUD-level cache).
            PhysAddr small = machine.AllocatePhysical(2 * MiB);
            PhysAddr huge = machine.AllocatePhysical(4 * MiB);
            ulong hugeA = huge.Value + (huge.Value % (2 * MiB) == 0 ? 0 : 2 * MiB - huge.Value % (2 * MiB));
            space.Map(V(a), small, 16 * Page, Protection.ReadWrite, PageSize.Size4K);
            space.Map(V(b), small + 16 * Page, 16 * Page, Protection.Read, PageSize.Size4K);
            space.Map(V(a + 2 * MiB), P(hugeA), 2 * MiB, Protection.Read, PageSize.Size2M);
            space.Map(V(b + 4 * MiB), P(hugeA), 2 * MiB, Protection.ReadWrite, PageSize.Size2M);
            for (int round = 0; round < 200; round++)
            {
                ulong offset = (ulong)(round % 16) * Page + 0x18;
                Assert.True(context.TryTranslate(V(a + offset), AccessKind.Read, out PhysAddr pa));
                Assert.Equal(small.Value + offset, pa.Value);
                Assert.True(context.TryTranslate(V(b + offset), AccessKind.Read, out PhysAddr pb));
                Assert.Equal(small.Value + 16 * Page + offset, pb.Value);
                // Write rights differ: a is writable, b read-only.
                Assert.True(context.TryTranslate(V(a + offset), AccessKind.Write, out _));
                Assert.False(context.TryTranslate(V(b + offset), AccessKind.Write, out _));
                // Only one of each aliasing pair of 2 MiB regions is mapped.
                Assert.True(context.TryTranslate(V(a + 2 * MiB + offset), AccessKind.Read, out PhysAddr ha));
                Assert.Equal(hugeA + offset, ha.Value);
                Assert.False(context.TryTranslate(V(b + 2 * MiB + offset), AccessKind.Read, out _));
                Assert.False(context.TryTranslate(V(a + 4 * MiB + offset), AccessKind.Read, out _));
                Assert.True(context.TryTranslate(V(b + 4 * MiB + offset), AccessKind.Write, out PhysAddr hb));
                Assert.Equal(hugeA + offset, hb.Value);
            }
            TlbStatistics stats = context.Statistics;
            Assert.True(stats.Hits > 0, $"the TLB answered none of the repeated translations: {stats}");
            // Unmapping one of a pair leaves the other, whose cached entry shares the slot.
            space.Unmap(V(b), 16 * Page);
            Assert.False(context.TryTranslate(V(b), AccessKind.Read, out _));
            Assert.True(context.TryTranslate(V(a), AccessKind.Read, out PhysAddr still));
            Assert.Equal(small.Value, still.Value);
        }
    }

    /// <summary>A guest's higher half is its own: a mapping at the machine's direct-map address translates to the
    /// guest's frame, while the kernel translation of the same address (a global TLB entry in the same slot) still
    /// finds the machine's RAM.</summary>
    [Theory]
    [InlineData(PagingMode.FourLevel)]
    [InlineData(PagingMode.FiveLevel)]
    public void The_machine_kernel_and_a_guest_mapping_at_the_same_address_stay_apart(PagingMode mode)
    {
        using Machine machine = Guest(mode, out AddressSpace space, checkedMode: false);
        using (space)
        using (MmuContext context = space.CreateContext())
        {
            ulong direct = machine.DirectMapBase.Value + 16 * Page;
            Assert.Equal(FaultReason.NotMapped, context.Translate(V(direct)).Fault.Reason); // no kernel entry in its root
            PhysAddr frame = machine.AllocatePhysical(Page);
            space.Map(V(direct), frame, Page, Protection.Read);
            for (int i = 0; i < 50; i++)
            {
                Assert.Equal(16 * Page, context.TranslateKernel(V(direct)).PhysAddr.Value);
                Assert.Equal(frame.Value, context.Translate(V(direct)).PhysAddr.Value);
            }
            using AddressSpace process = machine.CreateAddressSpace();
            Assert.Equal(PagingError.OutOfRange, process.TryMap(V(direct), frame, Page, Protection.Read).Error);
        }
    }

    [Theory]
    [InlineData(PagingMode.FourLevel, false)]
    [InlineData(PagingMode.FourLevel, true)]
    [InlineData(PagingMode.FiveLevel, false)]
    public void Anonymous_regions_fault_in_up_to_the_top_page(PagingMode mode, bool thp)
    {
        using Machine machine = Guest(mode, out AddressSpace space);
        using (space)
        {
            long free = machine.GetStatistics().FreePages;
            ulong start = TopMinus(8 * MiB);
            AnonymousOptions options = thp ? AnonymousOptions.TransparentHugePages : AnonymousOptions.None;
            space.MapAnonymous(V(start), 8 * MiB, Protection.ReadWrite, options);
            AnonymousRegion region = Assert.Single(space.AnonymousRegions);
            Assert.Equal(start, region.Start.Value);
            Assert.Equal(8 * MiB, region.Length);
            Assert.Equal(PagingError.AlreadyMapped, space.TryMap(V(TopMinus(Page)), P(0), Page, Protection.Read).Error);
            space.Write(V(ulong.MaxValue - 7), 0x0123_4567_89ab_cdefUL);
            space.Write(V(start), 1UL);
            Assert.Equal(0x0123_4567_89ab_cdefUL, space.Read<ulong>(V(ulong.MaxValue - 7)));
            Assert.Equal(thp ? PageSize.Size2M : PageSize.Size4K, space.Lookup(V(ulong.MaxValue))!.Value.Size);
            // Re-protect the top page alone, then unmap the top half of the region: the pieces stay consistent.
            space.Protect(V(TopMinus(Page)), Page, Protection.Read);
            Assert.Equal(FaultReason.ProtectionViolation, space.Translate(V(ulong.MaxValue), AccessKind.Write).Fault.Reason);
            Assert.Equal([start, TopMinus(Page)], space.AnonymousRegions.Select(r => r.Start.Value));
            space.Unmap(V(TopMinus(4 * MiB)), 4 * MiB);
            Assert.Equal(start, Assert.Single(space.AnonymousRegions).Start.Value);
            Assert.Equal(FaultReason.NotMapped, space.Translate(V(ulong.MaxValue)).Fault.Reason);
            Assert.Equal(1UL, space.Read<ulong>(V(start)));
            space.Discard(V(start), 8 * MiB);
            Assert.Empty(space.AnonymousRegions);
            Assert.Equal(0, space.PageTables.Total);
            Assert.Equal(free, machine.GetStatistics().FreePages);
        }
    }

    [Theory]
    [InlineData(PagingMode.FourLevel)]
    [InlineData(PagingMode.FiveLevel)]
    public void Disposing_a_guest_frees_the_tables_of_both_halves(PagingMode mode)
    {
        using Machine machine = Create(GiB, mode);
        long free = machine.GetStatistics().FreePages;
        AddressSpace space = machine.CreateAddressSpace(AddressSpaceLayout.FullCanonical);
        space.Map(V(0x40_0000), P(0), 4 * Page, Protection.Read);
        space.Map(V(HigherStart(mode)), P(0), 4 * Page, Protection.Read);
        space.Map(V(TopMinus(Page)), P(0), Page, Protection.Read);
        space.MapAnonymous(V(TopMinus(2 * GiB)), 4 * MiB, Protection.ReadWrite);
        space.Write(V(TopMinus(2 * GiB)), 5);
        Assert.True(space.PageTables.Total > 0);
        space.Dispose();
        Assert.Equal(free, machine.GetStatistics().FreePages);
    }

    /// <summary>A map into an empty higher half needs a table at every level: at each number of free frames from
    /// none to enough, it either fails with <see cref="PagingError.OutOfFrames"/> and leaves the machine exactly as
    /// it was, or succeeds.</summary>
    [Theory]
    [InlineData(PagingMode.FourLevel)]
    [InlineData(PagingMode.FiveLevel)]
    public void A_higher_half_map_short_of_frames_changes_nothing_at_every_free_count(PagingMode mode)
    {
        // Under the top root entry next to an existing mapping (new PMD and PTE tables), and at the bottom of the
        // empty higher half (new PUD, and P4D with 5-level, tables too); across a 2 MiB boundary (two PTE tables).
        foreach (ulong at in new[] { TopMinus(2 * GiB) - 2 * MiB - 8 * Page, HigherStart(mode) + 2 * MiB - 8 * Page })
        {
            using Machine machine = Create(256 * MiB, mode);
            using AddressSpace space = machine.CreateAddressSpace(AddressSpaceLayout.FullCanonical);
            space.Map(V(TopMinus(2 * MiB)), P(0), Page, Protection.Read);
            FrameHog hog = FrameHog.TakeAll(machine, singles: 16);
            bool mapped = false;
            for (int given = 0; given <= 16 && !mapped; given++)
            {
                while (hog.Released < given) hog.ReleaseSingle();
                MachineSnapshot before = MachineSnapshot.Take(machine);
                TableSnapshot tables = TableSnapshot.Take(machine, space);
                PagingResult result = space.TryMap(V(at), P(Page), 16 * Page, Protection.ReadWrite, PageSize.Size4K);
                if (!result.IsSuccess)
                {
                    AssertFailed(result, PagingError.OutOfFrames, at);
                    before.AssertUnchanged(machine, $"map at 0x{at:x} with {given} free frames");
                    Assert.Equal(tables, TableSnapshot.Take(machine, space));
                    continue;
                }
                Assert.True(given >= 2, $"the map at 0x{at:x} needs at least two new tables, yet {given} free frames were enough");
                mapped = true;
                AssertTablesMatchLeaves(machine, space);
                Assert.Equal(P(9 * Page), space.Lookup(V(at + 8 * Page))!.Value.Frame);
                space.Unmap(V(at), 16 * Page);
                Assert.Equal(tables, TableSnapshot.Take(machine, space));
            }
            Assert.True(mapped, $"the map at 0x{at:x} never succeeded");
        }
    }
}
