using System;
using System.Threading;
using FastPt.Geometry;
using FastPt.Hardware;

namespace FastPt.Mm;

/// <summary>Unmap and protect: both split a huge leaf the range covers only in part, so they share the check pass
/// (which also counts, by level, the tables splits will need). Outside anonymous regions every page of the range
/// must be mapped; inside one, holes are pages not faulted in yet. Every entry is changed under the lock of its
/// table, because faults in regions that share a table with the range run meanwhile.</summary>
internal static unsafe class RangeChangeOperation
{
    /// <summary>Check pass: every page mapped (unless <see cref="AllowHoles"/>); counts the tables the splits at the
    /// edges need.</summary>
    internal struct CheckOps : IPageWalkOps
    {
        public TableDemand SplitTables;
        public PagingResult Failure;

        /// <summary>The range is (part of) an anonymous region: unpopulated pages are not an error.</summary>
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

    /// <summary>A commit pass that takes the tables for its splits from a preallocated pool.</summary>
    internal interface IChangeOps : IPageWalkOps
    {
        /// <summary>Hands the pool over before the walk of one piece, says where the walk starts and whether the
        /// piece is part of an anonymous region.</summary>
        void Begin(in TablePool pool, MmStruct mm, bool anonymous);

        /// <summary>The pool after the walk.</summary>
        TablePool Pool { get; }
    }

    /// <summary>Commit pass of unmap. In an anonymous region the frames of the leaves go too (after the flush),
    /// except the shared zero page.</summary>
    internal struct UnmapOps : IChangeOps
    {
        public MmStruct Mm;
        public MmuGatherCore Gather;
        private bool _anonymous;
        private TablePool _pool;
        private WalkTables _tables;

        public void Begin(in TablePool pool, MmStruct mm, bool anonymous)
        {
            _pool = pool;
            _anonymous = anonymous;
            _tables[mm.RootLevel] = mm.RootPa;
        }

        public readonly TablePool Pool => _pool;

        public static bool Mutates => true;

        public WalkAction Entry(int level, ulong* entry, ulong address, ulong next)
        {
            ulong value = Volatile.Read(ref *entry);
            if (value == 0) return WalkAction.Continue; // an unpopulated part of an anonymous region
            bool whole = next - address == Paging.LevelSize(level);
            if (PageTableEntry.IsLeaf(value, level))
            {
                PageTableLock ptl = PageTableLocking.HugePteLock(Mm, level, _tables[level]);
                if (whole)
                {
                    value = Interlocked.Exchange(ref *entry, 0);
                    ptl.Unlock();
                    Interlocked.Decrement(ref Mm.Leaves[level]);
                    Gather.AddRange(address, next);
                    if (_anonymous)
                    {
                        Gather.RemoveAnonymousFrame(value, level);
                        Gather.FlushIfFull();
                    }
                    return WalkAction.Continue;
                }
                ulong table = _pool.Take(level - 1);
                SplitLeaf(Mm, entry, level, address, table, Gather, _anonymous);
                ptl.Unlock();
                _tables[level - 1] = table << Paging.PageShift;
                return WalkAction.Descend;
            }
            ulong child = PageTableEntry.TableAddress(value);
            if (whole)
            {
                // The range covers everything below this entry (so no fault can be running there: the regions
                // in it are write-locked): detach the subtree in one store and free it after the flush, without
                // clearing its entries one by one.
                PageTableLock ptl = PageTableLocking.LockOfTable(Mm, _tables[level], level);
                ptl.Lock();
                Volatile.Write(ref *entry, 0);
                ptl.Unlock();
                Gather.AddRange(address, next);
                Gather.RemoveSubtree(child, level - 1, countLeaves: true, freeFrames: _anonymous);
                Gather.FlushIfFull();
                return WalkAction.Continue;
            }
            _tables[level - 1] = child;
            return WalkAction.Descend;
        }

        public WalkAction PteRange(ulong* ptes, ulong address, ulong end)
        {
            int count = (int)((end - address) >> Paging.PageShift);
            int present = 0;
            PageTableLock ptl = PageTableLocking.PteLockptr(Mm, _tables[Paging.PteLevel]);
            ptl.Lock();
            for (int i = 0; i < count; i++)
            {
                ulong value = ptes[i];
                if (value == 0) continue;
                present++;
                if (_anonymous) Gather.RemoveAnonymousFrame(value, Paging.PteLevel);
            }
            new Span<ulong>(ptes, count).Clear();
            ptl.Unlock();
            Interlocked.Add(ref Mm.Leaves[1], -present);
            Gather.AddRange(address, end);
            Gather.FlushIfFull();
            return WalkAction.Continue;
        }

        public WalkAction AfterTable(int level, ulong* entry, ulong address, ulong next)
        {
            // Free the table below if it became empty. A fault in a region sharing it may be installing into it, so
            // the emptiness check and the clear happen under both the entry's lock and the table's own (the kernel's
            // order: the upper lock first, e.g. pmd_lock then the PTE lock); the fault re-checks the entry it came
            // through under the table's lock and walks again.
            ulong tablePa = PageTableEntry.TableAddress(*entry);
            PageTableLock outer = PageTableLocking.LockOfTable(Mm, _tables[level], level);
            PageTableLock inner = PageTableLocking.LockOfTable(Mm, tablePa, level - 1);
            bool same = inner.IsSameAs(outer);
            outer.Lock();
            if (!same) inner.Lock();
            ulong* table = Mm.Memory.Physical.TableForRead(tablePa);
            bool empty = new ReadOnlySpan<ulong>(table, Paging.EntriesPerTable).IndexOfAnyExcept(0UL) < 0;
            if (empty) Volatile.Write(ref *entry, 0);
            if (!same) inner.Unlock();
            outer.Unlock();
            if (empty)
            {
                Gather.RemoveTable(tablePa, level - 1);
                Gather.FlushIfFull();
            }
            return WalkAction.Continue;
        }
    }

    /// <summary>Commit pass of protect. The shared zero page stays read-only whatever the rights: a write must
    /// fault and copy it.</summary>
    internal struct ProtectOps : IChangeOps
    {
        public MmStruct Mm;
        public MmuGatherCore Gather;
        public Protection Protection;
        private bool _anonymous;
        private TablePool _pool;
        private WalkTables _tables;

        public void Begin(in TablePool pool, MmStruct mm, bool anonymous)
        {
            _pool = pool;
            _anonymous = anonymous;
            _tables[mm.RootLevel] = mm.RootPa;
        }

        public readonly TablePool Pool => _pool;

        public static bool Mutates => true;

        public WalkAction Entry(int level, ulong* entry, ulong address, ulong next)
        {
            ulong value = Volatile.Read(ref *entry);
            if (value == 0) return WalkAction.Continue; // an unpopulated part of an anonymous region
            if (!PageTableEntry.IsLeaf(value, level))
            {
                _tables[level - 1] = PageTableEntry.TableAddress(value);
                return WalkAction.Descend;
            }
            PageTableLock ptl = PageTableLocking.HugePteLock(Mm, level, _tables[level]);
            if (next - address != Paging.LevelSize(level))
            {
                ulong table = _pool.Take(level - 1);
                SplitLeaf(Mm, entry, level, address, table, Gather, _anonymous);
                ptl.Unlock();
                _tables[level - 1] = table << Paging.PageShift;
                return WalkAction.Descend;
            }
            Update(entry, level, address, next);
            ptl.Unlock();
            return WalkAction.Continue;
        }

        public WalkAction PteRange(ulong* ptes, ulong address, ulong end)
        {
            PageTableLock ptl = PageTableLocking.PteLockptr(Mm, _tables[Paging.PteLevel]);
            ptl.Lock();
            for (ulong a = address; a != end; a += Paging.PageSize, ptes++)
                if (*ptes != 0) Update(ptes, Paging.PteLevel, a, a + Paging.PageSize);
            ptl.Unlock();
            return WalkAction.Continue;
        }

        public WalkAction AfterTable(int level, ulong* entry, ulong address, ulong next) => WalkAction.Continue;

        private void Update(ulong* entry, int level, ulong address, ulong next)
        {
            while (true)
            {
                ulong before = Volatile.Read(ref *entry);
                ulong after = PageTableEntry.WithProtection(before, Protection, level);
                if (_anonymous && PageTableEntry.LeafAddress(before, level) >> Paging.PageShift == Mm.Memory.ZeroPfn)
                    after &= ~PageTableEntry.Writable;
                if (after == before) return;
                if (Interlocked.CompareExchange(ref *entry, after, before) != before) continue; // A/D raced: redo
                // Granting rights needs no flush: a stale cached entry only sends the access to the slow path,
                // which re-walks. Taking rights away must be flushed.
                if (PageTableEntry.IsDowngrade(before, after)) Gather.AddRange(address, next);
                return;
            }
        }
    }
}
