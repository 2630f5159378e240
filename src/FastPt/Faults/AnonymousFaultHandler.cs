using System.Threading;
using FastPt.Diagnostics;
using FastPt.Geometry;
using FastPt.Hardware;
using FastPt.Mm;

namespace FastPt.Faults;

/// <summary>What a demand fault did (the payload of the <c>DemandFault</c> event).</summary>
internal enum FaultKind
{
    /// <summary>Nothing: another thread had resolved it, the retry will hit.</summary>
    Spurious = 0,

    /// <summary>A zeroed 4 KiB frame was mapped (<c>do_anonymous_page</c>).</summary>
    Page = 1,

    /// <summary>A zeroed 2 MiB frame was mapped with a PMD leaf (<c>do_huge_pmd_anonymous_page</c>).</summary>
    HugePage = 2,

    /// <summary>The shared zero page was mapped read-only (a read fault of a zero-page region).</summary>
    ZeroPage = 3,

    /// <summary>A write to the zero page got a zeroed frame of its own (<c>wp_page_copy</c> of the zero page).</summary>
    ZeroPageCopy = 4,
}

/// <summary>The page-fault handler of a user address space (<c>handle_mm_fault</c> for anonymous regions): the CPU
/// delivers a fault here, and the handler finds the region without a lock, holds the region's lock for reading
/// (so no unmap or protect of it runs meanwhile), then, inside an RCU read-side section, walks down allocating
/// missing tables outside any lock and installing each under its parent's lock (or discarding it if another thread
/// won), allocates and zeroes the data frame outside the lock, and installs the entry under the PTE table's lock
/// after re-checking it. Faults in different PTE tables therefore run in parallel; the CPU retries the access.</summary>
internal sealed unsafe class AnonymousFaultHandler : IPageFaultHandler
{
    private readonly MmStruct _mm;
    private readonly MemoryManager _memory;

    public AnonymousFaultHandler(MmStruct mm)
    {
        _mm = mm;
        _memory = mm.Memory;
    }

    /// <summary>How one attempt ended.</summary>
    private enum Outcome
    {
        Resolved,
        Retry,
        Unresolvable,
        OutOfMemory,
    }

    public bool HandleFault(ulong va, AccessKind access, ref FaultReason reason)
    {
        while (true)
        {
            VmArea? vma = _mm.Vmas.Find(va);
            if (vma is null) return false; // outside every region: the precise fault of the walk stands
            if (!vma.Allows(access))
            {
                reason = FaultReason.ProtectionViolation; // a fault, not a fix-up
                return false;
            }
            if (!vma.TryStartRead())
            {
                // A range operation holds the region (or replaced it): wait for it like the kernel's fallback to
                // mmap_read_lock, then look the address up again.
                _mm.MmapLock.Enter();
                _mm.MmapLock.Exit();
                continue;
            }
            Outcome outcome;
            try
            {
                outcome = Fault(vma, va, access);
            }
            finally
            {
                vma.EndRead();
            }
            switch (outcome)
            {
                case Outcome.Resolved:
                    return true;
                case Outcome.OutOfMemory:
                    reason = FaultReason.OutOfMemory;
                    return false;
                case Outcome.Unresolvable:
                    return false;
            }
        }
    }

    /// <summary>One attempt under the region's read lock.</summary>
    private Outcome Fault(VmArea vma, ulong va, AccessKind access)
    {
        Vmstat.Add(ref _memory.Stat.PageFaults, 1);
        bool flush = false;
        FaultKind kind = FaultKind.Spurious;
        Outcome outcome;
        _memory.Rcu.ReadLock();
        try
        {
            outcome = Walk(vma, va, access, ref kind, ref flush);
        }
        finally
        {
            _memory.Rcu.ReadUnlock();
        }
        if (flush)
        {
            // The zero page was replaced by a frame: no CPU may keep translating to the zero page (after the
            // handler returns the writer retries, and its own TLB applies this flush first).
            ulong page = va & Paging.PageMask;
            _memory.FlushTlb(_mm, new FlushRequest(page, page + Paging.PageSize, FlushKind.Page, TablesFreed: false));
        }
        if (outcome == Outcome.Resolved && FastPtEventSource.Log.IsEnabled())
            FastPtEventSource.Log.DemandFault(_mm.Id, va, (int)access, (int)kind);
        return outcome;
    }

    private Outcome Walk(VmArea vma, ulong va, AccessKind access, ref FaultKind kind, ref bool flush)
    {
        PhysicalMemory physical = _memory.Physical;
        // Down to the PMD entry, installing missing tables (pgd_alloc's kin: __p4d_alloc, __pud_alloc, __pmd_alloc).
        ulong tablePa = _mm.RootPa;
        int level = _mm.RootLevel;
        ulong* parent = null;
        ulong parentValue = 0;
        while (level > Paging.PmdLevel)
        {
            ulong* entry = physical.TableForWrite(tablePa) + Paging.Index(level, va);
            ulong value = Volatile.Read(ref *entry);
            if (value == 0)
            {
                PageTableLocking.TableInstall install = PageTableLocking.AllocateAndInstall(_mm, new WalkSlot(entry, tablePa, level, parent, parentValue));
                if (install == PageTableLocking.TableInstall.OutOfMemory) return Outcome.OutOfMemory;
                if (install == PageTableLocking.TableInstall.ParentGone) return Outcome.Retry;
                continue; // installed, or another thread's table is there: read it
            }
            if (!PageTableEntry.IsTable(value, level)) return Outcome.Unresolvable; // a leaf no region can hold
            parent = entry;
            parentValue = value;
            tablePa = PageTableEntry.TableAddress(value);
            level--;
        }

        var pmd = new WalkSlot(physical.TableForWrite(tablePa) + Paging.Index(Paging.PmdLevel, va), tablePa, Paging.PmdLevel, parent, parentValue);
        ulong pmdValue = Volatile.Read(ref *pmd.Entry);
        if (pmdValue == 0 && vma.HugePageFits(va))
        {
            Outcome huge = HugeFault(vma, pmd, va, ref kind);
            if (huge != Outcome.OutOfMemory) return huge;
            Vmstat.Add(ref _memory.Stat.ThpFaultFallback, 1); // no 2 MiB frame: 4 KiB pages instead
        }
        else if (PageTableEntry.IsLeaf(pmdValue, Paging.PmdLevel))
        {
            // A huge page is there already (another thread's fault won): retry, unless it cannot serve the access.
            return Allows(pmdValue, access) ? Outcome.Resolved : Outcome.Unresolvable;
        }

        // do_anonymous_page.
        if (Volatile.Read(ref *pmd.Entry) == 0)
        {
            PageTableLocking.TableInstall install = PageTableLocking.PteAlloc(_mm, pmd);
            if (install == PageTableLocking.TableInstall.OutOfMemory) return Outcome.OutOfMemory;
            if (install == PageTableLocking.TableInstall.ParentGone) return Outcome.Retry;
        }
        pmdValue = Volatile.Read(ref *pmd.Entry);
        if (!PageTableEntry.IsTable(pmdValue, Paging.PmdLevel)) return Outcome.Retry; // became a huge page, or went
        ulong* pteLockless = physical.TableForWrite(PageTableEntry.TableAddress(pmdValue)) + Paging.Index(Paging.PteLevel, va);
        ulong expected = Volatile.Read(ref *pteLockless);
        ulong zero = _memory.ZeroPfn;
        ulong newEntry;
        ulong frame = 0;
        if (expected != 0)
        {
            bool zeroPage = PageTableEntry.LeafAddress(expected, Paging.PteLevel) >> Paging.PageShift == zero;
            if (!(zeroPage && access == AccessKind.Write)) return Allows(expected, access) ? Outcome.Resolved : Outcome.Unresolvable;
            // Write to the zero page: a frame of its own, zero like the page it replaces (wp_page_copy allocates a
            // zeroed folio for the zero pfn instead of copying).
            if (!_memory.Buddy.TryAllocate(0, zero: true, out frame, movable: true)) return Outcome.OutOfMemory;
            newEntry = AnonymousEntry(frame, vma);
            kind = FaultKind.ZeroPageCopy;
        }
        else if (access != AccessKind.Write && vma.ZeroPage)
        {
            newEntry = (zero << Paging.PageShift) | PageTableEntry.UserLeafBits(vma.Protection & ~Protection.Write, Paging.PteLevel);
            kind = FaultKind.ZeroPage;
        }
        else
        {
            // The frame is allocated and zeroed before the lock is taken, as the kernel does.
            if (!_memory.Buddy.TryAllocate(0, zero: true, out frame, movable: true)) return Outcome.OutOfMemory;
            newEntry = AnonymousEntry(frame, vma);
            kind = FaultKind.Page;
        }

        ulong* pte = PageTableLocking.PteOffsetMapLock(_mm, pmd, va, out PageTableLock ptl);
        bool installed = false;
        if (pte != null)
        {
            if (*pte == expected)
            {
                Volatile.Write(ref *pte, newEntry);
                installed = true;
            }
            ptl.Unlock();
        }
        if (!installed)
        {
            // Another thread won (or the table went): our frame was never visible to anyone.
            if (frame != 0) _memory.Buddy.Free(frame, 0);
            kind = FaultKind.Spurious;
            return Outcome.Retry;
        }
        switch (kind)
        {
            case FaultKind.ZeroPageCopy:
                flush = true;
                Vmstat.Add(ref _memory.Stat.ZeroPageCopies, 1);
                break;
            case FaultKind.ZeroPage:
                Interlocked.Increment(ref _mm.Leaves[1]);
                Vmstat.Add(ref _memory.Stat.ZeroPageFaults, 1);
                break;
            default:
                Interlocked.Increment(ref _mm.Leaves[1]);
                break;
        }
        return Outcome.Resolved;
    }

    /// <summary><c>do_huge_pmd_anonymous_page</c>: a zeroed 2 MiB frame, installed with one PMD leaf under the PMD
    /// lock if the entry is still none. OutOfMemory means no 2 MiB frame: the caller falls back to 4 KiB.</summary>
    private Outcome HugeFault(VmArea vma, in WalkSlot pmd, ulong va, ref FaultKind kind)
    {
        if (!_memory.Buddy.TryAllocate(Paging.PmdShift - Paging.PageShift, zero: true, out ulong frame, movable: true))
            return Outcome.OutOfMemory;
        ulong leaf = (frame << Paging.PageShift) | PageTableEntry.UserLeafBits(vma.Protection, Paging.PmdLevel)
            | PageTableEntry.Accessed | ((vma.Protection & Protection.Write) != 0 ? PageTableEntry.Dirty : 0);
        PageTableLock ptl = PageTableLocking.PmdLock(_mm, pmd.TablePa);
        bool installed = pmd.StillLinked && Volatile.Read(ref *pmd.Entry) == 0;
        if (installed) Volatile.Write(ref *pmd.Entry, leaf);
        ptl.Unlock();
        if (!installed)
        {
            _memory.Buddy.Free(frame, Paging.PmdShift - Paging.PageShift);
            return Outcome.Retry;
        }
        Interlocked.Increment(ref _mm.Leaves[Paging.PmdLevel]);
        Vmstat.Add(ref _memory.Stat.ThpFaultAlloc, 1);
        kind = FaultKind.HugePage;
        return Outcome.Resolved;
    }

    /// <summary>The PTE of an anonymous page: the region's rights, Accessed, and Dirty when writable (the kernel's
    /// <c>maybe_mkwrite(pte_mkdirty(...))</c>: a private anonymous page is dirty from the start).</summary>
    private static ulong AnonymousEntry(ulong frame, VmArea vma) =>
        (frame << Paging.PageShift) | PageTableEntry.UserLeafBits(vma.Protection, Paging.PteLevel)
            | PageTableEntry.Accessed | ((vma.Protection & Protection.Write) != 0 ? PageTableEntry.Dirty : 0);

    /// <summary>True when the leaf already serves <paramref name="access"/> (the fault was spurious).</summary>
    private static bool Allows(ulong leaf, AccessKind access)
    {
        if ((leaf & PageTableEntry.Present) == 0) return false;
        return access switch
        {
            AccessKind.Write => (leaf & PageTableEntry.Writable) != 0,
            AccessKind.Execute => (leaf & PageTableEntry.NoExecute) == 0,
            _ => true,
        };
    }
}
