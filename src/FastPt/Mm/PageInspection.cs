using FastPt.Geometry;
using FastPt.Hardware;
using FastPt.Sync;

namespace FastPt.Mm;

/// <summary>The two page queries of <c>fs/proc</c>: <c>stable_page_flags</c> behind <c>/proc/kpageflags</c> and the
/// PTE-to-entry conversion behind <c>/proc/pid/pagemap</c>. Lockless readers: descriptors are read through the
/// kernel mapping (so an optimized folio's tails are read through their shared page), tables inside an RCU
/// section.</summary>
internal static unsafe class PageInspection
{
    /// <summary><c>stable_page_flags</c> of <paramref name="pfn"/>. Compound state comes from the folio the page
    /// belongs to (<c>page_folio</c>, which sees through fake heads), so a tail reads COMPOUND_TAIL|HUGE and never
    /// COMPOUND_HEAD in either HVO design.</summary>
    public static KPageFlags StablePageFlags(MemoryManager memory, ulong pfn)
    {
        if (!memory.Sparse.PfnPresent(pfn) || !memory.Sparse.PfnValid(pfn)) return KPageFlags.NoPage;
        // In a read-side section: vmemmap pages an optimization unmapped are freed only after a grace period.
        using RcuReader.Section section = memory.Rcu.Read();
        Memmap memmap = memory.Memmap;
        ulong head = memmap.CompoundHead(pfn);
        PageDescriptor* folio = memmap.Get(head);
        ulong folioFlags = folio->Flags;
        KPageFlags flags = KPageFlags.None;
        if (head != pfn) flags |= KPageFlags.CompoundTail;
        else if ((folioFlags & PageFlags.Head) != 0) flags |= KPageFlags.CompoundHead;
        if ((flags & (KPageFlags.CompoundHead | KPageFlags.CompoundTail)) != 0 && (folioFlags & PageFlags.HugeTlb) != 0)
            flags |= KPageFlags.Huge;
        if (head == pfn && memory.Buddy.IsBuddyHead(pfn)) flags |= KPageFlags.Buddy;
        if ((folioFlags & PageFlags.Table) != 0) flags |= KPageFlags.PageTable;
        if ((folioFlags & PageFlags.Reserved) != 0) flags |= KPageFlags.Reserved;
        return flags;
    }

    /// <summary>The pagemap entry of the 4 KiB page at <paramref name="va"/> in <paramref name="mm"/>
    /// (<c>pte_to_pagemap_entry</c>; for a huge leaf, the frame of that 4 KiB part of it).</summary>
    public static PagemapEntry Entry(MmStruct mm, ulong va)
    {
        if (!PageTableOps.Lookup(mm, va, out ulong entry, out int level)) return default;
        ulong pa = PageTableEntry.LeafAddress(entry, level) + (va & (Paging.LevelSize(level) - 1));
        return new PagemapEntry(PagemapEntry.PresentBit | ((pa >> Paging.PageShift) & PagemapEntry.PfnMask));
    }
}

