using System;
using System.Collections.Generic;
using System.Threading;
using FastPt.Diagnostics;
using FastPt.Geometry;
using FastPt.Hardware;
using FastPt.Internals;

namespace FastPt.Mm;

/// <summary>The page-table operations of an address space, each written as callbacks on <see cref="PageWalk"/>.
/// Every operation first checks (read-only walk), then allocates all it needs, then commits, so that a failure
/// leaves the tables exactly as they were.</summary>
internal static unsafe class PageTableOps
{
    /// <summary>Maps [va, va + length) onto [pa, pa + length). The caller validated ranges and alignment.</summary>
    public static PagingResult Map(MmStruct mm, ulong va, ulong length, in MapOperation.Plan plan)
    {
        MemoryManager memory = mm.Memory;
        using (mm.LockMmap())
        {
            ThrowIfDisposed(mm);
            PagingResult reserved = RefuseRegionOverlap(mm, va, va + (length - 1));
            if (!reserved.IsSuccess) return reserved;
            PagingResult checkResult = CheckMap(mm, va, length, plan, out TableDemand need);
            if (!checkResult.IsSuccess) return checkResult;
            // Every table allocated and constructed (a split lock may not be available) before anything changes.
            if (!memory.PageTables.TryAllocatePool(mm, need, out TablePool pool, out string? why))
                return new PagingResult(PagingError.OutOfFrames, new VirtAddr(va), null, why);
            CommitMap(mm, va, length, plan, ref pool);
            return PagingResult.Success;
        }
    }

    /// <summary>The check pass of a map, under the mmap lock: the first conflict, or how many page-table pages of
    /// each level the commit can take (<paramref name="tablesNeeded"/>).</summary>
    public static PagingResult CheckMap(MmStruct mm, ulong va, ulong length, in MapOperation.Plan plan, out TableDemand tablesNeeded)
    {
        var check = new MapOperation.CheckOps { Plan = plan };
        PageWalk.Walk(mm.Memory.Physical, mm.RootPa, mm.RootLevel, va, va + length, ref check);
        tablesNeeded = check.Failure.IsSuccess ? check.TablesNeeded : default;
        return check.Failure;
    }

    /// <summary>The commit pass of a map whose check passed, under the same hold of the mmap lock: installs the
    /// leaves and tables from <paramref name="pool"/> (constructed tables, as the check counted them), each entry
    /// under the split lock of its table, then frees the tables left over. Cannot fail. Only a user address space
    /// can leave tables over (a concurrent demand fault in a neighbouring region installed one first); in the
    /// kernel's nothing else installs tables, so there every counted table must be used.</summary>
    public static void CommitMap(MmStruct mm, ulong va, ulong length, in MapOperation.Plan plan, ref TablePool pool)
    {
        MemoryManager memory = mm.Memory;
        var commit = new MapOperation.CommitOps(plan, mm, pool);
        PageWalk.Walk(memory.Physical, mm.RootPa, mm.RootLevel, va, va + length, ref commit);
        pool = commit.Pool;
        long used = pool.TotalUsed;
        if (mm.IsKernel && used != pool.Frames.Length) ThrowHelper.ThrowPoolMismatch((int)used, pool.Frames.Length);
        memory.PageTables.ReleaseUnused(pool);
        if (mm.IsKernel) memory.SyncKernelTopLevel();
        // Read after the entries were written; an unmap queues its tables (and counts them) under the mmap lock
        // this map holds too, so a count it made is seen here.
        else if (Volatile.Read(ref mm.QueuedTables) > 0) MemoryManager.InvalidateCachedWalks(mm, va, length);
        if (FastPtEventSource.Log.IsEnabled())
            FastPtEventSource.Log.MapRange(mm.Id, va, length, commit.LeavesInstalled, used);
    }

    /// <summary>Reserves [va, va + length) as an anonymous region (<c>mmap(MAP_ANONYMOUS | MAP_PRIVATE |
    /// MAP_FIXED_NOREPLACE)</c>): no frame and no table yet. The range must hold no mapping and no other region.</summary>
    public static PagingResult MapAnonymous(MmStruct mm, ulong va, ulong length, Protection protection, AnonymousOptions options)
    {
        using (mm.LockMmap())
        {
            ThrowIfDisposed(mm);
            PagingResult reserved = RefuseRegionOverlap(mm, va, va + (length - 1));
            if (!reserved.IsSuccess) return reserved;
            // Any leaf in the range is a conflict (the map check pass with 4 KiB leaves finds the first).
            var check = new MapOperation.CheckOps { Plan = new MapOperation.Plan(va, 0, 1 << 1, 0, 0, 0, 0) };
            PageWalk.Walk(mm.Memory.Physical, mm.RootPa, mm.RootLevel, va, va + length, ref check);
            if (!check.Failure.IsSuccess) return check.Failure;
            mm.Vmas.Replace([], [new VmArea(va, va + length, protection, options)]);
            FastPtEventSource.Log.MapAnonymous(mm.Id, va, length, (int)protection, (int)options);
            return PagingResult.Success;
        }
    }

    /// <summary>Refuses a range that overlaps an anonymous region, at the first address they share.</summary>
    private static PagingResult RefuseRegionOverlap(MmStruct mm, ulong start, ulong last)
    {
        if (mm.Vmas.Count == 0) return PagingResult.Success;
        List<VmArea> regions = mm.Vmas.Overlapping(start, last);
        if (regions.Count == 0) return PagingResult.Success;
        VmArea first = regions[0];
        return new PagingResult(PagingError.AlreadyMapped, new VirtAddr(Math.Max(start, first.Start)), null,
            $"reserved by the anonymous region [0x{first.Start:x}, 0x{first.Last:x}]");
    }

    /// <summary>Unmaps [va, va + length). Outside anonymous regions every page must be mapped unless
    /// <paramref name="holes"/> (discard); the parts of regions in the range are released with whatever was faulted
    /// in (frames and all). Table pages that become empty are freed through <paramref name="gather"/>.</summary>
    public static PagingResult Unmap(MmStruct mm, ulong va, ulong length, MmuGatherCore gather, bool holes = false)
    {
        long tablesBefore = gather.PendingTables + gather.TablesFreed;
        PagingResult result = ChangeRange(mm, va, length, gather, new RangeChangeOperation.Unmap(), newProtection: null, allowHoles: holes);
        if (result.IsSuccess && FastPtEventSource.Log.IsEnabled())
            FastPtEventSource.Log.UnmapRange(mm.Id, va, length, gather.PendingTables + gather.TablesFreed - tablesBefore);
        return result;
    }

    /// <summary>Changes the rights of [va, va + length). Outside anonymous regions every page must be mapped; the
    /// parts of regions in the range get the new rights, for the pages faulted in and for the faults to come.</summary>
    public static PagingResult Protect(MmStruct mm, ulong va, ulong length, Protection protection, MmuGatherCore gather)
    {
        PagingResult result = ChangeRange(mm, va, length, gather, new RangeChangeOperation.Protect { Protection = protection }, protection);
        if (result.IsSuccess) FastPtEventSource.Log.ProtectRange(mm.Id, va, length, (int)protection);
        return result;
    }

    /// <summary>The shape unmap and protect share. Under the mmap lock: write-lock the regions in the range (so no
    /// fault runs in them), check every piece — strictly outside regions, allowing holes inside — and count the split
    /// tables, allocate and construct them, run the commit walk on each piece, give back what it did not use, and
    /// finally replace the regions: an unmap (<paramref name="newProtection"/> null) keeps their parts outside the
    /// range (<c>munmap</c>), a protect splits them at the range's ends (<c>mprotect</c>'s <c>vma_modify</c>). A
    /// refusal unlocks the regions untouched. <paramref name="allowHoles"/> (discard) lets holes through outside
    /// regions too.</summary>
    private static PagingResult ChangeRange<TChange>(MmStruct mm, ulong va, ulong length, MmuGatherCore gather, TChange change,
        Protection? newProtection, bool allowHoles = false)
        where TChange : struct, RangeChangeOperation.IRangeChange
    {
        MemoryManager memory = mm.Memory;
        ulong end = va + length; // 0 when the range ends at 2^64: compare through last
        ulong last = end - 1;
        using (mm.LockMmap())
        {
            ThrowIfDisposed(mm);
            gather.EnsureUsableFor(mm);
            List<VmArea> regions = mm.Vmas.Count == 0 ? s_noRegions : mm.Vmas.Overlapping(va, last);
            foreach (VmArea region in regions) region.StartWrite();
            bool replaced = false;
            try
            {
                var check = new RangeChangeOperation.CheckOps();
                for (int piece = 0; ; piece++)
                {
                    if (!NextPiece(regions, va, end, piece, out ulong start, out ulong stop, out VmArea? region)) break;
                    check.AllowHoles = allowHoles || region is not null;
                    PageWalk.Walk(memory.Physical, mm.RootPa, mm.RootLevel, start, stop, ref check);
                    if (!check.Failure.IsSuccess) return check.Failure;
                }
                if (!memory.PageTables.TryAllocatePool(mm, check.SplitTables, out TablePool pool, out string? why))
                    return new PagingResult(PagingError.OutOfFrames, new VirtAddr(va), null, "tables to split huge pages: " + why);
                var commit = new RangeChangeOperation.CommitOps<TChange> { Mm = mm, Gather = gather, Change = change };
                for (int piece = 0; ; piece++)
                {
                    if (!NextPiece(regions, va, end, piece, out ulong start, out ulong stop, out VmArea? region)) break;
                    commit.Begin(pool, anonymous: region is not null);
                    PageWalk.Walk(memory.Physical, mm.RootPa, mm.RootLevel, start, stop, ref commit);
                    pool = commit.Pool;
                }
                memory.PageTables.ReleaseUnused(pool);
                if (regions.Count > 0)
                {
                    var added = new List<VmArea>();
                    foreach (VmArea region in regions)
                    {
                        if (region.Start < va) added.Add(region.Slice(region.Start, va));
                        if (newProtection is { } p) added.Add(new VmArea(Math.Max(va, region.Start), Math.Min(last, region.Last) + 1, p, region.Options));
                        if (region.Last > last) added.Add(region.Slice(end, region.End));
                    }
                    mm.Vmas.Replace(regions, added);
                    foreach (VmArea region in regions) region.Detach();
                    replaced = true;
                }
                return PagingResult.Success;
            }
            finally
            {
                if (!replaced) foreach (VmArea region in regions) region.EndWrite();
            }
        }
    }

    private static readonly List<VmArea> s_noRegions = new();

    /// <summary>The <paramref name="index"/>-th piece of [va, end) cut at region boundaries: alternately a stretch
    /// outside every region and one region's part. False past the last piece. An end of 0 means 2^64: bounds are
    /// compared as last bytes, and the pieces' exclusive ends go to the walker, which takes 0 as 2^64.</summary>
    private static bool NextPiece(List<VmArea> regions, ulong va, ulong end, int index, out ulong start, out ulong stop, out VmArea? region)
    {
        ulong at = va, last = end - 1;
        bool covered = false;
        int piece = 0;
        foreach (VmArea r in regions)
        {
            ulong rs = Math.Max(r.Start, va), rl = Math.Min(r.Last, last);
            if (at < rs)
            {
                if (piece++ == index) return Piece(at, rs, null, out start, out stop, out region);
            }
            if (piece++ == index) return Piece(rs, rl + 1, r, out start, out stop, out region);
            if (rl == last) covered = true;
            at = rl + 1;
        }
        if (!covered && at <= last && piece == index) return Piece(at, end, null, out start, out stop, out region);
        start = stop = 0;
        region = null;
        return false;
    }

    private static bool Piece(ulong from, ulong to, VmArea? r, out ulong start, out ulong stop, out VmArea? region)
    {
        start = from;
        stop = to;
        region = r;
        return true;
    }

    /// <summary>The leaf mapping <paramref name="va"/>, read without side effects (no A/D, no TLB): the hardware
    /// walker's inspection walk, whose rights check does not matter here. A PROT_NONE leaf (not present) counts as
    /// mapped.</summary>
    public static bool Lookup(MmStruct mm, ulong va, out ulong entry, out int level)
    {
        MemoryManager memory = mm.Memory;
        WalkStatus status;
        WalkResult walk;
        memory.Rcu.ReadLock();
        try
        {
            status = HardwareWalker.Walk(memory.Physical, mm.RootPa, mm.RootLevel, va, AccessKind.Read, user: false,
                updateAccessedDirty: false, checkPoison: false, out walk);
        }
        finally
        {
            memory.Rcu.ReadUnlock();
        }
        entry = walk.Entry;
        level = walk.Level;
        return status is WalkStatus.Ok or WalkStatus.ProtectionFault
            || (entry != 0 && PageTableEntry.IsLeaf(entry, level));
    }

    /// <summary>Inspection walk collecting the leaves of [start, end) as runs.</summary>
    internal struct DumpOps : IPageWalkOps
    {
        public List<MappingRun> Runs;
        public int MaxRuns;

        public static bool Mutates => false;

        public WalkAction Entry(int level, ulong* entry, ulong address, ulong next)
        {
            ulong value = *entry;
            if (value == 0) return WalkAction.Continue;
            if (PageTableEntry.IsLeaf(value, level))
            {
                // A leaf only partly inside the range still shows whole: it is one page.
                ulong size = Paging.LevelSize(level);
                return Add(Paging.AlignDown(address, size), size, value, level);
            }
            return (value & PageTableEntry.Present) != 0 ? WalkAction.Descend : WalkAction.Continue;
        }

        public WalkAction PteRange(ulong* ptes, ulong address, ulong end)
        {
            for (ulong a = address; a != end; a += Paging.PageSize, ptes++)
            {
                ulong value = *ptes;
                if (value != 0 && Add(a, Paging.PageSize, value, 1) == WalkAction.Stop) return WalkAction.Stop;
            }
            return WalkAction.Continue;
        }

        public WalkAction AfterTable(int level, ulong* entry, ulong address, ulong next) => WalkAction.Continue;

        private WalkAction Add(ulong va, ulong size, ulong entry, int level)
        {
            PageSize pageSize = Paging.LeafSize(level);
            Protection protection = PageTableEntry.ProtectionOf(entry);
            ulong pa = PageTableEntry.LeafAddress(entry, level);
            if (Runs.Count > 0)
            {
                MappingRun last = Runs[^1];
                if (last.PageSize == pageSize && last.Protection == protection
                    && last.Start.Value + last.Length == va && last.Physical.Value + last.Length == pa)
                {
                    Runs[^1] = last with { Length = last.Length + size, Pages = last.Pages + 1 };
                    return WalkAction.Continue;
                }
                if (Runs.Count >= MaxRuns) return WalkAction.Stop;
            }
            Runs.Add(new MappingRun(new VirtAddr(va), size, new PhysAddr(pa), pageSize, protection, 1));
            return WalkAction.Continue;
        }
    }

    public static List<MappingRun> Dump(MmStruct mm, ulong start, ulong end, int maxRuns)
    {
        var ops = new DumpOps { Runs = new List<MappingRun>(), MaxRuns = maxRuns };
        MemoryManager memory = mm.Memory;
        memory.Rcu.ReadLock();
        try
        {
            PageWalk.Walk(memory.Physical, mm.RootPa, mm.RootLevel, start, end, ref ops);
        }
        finally
        {
            memory.Rcu.ReadUnlock();
        }
        return ops.Runs;
    }

    /// <summary>Frees every table of a user address space (the user half only: the kernel half of its root is
    /// shared with init_mm; both halves of a guest's) and finally the root itself, through a gather.</summary>
    public static void TeardownUser(MmStruct mm)
    {
        using (mm.LockMmap())
        {
            if (mm.Disposed) return;
            MemoryManager memory = mm.Memory;
            if (FastPtEventSource.Log.IsEnabled()) FastPtEventSource.Log.AddressSpaceTeardown(mm.Id, mm.Tables[1] + mm.Tables[2] + mm.Tables[3] + mm.Tables[4] + 1);
            MmuGatherCore gather = mm.RentGather();
            // exit_mmap: the anonymous regions go first, with their frames (no fault runs once they are
            // write-locked; region bounds never cut a huge page, so no split is needed).
            List<VmArea> regions = mm.Vmas.All();
            foreach (VmArea region in regions)
            {
                region.StartWrite();
                var zap = new RangeChangeOperation.CommitOps<RangeChangeOperation.Unmap> { Mm = mm, Gather = gather };
                zap.Begin(TablePool.Empty, anonymous: true);
                PageWalk.Walk(memory.Physical, mm.RootPa, mm.RootLevel, region.Start, region.End, ref zap);
            }
            mm.Vmas.Replace(regions, []);
            foreach (VmArea region in regions) region.Detach();
            var teardown = new TeardownOps { Gather = gather };
            foreach ((ulong start, ulong end) in mm.OwnedHalves)
            {
                PageWalk.Walk(memory.Physical, mm.RootPa, mm.RootLevel, start, end, ref teardown);
                gather.AddRange(start, end);
            }
            // The root goes with everything else, after the flush.
            mm.Tables[mm.RootLevel]++;
            gather.RemoveTable(mm.RootPa, mm.RootLevel);
            gather.Finish();
            memory.Fragments.Destroy(mm); // pte_frag_destroy: the cursor's unused fragments go back
            mm.Disposed = true;
        }
    }

    /// <summary>Teardown's walk over the root's user entries: each is cleared and its subtree queued whole on the
    /// gather (no descent here: the gather walks the detached subtree).</summary>
    private struct TeardownOps : IPageWalkOps
    {
        public MmuGatherCore Gather;

        public static bool Mutates => true;

        public WalkAction Entry(int level, ulong* entry, ulong address, ulong next)
        {
            ulong value = *entry;
            if (value == 0) return WalkAction.Continue;
            *entry = 0;
            if (!PageTableEntry.IsLeaf(value, level)) Gather.RemoveSubtree(PageTableEntry.TableAddress(value), level - 1, address, next);
            return WalkAction.Continue;
        }

        public WalkAction PteRange(ulong* ptes, ulong address, ulong end) => WalkAction.Continue;

        public WalkAction AfterTable(int level, ulong* entry, ulong address, ulong next) => WalkAction.Continue;
    }

    private static void ThrowIfDisposed(MmStruct mm)
    {
        if (mm.Disposed) ThrowHelper.ThrowAddressSpaceDisposed();
    }
}
