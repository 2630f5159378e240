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
/// <remarks>Break before make, as the kernel does: under the page-table lock, clear the PMD, flush — every TLB
/// entry of the region and the paging-structure caches (x86 INVLPG drops cached partial walks; Intel's drops them
/// all), so no CPU reaches the old table through a cached walk once the PMD is a leaf — and wait until every CPU
/// context has seen the flush; only then copy (no CPU can write the old frames any more) and install the leaf.
/// Translations inside the region during that window fault as not mapped (the kernel's would fault and retry
/// behind the lock).</remarks>
internal static unsafe class Collapse
{
    private const ulong CompareMask = ~(PageTableEntry.AddressMask | PageTableEntry.Accessed | PageTableEntry.Dirty);

    /// <summary>Collapses the PTE table of the 2 MiB region at <paramref name="va"/> (2 MiB aligned, user range):
    /// in place when <paramref name="copyTo"/> is null (the 512 PTEs must map one aligned 2 MiB physical range), else
    /// after copying the 512 frames into the 2 MiB frame at <paramref name="copyTo"/> (the old frames stay the
    /// caller's). A refusal changes nothing.</summary>
    public static PagingResult CollapsePmd(MmStruct mm, ulong va, ulong? copyTo)
    {
        MemoryManager memory = mm.Memory;
        using (mm.LockMmap())
        {
            ObjectDisposedException.ThrowIf(mm.Disposed, typeof(AddressSpace));
            // Demand faults do not take the mmap lock: write-lock the regions over the 2 MiB (every region that can
            // fault into this PTE table overlaps it), so none runs in the table while it is checked and replaced.
            System.Collections.Generic.List<VmArea>? regions = LockRegions(mm, va);
            try
            {
                return CollapseLocked(mm, memory, va, copyTo);
            }
            finally
            {
                UnlockRegions(regions);
            }
        }
    }

    private static System.Collections.Generic.List<VmArea>? LockRegions(MmStruct mm, ulong va)
    {
        if (mm.Vmas.Count == 0) return null;
        System.Collections.Generic.List<VmArea> regions = mm.Vmas.Overlapping(va & ~(Paging.PmdSize - 1), (va & ~(Paging.PmdSize - 1)) + Paging.PmdSize);
        foreach (VmArea region in regions) region.StartWrite();
        return regions;
    }

    private static void UnlockRegions(System.Collections.Generic.List<VmArea>? regions)
    {
        if (regions is null) return;
        foreach (VmArea region in regions) region.EndWrite();
    }

    private static PagingResult CollapseLocked(MmStruct mm, MemoryManager memory, ulong va, ulong? copyTo)
    {
        {
            PagingResult failure = Check(mm, va, copyTo, out ulong* pmd, out ulong tablePa);
            if (!failure.IsSuccess) return failure;

            ulong* ptes = Detach(mm, pmd, va, tablePa);
            // After the acknowledged flush no CPU sets A or D on the old PTEs: their final values decide the leaf's.
            ulong first = ptes[0];
            ulong accessedDirty = 0;
            for (int i = 0; i < Paging.EntriesPerTable; i++) accessedDirty |= ptes[i] & (PageTableEntry.Accessed | PageTableEntry.Dirty);
            ulong frame;
            if (copyTo is { } destination)
            {
                for (int i = 0; i < Paging.EntriesPerTable; i++)
                    CopyFrame(memory.Physical, PageTableEntry.LeafAddress(ptes[i], 1), destination + ((ulong)i << Paging.PageShift));
                frame = destination;
                Vmstat.Add(ref memory.Stat.CollapsesWithCopy, 1);
            }
            else
            {
                frame = PageTableEntry.LeafAddress(first, 1);
                Vmstat.Add(ref memory.Stat.CollapsesInPlace, 1);
            }
            // At PTE level bit 7 is PAT; in a 2 MiB leaf it is PS, and PAT moves to bit 12.
            ulong attributes = first & CompareMask & ~PageTableEntry.Huge;
            if ((first & PageTableEntry.Huge) != 0) attributes |= PageTableEntry.HugePat;
            ulong leaf = frame | attributes | PageTableEntry.Huge | accessedDirty;
            // Release store: the copied data is visible before any walker can see the leaf.
            Volatile.Write(ref *pmd, leaf);
            Interlocked.Increment(ref mm.Leaves[2]);
            memory.Fragments.FreeDefer(mm, tablePa, va);
            FastPtEventSource.Log.PmdCollapsed(mm.Id, va, copyTo.HasValue);
            return PagingResult.Success;
        }
    }

    /// <summary>The first half of <see cref="CollapsePmd"/> without installing a leaf (khugepaged's
    /// <c>retract_page_tables</c>): the PMD of <paramref name="va"/> becomes none and its table is returned to the
    /// caller, who must <c>pte_free_defer</c> it. For tests of the deferral schemes. Under no lock of the caller.</summary>
    public static PagingResult Retract(MmStruct mm, ulong va, out ulong tablePa)
    {
        using (mm.LockMmap())
        {
            ObjectDisposedException.ThrowIf(mm.Disposed, typeof(AddressSpace));
            tablePa = 0;
            System.Collections.Generic.List<VmArea>? regions = LockRegions(mm, va);
            try
            {
                return RetractLocked(mm, va, out tablePa);
            }
            finally
            {
                UnlockRegions(regions);
            }
        }
    }

    private static PagingResult RetractLocked(MmStruct mm, ulong va, out ulong tablePa)
    {
        {
            tablePa = 0;
            if (!FindPmd(mm, va, out ulong* pmd, out PagingResult failure)) return failure;
            ulong value = Volatile.Read(ref *pmd);
            if (!PageTableEntry.IsTable(value, Paging.PmdLevel))
                return new PagingResult(PagingError.NotCollapsible, new VirtAddr(va), null, "no PTE table under this PMD");
            tablePa = PageTableEntry.TableAddress(value);
            Detach(mm, pmd, va, tablePa);
            return PagingResult.Success;
        }
    }

    /// <summary><c>pmdp_collapse_flush</c>: clears the PMD, accounts the table and its leaves as gone, flushes the
    /// region and the paging-structure caches, and waits until every CPU context has seen it.</summary>
    private static ulong* Detach(MmStruct mm, ulong* pmd, ulong va, ulong tablePa)
    {
        MemoryManager memory = mm.Memory;
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

    private static bool FindPmd(MmStruct mm, ulong va, out ulong* pmd, out PagingResult failure)
    {
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
        failure = default;
        return true;
    }

    private static PagingResult Check(MmStruct mm, ulong va, ulong? copyTo, out ulong* pmd, out ulong tablePa)
    {
        tablePa = 0;
        var at = new VirtAddr(va);
        if (!FindPmd(mm, va, out pmd, out PagingResult failure)) return failure;
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
            if (copyTo is null && frame != firstFrame + ((ulong)i << Paging.PageShift))
                return new PagingResult(PagingError.NotCollapsible, page, MapOperation.Describe(pte, 1, page.Value), "the frames are not one contiguous 2 MiB range (collapse with a copy)");
            if (copyTo is { } d && frame >= d && frame < d + Paging.PmdSize)
                return new PagingResult(PagingError.InvalidArgument, page, MapOperation.Describe(pte, 1, page.Value), "the copy destination overlaps a frame of the region");
        }
        if (copyTo is null && (firstFrame & (Paging.PmdSize - 1)) != 0)
            return new PagingResult(PagingError.NotCollapsible, at, MapOperation.Describe(first, 1, va), "the frames are not 2 MiB aligned (collapse with a copy)");
        return PagingResult.Success;
    }

    /// <summary>Copies one 4 KiB frame, writing nothing where both sides still read as never-written zeros.</summary>
    private static void CopyFrame(PhysicalMemory physical, ulong from, ulong to)
    {
        bool sourceWritten = physical.IsWritten(from);
        if (!sourceWritten && !physical.IsWritten(to)) return;
        if (!sourceWritten)
        {
            physical.Fill(to, Paging.PageSize, 0);
            return;
        }
        Buffer.MemoryCopy(physical.ReadPointer(from), physical.WritePointer(to), Paging.PageSize, Paging.PageSize);
    }
}
