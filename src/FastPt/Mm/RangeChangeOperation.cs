using System;
using System.Threading;
using FastPt.Geometry;
using FastPt.Hardware;

namespace FastPt.Mm;

/// <summary>Unmap and protect: both require every page of the range to be mapped (discard, an unmap with munmap's
/// semantics, skips holes), both split a huge leaf the range covers only in part, so they share the check pass (which also counts the tables splits will need) and the
/// commit pass with its pool of split tables; each supplies only what it does to the pages (<see cref="Unmap"/>,
/// <see cref="Protect"/>).</summary>
internal static unsafe class RangeChangeOperation
{
    /// <summary>Check pass: every page mapped; counts the tables the splits at the edges need.</summary>
    internal struct CheckOps : IPageWalkOps
    {
        /// <summary>Tables the splits need, all levels; <see cref="PteSplitTables"/> of them PTE tables.</summary>
        public long SplitTables;
        public long PteSplitTables;
        public PagingResult Failure;

        /// <summary>Holes are no failure (discard).</summary>
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
                if (next - address != Paging.LevelSize(level)) SplitTables += TablesToSplit(level, address, next, ref PteSplitTables);
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

    /// <summary>Tables needed to split a leaf at <paramref name="level"/> of which only [address, next) is touched:
    /// one table below it, plus the splits of the (at most two) children the range cuts in part;
    /// <paramref name="pteTables"/> grows by the PTE tables among them.</summary>
    public static long TablesToSplit(int level, ulong address, ulong next, ref long pteTables)
    {
        int child = level - 1;
        long count = 1;
        if (child == Paging.PteLevel)
        {
            pteTables++;
            return count;
        }
        for (ulong a = address; a != next;)
        {
            ulong n = Paging.AddrEnd(child, a, next);
            if (n - a != Paging.LevelSize(child)) count += TablesToSplit(child, a, n, ref pteTables);
            a = n;
        }
        return count;
    }

    /// <summary>Replaces the leaf in <paramref name="entry"/> by a table of leaves one level down that translate
    /// every address exactly as before (the x86 CPA way: fill the new table, swap the entry atomically, flush), so
    /// a concurrent translation sees either the old leaf or the equivalent table, never a hole.</summary>
    public static void SplitLeaf(MmStruct mm, ulong* entry, int level, ulong address, ulong tablePfn, MmuGatherCore gather)
    {
        mm.Memory.PageTables.Construct(tablePfn, level - 1, mm.Id, mm.IsKernel);
        SplitLeafInto(mm, entry, level, address, tablePfn, gather);
    }

    /// <summary><see cref="SplitLeaf"/> into a table already constructed (taken from a <see cref="TableReservation"/>).</summary>
    public static void SplitLeafInto(MmStruct mm, ulong* entry, int level, ulong address, ulong tablePfn, MmuGatherCore gather)
    {
        int child = level - 1;
        ulong* table = mm.Memory.Physical.TableForWrite(tablePfn << Paging.PageShift);
        ulong tableEntry = (tablePfn << Paging.PageShift) | mm.TableBits;
        while (true)
        {
            ulong leaf = Volatile.Read(ref *entry);
            ulong frame = PageTableEntry.LeafAddress(leaf, level);
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
        mm.Tables[child]++;
        mm.Leaves[level]--;
        mm.Leaves[child] += Paging.EntriesPerTable;
        ulong start = Paging.AlignDown(address, Paging.LevelSize(level));
        gather.AddRange(start, start + Paging.LevelSize(level));
        Diagnostics.FastPtEventSource.Log.TableSplit(mm.Id, level, start);
    }

    /// <summary>What unmap and protect do to the pages of the range; the commit pass around it (<see
    /// cref="CommitOps{TChange}"/>) splits the huge leaves the range cuts, from the reserved tables.</summary>
    internal interface IRangeChange
    {
        /// <summary>A leaf wholly inside the range.</summary>
        void Leaf(MmStruct mm, MmuGatherCore gather, ulong* entry, int level, ulong address, ulong next);

        /// <summary>A table entry whose whole range is inside the range: handle it here, or descend.</summary>
        WalkAction WholeTable(MmStruct mm, MmuGatherCore gather, ulong* entry, int level, ulong address, ulong next);

        /// <summary>The PTEs of [<paramref name="address"/>, <paramref name="end"/>) of one table.</summary>
        void PteRange(MmStruct mm, MmuGatherCore gather, ulong* ptes, ulong address, ulong end);

        /// <summary>After the walker came back from the table below <paramref name="entry"/>.</summary>
        void AfterTable(MmStruct mm, MmuGatherCore gather, ulong* entry, int level);
    }

    /// <summary>The commit pass of unmap and protect: a huge leaf the range covers only in part is split first, with
    /// a table from the reservation the check pass counted and the caller made, so the pass cannot fail.</summary>
    internal struct CommitOps<TChange> : IPageWalkOps where TChange : struct, IRangeChange
    {
        public MmStruct Mm;
        public MmuGatherCore Gather;
        public TChange Change;
        public TableReservation Tables;

        public static bool Mutates => true;

        public WalkAction Entry(int level, ulong* entry, ulong address, ulong next)
        {
            if (*entry == 0) return WalkAction.Continue; // a hole: only a discard's check lets one through
            bool whole = next - address == Paging.LevelSize(level);
            if (!PageTableEntry.IsLeaf(*entry, level))
                return whole ? Change.WholeTable(Mm, Gather, entry, level, address, next) : WalkAction.Descend;
            if (whole)
            {
                Change.Leaf(Mm, Gather, entry, level, address, next);
                return WalkAction.Continue;
            }
            SplitLeafInto(Mm, entry, level, address, Tables.Take(level - 1), Gather);
            return WalkAction.Descend;
        }

        public WalkAction PteRange(ulong* ptes, ulong address, ulong end)
        {
            Change.PteRange(Mm, Gather, ptes, address, end);
            return WalkAction.Continue;
        }

        public WalkAction AfterTable(int level, ulong* entry, ulong address, ulong next)
        {
            Change.AfterTable(Mm, Gather, entry, level);
            return WalkAction.Continue;
        }
    }

    /// <summary>Unmap: leaves are cleared, whole subtrees detached in one store, tables that became empty freed
    /// after the flush. With <see cref="Holes"/> (discard) a PTE range may hold unmapped pages.</summary>
    internal struct Unmap : IRangeChange
    {
        /// <summary>The range may hold holes: count only the leaves, flush only where there were any.</summary>
        public bool Holes;

        public void Leaf(MmStruct mm, MmuGatherCore gather, ulong* entry, int level, ulong address, ulong next)
        {
            Volatile.Write(ref *entry, 0);
            mm.Leaves[level]--;
            gather.AddRange(address, next);
        }

        public WalkAction WholeTable(MmStruct mm, MmuGatherCore gather, ulong* entry, int level, ulong address, ulong next)
        {
            // The range covers everything below this entry: detach the subtree in one store and free it after the
            // flush, without clearing its entries one by one.
            ulong value = *entry;
            Volatile.Write(ref *entry, 0);
            gather.AddRange(address, next);
            gather.RemoveSubtree(PageTableEntry.TableAddress(value), level - 1, address, next);
            return WalkAction.Continue;
        }

        public void PteRange(MmStruct mm, MmuGatherCore gather, ulong* ptes, ulong address, ulong end)
        {
            int count = (int)((end - address) >> Paging.PageShift);
            var span = new Span<ulong>(ptes, count);
            int leaves = Holes ? count - span.Count(0UL) : count;
            if (leaves == 0) return;
            span.Clear();
            mm.Leaves[1] -= leaves;
            gather.AddRange(address, end);
        }

        public void AfterTable(MmStruct mm, MmuGatherCore gather, ulong* entry, int level)
        {
            ulong tablePa = PageTableEntry.TableAddress(*entry);
            ulong* table = mm.Memory.Physical.TableForRead(tablePa);
            if (new ReadOnlySpan<ulong>(table, Paging.EntriesPerTable).IndexOfAnyExcept(0UL) >= 0) return;
            Volatile.Write(ref *entry, 0);
            gather.RemoveTable(tablePa, level - 1);
        }
    }

    /// <summary>Protect: each leaf gets the new rights; only taking rights away is flushed.</summary>
    internal struct Protect : IRangeChange
    {
        public Protection Protection;

        public void Leaf(MmStruct mm, MmuGatherCore gather, ulong* entry, int level, ulong address, ulong next) =>
            Update(gather, entry, level, address, next);

        public WalkAction WholeTable(MmStruct mm, MmuGatherCore gather, ulong* entry, int level, ulong address, ulong next) =>
            WalkAction.Descend;

        public void PteRange(MmStruct mm, MmuGatherCore gather, ulong* ptes, ulong address, ulong end)
        {
            for (ulong a = address; a != end; a += Paging.PageSize, ptes++) Update(gather, ptes, Paging.PteLevel, a, a + Paging.PageSize);
        }

        public void AfterTable(MmStruct mm, MmuGatherCore gather, ulong* entry, int level)
        {
        }

        private void Update(MmuGatherCore gather, ulong* entry, int level, ulong address, ulong next)
        {
            while (true)
            {
                ulong before = Volatile.Read(ref *entry);
                ulong after = PageTableEntry.WithProtection(before, Protection, level);
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
