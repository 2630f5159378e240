using System;
using System.Diagnostics.CodeAnalysis;
using System.Threading;
using FastPt.Diagnostics;
using FastPt.Geometry;
using FastPt.Hardware;
using FastPt.Internals;
using FastPt.Mm;

namespace FastPt.Hotplug;

/// <summary><c>remove_pagetable</c> as callbacks on the generic walker: PUD → PMD → PTE over a kernel range, with
/// <see cref="Direct"/> set for the linear map (leaves are cleared, their memory is not freed: it is the memory being
/// removed) and clear for the vmemmap (the backing is freed: to the buddy allocator, to the pool of boot memory, or
/// back to its altmap). Large vmemmap leaves are never split: the removed part of a partly covered page or block is
/// marked 0xFD and the leaf goes only when <c>memchr_inv</c> finds all of it marked. Tables that become empty are
/// freed, except those directly under the PGD (their entries are copied into every address space, as in the
/// kernel). Everything freed goes through the gather: cleared, flushed, then freed.</summary>
internal unsafe struct RemovePagetableOps : IPageWalkOps
{
    public MemoryManager Memory;
    public Vmemmap Vmemmap;
    public MmuGatherCore Gather;
    public Altmap? Altmap;
    public bool Direct;
    public ulong[] SplitPool;
    public int SplitPoolUsed;
    public long FramesFreed;

    // Counter changes are summed here and applied once by Commit: one atomic add per walk, not per leaf.
    private long _directMap4K, _directMap2M, _directMap1G;

    public static bool Mutates => true;

    public WalkAction Entry(int level, ulong* entry, ulong address, ulong next)
    {
        ulong value = *entry;
        if (value == 0) return WalkAction.Continue;
        if (!PageTableEntry.IsLeaf(value, level)) return WalkAction.Descend;
        ulong size = Paging.LevelSize(level);
        if (next - address == size)
        {
            ClearLeaf(entry, level, address, next, value);
            return WalkAction.Continue;
        }
        if (Direct)
        {
            // A partly removed huge leaf of the linear map: the rest of it stays mapped, the removed part must
            // fault, so split it (as change_page_attr does) and clear the removed part below.
            if (SplitPoolUsed == SplitPool.Length) ThrowHelper.ThrowInvariant("direct-map split pool exhausted");
            RangeChangeOperation.SplitLeaf(Memory.InitMm, entry, level, address, SplitPool[SplitPoolUsed++], Gather);
            DirectMapCounter(level)--;
            DirectMapCounter(level - 1) += Paging.EntriesPerTable;
            return WalkAction.Descend;
        }
        ulong leafPa = PageTableEntry.LeafAddress(value, level);
        if (Vmemmap.UnusePartial(address, next, size, leafPa))
        {
            Vmemmap.PartialBlocksFreed++;
            ClearLeaf(entry, level, Paging.AlignDown(address, size), Paging.AlignDown(address, size) + size, value);
        }
        return WalkAction.Continue;
    }

    public WalkAction PteRange(ulong* ptes, ulong address, ulong end)
    {
        for (ulong a = address; a < end; ptes++)
        {
            ulong pageStart = a & Paging.PageMask;
            ulong next = Math.Min(pageStart + Paging.PageSize, end);
            ulong value = *ptes;
            if (value != 0)
            {
                if (a == pageStart && next == pageStart + Paging.PageSize)
                {
                    ClearLeaf(ptes, Paging.PteLevel, a, next, value);
                }
                else if (!Direct && Vmemmap.UnusePartial(a, next, Paging.PageSize, PageTableEntry.LeafAddress(value, 1)))
                {
                    Vmemmap.PartialBlocksFreed++;
                    ClearLeaf(ptes, Paging.PteLevel, pageStart, pageStart + Paging.PageSize, value);
                }
            }
            a = next;
        }
        return WalkAction.Continue;
    }

    public WalkAction AfterTable(int level, ulong* entry, ulong address, ulong next)
    {
        // Tables hanging directly off the PGD stay (no free_p4d_table; PUD tables only go with 5-level paging).
        if (level == Memory.InitMm.RootLevel) return WalkAction.Continue;
        ulong tablePa = PageTableEntry.TableAddress(*entry);
        ulong* table = Memory.Physical.TableForRead(tablePa);
        if (new ReadOnlySpan<ulong>(table, Paging.EntriesPerTable).IndexOfAnyExcept(0UL) >= 0) return WalkAction.Continue;
        Volatile.Write(ref *entry, 0);
        Gather.RemoveTable(tablePa, level - 1);
        Gather.FlushIfFull(); // kernel tables: no page-table lock is held here
        return WalkAction.Continue;
    }

    private void ClearLeaf(ulong* entry, int level, ulong start, ulong end, ulong value)
    {
        Volatile.Write(ref *entry, 0);
        Memory.InitMm.Leaves[level]--;
        Gather.AddRange(start, end);
        if (Direct)
        {
            DirectMapCounter(level)--;
            return;
        }
        ulong pfn = PageTableEntry.LeafAddress(value, level) >> Paging.PageShift;
        int order = (Paging.LevelShift(level) - Paging.PageShift);
        ulong pages = 1UL << order;
        if (Altmap is not null && Altmap.Contains(pfn)) Altmap.Release(pages); // vmem_altmap_free
        else
        {
            Gather.RemovePages(pfn, order); // buddy, or free_reserved_page for boot memmap, after the flush
            Gather.FlushIfFull();
        }
        FramesFreed += (long)pages;
        FastPtEventSource.Log.VmemmapFree(start, end - start, Altmap is not null && Altmap.Contains(pfn));
    }

    [UnscopedRef]
    private ref long DirectMapCounter(int level)
    {
        if (level == 1) return ref _directMap4K;
        if (level == 2) return ref _directMap2M;
        return ref _directMap1G;
    }

    /// <summary>Applies the counter changes of the walk.</summary>
    public readonly void Commit()
    {
        Vmstat s = Memory.Stat;
        if (_directMap4K != 0) Vmstat.Add(ref s.DirectMap4K, _directMap4K);
        if (_directMap2M != 0) Vmstat.Add(ref s.DirectMap2M, _directMap2M);
        if (_directMap1G != 0) Vmstat.Add(ref s.DirectMap1G, _directMap1G);
        if (FramesFreed != 0) Vmstat.Add(ref s.MemmapFrames, -FramesFreed);
    }
}
