using System.Threading;
using FastPt.Diagnostics;
using FastPt.Geometry;
using FastPt.Hardware;
using FastPt.Mm;

namespace FastPt.Faults;

/// <summary>What a demand fault did (the payload of the <c>DemandFault</c> event, emitted only by a fault that
/// installed something: a fault another thread had already resolved emits none).</summary>
internal enum FaultKind
{
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
/// delivers a fault here, and the handler finds the region without a lock and holds the region's lock for reading
/// (so no unmap or protect of it runs meanwhile). Each attempt is plan, allocate, install: a lockless walk (inside an
/// RCU read-side section) finds what is missing; the missing tables, with their constructors, and the zeroed data
/// frame are allocated outside any lock, so running out of memory changes nothing; then each table is installed
/// under its parent's lock (or discarded if another thread won) and the entry under the PTE table's lock after
/// re-checking it. Faults in different PTE tables therefore run in parallel; the CPU retries the access.</summary>
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

    /// <summary>What one attempt found missing on its lockless walk, and what it allocated for it.</summary>
    private struct Plan
    {
        /// <summary>Tables to install, by level (0 where none is missing or it was installed).</summary>
        public WalkTables Tables;

        /// <summary>Lowest level that needs a table (1: a PTE table; 2 when a huge page goes into the PMD entry;
        /// above the root level when nothing is missing).</summary>
        public int LowestTable;

        /// <summary>Highest level that needs a table (0 when none).</summary>
        public int HighestTable;

        /// <summary>A 2 MiB leaf goes into the PMD entry.</summary>
        public bool Huge;

        /// <summary>A read of a zero-page region: without a huge page, the zero page is mapped.</summary>
        public bool ZeroPageRead;

        /// <summary>The PTE the attempt saw (0: none); it installs only if it is still that under the lock.</summary>
        public ulong ExpectedPte;

        /// <summary>The data frame (0: none needed, or installed).</summary>
        public ulong Frame;

        /// <summary>What the fault maps (the event's payload).</summary>
        public FaultKind Kind;
    }

    /// <summary>One attempt under the region's read lock: a lockless look at what is missing, then every table and
    /// the frame allocated (and zeroed) outside any lock — so a fault that runs out of memory changes nothing —
    /// then the installs, each under its lock with a re-check. Whatever was not installed is freed unpublished.</summary>
    private Outcome Fault(VmArea vma, ulong va, AccessKind access)
    {
        _memory.Stat.PageFaults.Add(1);
        var plan = new Plan();
        Outcome outcome;
        _memory.Rcu.ReadLock();
        try
        {
            outcome = Look(vma, va, access, ref plan);
        }
        finally
        {
            _memory.Rcu.ReadUnlock();
        }
        if (outcome != Outcome.Retry) return outcome; // spurious (resolved) or unresolvable
        if (!Allocate(ref plan))
        {
            Release(ref plan);
            return Outcome.OutOfMemory;
        }
        _memory.Rcu.ReadLock();
        try
        {
            outcome = Install(vma, va, ref plan);
        }
        finally
        {
            _memory.Rcu.ReadUnlock();
        }
        Release(ref plan);
        if (outcome != Outcome.Resolved) return outcome;
        if (plan.Kind == FaultKind.ZeroPageCopy)
        {
            // The zero page was replaced by a frame: no CPU may keep translating to the zero page (the writer
            // retries after this returns, and its own TLB applies the flush first).
            ulong page = va & Paging.PageMask;
            _memory.FlushTlb(_mm, new FlushRequest(page, page + Paging.PageSize, FlushKind.Page, TablesFreed: false));
        }
        if (FastPtEventSource.Log.IsEnabled()) FastPtEventSource.Log.DemandFault(_mm.Id, va, (int)access, (int)plan.Kind);
        return Outcome.Resolved;
    }

    /// <summary>The lockless walk (inside an RCU read-side section): Retry with <paramref name="plan"/> filled when
    /// something must be allocated and installed; Resolved when the page is already there (another thread won);
    /// Unresolvable when what is there cannot serve the access.</summary>
    private Outcome Look(VmArea vma, ulong va, AccessKind access, ref Plan plan)
    {
        PhysicalMemory physical = _memory.Physical;
        ulong tablePa = _mm.RootPa;
        int level = _mm.RootLevel;
        plan.LowestTable = level + 1;
        plan.ZeroPageRead = access != AccessKind.Write && vma.ZeroPage;
        while (level > Paging.PteLevel)
        {
            ulong value = Volatile.Read(ref physical.TableForRead(tablePa)[Paging.Index(level, va)]);
            if (value == 0)
            {
                plan.Huge = level >= Paging.PmdLevel && vma.HugePageFits(va);
                plan.HighestTable = level - 1;
                plan.LowestTable = plan.Huge ? Paging.PmdLevel : Paging.PteLevel;
                plan.Kind = plan.Huge ? FaultKind.HugePage : plan.ZeroPageRead ? FaultKind.ZeroPage : FaultKind.Page;
                return Outcome.Retry;
            }
            if (!PageTableEntry.IsTable(value, level))
                // A huge page is there already (another fault won): retry the access, unless it cannot serve it.
                return PageTableEntry.IsLeaf(value, level) && Allows(value, access) ? Outcome.Resolved : Outcome.Unresolvable;
            tablePa = PageTableEntry.TableAddress(value);
            level--;
        }
        ulong pte = Volatile.Read(ref physical.TableForRead(tablePa)[Paging.Index(Paging.PteLevel, va)]);
        plan.ExpectedPte = pte;
        if (pte == 0)
        {
            plan.Kind = plan.ZeroPageRead ? FaultKind.ZeroPage : FaultKind.Page;
            return Outcome.Retry;
        }
        bool zeroPage = PageTableEntry.LeafAddress(pte, Paging.PteLevel) >> Paging.PageShift == _memory.ZeroPfn;
        if (zeroPage && access == AccessKind.Write)
        {
            plan.Kind = FaultKind.ZeroPageCopy;
            return Outcome.Retry;
        }
        return Allows(pte, access) ? Outcome.Resolved : Outcome.Unresolvable;
    }

    /// <summary>Allocates what the plan needs, outside any lock: the huge frame (or, without one, the fallback to
    /// 4 KiB), the tables with their constructors, the data frame zeroed. False when memory ran out.</summary>
    private bool Allocate(ref Plan plan)
    {
        if (plan.Huge)
        {
            if (_memory.Buddy.TryAllocate(Paging.PmdShift - Paging.PageShift, zero: true, out plan.Frame, movable: true))
                return AllocateTables(ref plan);
            // No 2 MiB frame: 4 KiB pages instead (thp_fault_fallback).
            Vmstat.Add(ref _memory.Stat.ThpFaultFallback, 1);
            plan.Huge = false;
            plan.LowestTable = Paging.PteLevel;
            plan.Kind = plan.ZeroPageRead ? FaultKind.ZeroPage : FaultKind.Page;
        }
        if (!AllocateTables(ref plan)) return false;
        // The data frame is zeroed here, before any lock is taken, as the kernel does.
        // From this CPU's page list: faulting CPUs do not meet on the zone lock.
        return plan.Kind == FaultKind.ZeroPage || _memory.Buddy.TryAllocateHot(zero: true, out plan.Frame);
    }

    private bool AllocateTables(ref Plan plan)
    {
        for (int level = plan.HighestTable; level >= plan.LowestTable; level--)
            if (!_memory.PageTables.TryAllocateOne(_mm, level, out plan.Tables[level])) return false;
        return true;
    }

    /// <summary>Installs the plan (inside an RCU read-side section): the missing tables, each under its parent's
    /// lock (another thread's table is used if it won), then the leaf under its lock if the entry is still what the
    /// look saw. Retry when anything changed meanwhile.</summary>
    private Outcome Install(VmArea vma, ulong va, ref Plan plan)
    {
        PhysicalMemory physical = _memory.Physical;
        ulong tablePa = _mm.RootPa;
        int level = _mm.RootLevel;
        ulong* parent = null;
        ulong parentValue = 0;
        while (level > (plan.Huge ? Paging.PmdLevel : Paging.PteLevel))
        {
            ulong* entry = physical.TableForWrite(tablePa) + Paging.Index(level, va);
            ulong value = Volatile.Read(ref *entry);
            if (value == 0)
            {
                ulong table = plan.Tables[level - 1];
                if (table == 0) return Outcome.Retry; // more is missing than the look saw (an unmap freed tables)
                PageTableLocking.TableInstall install = PageTableLocking.InstallTable(_mm, new WalkSlot(entry, tablePa, level, parent, parentValue), table);
                if (install == PageTableLocking.TableInstall.ParentGone) return Outcome.Retry;
                if (install == PageTableLocking.TableInstall.Installed) plan.Tables[level - 1] = 0;
                continue; // read the entry again: ours, or the winner's
            }
            if (!PageTableEntry.IsTable(value, level)) return Outcome.Retry; // a huge page appeared: look again
            parent = entry;
            parentValue = value;
            tablePa = PageTableEntry.TableAddress(value);
            level--;
        }
        if (plan.Huge)
        {
            // do_huge_pmd_anonymous_page: one PMD leaf under the PMD lock, if the entry is still none.
            var pmd = new WalkSlot(physical.TableForWrite(tablePa) + Paging.Index(Paging.PmdLevel, va), tablePa, Paging.PmdLevel, parent, parentValue);
            ulong leaf = (plan.Frame << Paging.PageShift) | PageTableEntry.UserLeafBits(vma.Protection, Paging.PmdLevel)
                | PageTableEntry.Accessed | ((vma.Protection & Protection.Write) != 0 ? PageTableEntry.Dirty : 0);
            PageTableLock pml = PageTableLocking.PmdLock(_mm, tablePa);
            bool installed = pmd.StillLinked && Volatile.Read(ref *pmd.Entry) == 0;
            if (installed) Volatile.Write(ref *pmd.Entry, leaf);
            pml.Unlock();
            if (!installed) return Outcome.Retry;
            plan.Frame = 0;
            Interlocked.Increment(ref _mm.Leaves[Paging.PmdLevel]);
            Vmstat.Add(ref _memory.Stat.ThpFaultAlloc, 1);
            return Outcome.Resolved;
        }

        // do_anonymous_page (or the zero page's wp_page_copy): the PTE under the PTE table's lock, which
        // pte_offset_map_lock takes after re-checking the PMD entry that leads to the table.
        var pmdSlot = new WalkSlot(parent, 0, Paging.PmdLevel, null, 0);
        ulong newEntry = plan.Kind == FaultKind.ZeroPage
            ? (_memory.ZeroPfn << Paging.PageShift) | PageTableEntry.UserLeafBits(vma.Protection & ~Protection.Write, Paging.PteLevel)
            : AnonymousEntry(plan.Frame, vma);
        ulong* pte = PageTableLocking.PteOffsetMapLock(_mm, pmdSlot, va, out PageTableLock ptl);
        if (pte == null) return Outcome.Retry;
        bool same = *pte == plan.ExpectedPte;
        if (same) Volatile.Write(ref *pte, newEntry);
        ptl.Unlock();
        if (!same) return Outcome.Retry; // another thread won
        plan.Frame = 0;
        if (plan.Kind == FaultKind.ZeroPageCopy)
        {
            Vmstat.Add(ref _memory.Stat.ZeroPageCopies, 1);
        }
        else
        {
            _mm.FaultedPages.Add(1);
            if (plan.Kind == FaultKind.ZeroPage) Vmstat.Add(ref _memory.Stat.ZeroPageFaults, 1);
        }
        return Outcome.Resolved;
    }

    /// <summary>Frees what the plan allocated and did not install: nothing ever saw it, so no flush is needed. The
    /// frame's order follows <see cref="Plan.Huge"/>, which the fallback to 4 KiB clears before allocating.</summary>
    private void Release(ref Plan plan)
    {
        for (int level = 1; level <= 4; level++)
        {
            if (plan.Tables[level] == 0) continue;
            _memory.PageTables.FreeUnpublished(plan.Tables[level], level);
            plan.Tables[level] = 0;
        }
        if (plan.Frame != 0)
        {
            if (plan.Huge) _memory.Buddy.Free(plan.Frame, Paging.PmdShift - Paging.PageShift);
            else _memory.Buddy.FreeHot(plan.Frame);
        }
        plan.Frame = 0;
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
