using System;
using System.Collections.Generic;
using System.Threading;
using FastPt.Geometry;
using FastPt.Hardware;
using FastPt.Lib;
using FastPt.Mm;

namespace FastPt.HugeTlb;

// The vmemmap walks of HVO, as callbacks on the generic walker (the kernel's vmemmap_remap_ops on
// walk_kernel_page_table_range): the split pass, the remap, its undo, and the restore.
internal sealed unsafe partial class HugetlbVmemmap
{
    /// <summary>An upper-level entry of the vmemmap walk must be a table: the vmemmap of a HugeTLB folio is always
    /// populated, and never mapped by a 1 GiB leaf.</summary>
    private static WalkAction DescendUpper(int level, ulong* entry, ulong address)
    {
        ulong value = *entry;
        if (!PageTableEntry.IsTable(value, level))
            throw new InvalidOperationException($"BUG: vmemmap walk at 0x{address:x} met level-{level} entry 0x{value:x}");
        return WalkAction.Descend;
    }

    /// <summary>The split pass: PMD leaves become PTE tables; nothing below is visited.</summary>
    private struct SplitOps : IPageWalkOps
    {
        public HugetlbVmemmap Owner;
        public bool FlushEachSplit;
        public List<SplitRecord> Splits;
        public HvoCounters Counters;
        public bool Failed;

        public static bool Mutates => true;

        public WalkAction Entry(int level, ulong* entry, ulong address, ulong next)
        {
            if (level > Paging.PmdLevel) return DescendUpper(level, entry, address);
            if (!PageTableEntry.IsLeaf(*entry, level)) return WalkAction.Continue;
            if (Owner.TrySplitPmd(entry, address, FlushEachSplit, Splits, Counters)) return WalkAction.Continue;
            Failed = true;
            return WalkAction.Stop;
        }

        public WalkAction PteRange(ulong* ptes, ulong address, ulong end) => WalkAction.Continue;

        public WalkAction AfterTable(int level, ulong* entry, ulong address, ulong next) => WalkAction.Continue;
    }

    /// <summary>Should-optimize's look at the head descriptor's mapping: the leaf that maps it and the PMD entry that
    /// the walk went through to it (null when a PMD leaf maps it). Reads only.</summary>
    private struct HeadLookupOps : IPageWalkOps
    {
        public ulong Leaf;
        public int Level;
        public ulong* Pmd;

        public static bool Mutates => false;

        public WalkAction Entry(int level, ulong* entry, ulong address, ulong next)
        {
            ulong value = Volatile.Read(ref *entry);
            if (PageTableEntry.IsTable(value, level))
            {
                if (level == Paging.PmdLevel) Pmd = entry;
                return WalkAction.Descend;
            }
            Leaf = value;
            Level = level;
            return WalkAction.Stop;
        }

        public WalkAction PteRange(ulong* ptes, ulong address, ulong end)
        {
            Leaf = Volatile.Read(ref *ptes);
            Level = Paging.PteLevel;
            return WalkAction.Stop;
        }

        public WalkAction AfterTable(int level, ulong* entry, ulong address, ulong next) => WalkAction.Continue;
    }

    /// <summary><c>vmemmap_remap_pte</c> over a folio's vmemmap: the first page (the head's) is copied into
    /// <see cref="NewHead"/> and mapped read-write onto it when there is one, every other page read-only onto
    /// <see cref="Tail"/>; the old pages are recorded in walk order. A PMD leaf still in the way is split on the spot (<see cref="SplitOnTheWay"/>,
    /// flushed by the caller); if that fails the walk stops and <see cref="Walked"/> says how far it got.</summary>
    private struct RemapOps : IPageWalkOps
    {
        public HugetlbVmemmap Owner;
        public PhysicalMemory Physical;
        public ulong Start;
        public ulong NewHead;
        public ulong Tail;
        public ulong[] OldPages;
        public List<SplitRecord> Splits;
        public HvoCounters Counters;
        public int Walked;
        public bool SplitOnTheWay;
        public bool Failed;

        public static bool Mutates => true;

        public WalkAction Entry(int level, ulong* entry, ulong address, ulong next)
        {
            if (level > Paging.PmdLevel) return DescendUpper(level, entry, address);
            if (!PageTableEntry.IsLeaf(*entry, level)) return WalkAction.Descend;
            // No flush here: the walk holds init_mm's mmap lock, and a synced flush must not wait for a CPU that may
            // be waiting for that lock; the caller flushes once the lock is dropped.
            if (!Owner.TrySplitPmd(entry, address, flush: false, Splits, Counters))
            {
                Failed = true;
                return WalkAction.Stop;
            }
            SplitOnTheWay = true;
            return WalkAction.Descend;
        }

        public WalkAction PteRange(ulong* ptes, ulong address, ulong end)
        {
            for (ulong a = address; a < end; a += Paging.PageSize, ptes++)
            {
                ulong value = *ptes;
                if (!PageTableEntry.IsPresent(value))
                    throw new InvalidOperationException($"BUG: vmemmap page 0x{a:x} of a HugeTLB folio is not mapped");
                ulong old = PageTableEntry.LeafAddress(value, Paging.PteLevel) >> Paging.PageShift;
                OldPages[Walked++] = old;
                if (a == Start)
                {
                    // The head's page: onto its copy (read-write), or it stays and the tails reuse it.
                    if (NewHead == NoPage)
                    {
                        if (Tail == NoPage) Tail = old;
                        continue;
                    }
                    // vmemmap_remap_free copies the head's page read from its PTE, as here. Release: the copy is
                    // visible before the PTE that maps it (smp_wmb; set_pte_at).
                    PageCopy.Copy(Physical.ReadPointer(old << Paging.PageShift), Physical.WritePointer(NewHead << Paging.PageShift));
                    Volatile.Write(ref *ptes, (NewHead << Paging.PageShift) | PageTableEntry.KernelData);
                    continue;
                }
                // Read-only, so an illegal write to a tail faults instead of corrupting every folio sharing the page.
                Volatile.Write(ref *ptes, (Tail << Paging.PageShift) | PageTableEntry.KernelReadOnly);
            }
            return WalkAction.Continue;
        }

        public WalkAction AfterTable(int level, ulong* entry, ulong address, ulong next) => WalkAction.Continue;
    }

    /// <summary>Undo of a remap that stopped half-way (the kernel's second <c>vmemmap_remap_range</c> with
    /// <c>vmemmap_restore_pte</c> over the walked part): every walked page maps its old page read-write again.</summary>
    private struct UndoRemapOps : IPageWalkOps
    {
        public ulong[] OldPages;
        private int _index;

        public static bool Mutates => true;

        public WalkAction Entry(int level, ulong* entry, ulong address, ulong next) =>
            PageTableEntry.IsTable(*entry, level) ? WalkAction.Descend
                : throw new InvalidOperationException($"BUG: remapped vmemmap at 0x{address:x} is not PTE-mapped");

        public WalkAction PteRange(ulong* ptes, ulong address, ulong end)
        {
            for (ulong a = address; a < end; a += Paging.PageSize, ptes++)
                Volatile.Write(ref *ptes, (OldPages[_index++] << Paging.PageShift) | PageTableEntry.KernelData);
            return WalkAction.Continue;
        }

        public WalkAction AfterTable(int level, ulong* entry, ulong address, ulong next) => WalkAction.Continue;
    }

    /// <summary><c>vmemmap_restore_pte</c>: each tail vmemmap page, which must map <see cref="Expected"/> read-only,
    /// gets one of the new pages, filled from <see cref="Expected"/> — in 6.x the head's page, whose first three
    /// descriptors (head, first and second tail) are then overwritten with plain tails
    /// (<c>reset_struct_pages</c>); with shared tails the page of tails itself — and mapped read-write.</summary>
    private struct RestoreOps : IPageWalkOps
    {
        private const int ResetDescriptors = 3;

        public MemoryManager Memory;
        public ulong Expected;
        public ulong[] NewPages;
        public bool ResetHead;
        private int _index;

        public static bool Mutates => true;

        public WalkAction Entry(int level, ulong* entry, ulong address, ulong next) =>
            PageTableEntry.IsTable(*entry, level) ? WalkAction.Descend
                : throw new InvalidOperationException($"BUG: optimized vmemmap at 0x{address:x} is not PTE-mapped");

        public WalkAction PteRange(ulong* ptes, ulong address, ulong end)
        {
            PhysicalMemory physical = Memory.Physical;
            byte* source = physical.ReadPointer(Expected << Paging.PageShift);
            for (ulong a = address; a < end; a += Paging.PageSize, ptes++)
            {
                ulong mapped = PageTableEntry.LeafAddress(*ptes, Paging.PteLevel) >> Paging.PageShift;
                if (mapped != Expected)
                    throw new InvalidOperationException($"BUG: optimized vmemmap page 0x{a:x} maps pfn 0x{mapped:x}, not 0x{Expected:x}");
                ulong page = NewPages[_index++];
                byte* to = physical.WritePointer(page << Paging.PageShift);
                PageCopy.Copy(source, to);
                if (ResetHead)
                {
                    var d = (PageDescriptor*)to;
                    for (int i = 0; i < ResetDescriptors; i++) d[i] = d[ResetDescriptors + i];
                }
                // Release: the filled page is visible before the PTE that maps it.
                Volatile.Write(ref *ptes, (page << Paging.PageShift) | PageTableEntry.KernelData);
            }
            return WalkAction.Continue;
        }

        public WalkAction AfterTable(int level, ulong* entry, ulong address, ulong next) => WalkAction.Continue;
    }
}
