using System;
using System.Threading;
using FastPt.Geometry;
using FastPt.Hardware;

namespace FastPt.Mm;

/// <summary>Unmap and protect: both split a huge leaf the range covers only in part, so they share the check pass
/// (which also counts, by level, the tables splits will need) and the commit pass with its pool of split tables; each
/// supplies only what it does to the pages (<see cref="Unmap"/>, <see cref="Protect"/>). Outside anonymous regions
/// every page of the range must be mapped (discard, an unmap with munmap's semantics, skips holes); inside one, holes
/// are pages not faulted in yet. Every entry is changed under the lock of its table, because faults in regions that
/// share a table with the range run meanwhile.</summary>
internal static unsafe class RangeChangeOperation
{
    /// <summary>Check pass: every page mapped (unless <see cref="AllowHoles"/>); counts the tables the splits at the
    /// edges need.</summary>
    internal struct CheckOps : IPageWalkOps
    {
        public TableDemand SplitTables;
        public PagingResult Failure;

        /// <summary>Unpopulated pages are not an error: the range is (part of) an anonymous region, or a discard.</summary>
        public bool AllowHoles;

        public static bool Mutates => false;

        public WalkAction Entry(int level, ulong* entry, ulong address, ulong next)
        {
            ulong value = *entry;
            if (value == 0)
            {
                if (AllowHoles) return WalkAction.Continue;
                Failure = new PagingResult(PagingError.NotMapped, new VirtAddr(address));
                return WalkAction.Stop;
            }
            if (PageTableEntry.IsLeaf(value, level))
            {
                if (next - address != Paging.LevelSize(level)) TablesToSplit(level, address, next, ref SplitTables);
                return WalkAction.Continue;
            }
            return WalkAction.Descend;
        }

        public WalkAction PteRange(ulong* ptes, ulong address, ulong end)
        {
            if (AllowHoles) return WalkAction.Continue;
            int count = (int)((end - address) >> Paging.PageShift);
            int hole = new ReadOnlySpan<ulong>(ptes, count).IndexOf(0UL);
            if (hole < 0) return WalkAction.Continue;
            Failure = new PagingResult(PagingError.NotMapped, new VirtAddr(address + ((ulong)hole << Paging.PageShift)));
            return WalkAction.Stop;
        }

        public WalkAction AfterTable(int level, ulong* entry, ulong address, ulong next) => WalkAction.Continue;
    }

    /// <summary>Adds the tables needed to split a leaf at <paramref name="level"/> of which only [address, next) is
    /// touched: one table below it, plus the splits of the (at most two) children the range cuts in part.</summary>
    public static void TablesToSplit(int level, ulong address, ulong next, ref TableDemand demand)
    {
        int child = level - 1;
        demand.Add(child, 1);
        if (child == Paging.PteLevel) return;
        for (ulong a = address; a != next;)
        {
            ulong n = Paging.AddrEnd(child, a, next);
            if (n - a != Paging.LevelSize(child)) TablesToSplit(child, a, n, ref demand);
            a = n;
        }
    }

    /// <summary>Replaces the leaf in <paramref name="entry"/> by the constructed table <paramref name="tablePfn"/>
    /// of leaves one level down that translate every address exactly as before (the x86 CPA way: fill the new table,
    /// swap the entry atomically, flush), so a concurrent translation sees either the old leaf or the equivalent
    /// table, never a hole. The caller holds the leaf's lock (<c>huge_pte_lock</c>). A transparent huge page of an
    /// anonymous region is split into 4 KiB frames as well (<c>split_huge_page</c>), so that its pages can later be
    /// freed one by one.</summary>
    public static void SplitLeaf(MmStruct mm, ulong* entry, int level, ulong address, ulong tablePfn, MmuGatherCore gather, bool anonymous = false)
    {
        int child = level - 1;
        ulong* table = mm.Memory.Physical.TableForWrite(tablePfn << Paging.PageShift);
        ulong tableEntry = (tablePfn << Paging.PageShift) | mm.TableBits;
        ulong frame;
        while (true)
        {
            ulong leaf = Volatile.Read(ref *entry);
            frame = PageTableEntry.LeafAddress(leaf, level);
            ulong attributes = leaf & ~PageTableEntry.LeafAddressMask(level);
            ulong step = Paging.LevelSize(child);
            if (child == Paging.PteLevel)
            {
                // PS becomes PAT's place at PTE level: move a huge leaf's PAT bit (12) there.
                ulong pteAttributes = attributes & ~(PageTableEntry.Huge | PageTableEntry.HugePat);
                if ((attributes & PageTableEntry.HugePat) != 0) pteAttributes |= PageTableEntry.Huge;
                MapOperation.FillPtes(table, Paging.EntriesPerTable, frame | pteAttributes);
            }
            else
            {
                for (int i = 0; i < Paging.EntriesPerTable; i++) table[i] = (frame + (ulong)i * step) | attributes;
            }
            // A walker may have set A or D on the leaf meanwhile: then copy again.
            if (Interlocked.CompareExchange(ref *entry, tableEntry, leaf) == leaf) break;
        }
        if (anonymous && level == Paging.PmdLevel) mm.Memory.Buddy.SplitPage(frame >> Paging.PageShift, Paging.PmdShift - Paging.PageShift);
        Interlocked.Increment(ref mm.Tables[child]);
        Interlocked.Decrement(ref mm.Leaves[level]);
        Interlocked.Add(ref mm.Leaves[child], Paging.EntriesPerTable);
        ulong start = Paging.AlignDown(address, Paging.LevelSize(level));
        gather.AddRange(start, start + Paging.LevelSize(level));
        Diagnostics.FastPtEventSource.Log.TableSplit(mm.Id, level, start);
    }

    /// <summary>What unmap and protect do to the pages of the range; the commit pass around it (<see
    /// cref="CommitOps{TChange}"/>) splits the huge leaves the range cuts, from the preallocated tables, and takes the
    /// locks: each method runs with the lock of the table holding the entries held, except
    /// <see cref="WholeTable"/> and <see cref="AfterTable"/>, which take what they need.</summary>
    internal interface IRangeChange
    {
        /// <summary>A leaf wholly inside the range (its <c>huge_pte_lock</c> held).</summary>
        void Leaf(MmStruct mm, MmuGatherCore gather, ulong* entry, int level, ulong address, ulong next, bool anonymous);

        /// <summary>A table entry whose whole range is inside the range: handle it here, or descend.
        /// <paramref name="tablePa"/> is the table holding the entry.</summary>
        WalkAction WholeTable(MmStruct mm, MmuGatherCore gather, ulong* entry, ulong tablePa, int level, ulong address, ulong next, bool anonymous);

        /// <summary>The PTEs of [<paramref name="address"/>, <paramref name="end"/>) of one table (its lock held).</summary>
        void PteRange(MmStruct mm, MmuGatherCore gather, ulong* ptes, ulong address, ulong end, bool anonymous);

        /// <summary>After the walker came back from the table below <paramref name="entry"/>, which lies in the table
        /// at <paramref name="tablePa"/>.</summary>
        void AfterTable(MmStruct mm, MmuGatherCore gather, ulong* entry, ulong tablePa, int level);
    }

    /// <summary>The commit pass of unmap and protect: a huge leaf the range covers only in part is split first, with
    /// a table from the pool the check pass counted and the caller preallocated, so the pass cannot fail. Run once
    /// per piece of the range (a stretch outside regions, or one region's part), see <see cref="Begin"/>.</summary>
    internal struct CommitOps<TChange> : IPageWalkOps where TChange : struct, IRangeChange
    {
        public MmStruct Mm;
        public MmuGatherCore Gather;
        public TChange Change;
        private bool _anonymous;
        private TablePool _pool;
        // The table the walk is in, by level: whose lock guards the entry at hand.
        private WalkTables _tables;

        /// <summary>Hands the pool over before the walk of one piece, and says whether the piece is part of an
        /// anonymous region.</summary>
        public void Begin(in TablePool pool, bool anonymous)
        {
            _pool = pool;
            _anonymous = anonymous;
            _tables[Mm.RootLevel] = Mm.RootPa;
        }

        /// <summary>The pool after the walk.</summary>
        public readonly TablePool Pool => _pool;

        public static bool Mutates => true;

        public WalkAction Entry(int level, ulong* entry, ulong address, ulong next)
        {
            ulong value = Volatile.Read(ref *entry);
            if (value == 0) return WalkAction.Continue; // an unpopulated part of an anonymous region
            bool whole = next - address == Paging.LevelSize(level);
            if (!PageTableEntry.IsLeaf(value, level))
            {
                if (whole)
                {
                    WalkAction action = Change.WholeTable(Mm, Gather, entry, _tables[level], level, address, next, _anonymous);
                    if (action != WalkAction.Descend) return action;
                }
                _tables[level - 1] = PageTableEntry.TableAddress(value);
                return WalkAction.Descend;
            }
            PageTableLock ptl = PageTableLocking.HugePteLock(Mm, level, _tables[level]);
            if (whole)
            {
                Change.Leaf(Mm, Gather, entry, level, address, next, _anonymous);
                ptl.Unlock();
                if (_anonymous) Gather.FlushIfFull();
                return WalkAction.Continue;
            }
            ulong table = _pool.Take(level - 1);
            SplitLeaf(Mm, entry, level, address, table, Gather, _anonymous);
            ptl.Unlock();
            _tables[level - 1] = table << Paging.PageShift;
            return WalkAction.Descend;
        }

        public WalkAction PteRange(ulong* ptes, ulong address, ulong end)
        {
            PageTableLock ptl = PageTableLocking.PteLockptr(Mm, _tables[Paging.PteLevel]);
            ptl.Lock();
            Change.PteRange(Mm, Gather, ptes, address, end, _anonymous);
            ptl.Unlock();
            Gather.FlushIfFull();
            return WalkAction.Continue;
        }

        public WalkAction AfterTable(int level, ulong* entry, ulong address, ulong next)
        {
            Change.AfterTable(Mm, Gather, entry, _tables[level], level);
            return WalkAction.Continue;
        }
    }

    /// <summary>Unmap: leaves are cleared, whole subtrees detached in one store, tables that became empty freed
    /// after the flush. In an anonymous region the frames of the leaves go too (after the flush), except the shared
    /// zero page. A PTE range may hold unmapped pages (an anonymous region's, or a discard's): only
    /// the present ones are counted.</summary>
    internal struct Unmap : IRangeChange
    {
        public void Leaf(MmStruct mm, MmuGatherCore gather, ulong* entry, int level, ulong address, ulong next, bool anonymous)
        {
            ulong value = Interlocked.Exchange(ref *entry, 0);
            Interlocked.Decrement(ref mm.Leaves[level]);
            gather.AddRange(address, next);
            if (anonymous) gather.RemoveAnonymousFrame(value, level);
        }

        public WalkAction WholeTable(MmStruct mm, MmuGatherCore gather, ulong* entry, ulong tablePa, int level, ulong address, ulong next, bool anonymous)
        {
            // The range covers everything below this entry (so no fault can be running there: the regions in it are
            // write-locked): detach the subtree in one store under the entry's lock and free it after the flush,
            // without clearing its entries one by one.
            PageTableLock ptl = PageTableLocking.LockOfTable(mm, tablePa, level);
            ptl.Lock();
            ulong value = Volatile.Read(ref *entry);
            Volatile.Write(ref *entry, 0);
            ptl.Unlock();
            gather.AddRange(address, next);
            gather.RemoveSubtree(PageTableEntry.TableAddress(value), level - 1, address, next, freeFrames: anonymous);
            gather.FlushIfFull();
            return WalkAction.Continue;
        }

        public void PteRange(MmStruct mm, MmuGatherCore gather, ulong* ptes, ulong address, ulong end, bool anonymous)
        {
            int count = (int)((end - address) >> Paging.PageShift);
            var span = new Span<ulong>(ptes, count);
            int present = count - span.Count(0UL);
            if (anonymous)
                foreach (ulong value in span)
                    if (value != 0) gather.RemoveAnonymousFrame(value, Paging.PteLevel);
            span.Clear();
            Interlocked.Add(ref mm.Leaves[1], -present);
            gather.AddRange(address, end);
        }

        public void AfterTable(MmStruct mm, MmuGatherCore gather, ulong* entry, ulong tablePa, int level)
        {
            // Free the table below if it became empty. A fault in a region sharing it may be installing into it, so
            // the emptiness check and the clear happen under both the entry's lock and the table's own (the kernel's
            // order: the upper lock first, e.g. pmd_lock then the PTE lock); the fault re-checks the entry it came
            // through under the table's lock and walks again.
            ulong childPa = PageTableEntry.TableAddress(*entry);
            PageTableLock outer = PageTableLocking.LockOfTable(mm, tablePa, level);
            PageTableLock inner = PageTableLocking.LockOfTable(mm, childPa, level - 1);
            bool same = inner.IsSameAs(outer);
            outer.Lock();
            if (!same) inner.Lock();
            ulong* table = mm.Memory.Physical.TableForRead(childPa);
            bool empty = new ReadOnlySpan<ulong>(table, Paging.EntriesPerTable).IndexOfAnyExcept(0UL) < 0;
            if (empty) Volatile.Write(ref *entry, 0);
            if (!same) inner.Unlock();
            outer.Unlock();
            if (empty)
            {
                gather.RemoveTable(childPa, level - 1);
                gather.FlushIfFull();
            }
        }
    }

    /// <summary>Protect: each leaf gets the new rights; only taking rights away is flushed. The shared zero page
    /// stays read-only whatever the rights: a write must fault and copy it.</summary>
    internal struct Protect : IRangeChange
    {
        public Protection Protection;

        public void Leaf(MmStruct mm, MmuGatherCore gather, ulong* entry, int level, ulong address, ulong next, bool anonymous) =>
            Update(mm, gather, entry, level, address, next, anonymous);

        public WalkAction WholeTable(MmStruct mm, MmuGatherCore gather, ulong* entry, ulong tablePa, int level, ulong address, ulong next, bool anonymous) =>
            WalkAction.Descend;

        public void PteRange(MmStruct mm, MmuGatherCore gather, ulong* ptes, ulong address, ulong end, bool anonymous)
        {
            for (ulong a = address; a != end; a += Paging.PageSize, ptes++)
                if (*ptes != 0) Update(mm, gather, ptes, Paging.PteLevel, a, a + Paging.PageSize, anonymous);
        }

        public void AfterTable(MmStruct mm, MmuGatherCore gather, ulong* entry, ulong tablePa, int level)
        {
        }

        private void Update(MmStruct mm, MmuGatherCore gather, ulong* entry, int level, ulong address, ulong next, bool anonymous)
        {
            while (true)
            {
                ulong before = Volatile.Read(ref *entry);
                ulong after = PageTableEntry.WithProtection(before, Protection, level);
                if (anonymous && PageTableEntry.LeafAddress(before, level) >> Paging.PageShift == mm.Memory.ZeroPfn)
                    after &= ~PageTableEntry.Writable;
                if (after == before) return;
                if (Interlocked.CompareExchange(ref *entry, after, before) != before) continue; // A/D raced: redo
                // Granting rights needs no flush: a stale cached entry only sends the access to the slow path,
                // which re-walks. Taking rights away must be flushed.
                if (PageTableEntry.IsDowngrade(before, after)) gather.AddRange(address, next);
                return;
            }
        }
    }
}
