using System;
using System.Collections.Generic;
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
        using (mm.LockTables())
        {
            ThrowIfDisposed(mm);
            PagingResult checkResult = CheckMap(mm, va, length, plan, out int need, out int pteNeed);
            if (!checkResult.IsSuccess) return checkResult;
            // Upper tables as frames, PTE tables as fragments of the address space's blocks: all or nothing.
            TableReservation tables = mm.Reservation;
            if (!tables.TryReserve(need - pteNeed, pteNeed, va, out PagingResult failure)) return failure;
            try
            {
                CommitMap(mm, va, length, plan, tables);
            }
            finally
            {
                tables.Release();
            }
            return PagingResult.Success;
        }
    }

    /// <summary>The check pass of a map, under the table lock: the first conflict, or the number of page-table
    /// pages the commit will take (<paramref name="tablesNeeded"/>, <paramref name="pteTablesNeeded"/> of them PTE
    /// tables).</summary>
    public static PagingResult CheckMap(MmStruct mm, ulong va, ulong length, in MapOperation.Plan plan, out int tablesNeeded,
        out int pteTablesNeeded)
    {
        var check = new MapOperation.CheckOps { Plan = plan };
        PageWalk.Walk(mm.Memory.Physical, mm.RootPa, mm.RootLevel, va, va + length, ref check);
        bool ok = check.Failure.IsSuccess;
        tablesNeeded = ok ? checked((int)check.TablesNeeded) : 0;
        pteTablesNeeded = ok ? checked((int)check.PteTablesNeeded) : 0;
        return check.Failure;
    }

    /// <summary>The commit pass of a map whose check passed, under the same hold of the table lock: installs the
    /// leaves and exactly the zeroed tables in <paramref name="pool"/> (single frames, as the kernel's tables
    /// are). Cannot fail.</summary>
    public static void CommitMap(MmStruct mm, ulong va, ulong length, in MapOperation.Plan plan, ReadOnlySpan<ulong> pool)
    {
        fixed (ulong* p = pool)
            Commit(mm, va, length, new MapOperation.CommitOps { Plan = plan, Mm = mm, Pool = p, PoolSize = pool.Length }, pool.Length);
    }

    /// <summary>The commit pass of a map whose check passed, taking exactly the tables
    /// <paramref name="tables"/> reserved (PTE tables as fragments for a user address space). Cannot fail.</summary>
    public static void CommitMap(MmStruct mm, ulong va, ulong length, in MapOperation.Plan plan, TableReservation tables) =>
        Commit(mm, va, length, new MapOperation.CommitOps { Plan = plan, Mm = mm, Tables = tables }, tables.Count);

    private static void Commit(MmStruct mm, ulong va, ulong length, MapOperation.CommitOps commit, int need)
    {
        MemoryManager memory = mm.Memory;
        long leavesBefore = mm.Leaves[1] + mm.Leaves[2] + mm.Leaves[3];
        PageWalk.Walk(memory.Physical, mm.RootPa, mm.RootLevel, va, va + length, ref commit);
        if (commit.PoolUsed != need) ThrowHelper.ThrowPoolMismatch(commit.PoolUsed, need);
        if (mm.IsKernel) memory.SyncKernelTopLevel();
        else if (mm.QueuedTables > 0) MemoryManager.InvalidateCachedWalks(mm, va, length);
        if (FastPtEventSource.Log.IsEnabled())
            FastPtEventSource.Log.MapRange(mm.Id, va, length, mm.Leaves[1] + mm.Leaves[2] + mm.Leaves[3] - leavesBefore, need);
    }

    /// <summary>Unmaps [va, va + length); every page must be mapped unless <paramref name="holes"/> (discard).
    /// Table pages that become empty are freed through <paramref name="gather"/>.</summary>
    public static PagingResult Unmap(MmStruct mm, ulong va, ulong length, MmuGatherCore gather, bool holes = false)
    {
        long tablesBefore = gather.PendingTables + gather.TablesFreed;
        PagingResult result = ChangeRange(mm, va, length, gather, new RangeChangeOperation.Unmap { Holes = holes }, holes);
        if (result.IsSuccess && FastPtEventSource.Log.IsEnabled())
            FastPtEventSource.Log.UnmapRange(mm.Id, va, length, gather.PendingTables + gather.TablesFreed - tablesBefore);
        return result;
    }

    /// <summary>Changes the rights of [va, va + length); every page must be mapped.</summary>
    public static PagingResult Protect(MmStruct mm, ulong va, ulong length, Protection protection, MmuGatherCore gather)
    {
        PagingResult result = ChangeRange(mm, va, length, gather, new RangeChangeOperation.Protect { Protection = protection });
        if (result.IsSuccess) FastPtEventSource.Log.ProtectRange(mm.Id, va, length, (int)protection);
        return result;
    }

    /// <summary>The shape unmap and protect share: check every page is mapped and count the split tables, reserve
    /// them, run the commit walk, give back what it did not use.</summary>
    private static PagingResult ChangeRange<TChange>(MmStruct mm, ulong va, ulong length, MmuGatherCore gather, TChange change, bool allowHoles = false)
        where TChange : struct, RangeChangeOperation.IRangeChange
    {
        MemoryManager memory = mm.Memory;
        using (mm.LockTables())
        {
            ThrowIfDisposed(mm);
            gather.EnsureUsableFor(mm);
            var check = new RangeChangeOperation.CheckOps { AllowHoles = allowHoles };
            PageWalk.Walk(memory.Physical, mm.RootPa, mm.RootLevel, va, va + length, ref check);
            if (!check.Failure.IsSuccess) return check.Failure;
            TableReservation tables = mm.Reservation;
            if (!tables.TryReserve(check.SplitTables - check.PteSplitTables, check.PteSplitTables, va, out PagingResult failure))
                return failure;
            var commit = new RangeChangeOperation.CommitOps<TChange> { Mm = mm, Gather = gather, Change = change, Tables = tables };
            try
            {
                PageWalk.Walk(memory.Physical, mm.RootPa, mm.RootLevel, va, va + length, ref commit);
            }
            finally
            {
                tables.Release();
            }
            return PagingResult.Success;
        }
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
    /// shared with init_mm) and finally the root itself, through a gather.</summary>
    public static void TeardownUser(MmStruct mm)
    {
        using (mm.LockTables())
        {
            if (mm.Disposed) return;
            MemoryManager memory = mm.Memory;
            if (FastPtEventSource.Log.IsEnabled()) FastPtEventSource.Log.AddressSpaceTeardown(mm.Id, mm.Tables[1] + mm.Tables[2] + mm.Tables[3] + mm.Tables[4] + 1);
            MmuGatherCore gather = mm.RentGather();
            var teardown = new TeardownOps { Gather = gather };
            PageWalk.Walk(memory.Physical, mm.RootPa, mm.RootLevel, 0, memory.Layout.UserTop, ref teardown);
            gather.AddRange(0, memory.Layout.UserTop);
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
