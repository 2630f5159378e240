using System;
using System.Threading;
using FastPt.Geometry;
using FastPt.Hardware;

namespace FastPt.Mm;

/// <summary>Unmap and protect: both require every page of the range to be mapped, both split a huge leaf the
/// range covers only in part, so they share the check pass (which also counts the tables splits will need).</summary>
internal static unsafe class RangeChangeOperation
{
    /// <summary>Check pass: every page mapped; counts the tables the splits at the edges need.</summary>
    internal struct CheckOps : IPageWalkOps
    {
        /// <summary>Tables the splits need, all levels; <see cref="PteSplitTables"/> of them PTE tables.</summary>
        public long SplitTables;
        public long PteSplitTables;
        public PagingResult Failure;

        public static bool Mutates => false;

        public WalkAction Entry(int level, ulong* entry, ulong address, ulong next)
        {
            ulong value = *entry;
            if (value == 0)
            {
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

    /// <summary>A commit pass that takes the tables for its splits from a reservation.</summary>
    internal interface ISplitPool : IPageWalkOps
    {
        /// <summary>Hands the reservation over before the walk.</summary>
        void SetTables(TableReservation tables);
    }

    /// <summary>Commit pass of unmap.</summary>
    internal struct UnmapOps : ISplitPool
    {
        public MmStruct Mm;
        public MmuGatherCore Gather;
        public TableReservation Tables;

        public void SetTables(TableReservation tables) => Tables = tables;

        public static bool Mutates => true;

        public WalkAction Entry(int level, ulong* entry, ulong address, ulong next)
        {
            ulong value = *entry;
            bool whole = next - address == Paging.LevelSize(level);
            if (PageTableEntry.IsLeaf(value, level))
            {
                if (whole)
                {
                    Volatile.Write(ref *entry, 0);
                    Mm.Leaves[level]--;
                    Gather.AddRange(address, next);
                    return WalkAction.Continue;
                }
                SplitLeafInto(Mm, entry, level, address, Tables.Take(level - 1), Gather);
                return WalkAction.Descend;
            }
            if (whole)
            {
                // The range covers everything below this entry: detach the subtree in one store and free it
                // after the flush, without clearing its entries one by one.
                Volatile.Write(ref *entry, 0);
                Gather.AddRange(address, next);
                Gather.RemoveSubtree(PageTableEntry.TableAddress(value), level - 1, countLeaves: true);
                return WalkAction.Continue;
            }
            return WalkAction.Descend;
        }

        public WalkAction PteRange(ulong* ptes, ulong address, ulong end)
        {
            int count = (int)((end - address) >> Paging.PageShift);
            new Span<ulong>(ptes, count).Clear();
            Mm.Leaves[1] -= count;
            Gather.AddRange(address, end);
            return WalkAction.Continue;
        }

        public WalkAction AfterTable(int level, ulong* entry, ulong address, ulong next)
        {
            ulong value = *entry;
            ulong tablePa = PageTableEntry.TableAddress(value);
            ulong* table = Mm.Memory.Physical.TableForRead(tablePa);
            if (new ReadOnlySpan<ulong>(table, Paging.EntriesPerTable).IndexOfAnyExcept(0UL) >= 0) return WalkAction.Continue;
            Volatile.Write(ref *entry, 0);
            Gather.RemoveTable(tablePa, level - 1);
            return WalkAction.Continue;
        }
    }

    /// <summary>Commit pass of protect.</summary>
    internal struct ProtectOps : ISplitPool
    {
        public MmStruct Mm;
        public MmuGatherCore Gather;
        public Protection Protection;
        public TableReservation Tables;

        public void SetTables(TableReservation tables) => Tables = tables;

        public static bool Mutates => true;

        public WalkAction Entry(int level, ulong* entry, ulong address, ulong next)
        {
            ulong value = *entry;
            if (!PageTableEntry.IsLeaf(value, level)) return WalkAction.Descend;
            if (next - address != Paging.LevelSize(level))
            {
                SplitLeafInto(Mm, entry, level, address, Tables.Take(level - 1), Gather);
                return WalkAction.Descend;
            }
            Update(entry, level, address, next);
            return WalkAction.Continue;
        }

        public WalkAction PteRange(ulong* ptes, ulong address, ulong end)
        {
            for (ulong a = address; a != end; a += Paging.PageSize, ptes++) Update(ptes, Paging.PteLevel, a, a + Paging.PageSize);
            return WalkAction.Continue;
        }

        public WalkAction AfterTable(int level, ulong* entry, ulong address, ulong next) => WalkAction.Continue;

        private void Update(ulong* entry, int level, ulong address, ulong next)
        {
            while (true)
            {
                ulong before = Volatile.Read(ref *entry);
                ulong after = PageTableEntry.WithProtection(before, Protection, level);
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
