using System.Runtime.CompilerServices;
using FastPt.Geometry;
using FastPt.Hardware;

namespace FastPt.Mm;

/// <summary>What a walk callback wants next.</summary>
internal enum WalkAction
{
    /// <summary>Go on with the next entry.</summary>
    Continue,

    /// <summary>Walk the table this entry points to (the callback may just have installed it).</summary>
    Descend,

    /// <summary>Stop the whole walk.</summary>
    Stop,
}

/// <summary>Per-level callbacks of the generic range walker (Linux <c>struct mm_walk_ops</c>). Implemented by
/// structs so that the JIT specialises the walker for each operation and inlines the callbacks.</summary>
internal unsafe interface IPageWalkOps
{
    /// <summary>True when the walk edits tables (it then needs host memory behind them); false for inspection,
    /// which must not back anything.</summary>
    static abstract bool Mutates { get; }

    /// <summary>One entry at <paramref name="level"/> (2 or more) covering [<paramref name="address"/>,
    /// <paramref name="next"/>).</summary>
    WalkAction Entry(int level, ulong* entry, ulong address, ulong next);

    /// <summary>The PTEs of one table covering [<paramref name="address"/>, <paramref name="end"/>);
    /// <paramref name="ptes"/> points at the first one. A whole run at once, so operations can fill or scan a
    /// table in one tight loop.</summary>
    WalkAction PteRange(ulong* ptes, ulong address, ulong end);

    /// <summary>Called after the walker came back from the table below <paramref name="entry"/> (for example to
    /// free it if it became empty).</summary>
    WalkAction AfterTable(int level, ulong* entry, ulong address, ulong next);
}

/// <summary>The one range walker every page-table operation is written on (Linux <c>mm/pagewalk.c</c>):
/// map, unmap, protect, dump and hot-remove are callbacks, not copies of a four-level loop.</summary>
internal static unsafe partial class PageWalk
{
    /// <summary>Walks [<paramref name="start"/>, <paramref name="end"/>) from the root table. Returns false when a
    /// callback stopped the walk.</summary>
    public static bool Walk<TOps>(PhysicalMemory memory, ulong rootPa, int rootLevel, ulong start, ulong end, ref TOps ops)
        where TOps : struct, IPageWalkOps
    {
        return WalkTable(memory, rootLevel, Table<TOps>(memory, rootPa), start, end, ref ops) != WalkAction.Stop;
    }

    /// <summary>Walks [<paramref name="start"/>, <paramref name="end"/>) of the table at <paramref name="tablePa"/>,
    /// which is at <paramref name="level"/>.</summary>
    public static bool WalkFrom<TOps>(PhysicalMemory memory, ulong tablePa, int level, ulong start, ulong end, ref TOps ops)
        where TOps : struct, IPageWalkOps
    {
        return WalkTable(memory, level, Table<TOps>(memory, tablePa), start, end, ref ops) != WalkAction.Stop;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong* Table<TOps>(PhysicalMemory memory, ulong pa) where TOps : struct, IPageWalkOps =>
        TOps.Mutates ? memory.TableForWrite(pa) : memory.TableForRead(pa);

    private static WalkAction WalkTable<TOps>(PhysicalMemory memory, int level, ulong* table, ulong address, ulong end, ref TOps ops)
        where TOps : struct, IPageWalkOps
    {
        if (level == Paging.PteLevel) return ops.PteRange(table + Paging.Index(1, address), address, end);
        ulong* entry = table + Paging.Index(level, address);
        do
        {
            ulong next = Paging.AddrEnd(level, address, end);
            WalkAction action = ops.Entry(level, entry, address, next);
            if (action == WalkAction.Descend)
            {
                ulong* child = Table<TOps>(memory, PageTableEntry.TableAddress(*entry));
                action = WalkTable(memory, level - 1, child, address, next, ref ops);
                if (action != WalkAction.Stop) action = ops.AfterTable(level, entry, address, next);
            }
            if (action == WalkAction.Stop) return WalkAction.Stop;
            address = next;
            entry++;
        }
        while (address != end);
        return WalkAction.Continue;
    }
}
