using System;
using System.Collections.Generic;
using FastPt.HugeTlb;
using FastPt.Mm;
using Xunit;
using static FastPt.Tests.HugeTlb.HvoMachines;
using static FastPt.Tests.TestMachines;

namespace FastPt.Tests.HugeTlb;

/// <summary>Optimize and restore with the allocator exhausted, at every free-frame count around each boundary: a
/// failure leaves the machine as it was (whole-state snapshot), what a half-done walk remapped is put back, the
/// folio stays a HugeTLB folio, and a later attempt succeeds.</summary>
public sealed unsafe class HvoFailureTests
{
    public static TheoryData<HvoDesign> AllDesigns => new(Designs);

    /// <summary>Everything an optimization or restore may touch.</summary>
    private sealed record State(string Statistics, HugeTlbPoolCounts Counts2M, HugeTlbPoolCounts Counts1G, string Vmemmap,
        string Descriptors, string Kernel)
    {
        public static State Of(Machine machine, Folio folio)
        {
            ulong start = machine.VmemmapBase.Value + folio.HeadPfn * 64;
            var vmemmap = new System.Text.StringBuilder();
            foreach (MappingRun run in machine.DumpKernel(new VirtAddr(start), 64UL << folio.Order)) vmemmap.AppendLine(run.ToString());
            var descriptors = new System.Text.StringBuilder();
            for (ulong p = folio.HeadPfn; p < folio.HeadPfn + folio.Pages; p += 61)
                descriptors.Append(Descriptor(machine, p).GetHashCode()).Append(',');
            string kernel = string.Join(",", machine.KernelPageTables);
            return new State(Describe(machine.GetStatistics(), withGatherEvents: false), machine.HugeTlb.GetCounts(PageSize.Size2M), machine.HugeTlb.GetCounts(PageSize.Size1G),
                vmemmap.ToString(), descriptors.ToString(), kernel);
        }
    }

    /// <summary>Takes every free frame (order 0 first, so nothing is left in any order).</summary>
    private static List<ulong> Exhaust(Machine machine)
    {
        var taken = new List<ulong>();
        BuddyAllocator buddy = machine.Memory.Buddy;
        for (int order = BuddyAllocator.MaxOrder; order >= 0; order--)
            while (buddy.TryAllocate(order, zero: false, out ulong pfn)) taken.Add(((ulong)order << 56) | pfn);
        Assert.Equal(0, machine.GetStatistics().FreePages);
        return taken;
    }

    /// <summary>Gives back frames of the exhausted pool until <paramref name="free"/> single frames are free.</summary>
    private static void GiveBack(Machine machine, List<ulong> taken, int free)
    {
        BuddyAllocator buddy = machine.Memory.Buddy;
        while (machine.GetStatistics().FreePages < free)
        {
            ulong item = taken[^1];
            int order = (int)(item >> 56);
            ulong pfn = item & ((1UL << 56) - 1);
            taken.RemoveAt(taken.Count - 1);
            if (order > 0)
            {
                // Split it: keep what is not needed.
                buddy.SplitPage(pfn, order);
                for (ulong p = pfn + 1; p < pfn + (1UL << order); p++) taken.Add(p);
            }
            buddy.Free(pfn, 0);
        }
    }

    private static void Retake(Machine machine, List<ulong> taken)
    {
        while (machine.Memory.Buddy.TryAllocate(0, zero: false, out ulong pfn)) taken.Add(pfn);
    }

    private static void FreeAll(Machine machine, List<ulong> taken)
    {
        foreach (ulong item in taken) machine.Memory.Buddy.Free(item & ((1UL << 56) - 1), (int)(item >> 56));
        taken.Clear();
    }

    [Theory]
    [MemberData(nameof(AllDesigns))]
    public void Optimize_out_of_memory_at_every_free_frame_count_changes_nothing(HvoDesign design)
    {
        foreach (PageSize size in new[] { PageSize.Size2M, PageSize.Size1G })
        {
            using Machine machine = Boot(design, 4 * GiB, optimize: false);
            machine.HugeTlb.SetPoolSize(size, 1);
            Hstate h = machine.HugeTlb.Core.For(size);
            var folio = new Folio(h.FreeList[0], h.Order);
            int tables = size == PageSize.Size2M ? 1 : 8; // PMD splits the folio's vmemmap needs
            int sharedTail = design == HvoDesign.SharedTail ? 1 : 0;
            List<ulong> taken = Exhaust(machine);
            for (int free = 0; free <= tables + sharedTail + 1; free++)
            {
                GiveBack(machine, taken, free);
                State before = State.Of(machine, folio);
                long failures = h.Counters.OptimizeFailures;
                int optimized = machine.HugeTlb.Core.Vmemmap.Optimize([folio], batched: free % 2 == 0, h.Counters);
                if (free < tables + sharedTail)
                {
                    Assert.Equal(0, optimized);
                    Assert.Equal(failures + 1, h.Counters.OptimizeFailures);
                    Assert.Equal(before, State.Of(machine, folio));
                    Assert.False(machine.HugeTlb.Core.Vmemmap.IsOptimized(folio.HeadPfn));
                    Retake(machine, taken);
                    continue;
                }
                // Enough for the splits (and the shared tail page): done, with the old head page kept when no frame
                // was left to copy it into.
                Assert.Equal(1, optimized);
                Assert.Equal(free > tables + sharedTail ? 1 : 0, h.Counters.HeadPagesCopied);
                Assert.Equal(VmemmapPagesFreed(size), h.Counters.PagesFreed);
                break;
            }
            FreeAll(machine, taken);
            Assert.Equal(1, machine.HugeTlb.Core.Vmemmap.Restore([folio], batched: true, h.Counters));
            machine.HugeTlb.SetPoolSize(size, 0);
        }
    }

    private static long VmemmapPagesFreed(PageSize size) => size == PageSize.Size2M ? 7 : 4095;

    [Theory]
    [MemberData(nameof(AllDesigns))]
    public void Half_done_remap_is_put_back(HvoDesign design)
    {
        // A 1 GiB folio's vmemmap spans 8 PMD blocks. With 3 frames the split pass splits 3 of them, the remap walk
        // remaps their 1536 pages and then cannot split the fourth: it puts them back and the splits are merged.
        using Machine machine = Boot(design, 4 * GiB, optimize: false);
        machine.HugeTlb.SetPoolSize(PageSize.Size1G, 2);
        Hstate h = machine.HugeTlb.Core.For(PageSize.Size1G);
        var first = new Folio(h.FreeList[0], h.Order);
        var folio = new Folio(h.FreeList[1], h.Order);
        // The first folio makes the shared tail page exist (shared design), so the second needs nothing but splits.
        Assert.Equal(1, machine.HugeTlb.Core.Vmemmap.Optimize([first], batched: true, h.Counters));
        long splits = h.Counters.Splits;
        List<ulong> taken = Exhaust(machine);
        GiveBack(machine, taken, 3);
        State before = State.Of(machine, folio);
        Assert.Equal(0, machine.HugeTlb.Core.Vmemmap.Optimize([folio], batched: true, h.Counters));
        Assert.Equal(before, State.Of(machine, folio));
        Assert.Equal(3, h.Counters.Splits - splits);
        Assert.Equal(3, h.Counters.SplitsMergedBack);
        Assert.Equal(3 * 512, h.Counters.RemapsUndone);
        FreeAll(machine, taken);
        Assert.Equal(1, machine.HugeTlb.Core.Vmemmap.Optimize([folio], batched: true, h.Counters));
        Assert.Equal(2, machine.HugeTlb.Core.Vmemmap.Restore([first, folio], batched: true, h.Counters));
    }

    [Theory]
    [MemberData(nameof(AllDesigns))]
    public void Restore_out_of_memory_keeps_the_folio_and_a_later_resize_frees_it(HvoDesign design)
    {
        foreach (PageSize size in new[] { PageSize.Size2M, PageSize.Size1G })
        {
            using Machine machine = Boot(design, 4 * GiB);
            machine.HugeTlb.SetPoolSize(size, 1);
            Hstate h = machine.HugeTlb.Core.For(size);
            var folio = new Folio(h.FreeList[0], h.Order);
            int needed = (int)VmemmapPagesFreed(size);
            List<ulong> taken = Exhaust(machine);
            foreach (int free in new[] { 0, 1, needed - 1 })
            {
                GiveBack(machine, taken, free);
                State before = State.Of(machine, folio);
                HugeTlbResizeResult result = machine.HugeTlb.TrySetPoolSize(size, 0);
                Assert.Equal(HugeTlbError.VmemmapRestoreFailed, result.Error);
                // Still a HugeTLB folio, optimized, in the pool: as a free surplus folio now.
                Assert.Equal(new HugeTlbPoolCounts(size, 1, 1, 1, 0), result.Counts);
                Assert.True(machine.HugeTlb.Core.Vmemmap.IsOptimized(folio.HeadPfn));
                Assert.Equal(KPageFlags.CompoundHead | KPageFlags.Huge, machine.GetPageFlags(folio.HeadPfn));
                Assert.Equal(before with { Counts2M = default, Counts1G = default }, State.Of(machine, folio) with { Counts2M = default, Counts1G = default });
                Retake(machine, taken);
            }
            GiveBack(machine, taken, needed);
            HugeTlbResizeResult retried = machine.HugeTlb.TrySetPoolSize(size, 0);
            Assert.True(retried.IsSuccess, retried.Detail);
            Assert.Equal(needed, retried.VmemmapPagesRestored);
            Assert.Equal(new HugeTlbPoolCounts(size, 0, 0, 0, 0), retried.Counts);
            FreeAll(machine, taken);
        }
    }

    [Fact]
    public void A_surplus_folio_whose_restore_fails_goes_back_to_the_pool_without_retaking_the_lock()
    {
        using Machine machine = Boot(HvoDesign.Linux6x, 4 * GiB);
        machine.HugeTlb.SetOvercommit(PageSize.Size2M, 1);
        HugeTlbFolio folio = machine.HugeTlb.AllocateFolio(PageSize.Size2M); // a surplus folio, optimized
        Assert.Equal(new HugeTlbPoolCounts(PageSize.Size2M, 1, 0, 1, 1), machine.HugeTlb.GetCounts(PageSize.Size2M));
        List<ulong> taken = Exhaust(machine);
        HugeTlbResult freed = machine.HugeTlb.TryFreeFolio(folio);
        Assert.Equal(HugeTlbError.VmemmapRestoreFailed, freed.Error);
        Assert.Equal(new HugeTlbPoolCounts(PageSize.Size2M, 1, 1, 1, 1), machine.HugeTlb.GetCounts(PageSize.Size2M));
        Assert.False(machine.HugeTlb.Core.PoolLock.IsHeldByCurrentThread);
        FreeAll(machine, taken);
        Assert.True(machine.HugeTlb.TrySetPoolSize(PageSize.Size2M, 0).IsSuccess);
        Assert.Equal(new HugeTlbPoolCounts(PageSize.Size2M, 0, 0, 0, 1), machine.HugeTlb.GetCounts(PageSize.Size2M));
    }

    [Fact]
    public void Recursive_pool_locking_is_reported()
    {
        var poolLock = new HugetlbLock();
        using (poolLock.Enter())
        {
            Assert.Throws<InvalidOperationException>(() => { using (poolLock.Enter()) { } });
        }
    }
}
