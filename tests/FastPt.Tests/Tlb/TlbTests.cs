using System;
using System.Threading;
using FastPt.Hardware;
using Xunit;
using static FastPt.Tests.TestMachines;

namespace FastPt.Tests.Tlb;

public class TlbTests
{
    private static readonly VirtAddr Base = V(1UL << 39);

    [Fact]
    public void Second_translation_hits_and_a_neighbour_finishes_from_the_paging_structure_cache()
    {
        using Machine machine = Create(2 * GiB, checkedMode: false);
        using AddressSpace space = machine.CreateAddressSpace();
        space.Map(Base, P(1 * GiB), 2 * MiB, Protection.ReadWrite, PageSize.Size4K);
        using MmuContext cpu = space.CreateContext();
        Assert.True(cpu.TryTranslate(Base + 0x123, AccessKind.Read, out PhysAddr pa));
        Assert.Equal(1 * GiB + 0x123, pa.Value);
        TlbStatistics first = cpu.Statistics;
        Assert.Equal(1, first.Misses);
        Assert.Equal(1, first.Walks);
        Assert.True(cpu.TryTranslate(Base + 0x456, AccessKind.Read, out pa));
        Assert.Equal(1 * GiB + 0x456, pa.Value);
        Assert.Equal(1, cpu.Statistics.Hits);
        Assert.True(cpu.TryTranslate(Base + 0x5000, AccessKind.Read, out pa));
        Assert.Equal(1 * GiB + 0x5000, pa.Value);
        Assert.Equal(1, cpu.Statistics.PmdCacheHits);
        Assert.Equal(1, cpu.Statistics.Walks);
    }

    /// <summary>The refills from the paging-structure caches (a PTE from a cached PTE table, a PMD entry then a PTE
    /// from a cached PMD table) check the frame as a walk does: a page pointing at memory the machine does not have
    /// faults every time, also once its Accessed bit is set (the first faulting walk sets it), which is when a
    /// refill, not a walk, reads it; its neighbours keep translating.</summary>
    [Fact]
    public void Refills_from_the_paging_structure_caches_fault_on_frames_that_are_not_present_memory()
    {
        // One entry per paging-structure cache: the PTE tables of the two 2 MiB regions below evict each other from
        // the PMD-level cache, while the PUD-level one keeps their PMD table.
        using var machine = new Machine(new MachineOptions { MemorySize = 2 * GiB, PagingStructureCacheEntries = 1 });
        using AddressSpace space = machine.CreateAddressSpace();
        VirtAddr second = Base + 4 * MiB;
        space.Map(Base, P(1 * GiB), Page, Protection.ReadWrite, PageSize.Size4K);
        space.Map(Base + Page, P(64 * GiB), Page, Protection.ReadWrite, PageSize.Size4K); // no memory behind it
        space.Map(second, P(1 * GiB + Page), Page, Protection.ReadWrite, PageSize.Size4K);
        space.Map(second + Page, P(64 * GiB + Page), Page, Protection.ReadWrite, PageSize.Size4K);
        using MmuContext cpu = space.CreateContext();
        foreach (VirtAddr region in new[] { Base, second })
        {
            Assert.True(cpu.TryTranslate(region, AccessKind.Read, out PhysAddr pa));
            // The first faulting access walks (from the cached PTE table) and sets A; the next ones refill.
            for (int i = 0; i < 3; i++)
            {
                Assert.False(cpu.TryTranslate(region + Page, AccessKind.Read, out _));
                Assert.Equal(FaultReason.PhysicalMemoryAbsent, cpu.Translate(region + Page).Fault.Reason);
            }
            Assert.True(space.Lookup(region + Page)!.Value.Accessed);
            Assert.True(cpu.TryTranslate(region, AccessKind.Read, out PhysAddr again));
            Assert.Equal(pa, again);
        }
        // Back in the first region, whose PTE table the second evicted from the PMD-level cache: the refill goes
        // through the cached PMD table (no walk from the root).
        TlbStatistics before = cpu.Statistics;
        Assert.False(cpu.TryTranslate(Base + Page, AccessKind.Read, out _));
        Assert.Equal(before.Walks, cpu.Statistics.Walks);
        Assert.Equal(FaultReason.PhysicalMemoryAbsent, cpu.Translate(Base + Page).Fault.Reason);
    }

    [Fact]
    public void Huge_leaves_translate_every_offset_and_partial_walks_are_cached()
    {
        using Machine machine = Create(4 * GiB, checkedMode: false);
        using AddressSpace space = machine.CreateAddressSpace();
        space.Map(Base, P(2 * GiB), 1 * GiB, Protection.Read);
        space.Map(Base + 1 * GiB, P(2 * GiB), 4 * MiB, Protection.Read);
        using MmuContext cpu = space.CreateContext();
        Translation t = cpu.Translate(Base + 0x3456_7890);
        Assert.True(t.Succeeded);
        Assert.Equal(PageSize.Size1G, t.PageSize);
        Assert.Equal(2 * GiB + 0x3456_7890, t.PhysAddr.Value);
        t = cpu.Translate(Base + 1 * GiB + 3 * MiB + 5);
        Assert.Equal(PageSize.Size2M, t.PageSize);
        Assert.Equal(2 * GiB + 3 * MiB + 5, t.PhysAddr.Value);
        Assert.True(cpu.TryTranslate(Base + 1 * GiB + 0x1000, AccessKind.Read, out PhysAddr pa));
        Assert.Equal(2 * GiB + 0x1000, pa.Value);
        Assert.True(cpu.Statistics.PudCacheHits >= 1);
    }

    [Fact]
    public void Huge_leaves_live_in_the_large_page_tlb_and_every_change_to_them_reaches_it()
    {
        using Machine machine = Create(4 * GiB, checkedMode: false);
        using AddressSpace space = machine.CreateAddressSpace();
        PhysAddr frames = machine.AllocatePhysical(1 * GiB);
        space.Map(Base, frames, 1 * GiB, Protection.ReadWrite);                     // one 1 GiB leaf
        space.Map(Base + 1 * GiB, P(frames.Value), 4 * MiB, Protection.ReadWrite);  // two 2 MiB leaves
        using MmuContext cpu = space.CreateContext();
        cpu.Write(Base + 0x123_4560, 7UL);
        long misses = cpu.Statistics.Misses;
        Assert.Equal(7UL, cpu.Read<ulong>(Base + 0x123_4560));
        Assert.True(cpu.TryTranslate(Base + 0x123_0000, AccessKind.Read, out PhysAddr pa)); // same 2 MiB piece
        Assert.Equal(frames.Value + 0x123_0000, pa.Value);
        Assert.Equal(misses, cpu.Statistics.Misses);

        // Taking write access from one 4 KiB page splits both levels; the cached piece must go.
        space.Protect(Base + 0x123_4000, Page, Protection.Read);
        Assert.Throws<PageFaultException>(() => cpu.Write(Base + 0x123_4560, 1UL));
        cpu.Write(Base + 0x123_5000, 2UL);
        Assert.Equal(PageSize.Size4K, cpu.Translate(Base + 0x123_4000).PageSize);
        Assert.Equal(PageSize.Size2M, cpu.Translate(Base + 0x300_0000).PageSize);

        cpu.Write(Base + 1 * GiB + 8, 3UL);
        space.Unmap(Base + 1 * GiB, 2 * MiB);
        Assert.False(cpu.TryTranslate(Base + 1 * GiB + 8, AccessKind.Read, out _));
        Assert.Equal(FaultReason.NotMapped, Assert.Throws<PageFaultException>(() => cpu.Read<ulong>(Base + 1 * GiB + 8)).Fault.Reason);
        Assert.True(cpu.TryTranslate(Base + 1 * GiB + 2 * MiB, AccessKind.Read, out pa));
        Assert.Equal(frames.Value + 2 * MiB, pa.Value);
    }

    [Fact]
    public void Unmap_and_protect_are_never_missed_by_a_warm_context()
    {
        using Machine machine = Create(2 * GiB);
        using AddressSpace space = machine.CreateAddressSpace();
        PhysAddr frames = machine.AllocatePhysical(64 * Page);
        space.Map(Base, frames, 64 * Page, Protection.ReadWrite);
        using MmuContext cpu = space.CreateContext();
        for (ulong i = 0; i < 64; i++) cpu.Write(Base + i * Page, i);
        Assert.Equal(5UL, cpu.Read<ulong>(Base + 5 * Page));

        space.Protect(Base + 5 * Page, Page, Protection.Read);
        Assert.Equal(5UL, cpu.Read<ulong>(Base + 5 * Page));
        var fault = Assert.Throws<PageFaultException>(() => cpu.Write(Base + 5 * Page, 1UL));
        Assert.Equal(FaultReason.ProtectionViolation, fault.Fault.Reason);

        space.Unmap(Base + 7 * Page, Page);
        Assert.False(cpu.TryTranslate(Base + 7 * Page, AccessKind.Read, out _));
        Assert.Equal(FaultReason.NotMapped, cpu.Translate(Base + 7 * Page).Fault.Reason);
        Assert.Equal(8UL, cpu.Read<ulong>(Base + 8 * Page));

        space.Protect(Base + 8 * Page, 56 * Page, Protection.None);
        Assert.Equal(FaultReason.ProtectionViolation, cpu.Translate(Base + 8 * Page).Fault.Reason);
        Assert.True(cpu.Statistics.InvalidationsReceived >= 3);
    }

    [Fact]
    public void First_write_through_a_read_filled_entry_sets_dirty_and_harvesting_rearms_it()
    {
        using Machine machine = Create(2 * GiB);
        using AddressSpace space = machine.CreateAddressSpace();
        PhysAddr frame = machine.AllocatePhysical(Page);
        space.Map(Base, frame, Page, Protection.ReadWrite);
        using MmuContext cpu = space.CreateContext();
        Assert.Equal(0UL, cpu.Read<ulong>(Base));
        Mapping m = space.Lookup(Base)!.Value;
        Assert.True(m.Accessed);
        Assert.False(m.Dirty);
        cpu.Write(Base + 8, 42UL);
        Assert.True(space.Lookup(Base)!.Value.Dirty);

        Span<ulong> bitmap = stackalloc ulong[1];
        Assert.Equal(1, space.CollectDirty(Base, Page, bitmap));
        Assert.Equal(1UL, bitmap[0]);
        Assert.False(space.Lookup(Base)!.Value.Dirty);
        cpu.Write(Base + 16, 43UL); // the context's write entry was flushed: this write sets D again
        Assert.True(space.Lookup(Base)!.Value.Dirty);
        Assert.Equal(1, space.CollectDirty(Base, Page, bitmap));
        Assert.Equal(0, space.CollectDirty(Base, Page, bitmap));

        Assert.Equal(1, space.CollectAccessed(Base, Page, bitmap));
        Assert.False(space.Lookup(Base)!.Value.Accessed);
        Assert.Equal(42UL, cpu.Read<ulong>(Base + 8));
        Assert.True(space.Lookup(Base)!.Value.Accessed);
    }

    [Fact]
    public void A_remote_context_never_translates_stale_after_the_unmap_returned()
    {
        using Machine machine = Create(2 * GiB);
        using AddressSpace space = machine.CreateAddressSpace();
        PhysAddr frames = machine.AllocatePhysical(16 * Page);
        using var warmed = new ManualResetEventSlim();
        using var unmapped = new ManualResetEventSlim();
        PageFault observed = default;
        TlbStatistics remote = default;
        space.Map(Base, frames, 16 * Page, Protection.ReadWrite);
        var thread = new Thread(() =>
        {
            for (ulong i = 0; i < 16; i++) space.Write(Base + i * Page, i + 1);
            warmed.Set();
            unmapped.Wait(TestContext.Current.CancellationToken);
            space.TryRead(Base + 3 * Page, new byte[8], out observed);
            remote = space.CurrentContext.Statistics;
        });
        thread.Start();
        warmed.Wait(TestContext.Current.CancellationToken);
        space.Unmap(Base, 16 * Page);
        unmapped.Set();
        thread.Join();
        Assert.Equal(FaultReason.NotMapped, observed.Reason);
        Assert.True(remote.InvalidationsReceived >= 1);
    }

    [Fact]
    public void Flush_kind_follows_the_range_size_and_a_gather_flushes_once()
    {
        using Machine machine = Create(2 * GiB);
        using AddressSpace space = machine.CreateAddressSpace();
        space.Map(Base, P(1 * GiB), 4 * MiB, Protection.ReadWrite, PageSize.Size4K);
        space.Unmap(Base, Page);
        Assert.Equal(1, space.FlushesPublishedOf(FlushKind.Page));
        space.Unmap(Base + 16 * Page, 16 * Page);
        Assert.Equal(1, space.FlushesPublishedOf(FlushKind.Range));
        space.Unmap(Base + 64 * Page, 64 * Page);
        Assert.Equal(1, space.FlushesPublishedOf(FlushKind.All));

        long before = space.FlushesPublished;
        using (MmuGather gather = space.BeginGather())
        {
            for (ulong i = 0; i < 10; i++) space.Unmap(Base + 2 * MiB + i * 32 * Page, 16 * Page, gather);
            Assert.Equal(before, space.FlushesPublished);
        }
        Assert.Equal(before + 1, space.FlushesPublished);
    }

    [Fact]
    public void A_gather_frees_tables_only_after_its_flush()
    {
        using Machine machine = Create(2 * GiB);
        using AddressSpace space = machine.CreateAddressSpace();
        space.Map(Base, P(1 * GiB), 2 * MiB, Protection.ReadWrite, PageSize.Size4K);
        long tables = machine.GetStatistics().PageTablePages;
        MmuGather gather = space.BeginGather();
        space.Unmap(Base, 2 * MiB, gather);
        Assert.Equal(0, space.PageTables.Total);
        Assert.Equal(3, gather.PendingTables);
        Assert.Equal(tables, machine.GetStatistics().PageTablePages); // still allocated: not flushed yet
        gather.Dispose();
        Assert.Equal(tables - 3, machine.GetStatistics().PageTablePages);
        Assert.Equal(1, gather.Flushes);
        Assert.Throws<ObjectDisposedException>(() => space.Unmap(Base, Page, gather));
    }

    [Fact]
    public void A_gather_outliving_its_machine_is_disposed_without_touching_freed_memory()
    {
        Machine machine = Create(2 * GiB);
        AddressSpace space = machine.CreateAddressSpace();
        space.Map(Base, P(1 * GiB), 2 * MiB, Protection.Read, PageSize.Size4K);
        MmuGather gather = space.BeginGather();
        space.Unmap(Base, 2 * MiB, gather);
        Assert.Equal(3, gather.PendingTables);
        machine.Dispose();
        gather.Dispose();
        Assert.Throws<ObjectDisposedException>(() => space.Unmap(Base, Page, gather));
    }

    [Fact]
    public void Two_pages_of_one_set_both_stay_cached_and_see_flushes_in_either_way()
    {
        // A 16-entry TLB has 8 sets of 2 ways: pages 8 apart share a set. Before the 2-way TLB they shared the slot
        // of a direct-mapped TLB and every access missed (the conflict misses of real programs' traces,
        // perf-results/2026-12-01-amd-epyc-zen3-2core/TlbStudy.md).
        using Machine machine = new(new MachineOptions { MemorySize = 2 * GiB, TlbEntries = 16 });
        using AddressSpace space = machine.CreateAddressSpace();
        space.Map(Base, P(1 * GiB), 2 * MiB, Protection.ReadWrite, PageSize.Size4K);
        using MmuContext cpu = space.CreateContext();
        Assert.Equal(16, cpu.TlbSize);
        VirtAddr a = Base, b = Base + 8 * Page;
        for (int round = 0; round < 10; round++)
        {
            cpu.Write(a, (byte)round);
            cpu.Write(b, (byte)(round + 100));
            Assert.True(cpu.TryTranslate(a, AccessKind.Write, out PhysAddr pa));
            Assert.Equal(1 * GiB, pa.Value);
            Assert.True(cpu.TryTranslate(b, AccessKind.Write, out pa));
            Assert.Equal(1 * GiB + 8 * Page, pa.Value);
        }
        TlbStatistics warm = cpu.Statistics;
        // Each page misses once for its read-free first write (a walk, then the PTE table from the cache): after
        // that, all 38 other translations hit, alternately in way 1 (swapped into way 0) and way 0.
        Assert.Equal(2, warm.Misses);
        Assert.Equal(38, warm.Hits);
        Assert.Equal(warm.Misses, warm.PmdCacheHits + warm.PudCacheHits + warm.Walks);

        // Taking write away from b must reach its copy in whichever way it is.
        space.Protect(b, Page, Protection.Read);
        for (int round = 0; round < 3; round++)
        {
            Assert.True(cpu.TryTranslate(a, AccessKind.Write, out _));
            Assert.False(cpu.TryTranslate(b, AccessKind.Write, out _));
            Assert.True(cpu.TryTranslate(b, AccessKind.Read, out PhysAddr pa));
            Assert.Equal(1 * GiB + 8 * Page, pa.Value);
        }
        Assert.Equal((byte)109, cpu.Read<byte>(b));
        Assert.Equal((byte)9, cpu.Read<byte>(a));
    }

    [Fact]
    public void A_third_page_of_a_set_evicts_the_least_recently_used_one()
    {
        using Machine machine = new(new MachineOptions { MemorySize = 2 * GiB, TlbEntries = 16 });
        using AddressSpace space = machine.CreateAddressSpace();
        space.Map(Base, P(1 * GiB), 2 * MiB, Protection.Read, PageSize.Size4K);
        using MmuContext cpu = space.CreateContext();
        VirtAddr a = Base, b = Base + 8 * Page, c = Base + 16 * Page;
        Assert.True(cpu.TryTranslate(a, AccessKind.Read, out _));
        Assert.True(cpu.TryTranslate(b, AccessKind.Read, out _));
        Assert.True(cpu.TryTranslate(a, AccessKind.Read, out _)); // a used after b: b is the LRU way
        long misses = cpu.Statistics.Misses;
        Assert.Equal(2, misses);
        Assert.True(cpu.TryTranslate(c, AccessKind.Read, out PhysAddr pa)); // evicts b
        Assert.Equal(1 * GiB + 16 * Page, pa.Value);
        Assert.Equal(misses + 1, cpu.Statistics.Misses);
        Assert.True(cpu.TryTranslate(a, AccessKind.Read, out pa));
        Assert.Equal(1 * GiB, pa.Value);
        Assert.Equal(misses + 1, cpu.Statistics.Misses); // a stayed
        Assert.True(cpu.TryTranslate(b, AccessKind.Read, out pa));
        Assert.Equal(1 * GiB + 8 * Page, pa.Value);
        Assert.Equal(misses + 2, cpu.Statistics.Misses); // b had left
    }

    [Fact]
    public void Two_ways_hold_pages_whose_paging_structure_cache_entries_conflict()
    {
        // Two pages 1 GiB apart share a TLB set (16 entries) and the single entry of each paging-structure cache.
        using Machine machine = new(new MachineOptions { MemorySize = 2 * GiB, TlbEntries = 16, PagingStructureCacheEntries = 1 });
        using AddressSpace space = machine.CreateAddressSpace();
        space.Map(Base, P(1 * GiB), 2 * MiB, Protection.Read, PageSize.Size4K);
        space.Map(Base + 1 * GiB, P(1 * GiB + 2 * MiB), 2 * MiB, Protection.Read, PageSize.Size4K);
        using MmuContext cpu = space.CreateContext();
        for (int round = 0; round < 10; round++)
        {
            Assert.True(cpu.TryTranslate(Base, AccessKind.Read, out _));
            Assert.True(cpu.TryTranslate(Base + 1 * GiB, AccessKind.Read, out PhysAddr pa));
            Assert.Equal(1 * GiB + 2 * MiB, pa.Value);
        }
        // After the two first walks every translation hits, in one way or the other.
        Assert.Equal(2, cpu.Statistics.Walks);
        Assert.Equal(2, cpu.Statistics.Misses);
        Assert.Equal(18, cpu.Statistics.Hits);

        // Unmapping one of them must reach its copy in the other way too.
        space.Unmap(Base + 1 * GiB, Page);
        Assert.True(cpu.TryTranslate(Base, AccessKind.Read, out _));
        Assert.False(cpu.TryTranslate(Base + 1 * GiB, AccessKind.Read, out _));
    }

    [Fact]
    public void A_one_entry_tlb_holds_one_translation()
    {
        using Machine machine = new(new MachineOptions { MemorySize = 2 * GiB, TlbEntries = 1 });
        using AddressSpace space = machine.CreateAddressSpace();
        space.Map(Base, P(1 * GiB), 2 * MiB, Protection.Read, PageSize.Size4K);
        using MmuContext cpu = space.CreateContext();
        Assert.Equal(1, cpu.TlbSize);
        for (int round = 0; round < 4; round++)
        {
            Assert.True(cpu.TryTranslate(Base, AccessKind.Read, out _));
            Assert.True(cpu.TryTranslate(Base + Page, AccessKind.Read, out _));
        }
        Assert.Equal(8, cpu.Statistics.Misses);
        Assert.True(cpu.TryTranslate(Base + Page, AccessKind.Read, out _));
        Assert.Equal(1, cpu.Statistics.Hits);
    }

    [Fact]
    public void Many_full_flushes_never_leave_a_stale_entry()
    {
        using Machine machine = Create(2 * GiB);
        using AddressSpace space = machine.CreateAddressSpace();
        using MmuContext cpu = space.CreateContext();
        // Each round maps the range onto a different frame and flushes everything (a range above the ceiling),
        // well past the point where the TLB's epoch field wraps.
        for (ulong round = 0; round < 1200; round++)
        {
            ulong frame = 1 * GiB + (round % 7) * 64 * Page;
            space.Map(Base, P(frame), 64 * Page, Protection.Read, PageSize.Size4K);
            Assert.True(cpu.TryTranslate(Base + (round % 64) * Page, AccessKind.Read, out PhysAddr pa));
            Assert.Equal(frame + (round % 64) * Page, pa.Value);
            space.Unmap(Base, 64 * Page);
            Assert.False(cpu.TryTranslate(Base + (round % 64) * Page, AccessKind.Read, out _));
        }
    }

    [Fact]
    public void Kernel_entries_are_global_they_survive_user_flushes_and_context_switches()
    {
        using Machine machine = Create(2 * GiB);
        using AddressSpace first = machine.CreateAddressSpace();
        using AddressSpace second = machine.CreateAddressSpace();
        first.Map(Base, P(1 * GiB), 64 * Page, Protection.Read);
        second.Map(Base, P(1 * GiB + 64 * Page), 64 * Page, Protection.Read);
        using MmuContext cpu = first.CreateContext();
        VirtAddr kernel = machine.DirectMapBase + 0x1234_5678;
        Translation k = cpu.TranslateKernel(kernel);
        Assert.True(k.Succeeded);
        Assert.Equal(0x1234_5678UL, k.PhysAddr.Value);
        Assert.True(cpu.TryTranslate(Base, AccessKind.Read, out PhysAddr pa));
        Assert.Equal(1 * GiB, pa.Value);

        first.Unmap(Base, 64 * Page); // a full (non-global) flush
        long hits = cpu.Statistics.Hits;
        Assert.True(cpu.TranslateKernel(kernel).Succeeded);
        Assert.Equal(hits + 1, cpu.Statistics.Hits);

        cpu.SwitchTo(second);
        Assert.True(cpu.TryTranslate(Base, AccessKind.Read, out pa));
        Assert.Equal(1 * GiB + 64 * Page, pa.Value);
        hits = cpu.Statistics.Hits;
        Assert.True(cpu.TranslateKernel(kernel).Succeeded);
        Assert.Equal(hits + 1, cpu.Statistics.Hits);

        // A kernel flush drops global entries.
        machine.Memory.FlushTlb(machine.Memory.InitMm, new FlushRequest(0, 0, FlushKind.Kernel, false));
        long misses = cpu.Statistics.Misses;
        Assert.True(cpu.TranslateKernel(kernel).Succeeded);
        Assert.Equal(misses + 1, cpu.Statistics.Misses);
        Assert.Equal(FaultReason.OutOfRange, cpu.TranslateKernel(Base).Fault.Reason);
    }

    [Fact]
    public void Misuse_of_contexts_is_an_error_not_a_wrong_answer()
    {
        using Machine machine = Create(2 * GiB);
        AddressSpace first = machine.CreateAddressSpace();
        using AddressSpace second = machine.CreateAddressSpace();
        first.Map(Base, P(1 * GiB), Page, Protection.Read);
        MmuContext cpu = first.CreateContext();
        Assert.Throws<ArgumentException>(() => second.Translate(Base, AccessKind.Read, cpu));
        Assert.True(first.Translate(Base, AccessKind.Read, cpu).Succeeded);

        first.Dispose();
        Assert.Throws<ObjectDisposedException>(() => cpu.TryTranslate(Base, AccessKind.Read, out _));
        Assert.Throws<ObjectDisposedException>(() => cpu.Read<ulong>(Base));
        Assert.Throws<ObjectDisposedException>(() => first.Translate(Base));

        MmuContext other = second.CreateContext();
        other.Dispose();
        Assert.Throws<ObjectDisposedException>(() => other.Translate(Base));
        Assert.Throws<ObjectDisposedException>(() => other.SwitchTo(second));
    }
}
