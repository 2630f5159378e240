using System.Runtime.CompilerServices;
using System.Threading;
using FastPt.Diagnostics;
using FastPt.Geometry;

namespace FastPt.Hardware;

// Translation: the TLB-hit fast path (way 0 of the set), the general miss path (way 1, paging-structure caches,
// walk) and kernel translations with global entries.
internal unsafe partial struct Cpu<TFrames>
{
    /// <summary>Translates <paramref name="v"/> for <paramref name="access"/>: true and the physical address, or
    /// false if the access faults. A TLB hit is one compare and one add.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryTranslate(ulong v, AccessKind access, out PhysAddr pa)
    {
        // The hit word is the epoch, or matches no tag while flushes wait to be applied: the coherence check is in
        // the tag compare. Indexed by byte offset (one shift, one mask, no scaling): the tag and the physical page
        // share the line. The hit count shares the hit word's line, addressed from the same base.
        TlbEntry* entries = _tlb.Entries;
        ulong word = SoftTlb.HitWordOf(entries);
        ref TlbEntry e = ref SoftTlb.EntryAt(entries, _tlb.Way0Offset(v));
        if (Unsafe.Add(ref e.ReadTag, (int)access) == ((v & Paging.PageMask) | word))
        {
            SoftTlb.CountHit(entries);
            pa = new PhysAddr(e.PhysPage | (v & (Paging.PageSize - 1)));
            return true;
        }
        nuint ho = _tlb.HugeOffset(v);
        ref TlbEntry he = ref _tlb.HugeEntryAt(ho);
        if (Unsafe.Add(ref he.ReadTag, (int)access) == ((v & ~SoftTlb.HugeMask) | word))
        {
            SoftTlb.CountHit(entries);
            pa = new PhysAddr(he.PhysPage + (v & SoftTlb.HugeMask));
            return true;
        }
        // The slow path returns the address instead of writing through an out parameter: pa stays in a register
        // of the caller, where an out argument would make it a stack slot that every hit stores and reloads.
        ulong result = TranslateSlow(v, access);
        pa = new PhysAddr(result == NoTranslation ? 0 : result);
        return result != NoTranslation;
    }

    /// <summary>What <see cref="TranslateSlow"/> returns for a fault: no physical address has every bit set
    /// (they are below 2^52).</summary>
    private const ulong NoTranslation = ulong.MaxValue;

    /// <summary>A miss of way 0: the common cases (way 1, a refill from a paging-structure cache or a walk from the
    /// root) in a small method of their own, so that they run without the general path's register pressure and
    /// spills; everything else goes to <see cref="TranslateGeneral"/>.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private ulong TranslateSlow(ulong v, AccessKind access)
    {
        // The busy window (the flusher's membarrier pairs with this plain store, see FlushDomain): no try/finally,
        // since nothing in it can throw — way 1 and the refill only load, compare and store to memory that exists
        // (host pointers are peeked, never reserved; cache indices are masked) — so Busy always returns to 0, and
        // the window's locals stay in registers instead of living on the stack for an exception handler.
        Volatile.Write(ref _slot.Busy, 1);
        ulong result = NoTranslation;
        // A kernel address is never a user hit (its entries carry the global epoch): the range check comes first.
        // A signalled or published flush not yet applied goes to the general path, which applies it first.
        if (!FlushesToApply && !_checked && v <= _userLast)
        {
            // Way 1 of the set first: a hit there is a TLB hit (LRU order puts it in way 0 for the next one).
            if (_tlb.TrySecondWay(v & Paging.PageMask, access, (v & Paging.PageMask) | _tlb.UserEpoch, ulong.MaxValue))
            {
                _counters.Hits++;
                result = _tlb.PhysPage(_tlb.IndexOf(v)) | (v & (Paging.PageSize - 1));
            }
            else
            {
                result = Refill(v, access);
            }
        }
        // Release: every table load of the window happens before a flusher can see the context idle.
        Volatile.Write(ref _slot.Busy, 0);
        if (result != NoTranslation) return result;
        return TranslateGeneral(v, access, out PhysAddr pa) ? pa.Value : NoTranslation;
    }

    /// <summary>Everything the refill does not finish: flushes to apply, checks, walks, checked mode, faults. Its own
    /// busy window: between the two nothing is held.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool TranslateGeneral(ulong v, AccessKind access, out PhysAddr pa)
    {
        PageFault fault;
        Volatile.Write(ref _slot.Busy, 1);
        try
        {
            if (Lookup(v, access, out Hit hit, out fault))
            {
                pa = new PhysAddr(hit.PhysPage | (v & (Paging.PageSize - 1)));
                return true;
            }
        }
        finally
        {
            Volatile.Write(ref _slot.Busy, 0);
        }
        return TranslateAfterFault(v, access, fault, out pa);
    }

    /// <summary>The access faulted: deliver the fault and retry as long as the handler resolves it.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool TranslateAfterFault(ulong v, AccessKind access, PageFault fault, out PhysAddr pa)
    {
        while (RaiseFault(ref fault))
        {
            Volatile.Write(ref _slot.Busy, 1);
            try
            {
                if (Lookup(v, access, out Hit hit, out fault))
                {
                    pa = new PhysAddr(hit.PhysPage | (v & (Paging.PageSize - 1)));
                    return true;
                }
            }
            finally
            {
                Volatile.Write(ref _slot.Busy, 0);
            }
        }
        pa = default;
        return false;
    }

    /// <summary>Delivers a user fault to the address space's handler (the #PF vector) — only ever outside the busy
    /// window, since the handler allocates and takes page-table locks that a flusher waiting for this CPU may hold.
    /// True when the handler resolved it and the access must be retried; otherwise <paramref name="fault"/> is the
    /// fault that stands.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool RaiseFault(ref PageFault fault, bool force = false)
    {
        IPageFaultHandler? handler = _root.FaultHandler;
        if (handler is null || (!DemandFaults && !force) || fault.Reason is not (FaultReason.NotMapped or FaultReason.ProtectionViolation)) return false;
        FaultReason reason = fault.Reason;
        if (handler.HandleFault(fault.Address.Value, fault.Access, ref reason)) return true;
        fault = fault with { Reason = reason };
        return false;
    }

    /// <summary>Translates <paramref name="v"/> for <paramref name="access"/>, returning the physical address,
    /// page size and protection, or the fault. With <paramref name="handleFaults"/> a fault is delivered to the
    /// handler even when <see cref="DemandFaults"/> is off (an embedder's explicit <c>HandleFault</c>).</summary>
    public Translation Translate(ulong v, AccessKind access, bool handleFaults = false)
    {
        while (true)
        {
            PageFault fault;
            Volatile.Write(ref _slot.Busy, 1);
            try
            {
                if (Lookup(v, access, out Hit hit, out fault))
                    return new Translation(new PhysAddr(hit.PhysPage | (v & (Paging.PageSize - 1))),
                        Paging.LeafSize(hit.Level), CurrentProtection(hit));
            }
            finally
            {
                Volatile.Write(ref _slot.Busy, 0);
            }
            if (!RaiseFault(ref fault, handleFaults)) return new Translation(fault);
        }
    }

    /// <summary>Translates a kernel address (direct map or vmemmap) as a supervisor access. The TLB entries it
    /// creates are global: they survive flushes of the user address space and go only with kernel flushes. The
    /// CPU is busy in init_mm's flush domain throughout, so a kernel flush (hot-remove) waits for it: when the
    /// flusher returns, no translation that began before the flush is still running.</summary>
    public Translation TranslateKernel(ulong v, AccessKind access)
    {
        ThrowIfDisposed();
        if (!Paging.IsCanonical(v, _mode) || v < _userTop)
            return new Translation(Fault(_kernelRoot, v, access, Paging.IsCanonical(v, _mode) ? FaultReason.OutOfRange : FaultReason.NonCanonical));
        Volatile.Write(ref _kernelSlot.Busy, 1);
        try
        {
            ApplyKernelFlushes();
            ulong page = v & Paging.PageMask;
            int i = _tlb.IndexOf(v);
            if ((Unsafe.Add(ref _tlb.Entry(i).ReadTag, (int)access) & _watchMask) == _tlb.HitTag(page, global: true)
                || _tlb.TrySecondWay(page, access, _tlb.HitTag(page, global: true), _watchMask))
            {
                _counters.Hits++;
                return new Translation(new PhysAddr(_tlb.PhysPage(i) | (v & 0xFFF)), Paging.LeafSize(_tlb.Detail(i).Level), _tlb.Detail(i).Protection);
            }
            int h = _tlb.HugeIndexOf(v);
            if ((Unsafe.Add(ref _tlb.HugeEntry(h).ReadTag, (int)access) & _watchMask) == _tlb.HitTag(v & ~SoftTlb.HugeMask, global: true))
            {
                _counters.Hits++;
                return new Translation(new PhysAddr(_tlb.HugePhys(h) + (v & SoftTlb.HugeMask)), Paging.LeafSize(_tlb.HugeDetail(h).Level), _tlb.HugeDetail(h).Protection);
            }
            _counters.Misses++;
            _counters.Walks++;
            // The kernel gather frees a table only after every CPU busy here has seen its flush or left (as for
            // the user path's walks): the walk needs no RCU read-side section.
            WalkStatus status = HardwareWalker.Walk(_physical, _kernelRoot.Pa, _kernelRoot.Level, v, access, user: false,
                updateAccessedDirty: true, _checked, out WalkResult walk);
            if (status == WalkStatus.Poisoned) throw UseAfterFree(v, walk);
            if (status != WalkStatus.Ok)
                return new Translation(Fault(_kernelRoot, v, access, status == WalkStatus.ProtectionFault ? FaultReason.ProtectionViolation : FaultReason.NotMapped));
            Hit filled = FillEntry(v, walk, global: true, materialize: false);
            return new Translation(new PhysAddr(filled.PhysPage | (v & 0xFFF)), Paging.LeafSize(filled.Level), filled.Protection);
        }
        finally
        {
            Volatile.Write(ref _kernelSlot.Busy, 0);
        }
    }

    /// <summary>The slow path: applies missed flushes, checks the address, consults both ways of the TLB and the
    /// paging-structure caches, walks, and fills the TLB. Runs with the CPU marked busy: the gather frees a table
    /// only after every busy CPU has seen the flush that dropped it from its caches, which makes the CPU's
    /// lockless walks safe without an RCU read-side section (the announce would cost a locked instruction per
    /// miss).</summary>
    private bool Lookup(ulong v, AccessKind access, out Hit hit, out PageFault fault)
    {
        ThrowIfDisposed();
        if (FlushesToApply) ApplyFlushes();
        if (!Paging.IsCanonical(v, _mode) || v > _userLast)
        {
            hit = default;
            fault = Fault(_root, v, access, Paging.IsCanonical(v, _mode) ? FaultReason.OutOfRange : FaultReason.NonCanonical);
            return false;
        }
        ulong page = v & Paging.PageMask;
        int slot = _tlb.IndexOf(v);
        if ((Unsafe.Add(ref _tlb.Entry(slot).ReadTag, (int)access) & _watchMask) == (page | _tlb.UserEpoch))
        {
            // A hit that reached the slow path only because checked mode verifies every hit.
            if (_checked) VerifyFrame(v, _tlb.PhysPage(slot));
            _counters.Hits++;
            hit = HitAt(v, slot);
            fault = default;
            return true;
        }
        int huge = _tlb.HugeIndexOf(v);
        if ((Unsafe.Add(ref _tlb.HugeEntry(huge).ReadTag, (int)access) & _watchMask) == ((v & ~SoftTlb.HugeMask) | _tlb.UserEpoch))
        {
            if (_checked) VerifyFrame(v, (_tlb.HugePhys(huge) + (v & SoftTlb.HugeMask)) & Paging.PageMask);
            _counters.Hits++;
            hit = HugeHitAt(v, huge);
            fault = default;
            return true;
        }
        if (_tlb.TrySecondWay(page, access, page | _tlb.UserEpoch, _watchMask))
        {
            if (_checked) VerifyFrame(v, _tlb.PhysPage(slot));
            _counters.Hits++;
            hit = HitAt(v, slot);
            fault = default;
            return true;
        }
        _counters.Misses++;

        WalkStatus status;
        WalkResult walk;
        ulong pmdTable = 0;
        if (_tlb.TryPteTable(v, out ulong pteTable, out int rights))
        {
            _counters.PmdCacheHits++;
            status = HardwareWalker.WalkFrom(_physical, pteTable, Paging.PteLevel, rights, v, access, user: true, updateAccessedDirty: true, _checked, out walk);
        }
        else if (_tlb.TryPmdTable(v, out pmdTable, out rights))
        {
            _counters.PudCacheHits++;
            status = HardwareWalker.WalkFrom(_physical, pmdTable, Paging.PmdLevel, rights, v, access, user: true, updateAccessedDirty: true, _checked, out walk);
        }
        else
        {
            _counters.Walks++;
            status = HardwareWalker.Walk(_physical, _root.Pa, _root.Level, v, access, user: true, updateAccessedDirty: true, _checked, out walk);
        }

        if (status != WalkStatus.Ok)
        {
            if (status == WalkStatus.Poisoned) throw UseAfterFree(v, walk);
            hit = default;
            fault = Fault(_root, v, access, FaultFor(status, walk));
            return false;
        }
        if (!_frames.IsPresent(walk.PhysAddr >> Paging.PageShift))
        {
            hit = default;
            fault = Fault(_root, v, access, FaultReason.PhysicalMemoryAbsent);
            return false;
        }
        if (_checked) VerifyFrame(v, walk.PhysAddr & Paging.PageMask);
        if (walk.PteTablePa != 0 && walk.PteTablePa != pteTable) _tlb.CachePteTable(v, walk.PteTablePa, walk.RightsAbovePte);
        if (walk.PmdTablePa != 0 && walk.PmdTablePa != pmdTable) _tlb.CachePmdTable(v, walk.PmdTablePa, walk.RightsAbovePmd);
        hit = FillEntry(v, walk, global: false, materialize: access == AccessKind.Write);
        fault = default;
        return true;
    }

    /// <summary>Every translation that faults comes through here, so the fault counter and the <c>PageFault</c>
    /// events count the same faults.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private PageFault Fault(PageTableRoot root, ulong v, AccessKind access, FaultReason reason)
    {
        _counters.Faults++;
        if (FastPtEventSource.Log.IsEnabled()) FastPtEventSource.Log.PageFault(root.Id, v, (int)access, (int)reason);
        return new PageFault(new VirtAddr(v), access, reason);
    }

    /// <summary>The rights the leaf grants now: a grant is not flushed, so the cached copy may lag behind.</summary>
    private static Protection CurrentProtection(in Hit hit)
    {
        ulong live = Volatile.Read(ref *(ulong*)hit.LeafHost);
        return PageTableEntry.LeafAddress(live, hit.Level) == (hit.PhysPage & PageTableEntry.LeafAddressMask(hit.Level))
            ? PageTableEntry.ProtectionOf(live)
            : hit.Protection;
    }

    private static FaultReason FaultFor(WalkStatus status, in WalkResult walk) => status switch
    {
        WalkStatus.ProtectionFault => FaultReason.ProtectionViolation,
        // A PROT_NONE leaf is mapped but forbids every access.
        WalkStatus.NotPresent when walk.Entry != 0 && (walk.Entry & PageTableEntry.ProtNone) != 0
            && PageTableEntry.IsLeaf(walk.Entry, walk.Level) => FaultReason.ProtectionViolation,
        WalkStatus.NotPresent => FaultReason.NotMapped,
        _ => FaultReason.PhysicalMemoryAbsent,
    };
}
