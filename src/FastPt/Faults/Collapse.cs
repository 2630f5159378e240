using System;
using System.Threading;
using FastPt.Diagnostics;
using FastPt.Geometry;
using FastPt.Hardware;
using FastPt.Mm;

namespace FastPt.Faults;

/// <summary>khugepaged's job (<c>mm/khugepaged.c</c>: <c>collapse_pte_mapped_thp</c>, <c>collapse_huge_page</c>):
/// replacing a PTE table that maps a whole 2 MiB region by one 2 MiB leaf. The table is unlinked while lockless
/// walkers may be reading it, so it is freed with <c>pte_free_defer</c>.</summary>
/// <remarks>
/// <para>Locks, outermost first, as <c>collapse_huge_page</c> takes them: the mmap lock (no range operation runs),
/// the write lock of the anonymous region holding the 2 MiB if there is one (<c>vma_start_write</c>: no fault runs in
/// the table; it waits for faults in flight), then — around <c>pmdp_collapse_flush</c> — the PMD table's lock and,
/// nested, the PTE table's (once when they are one lock), as <c>retract_page_tables</c> and
/// <c>collapse_pte_mapped_thp</c> take them: anyone who edits the entry or the table under those locks alone (a
/// fault in a neighbouring 2 MiB installs into the same PMD table under the PMD lock; <c>pte_offset_map_lock</c>
/// re-checks the PMD after taking the PTL) is excluded or sees the cleared entry. The leaf is installed under the
/// PMD lock, into an entry that must still be none.</para>
/// <para>Break before make, as the kernel does: clear the PMD, flush — every TLB entry of the region and the
/// paging-structure caches (x86 INVLPG drops cached partial walks; Intel's drops them all), so no CPU reaches the
/// old table through a cached walk once the PMD is a leaf — and wait until every CPU context has seen the flush;
/// only then copy (no CPU can write the old frames any more) and install the leaf. Translations inside the region
/// during that window fault as not mapped (a demand fault waits for the region's lock and retries). No CPU takes a
/// page-table lock inside its busy window (faults are delivered outside it; the hardware walker sets A/D with a
/// compare-exchange), so waiting for the acknowledgements under the PMD lock and the PTL cannot deadlock.</para>
/// <para>Inside an anonymous region the collapse is <c>collapse_huge_page</c>'s: it allocates the 2 MiB page itself
/// (before anything changes, so running out refuses the collapse), copies the 512 pages into it and frees them after
/// a grace period (lockless walkers that read them before the clear may still hold them, as for an unmap's frames).</para>
/// </remarks>
internal static unsafe class Collapse
{
    private const ulong CompareMask = ~(PageTableEntry.AddressMask | PageTableEntry.Accessed | PageTableEntry.Dirty);
    private const int HugeOrder = Paging.PmdShift - Paging.PageShift;

    /// <summary>Collapses the PTE table of the 2 MiB region at <paramref name="va"/> (2 MiB aligned, user range).
    /// Outside anonymous regions: in place when <paramref name="copyTo"/> is null (the 512 PTEs must map one aligned
    /// 2 MiB physical range), else after copying the 512 frames into the 2 MiB frame at <paramref name="copyTo"/> (the
    /// old frames stay the caller's). Inside one anonymous region covering the 2 MiB: into a 2 MiB page of its own
    /// (<paramref name="copyTo"/> must be null), the old pages freed. A refusal changes nothing.</summary>
    public static PagingResult CollapsePmd(MmStruct mm, ulong va, ulong? copyTo)
    {
        using (mm.LockMmap())
        {
            ObjectDisposedException.ThrowIf(mm.Disposed, typeof(AddressSpace));
            PagingResult refused = LockRegion(mm, va, out VmArea? region);
            if (!refused.IsSuccess) return refused;
            try
            {
                return region is null ? CollapseLocked(mm, va, copyTo) : CollapseAnonymous(mm, va, copyTo);
            }
            finally
            {
                region?.EndWrite();
            }
        }
    }

    /// <summary>Demand faults do not take the mmap lock: the anonymous region that holds the 2 MiB, if any, is
    /// write-locked (<c>vma_start_write</c>), so no fault runs in the table while it is checked and replaced. Only a
    /// region covering the whole 2 MiB can be collapsed (<c>thp_vma_suitable_order</c>); one that covers part of it is
    /// a refusal. Allocates nothing.</summary>
    private static PagingResult LockRegion(MmStruct mm, ulong va, out VmArea? region)
    {
        region = null;
        if (mm.Vmas.Count == 0) return PagingResult.Success;
        // Inclusive last addresses: the 2 MiB below 2^64 of a guest space has no exclusive end.
        ulong start = va & ~(Paging.PmdSize - 1), last = start + (Paging.PmdSize - 1);
        VmArea? first = mm.Vmas.FirstOverlapping(start, last);
        if (first is null) return PagingResult.Success;
        if (first.Start > start || first.Last < last)
            return new PagingResult(PagingError.NotCollapsible, new VirtAddr(Math.Max(start, first.Start)), null,
                $"the 2 MiB is only partly inside the anonymous region [0x{first.Start:x}, 0x{first.Last:x}]");
        first.StartWrite();
        region = first;
        return PagingResult.Success;
    }

    private static PagingResult CollapseLocked(MmStruct mm, ulong va, ulong? copyTo)
    {
        MemoryManager memory = mm.Memory;
        PagingResult failure = Check(mm, va, copyTo, anonymous: false, out ulong* pmd, out ulong pmdTablePa, out ulong tablePa);
        if (!failure.IsSuccess) return failure;

        ulong* ptes = Detach(mm, pmd, pmdTablePa, va, tablePa);
        ulong frame;
        if (copyTo is { } destination)
        {
            CopyPages(memory.Physical, ptes, destination);
            frame = destination;
            Vmstat.Add(ref memory.Stat.CollapsesWithCopy, 1);
        }
        else
        {
            frame = PageTableEntry.LeafAddress(ptes[0], 1);
            Vmstat.Add(ref memory.Stat.CollapsesInPlace, 1);
        }
        Install(mm, pmd, pmdTablePa, LeafFor(ptes, frame));
        memory.Fragments.FreeDefer(mm, tablePa, va);
        FastPtEventSource.Log.PmdCollapsed(mm.Id, va, copyTo.HasValue);
        return PagingResult.Success;
    }

    /// <summary><c>collapse_huge_page</c> in an anonymous region (its write lock held): a 2 MiB page allocated
    /// first, the 512 pages copied into it after the flush, the leaf installed, the table deferred, and the old pages
    /// freed after a grace period.</summary>
    private static PagingResult CollapseAnonymous(MmStruct mm, ulong va, ulong? copyTo)
    {
        MemoryManager memory = mm.Memory;
        if (copyTo is not null)
            return new PagingResult(PagingError.InvalidArgument, new VirtAddr(va), null,
                "inside an anonymous region the collapse allocates its own 2 MiB page: no copy destination");
        PagingResult failure = Check(mm, va, null, anonymous: true, out ulong* pmd, out ulong pmdTablePa, out ulong tablePa);
        if (!failure.IsSuccess) return failure;
        // Allocated before anything changes (alloc_charge_folio comes before the mmap write lock in the kernel).
        if (!memory.Buddy.TryAllocate(HugeOrder, zero: false, out ulong hugePfn, movable: true))
            return new PagingResult(PagingError.OutOfFrames, new VirtAddr(va), null, "no free 2 MiB page to collapse into");

        ulong* ptes = Detach(mm, pmd, pmdTablePa, va, tablePa);
        ulong frame = hugePfn << Paging.PageShift;
        CopyPages(memory.Physical, ptes, frame);
        Vmstat.Add(ref memory.Stat.CollapsesWithCopy, 1);
        Install(mm, pmd, pmdTablePa, LeafFor(ptes, frame));
        // The old pages are unmapped and flushed from every CPU; a lockless walker (GUP-fast) that read one before
        // the clear may still use it until it leaves its section. Outside the page-table locks: a fault inside a
        // section may be spinning on them.
        memory.Rcu.Synchronize();
        for (int i = 0; i < Paging.EntriesPerTable; i++) memory.FreePages(PageTableEntry.LeafAddress(ptes[i], 1) >> Paging.PageShift, 0);
        // Deferred last: the table (which the loop above read) stays ours until then.
        memory.Fragments.FreeDefer(mm, tablePa, va);
        FastPtEventSource.Log.PmdCollapsed(mm.Id, va, true);
        return PagingResult.Success;
    }

    /// <summary>The 2 MiB leaf for the detached PTEs: their common attributes, Accessed and Dirty if any had them
    /// (after the acknowledged flush no CPU sets A or D on the old PTEs, so their final values decide).</summary>
    private static ulong LeafFor(ulong* ptes, ulong frame)
    {
        ulong first = ptes[0];
        ulong accessedDirty = 0;
        for (int i = 0; i < Paging.EntriesPerTable; i++) accessedDirty |= ptes[i] & (PageTableEntry.Accessed | PageTableEntry.Dirty);
        // At PTE level bit 7 is PAT; in a 2 MiB leaf it is PS, and PAT moves to bit 12.
        ulong attributes = first & CompareMask & ~PageTableEntry.Huge;
        if ((first & PageTableEntry.Huge) != 0) attributes |= PageTableEntry.HugePat;
        return frame | attributes | PageTableEntry.Huge | accessedDirty;
    }

    private static void CopyPages(PhysicalMemory physical, ulong* ptes, ulong destination)
    {
        for (int i = 0; i < Paging.EntriesPerTable; i++)
            CopyFrame(physical, PageTableEntry.LeafAddress(ptes[i], 1), destination + ((ulong)i << Paging.PageShift));
    }

    /// <summary><c>set_pmd_at</c> under the PMD lock, into the entry <see cref="Detach"/> cleared.</summary>
    private static void Install(MmStruct mm, ulong* pmd, ulong pmdTablePa, ulong leaf)
    {
        PageTableLock pml = PageTableLocking.PmdLock(mm, pmdTablePa);
        try
        {
            // BUG_ON(!pmd_none(*pmd)): the mmap lock and the region's write lock keep everyone else out of it.
            if (Volatile.Read(ref *pmd) != 0)
                throw new InvalidOperationException($"collapse: the PMD entry of table 0x{pmdTablePa:x} was filled while the collapse held it");
            // Release store: the copied data is visible before any walker can see the leaf.
            Volatile.Write(ref *pmd, leaf);
        }
        finally
        {
            pml.Unlock();
        }
        Interlocked.Increment(ref mm.Leaves[2]);
    }

    /// <summary>The first half of <see cref="CollapsePmd"/> without installing a leaf (khugepaged's
    /// <c>retract_page_tables</c>): the PMD of <paramref name="va"/> becomes none and its table is returned to the
    /// caller, who must <c>pte_free_defer</c> it. Outside anonymous regions (their pages would be lost). For tests of
    /// the deferral schemes. Under no lock of the caller.</summary>
    public static PagingResult Retract(MmStruct mm, ulong va, out ulong tablePa)
    {
        tablePa = 0;
        using (mm.LockMmap())
        {
            ObjectDisposedException.ThrowIf(mm.Disposed, typeof(AddressSpace));
            if (mm.Vmas.Count != 0 && mm.Vmas.FirstOverlapping(va & ~(Paging.PmdSize - 1), va | (Paging.PmdSize - 1)) is { } region)
                return new PagingResult(PagingError.NotCollapsible, new VirtAddr(va), null,
                    $"inside the anonymous region [0x{region.Start:x}, 0x{region.Last:x}]: retracting would lose its pages");
            if (!FindPmd(mm, va, out ulong* pmd, out ulong pmdTablePa, out PagingResult failure)) return failure;
            ulong value = Volatile.Read(ref *pmd);
            if (!PageTableEntry.IsTable(value, Paging.PmdLevel))
                return new PagingResult(PagingError.NotCollapsible, new VirtAddr(va), null, "no PTE table under this PMD");
            tablePa = PageTableEntry.TableAddress(value);
            Detach(mm, pmd, pmdTablePa, va, tablePa);
            return PagingResult.Success;
        }
    }

    /// <summary><c>pmdp_collapse_flush</c> under the PMD lock and the PTE table's lock: clears the PMD, accounts the
    /// table and its leaves as gone, flushes the region and the paging-structure caches, and waits until every CPU
    /// context has seen it. Returns the detached PTEs (the caller defers the table after its last read of them).</summary>
    /// <remarks>The ordering argument. Readers without a lock — lockless walkers and the fault handler's look — run
    /// in RCU read-side sections and re-read the PMD (<c>pmd_same</c>) after reading PTEs. The clear is an interlocked
    /// exchange, a full fence: a reader that loads the PMD after it sees none; a reader that loaded the table address
    /// before it is inside a section that began before the caller's <c>pte_free_defer</c> (whose <c>CallRcu</c> lock
    /// acquire is a full fence after the clear), so the grace period waits for it and the table stays memory until it
    /// leaves, while its re-read of the PMD, after the clear, fails and it forgets what it read. CPUs walk without
    /// sections, marked busy: <see cref="FlushDomain.WaitForAcknowledgement"/> returns only when every busy CPU has
    /// applied the flush (dropping TLB entries and cached partial walks through the table) or left its walk.</remarks>
    private static ulong* Detach(MmStruct mm, ulong* pmd, ulong pmdTablePa, ulong va, ulong tablePa)
    {
        MemoryManager memory = mm.Memory;
        PageTableLock pml = PageTableLocking.PmdLock(mm, pmdTablePa);
        PageTableLock ptl = PageTableLocking.PteLockptr(mm, tablePa);
        bool nested = !ptl.IsSameAs(pml);
        if (nested) ptl.Lock(); // spin_lock_nested(ptl, SINGLE_DEPTH_NESTING): PTL inside the PMD lock
        try
        {
            ulong expected = Volatile.Read(ref *pmd);
            if (!PageTableEntry.IsTable(expected, Paging.PmdLevel) || PageTableEntry.TableAddress(expected) != tablePa)
                throw new InvalidOperationException($"collapse: the PMD entry of 0x{va:x} changed while the collapse held the mmap and region locks");
            Interlocked.Exchange(ref *pmd, 0);
            ulong* ptes = memory.Physical.TableForRead(tablePa);
            int mapped = 0;
            for (int i = 0; i < Paging.EntriesPerTable; i++) mapped += ptes[i] != 0 ? 1 : 0;
            Interlocked.Add(ref mm.Leaves[1], -mapped);
            Interlocked.Decrement(ref mm.Tables[1]);
            ulong end = va + Paging.PmdSize;
            FlushKind kind = Paging.PmdSize >> Paging.PageShift > MmuGatherCore.FullFlushCeilingPages ? FlushKind.All : FlushKind.Range;
            memory.FlushTlb(mm, new FlushRequest(va, end, kind, TablesFreed: true));
            // Whatever SyncedFlushes says: no CPU may still walk the old table or write its frames past this point.
            mm.Flush.WaitForAcknowledgement(mm.Flush.Generation);
            if (FastPtEventSource.Log.IsEnabled()) FastPtEventSource.Log.TlbFlush(mm.Id, kind, va, end, mm.Flush.Contexts.Length);
            return ptes;
        }
        finally
        {
            if (nested) ptl.Unlock();
            pml.Unlock();
        }
    }

    private static bool FindPmd(MmStruct mm, ulong va, out ulong* pmd, out ulong pmdTablePa, out PagingResult failure)
    {
        pmdTablePa = 0;
        PhysicalMemory physical = mm.Memory.Physical;
        ulong table = mm.RootPa;
        for (int level = mm.RootLevel; level > Paging.PmdLevel; level--)
        {
            ulong entry = Volatile.Read(ref physical.TableForRead(table)[Paging.Index(level, va)]);
            if (entry == 0)
            {
                pmd = null;
                failure = new PagingResult(PagingError.NotMapped, new VirtAddr(va));
                return false;
            }
            if (PageTableEntry.IsLeaf(entry, level))
            {
                pmd = null;
                failure = new PagingResult(PagingError.HugeParentEntry, new VirtAddr(va), MapOperation.Describe(entry, level, va),
                    "a larger leaf maps the region");
                return false;
            }
            table = PageTableEntry.TableAddress(entry);
        }
        pmd = physical.TableForWrite(table) + Paging.Index(Paging.PmdLevel, va);
        pmdTablePa = table;
        failure = default;
        return true;
    }

    /// <summary>The PMD of <paramref name="va"/> must lead to a PTE table whose 512 entries are present with one
    /// protection; in place (no <paramref name="copyTo"/>, not <paramref name="anonymous"/>) they must map one aligned
    /// 2 MiB range; an anonymous region's must not map the shared zero page (it is not theirs to free).</summary>
    private static PagingResult Check(MmStruct mm, ulong va, ulong? copyTo, bool anonymous, out ulong* pmd, out ulong pmdTablePa, out ulong tablePa)
    {
        tablePa = 0;
        var at = new VirtAddr(va);
        bool inPlace = copyTo is null && !anonymous;
        if (!FindPmd(mm, va, out pmd, out pmdTablePa, out PagingResult failure)) return failure;
        ulong value = Volatile.Read(ref *pmd);
        if (value == 0) return new PagingResult(PagingError.NotMapped, at);
        if (PageTableEntry.IsLeaf(value, Paging.PmdLevel))
            return new PagingResult(PagingError.NotCollapsible, at, MapOperation.Describe(value, Paging.PmdLevel, va), "already a 2 MiB leaf");
        tablePa = PageTableEntry.TableAddress(value);
        ulong* ptes = mm.Memory.Physical.TableForRead(tablePa);
        ulong first = ptes[0];
        ulong firstFrame = PageTableEntry.LeafAddress(first, 1);
        for (int i = 0; i < Paging.EntriesPerTable; i++)
        {
            ulong pte = ptes[i];
            var page = new VirtAddr(va + ((ulong)i << Paging.PageShift));
            if (pte == 0) return new PagingResult(PagingError.NotCollapsible, page, null, "a page of the region is not mapped");
            if ((pte & PageTableEntry.Present) == 0)
                return new PagingResult(PagingError.NotCollapsible, page, MapOperation.Describe(pte, 1, page.Value), "a page of the region is PROT_NONE");
            if ((pte & CompareMask) != (first & CompareMask))
                return new PagingResult(PagingError.NotCollapsible, page, MapOperation.Describe(pte, 1, page.Value), "pages of the region differ in protection or attributes");
            ulong frame = PageTableEntry.LeafAddress(pte, 1);
            if (anonymous && frame >> Paging.PageShift == mm.Memory.ZeroPfn)
                return new PagingResult(PagingError.NotCollapsible, page, MapOperation.Describe(pte, 1, page.Value), "a page of the region maps the shared zero page");
            if (inPlace && frame != firstFrame + ((ulong)i << Paging.PageShift))
                return new PagingResult(PagingError.NotCollapsible, page, MapOperation.Describe(pte, 1, page.Value), "the frames are not one contiguous 2 MiB range (collapse with a copy)");
            if (copyTo is { } d && frame >= d && frame < d + Paging.PmdSize)
                return new PagingResult(PagingError.InvalidArgument, page, MapOperation.Describe(pte, 1, page.Value), "the copy destination overlaps a frame of the region");
        }
        if (inPlace && (firstFrame & (Paging.PmdSize - 1)) != 0)
            return new PagingResult(PagingError.NotCollapsible, at, MapOperation.Describe(first, 1, va), "the frames are not 2 MiB aligned (collapse with a copy)");
        return PagingResult.Success;
    }

    /// <summary>Copies one 4 KiB frame, writing nothing where both sides still read as never-written zeros.</summary>
    private static void CopyFrame(PhysicalMemory physical, ulong from, ulong to)
    {
        bool sourceWritten = physical.IsFrameWritten(from);
        if (!sourceWritten && !physical.IsFrameWritten(to)) return;
        if (!sourceWritten)
        {
            physical.Fill(to, Paging.PageSize, 0);
            return;
        }
        Buffer.MemoryCopy(physical.ReadPointer(from), physical.WritePointer(to), Paging.PageSize, Paging.PageSize);
    }
}
