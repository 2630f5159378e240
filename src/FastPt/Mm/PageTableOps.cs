using System;
using System.Collections.Generic;
using FastPt.Diagnostics;
using FastPt.Geometry;
using FastPt.Hardware;

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
        using (mm.LockTables())
        {
            ThrowIfDisposed(mm);
            var check = new MapOperation.CheckOps { Plan = plan };
            PageWalk.Walk(memory.Physical, mm.RootPa, mm.RootLevel, va, va + length, ref check);
            if (!check.Failure.IsSuccess) return check.Failure;

            int need = checked((int)check.TablesNeeded);
            TableReservation tables = mm.Reservation;
            if (!tables.TryReserve(check.TablesNeeded - check.PteTablesNeeded, check.PteTablesNeeded, va, out PagingResult failure))
                return failure;

            long leavesBefore = mm.Leaves[1] + mm.Leaves[2] + mm.Leaves[3];
            var commit = new MapOperation.CommitOps { Plan = plan, Mm = mm, Tables = tables };
            try
            {
                PageWalk.Walk(memory.Physical, mm.RootPa, mm.RootLevel, va, va + length, ref commit);
            }
            finally
            {
                tables.Release();
            }
            if (commit.PoolUsed != need)
                throw new InvalidOperationException($"map used {commit.PoolUsed} of {need} counted tables");
            if (mm.IsKernel) memory.SyncKernelTopLevel();
            if (FastPtEventSource.Log.IsEnabled())
                FastPtEventSource.Log.MapRange(mm.Id, va, length, mm.Leaves[1] + mm.Leaves[2] + mm.Leaves[3] - leavesBefore, need);
            return PagingResult.Success;
        }
    }

    /// <summary>Unmaps [va, va + length); every page must be mapped. Table pages that become empty are freed
    /// through <paramref name="gather"/>.</summary>
    public static PagingResult Unmap(MmStruct mm, ulong va, ulong length, MmuGatherCore gather)
    {
        long tablesBefore = gather.PendingTables + gather.TablesFreed;
        var ops = new RangeChangeOperation.UnmapOps { Mm = mm, Gather = gather };
        PagingResult result = ChangeRange(mm, va, length, gather, ref ops);
        if (result.IsSuccess && FastPtEventSource.Log.IsEnabled())
            FastPtEventSource.Log.UnmapRange(mm.Id, va, length, gather.PendingTables + gather.TablesFreed - tablesBefore);
        return result;
    }

    /// <summary>Changes the rights of [va, va + length); every page must be mapped.</summary>
    public static PagingResult Protect(MmStruct mm, ulong va, ulong length, Protection protection, MmuGatherCore gather)
    {
        var ops = new RangeChangeOperation.ProtectOps { Mm = mm, Gather = gather, Protection = protection };
        PagingResult result = ChangeRange(mm, va, length, gather, ref ops);
        if (result.IsSuccess) FastPtEventSource.Log.ProtectRange(mm.Id, va, length, (int)protection);
        return result;
    }

    /// <summary>The shape unmap and protect share: check every page is mapped and count the split tables, allocate
    /// them, run the commit walk, give back what it did not use.</summary>
    private static PagingResult ChangeRange<TOps>(MmStruct mm, ulong va, ulong length, MmuGatherCore gather, ref TOps ops)
        where TOps : struct, RangeChangeOperation.ISplitPool
    {
        MemoryManager memory = mm.Memory;
        using (mm.LockTables())
        {
            ThrowIfDisposed(mm);
            gather.EnsureUsableFor(mm);
            var check = new RangeChangeOperation.CheckOps();
            PageWalk.Walk(memory.Physical, mm.RootPa, mm.RootLevel, va, va + length, ref check);
            if (!check.Failure.IsSuccess) return check.Failure;
            TableReservation tables = mm.Reservation;
            if (!tables.TryReserve(check.SplitTables - check.PteSplitTables, check.PteSplitTables, va, out PagingResult failure))
                return failure;
            ops.SetTables(tables);
            try
            {
                PageWalk.Walk(memory.Physical, mm.RootPa, mm.RootLevel, va, va + length, ref ops);
            }
            finally
            {
                tables.Release();
            }
            return PagingResult.Success;
        }
    }

    /// <summary>The leaf mapping <paramref name="va"/>, read without side effects (no A/D, no TLB).</summary>
    public static bool Lookup(MmStruct mm, ulong va, out ulong entry, out int level)
    {
        MemoryManager memory = mm.Memory;
        memory.Rcu.ReadLock();
        try
        {
            ulong tablePa = mm.RootPa;
            level = mm.RootLevel;
            while (true)
            {
                entry = System.Threading.Volatile.Read(ref memory.Physical.TableForRead(tablePa)[Paging.Index(level, va)]);
                if (entry == 0) return false;
                if (PageTableEntry.IsLeaf(entry, level)) return true;
                if ((entry & PageTableEntry.Present) == 0) return false;
                tablePa = PageTableEntry.TableAddress(entry);
                level--;
            }
        }
        finally
        {
            memory.Rcu.ReadUnlock();
        }
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
            ulong* root = memory.Physical.TableForWrite(mm.RootPa);
            int userEntries = Paging.EntriesPerTable / 2;
            for (int i = 0; i < userEntries; i++)
            {
                ulong entry = root[i];
                if (entry == 0) continue;
                root[i] = 0;
                if (PageTableEntry.IsLeaf(entry, mm.RootLevel)) continue;
                gather.RemoveSubtree(PageTableEntry.TableAddress(entry), mm.RootLevel - 1, countLeaves: true);
            }
            gather.AddRange(0, memory.Layout.UserTop);
            // The root goes with everything else, after the flush.
            mm.Tables[mm.RootLevel]++;
            gather.RemoveTable(mm.RootPa, mm.RootLevel);
            gather.Finish();
            memory.Fragments.Destroy(mm); // pte_frag_destroy: the cursor's unused fragments go back
            mm.Disposed = true;
        }
    }

    private static void ThrowIfDisposed(MmStruct mm)
    {
        ObjectDisposedException.ThrowIf(mm.Disposed, typeof(AddressSpace));
    }
}
