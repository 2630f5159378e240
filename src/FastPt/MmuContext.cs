using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading;
using FastPt.Diagnostics;
using FastPt.Geometry;
using FastPt.Hardware;
using FastPt.Internals;
using FastPt.Mm;

namespace FastPt;

/// <summary>Counters of one CPU context's translation caches.</summary>
/// <param name="Hits">Translations answered by the TLB.</param>
/// <param name="Misses">Translations that missed the TLB.</param>
/// <param name="VictimHits">Misses answered by the victim TLB.</param>
/// <param name="PmdCacheHits">Misses finished from a cached PTE table (one load).</param>
/// <param name="PudCacheHits">Misses finished from a cached PMD table (two loads).</param>
/// <param name="Walks">Full walks from the root.</param>
/// <param name="Faults">Translations that faulted.</param>
/// <param name="PageFlushesReceived">Single-page invalidations applied.</param>
/// <param name="RangeFlushesReceived">Range invalidations applied.</param>
/// <param name="FullFlushesReceived">Full (non-global) flushes applied, including those forced by falling too far behind.</param>
/// <param name="KernelFlushesReceived">Kernel (global) invalidations applied.</param>
public readonly record struct TlbStatistics(
    long Hits, long Misses, long VictimHits, long PmdCacheHits, long PudCacheHits, long Walks, long Faults,
    long PageFlushesReceived, long RangeFlushesReceived, long FullFlushesReceived, long KernelFlushesReceived)
{
    /// <summary>Hits over all translations.</summary>
    public double HitRate => Hits + Misses == 0 ? 0 : (double)Hits / (Hits + Misses);

    /// <summary>Invalidations received of every kind.</summary>
    public long InvalidationsReceived => PageFlushesReceived + RangeFlushesReceived + FullFlushesReceived + KernelFlushesReceived;

    /// <summary>Sum of two sets of counters.</summary>
    public static TlbStatistics operator +(TlbStatistics a, TlbStatistics b) => new(
        a.Hits + b.Hits, a.Misses + b.Misses, a.VictimHits + b.VictimHits, a.PmdCacheHits + b.PmdCacheHits,
        a.PudCacheHits + b.PudCacheHits, a.Walks + b.Walks, a.Faults + b.Faults,
        a.PageFlushesReceived + b.PageFlushesReceived, a.RangeFlushesReceived + b.RangeFlushesReceived,
        a.FullFlushesReceived + b.FullFlushesReceived, a.KernelFlushesReceived + b.KernelFlushesReceived);
}

/// <summary>A simulated CPU translating for one address space: a software TLB (one compare and one add on a hit),
/// a victim TLB and paging-structure caches, kept coherent by the address space's flushes, which the context
/// applies before its next translation. A context belongs to the thread that created it (a CPU runs one thread at
/// a time): flushes that wait for every CPU rely on knowing which thread each context runs on. <see
/// cref="AddressSpace"/> keeps one per thread automatically; an embedder's vCPU thread can create and hold its own,
/// which is the fastest way to translate.</summary>
public sealed unsafe class MmuContext : IDisposable
{
    private static int s_nextNumber;

    private readonly MemoryManager _memory;
    private readonly PhysicalMemory _physical;
    private readonly SparseMemory _sparse;
    private readonly SoftTlb _tlb;
    private readonly bool _checked;
    private readonly ulong _watchMask;
    private readonly ContextSlot _slot = new();
    private readonly MmStruct _kernelMm;
    private AddressSpace _space;
    private MmStruct _mm;
    private FlushDomain _domain;
    private long _seen;
    private long _seenKernel;
    private ulong _userTop;
    private bool _disposed;

    private long _hits, _misses, _victimHits, _pmdHits, _pudHits, _walks, _faults;
    private long _pageFlushes, _rangeFlushes, _fullFlushes, _kernelFlushes;

    internal MmuContext(AddressSpace space, bool implicitContext = false)
    {
        IsImplicit = implicitContext;
        _space = space;
        _mm = space.Mm;
        _memory = _mm.Memory;
        _physical = _memory.Physical;
        _sparse = _memory.Sparse;
        _kernelMm = _memory.InitMm;
        _checked = _memory.Checked;
        _watchMask = _checked ? ~SoftTlb.WatchBit : ulong.MaxValue;
        _tlb = new SoftTlb(_memory.Options.TlbEntries, _memory.Options.PagingStructureCacheEntries);
        _userTop = _memory.Layout.UserTop;
        _domain = _mm.Flush;
        Number = Interlocked.Increment(ref s_nextNumber);
        Attach(space);
    }

    /// <summary>True for the context an address space keeps for a thread (it cannot switch address spaces).</summary>
    public bool IsImplicit { get; }

    /// <summary>A number identifying the context in traces.</summary>
    public int Number { get; }

    /// <summary>The address space this context translates for.</summary>
    public AddressSpace AddressSpace => _space;

    /// <summary>Entries of the TLB.</summary>
    public int TlbSize => _tlb.Size;

    /// <summary>Counters of this context's caches.</summary>
    public TlbStatistics Statistics => new(_hits, _misses, _victimHits, _pmdHits, _pudHits, _walks, _faults,
        _pageFlushes, _rangeFlushes, _fullFlushes, _kernelFlushes);

    internal ContextSlot Slot => _slot;

    private void Attach(AddressSpace space)
    {
        _slot.Owner = Thread.CurrentThread;
        _seen = space.Mm.Flush.Generation;
        _seenKernel = _kernelMm.Flush.Generation;
        _slot.SeenGeneration = _seen;
        space.Mm.Flush.Attach(_slot);
    }

    /// <summary>Loads another address space into this context (a CR3 write): non-global TLB entries and the
    /// paging-structure caches are dropped, global (kernel) entries stay.</summary>
    public void SwitchTo(AddressSpace space)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(space);
        if (IsImplicit) throw new InvalidOperationException("The per-thread context of an address space cannot switch; create one with CreateContext.");
        if (!ReferenceEquals(space.Machine.Memory, _memory)) throw new ArgumentException("The address space belongs to another machine.", nameof(space));
        if (space.Mm.Disposed) ThrowHelper.ThrowObjectDisposed(nameof(AddressSpace));
        _domain.Detach(_slot);
        _space = space;
        _mm = space.Mm;
        _domain = space.Mm.Flush;
        _tlb.FlushUser();
        _tlb.FlushPagingStructureCaches();
        Attach(space);
    }

    /// <summary>Drops everything cached (global entries included).</summary>
    public void FlushLocal()
    {
        ThrowIfDisposed();
        _tlb.FlushUser();
        _tlb.FlushGlobal();
        _tlb.FlushPagingStructureCaches();
    }

    // ------------------------------------------------------------------ translation

    /// <summary>Translates <paramref name="va"/> for <paramref name="access"/>: true and the physical address, or
    /// false if the access faults. A TLB hit is one compare and one add.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryTranslate(VirtAddr va, AccessKind access, out PhysAddr pa)
    {
        ulong v = va.Value;
        if (_seen == _domain.Generation)
        {
            int i = _tlb.IndexOf(v);
            if (Unsafe.Add(ref _tlb.Entry(i).ReadTag, (int)access) == ((v & Paging.PageMask) | _tlb.UserEpoch))
            {
                _hits++;
                pa = new PhysAddr(_tlb.PhysPage(i) | (v & (Paging.PageSize - 1)));
                return true;
            }
            int h = _tlb.HugeIndexOf(v);
            if (Unsafe.Add(ref _tlb.HugeEntry(h).ReadTag, (int)access) == ((v & ~SoftTlb.HugeMask) | _tlb.UserEpoch))
            {
                _hits++;
                pa = new PhysAddr(_tlb.HugePhys(h) + (v & SoftTlb.HugeMask));
                return true;
            }
        }
        return TranslateSlow(v, access, out pa);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool TranslateSlow(ulong v, AccessKind access, out PhysAddr pa)
    {
        Volatile.Write(ref _slot.Busy, 1);
        try
        {
            // A refill from the paging-structure caches costs about what a victim-TLB probe does, so the victim is
            // consulted only when no partial walk is cached (in Lookup, before walking from the root).
            if (_seen == _domain.Generation && !_checked && TryRefill(v, access, out ulong physPage))
            {
                pa = new PhysAddr(physPage | (v & (Paging.PageSize - 1)));
                return true;
            }
            if (Lookup(v, access, out Hit hit, out PageFault _))
            {
                pa = new PhysAddr(hit.PhysPage | (v & (Paging.PageSize - 1)));
                return true;
            }
            pa = default;
            return false;
        }
        finally
        {
            Volatile.Write(ref _slot.Busy, 0);
        }
    }

    /// <summary>Translates <paramref name="va"/> for <paramref name="access"/>, returning the physical address,
    /// page size and protection, or the fault.</summary>
    public Translation Translate(VirtAddr va, AccessKind access = AccessKind.Read)
    {
        Volatile.Write(ref _slot.Busy, 1);
        try
        {
            if (!Lookup(va.Value, access, out Hit hit, out PageFault fault)) return new Translation(fault);
            return new Translation(new PhysAddr(hit.PhysPage | (va.Value & (Paging.PageSize - 1))),
                Paging.LeafSize(hit.Level), CurrentProtection(hit));
        }
        finally
        {
            Volatile.Write(ref _slot.Busy, 0);
        }
    }

    /// <summary>Translates a kernel address (direct map or vmemmap) as a supervisor access. The TLB entries it
    /// creates are global: they survive flushes of the user address space and go only with kernel flushes.</summary>
    public Translation TranslateKernel(VirtAddr va, AccessKind access = AccessKind.Read)
    {
        ThrowIfDisposed();
        ulong v = va.Value;
        if (!Paging.IsCanonical(v, _memory.Layout.Mode) || v < _userTop)
            return new Translation(new PageFault(va, access, Paging.IsCanonical(v, _memory.Layout.Mode) ? FaultReason.OutOfRange : FaultReason.NonCanonical));
        ApplyKernelFlushes();
        ulong page = v & Paging.PageMask;
        int i = _tlb.IndexOf(v);
        if ((Unsafe.Add(ref _tlb.Entry(i).ReadTag, (int)access) & _watchMask) == _tlb.HitTag(page, global: true)
            || _tlb.TryVictim(page, access, global: true))
        {
            _hits++;
            return new Translation(new PhysAddr(_tlb.PhysPage(i) | (v & 0xFFF)), Paging.LeafSize(_tlb.Detail(i).Level), _tlb.Detail(i).Protection);
        }
        int h = _tlb.HugeIndexOf(v);
        if ((Unsafe.Add(ref _tlb.HugeEntry(h).ReadTag, (int)access) & _watchMask) == _tlb.HitTag(v & ~SoftTlb.HugeMask, global: true))
        {
            _hits++;
            return new Translation(new PhysAddr(_tlb.HugePhys(h) + (v & SoftTlb.HugeMask)), Paging.LeafSize(_tlb.HugeDetail(h).Level), _tlb.HugeDetail(h).Protection);
        }
        _misses++;
        _walks++;
        WalkStatus status;
        WalkResult walk;
        _memory.Rcu.ReadLock();
        try
        {
            // Kernel tables are freed after an RCU grace period (the kernel's gather synchronizes), and this
            // context does not attach to the kernel's flush domain, so it reads them inside a read-side section.
            status = HardwareWalker.Walk(_physical, _kernelMm.RootPa, _kernelMm.RootLevel, v, access, user: false,
                updateAccessedDirty: true, _checked, out walk);
        }
        finally
        {
            _memory.Rcu.ReadUnlock();
        }
        if (status == WalkStatus.Poisoned) throw ThrowHelper.UseAfterFree(_memory, v, walk);
        if (status != WalkStatus.Ok)
        {
            _faults++;
            return new Translation(new PageFault(va, access, status == WalkStatus.ProtectionFault ? FaultReason.ProtectionViolation : FaultReason.NotMapped));
        }
        Hit filled = FillEntry(v, walk, global: true, materialize: false);
        return new Translation(new PhysAddr(filled.PhysPage | (v & 0xFFF)), Paging.LeafSize(filled.Level), filled.Protection);
    }

    /// <summary>The slow path: applies missed flushes, checks the address, consults the victim TLB and the
    /// paging-structure caches, walks, and fills the TLB. Runs with the context marked busy: the gather frees a
    /// table only after every busy context has seen the flush that dropped it from its caches, which makes the
    /// context's lockless walks safe without an RCU read-side section (the announce would cost a locked
    /// instruction per miss).</summary>
    private bool Lookup(ulong v, AccessKind access, out Hit hit, out PageFault fault)
    {
        ThrowIfDisposed();
        if (_seen != _domain.Generation) ApplyFlushes();
        if (!Paging.IsCanonical(v, _memory.Layout.Mode) || v >= _userTop)
        {
            _faults++;
            hit = default;
            fault = new PageFault(new VirtAddr(v), access, Paging.IsCanonical(v, _memory.Layout.Mode) ? FaultReason.OutOfRange : FaultReason.NonCanonical);
            return false;
        }
        ulong page = v & Paging.PageMask;
        int slot = _tlb.IndexOf(v);
        if ((Unsafe.Add(ref _tlb.Entry(slot).ReadTag, (int)access) & _watchMask) == (page | _tlb.UserEpoch))
        {
            // A hit that reached the slow path only because checked mode verifies every hit.
            if (_checked) VerifyFrame(v, _tlb.PhysPage(slot));
            _hits++;
            hit = HitAt(v, slot);
            fault = default;
            return true;
        }
        int huge = _tlb.HugeIndexOf(v);
        if ((Unsafe.Add(ref _tlb.HugeEntry(huge).ReadTag, (int)access) & _watchMask) == ((v & ~SoftTlb.HugeMask) | _tlb.UserEpoch))
        {
            if (_checked) VerifyFrame(v, (_tlb.HugePhys(huge) + (v & SoftTlb.HugeMask)) & Paging.PageMask);
            _hits++;
            hit = HugeHitAt(v, huge);
            fault = default;
            return true;
        }
        _misses++;
        if (_tlb.TryVictim(page, access, global: false))
        {
            if (_checked) VerifyFrame(v, _tlb.PhysPage(slot));
            _victimHits++;
            hit = HitAt(v, slot);
            fault = default;
            return true;
        }

        WalkStatus status;
        WalkResult walk;
        ulong pmdTable = 0;
        if (_tlb.TryPteTable(v, out ulong pteTable, out int rights))
        {
            _pmdHits++;
            status = HardwareWalker.WalkFrom(_physical, pteTable, Paging.PteLevel, rights, v, access, user: true, updateAccessedDirty: true, _checked, out walk);
        }
        else if (_tlb.TryPmdTable(v, out pmdTable, out rights))
        {
            _pudHits++;
            status = HardwareWalker.WalkFrom(_physical, pmdTable, Paging.PmdLevel, rights, v, access, user: true, updateAccessedDirty: true, _checked, out walk);
        }
        else
        {
            _walks++;
            status = HardwareWalker.Walk(_physical, _mm.RootPa, _mm.RootLevel, v, access, user: true, updateAccessedDirty: true, _checked, out walk);
        }

        if (status != WalkStatus.Ok)
        {
            if (status == WalkStatus.Poisoned) throw ThrowHelper.UseAfterFree(_memory, v, walk);
            _faults++;
            hit = default;
            fault = new PageFault(new VirtAddr(v), access, FaultFor(status, walk));
            if (FastPtEventSource.Log.IsEnabled()) FastPtEventSource.Log.PageFault(_mm.Id, v, (int)access, (int)fault.Reason);
            return false;
        }
        if (!_memory.Sparse.PfnPresent(walk.PhysAddr >> Paging.PageShift))
        {
            _faults++;
            hit = default;
            fault = new PageFault(new VirtAddr(v), access, FaultReason.PhysicalMemoryAbsent);
            return false;
        }
        if (_checked) VerifyFrame(v, walk.PhysAddr & Paging.PageMask);
        if (walk.PteTablePa != 0 && walk.PteTablePa != pteTable) _tlb.CachePteTable(v, walk.PteTablePa, walk.RightsAbovePte);
        if (walk.PmdTablePa != 0 && walk.PmdTablePa != pmdTable) _tlb.CachePmdTable(v, walk.PmdTablePa, walk.RightsAbovePmd);
        hit = FillEntry(v, walk, global: false, materialize: access == AccessKind.Write);
        fault = default;
        return true;
    }

    /// <summary>The common miss, done in a few loads: a paging-structure cache holds the table above the leaf,
    /// and the leaf needs no Accessed or Dirty update. Anything unusual (a hole, a fault, a bit to set, checked
    /// mode) returns false and the general path handles it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool TryRefill(ulong v, AccessKind access, out ulong physPage)
    {
        physPage = 0;
        if (v >= _userTop || _checked) return false;
        ulong tablePa;
        int rights;
        int level;
        if (_tlb.TryPteTable(v, out tablePa, out rights)) level = Paging.PteLevel;
        else if (_tlb.TryPmdTable(v, out tablePa, out rights)) level = Paging.PmdLevel;
        else return false;
        int cachedLevel = level;
        ulong* slot = (ulong*)_physical.ReadPointer(tablePa + (ulong)(Paging.Index(level, v) * 8));
        ulong entry = Volatile.Read(ref *slot);
        if (level == Paging.PmdLevel && (entry & (PageTableEntry.Huge | PageTableEntry.Present | PageTableEntry.Accessed)) == (PageTableEntry.Present | PageTableEntry.Accessed))
        {
            // The PMD entry points to a PTE table: one more load, and remember the table.
            rights = Rights.Combine(rights, entry);
            tablePa = PageTableEntry.TableAddress(entry);
            if (tablePa >= _physical.MaxPhysicalAddress) return false;
            _tlb.CachePteTable(v, tablePa, rights);
            level = Paging.PteLevel;
            slot = (ulong*)_physical.ReadPointer(tablePa + (ulong)(Paging.Index(level, v) * 8));
            entry = Volatile.Read(ref *slot);
        }
        else if (level == Paging.PmdLevel && (entry & PageTableEntry.Huge) == 0)
        {
            return false;
        }
        ulong needed = PageTableEntry.Present | PageTableEntry.Accessed | (access == AccessKind.Write ? PageTableEntry.Dirty : 0);
        if ((entry & needed) != needed) return false;
        rights = Rights.Combine(rights, entry);
        if (!Rights.Allows(rights, access, user: true)) return false;
        ulong leafSize = Paging.LevelSize(level);
        ulong pa = PageTableEntry.LeafAddress(entry, level) | (v & (leafSize - 1));
        if (pa >= _physical.MaxPhysicalAddress || !_sparse.PfnPresent(pa >> Paging.PageShift)) return false;
        if (cachedLevel == Paging.PteLevel) _pmdHits++; else _pudHits++;
        _misses++;
        physPage = pa & Paging.PageMask;
        if (level > Paging.PteLevel) FillHuge(v, pa, entry, level, rights, global: false, materialize: false, (byte*)slot);
        else Fill(v, physPage, entry, level, rights, global: false, materialize: false, (byte*)slot);
        return true;
    }

    /// <summary>The rights the leaf grants now: a grant is not flushed, so the cached copy may lag behind.</summary>
    private static Protection CurrentProtection(in Hit hit)
    {
        ulong live = Volatile.Read(ref *(ulong*)hit.LeafHost);
        return PageTableEntry.LeafAddress(live, hit.Level) == (hit.PhysPage & PageTableEntry.LeafAddressMask(hit.Level))
            ? PageTableEntry.ProtectionOf(live)
            : hit.Protection;
    }

    /// <summary>What the slow paths need to know of a TLB entry (the fast paths read the arrays directly).</summary>
    private readonly struct Hit
    {
        public Hit(ulong physPage, nint host, int level, Protection protection, nint leafHost)
        {
            PhysPage = physPage;
            Host = host;
            Level = level;
            Protection = protection;
            LeafHost = leafHost;
        }

        public ulong PhysPage { get; }
        public nint Host { get; }
        public int Level { get; }
        public Protection Protection { get; }
        public nint LeafHost { get; }
    }

    private Hit HugeHitAt(ulong v, int slot)
    {
        ref TlbDetail detail = ref _tlb.HugeDetail(slot);
        ulong offset = v & SoftTlb.HugeMask & Paging.PageMask;
        return new Hit(_tlb.HugePhys(slot) + offset,
            (nint)((long)(v & ~SoftTlb.HugeMask) + _tlb.HugeEntry(slot).HostAddend + (long)offset),
            detail.Level, detail.Protection, detail.LeafHost);
    }

    private Hit HitAt(ulong v, int slot)
    {
        ref TlbDetail detail = ref _tlb.Detail(slot);
        return new Hit(_tlb.PhysPage(slot), (nint)((long)(v & Paging.PageMask) + _tlb.Entry(slot).HostAddend),
            detail.Level, detail.Protection, detail.LeafHost);
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

    private Hit FillEntry(ulong v, in WalkResult walk, bool global, bool materialize)
    {
        byte* leafEntryHost = _physical.ReadPointer(walk.TablePa + (ulong)(Paging.Index(walk.Level, v) * 8));
        if (walk.Level > Paging.PteLevel)
            return HugeHitAt(v, FillHuge(v, walk.PhysAddr, walk.Entry, walk.Level, walk.Rights, global, materialize, leafEntryHost));
        return HitAt(v, Fill(v, walk.PhysAddr & Paging.PageMask, walk.Entry, walk.Level, walk.Rights, global, materialize, leafEntryHost));
    }

    /// <summary>Caches the 2 MiB piece of a huge leaf that holds <paramref name="v"/> in the large-page TLB.</summary>
    private int FillHuge(ulong v, ulong pa, ulong leaf, int level, int rights, bool global, bool materialize, byte* leafEntryHost)
    {
        ulong region = v & ~SoftTlb.HugeMask;
        ulong physRegion = pa & ~SoftTlb.HugeMask;
        ulong tag = _tlb.HitTag(region, global) | (_checked ? SoftTlb.WatchBit : 0);
        bool user = !global;
        bool writeHit = (leaf & PageTableEntry.Dirty) != 0 && Rights.Allows(rights, AccessKind.Write, user);
        // The 2 MiB piece is one host chunk; a write through the addend is accounted to it.
        byte* host = materialize || writeHit ? _physical.WritePointer(physRegion) : _physical.ReadPointer(physRegion);
        ulong leafSize = Paging.LevelSize(level);
        return _tlb.WriteHuge(region,
            Rights.Allows(rights, AccessKind.Read, user) ? tag : tag | SoftTlb.InvalidBit,
            !Rights.Allows(rights, AccessKind.Write, user) ? tag | SoftTlb.InvalidBit : writeHit ? tag : tag | SoftTlb.NotDirtyBit,
            Rights.Allows(rights, AccessKind.Execute, user) ? tag : tag | SoftTlb.InvalidBit,
            (long)host - (long)region,
            physRegion,
            TlbDetail.Pack(region, level, PageTableEntry.ProtectionOf(leaf), global),
            (nint)leafEntryHost, v & ~(leafSize - 1), leafSize);
    }

    /// <summary>Writes the TLB entry for <paramref name="v"/> in place and returns its slot.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int Fill(ulong v, ulong physPage, ulong leaf, int level, int rights, bool global, bool materialize, byte* leafEntryHost)
    {
        ulong page = v & Paging.PageMask;
        // Checked mode watches every access: the watch bit makes every fast-path compare fail, so each hit goes
        // through the slow path, which verifies the frame.
        ulong tag = _tlb.HitTag(page, global) | (_checked ? SoftTlb.WatchBit : 0);
        bool user = !global;
        bool writeHit = (leaf & PageTableEntry.Dirty) != 0 && Rights.Allows(rights, AccessKind.Write, user);
        // A write through the entry's host addend must be accounted as a write to the frame's chunk.
        byte* host = materialize || writeHit ? _physical.WritePointer(physPage) : _physical.ReadPointer(physPage);
        ulong leafSize = Paging.LevelSize(level);
        int slot = _tlb.Claim(page, v & ~(leafSize - 1), leafSize);
        _tlb.Write(slot,
            Rights.Allows(rights, AccessKind.Read, user) ? tag : tag | SoftTlb.InvalidBit,
            // The first write through a clean leaf must take the slow path: it sets D.
            !Rights.Allows(rights, AccessKind.Write, user) ? tag | SoftTlb.InvalidBit : writeHit ? tag : tag | SoftTlb.NotDirtyBit,
            Rights.Allows(rights, AccessKind.Execute, user) ? tag : tag | SoftTlb.InvalidBit,
            (long)host - (long)page,
            physPage,
            TlbDetail.Pack(page, level, PageTableEntry.ProtectionOf(leaf), global),
            (nint)leafEntryHost);
        return slot;
    }

    /// <summary>Applies every flush of the address space published since the last one this context saw.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ApplyFlushes()
    {
        ThrowIfDisposed(); // never mark a disposed context as caught up: its fast paths must keep missing
        FlushDomain domain = _domain;
        long target = domain.Generation;
        long requests = target - _seen;
        bool full = requests > FlushDomain.RingSize;
        if (!full)
        {
            for (long g = _seen + 1; g <= target; g++)
            {
                if (!domain.TryRead(g, out FlushRequest request))
                {
                    full = true;
                    break;
                }
                Apply(request);
            }
        }
        if (full)
        {
            _tlb.FlushUser();
            _tlb.FlushPagingStructureCaches();
            _fullFlushes++;
        }
        _seen = target;
        Volatile.Write(ref _slot.SeenGeneration, target);
        if (FastPtEventSource.Log.IsEnabled()) FastPtEventSource.Log.ContextInvalidated(_mm.Id, Number, requests, full);
    }

    private void Apply(in FlushRequest request)
    {
        switch (request.Kind)
        {
            case FlushKind.Page:
                _tlb.FlushRange(request.Start, request.End, global: false);
                _pageFlushes++;
                break;
            case FlushKind.Range:
                _tlb.FlushRange(request.Start, request.End, global: false);
                _rangeFlushes++;
                break;
            default:
                _tlb.FlushUser();
                _fullFlushes++;
                break;
        }
        if (request.TablesFreed) _tlb.FlushPagingStructureCaches();
    }

    private void ApplyKernelFlushes()
    {
        long target = _kernelMm.Flush.Generation;
        if (target == _seenKernel) return;
        _tlb.FlushGlobal();
        _kernelFlushes += target - _seenKernel;
        _seenKernel = target;
    }

    /// <summary>Checked mode: the frame a translation reached must not have been freed.</summary>
    private void VerifyFrame(ulong v, ulong physPage)
    {
        ulong pfn = physPage >> Paging.PageShift;
        if (!_memory.Sparse.PfnValid(pfn)) return;
        if ((_memory.Memmap.Get(pfn)->Flags & PageFlags.Poisoned) == 0) return;
        Vmstat.Add(ref _memory.Stat.UseAfterFreeDetected, 1);
        throw new UseAfterFreeException(
            $"checked mode: context {Number} translated 0x{v:x16} to freed frame 0x{physPage:x} (a TLB entry outlived the free: free before flush?)",
            new VirtAddr(v), new PhysAddr(physPage));
    }

    // ------------------------------------------------------------------ data access

    /// <summary>Reads a value through translation. Faults throw <see cref="PageFaultException"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public T Read<T>(VirtAddr va) where T : unmanaged
    {
        ulong v = va.Value;
        Volatile.Write(ref _slot.Busy, 1);
        if (_seen == _domain.Generation && (v & (Paging.PageSize - 1)) <= Paging.PageSize - (ulong)sizeof(T))
        {
            ref TlbEntry e = ref _tlb.Entry(_tlb.IndexOf(v));
            if (e.ReadTag == ((v & Paging.PageMask) | _tlb.UserEpoch))
            {
                T value = Unsafe.ReadUnaligned<T>((byte*)((long)v + e.HostAddend));
                _hits++;
                Volatile.Write(ref _slot.Busy, 0);
                return value;
            }
            ref TlbEntry h = ref _tlb.HugeEntry(_tlb.HugeIndexOf(v));
            if (h.ReadTag == ((v & ~SoftTlb.HugeMask) | _tlb.UserEpoch))
            {
                T value = Unsafe.ReadUnaligned<T>((byte*)((long)v + h.HostAddend));
                _hits++;
                Volatile.Write(ref _slot.Busy, 0);
                return value;
            }
        }
        T result = default;
        ReadSlow(v, MemoryMarshal.AsBytes(new Span<T>(ref result)));
        return result;
    }

    /// <summary>Writes a value through translation. Faults throw <see cref="PageFaultException"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Write<T>(VirtAddr va, T value) where T : unmanaged
    {
        ulong v = va.Value;
        Volatile.Write(ref _slot.Busy, 1);
        if (_seen == _domain.Generation && (v & (Paging.PageSize - 1)) <= Paging.PageSize - (ulong)sizeof(T))
        {
            ref TlbEntry e = ref _tlb.Entry(_tlb.IndexOf(v));
            if (e.WriteTag == ((v & Paging.PageMask) | _tlb.UserEpoch))
            {
                Unsafe.WriteUnaligned((byte*)((long)v + e.HostAddend), value);
                _hits++;
                Volatile.Write(ref _slot.Busy, 0);
                return;
            }
            ref TlbEntry h = ref _tlb.HugeEntry(_tlb.HugeIndexOf(v));
            if (h.WriteTag == ((v & ~SoftTlb.HugeMask) | _tlb.UserEpoch))
            {
                Unsafe.WriteUnaligned((byte*)((long)v + h.HostAddend), value);
                _hits++;
                Volatile.Write(ref _slot.Busy, 0);
                return;
            }
        }
        WriteSlow(v, MemoryMarshal.AsBytes(new ReadOnlySpan<T>(in value)));
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ReadSlow(ulong v, Span<byte> destination)
    {
        if (!TryAccess(v, destination, AccessKind.Read, out PageFault fault)) ThrowHelper.ThrowPageFault(fault);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void WriteSlow(ulong v, ReadOnlySpan<byte> source)
    {
        if (!TryAccess(v, MemoryMarshal.CreateSpan(ref MemoryMarshal.GetReference(source), source.Length), AccessKind.Write, out PageFault fault))
            ThrowHelper.ThrowPageFault(fault);
    }

    /// <summary>Reads bytes through translation; false with the fault (and nothing read) if any page faults.</summary>
    public bool TryRead(VirtAddr va, Span<byte> destination, out PageFault fault) =>
        TryAccess(va.Value, destination, AccessKind.Read, out fault);

    /// <summary>Writes bytes through translation. Every page is checked before the first byte is written, so a
    /// faulting write changes nothing (no data, no Dirty bits).</summary>
    public bool TryWrite(VirtAddr va, ReadOnlySpan<byte> source, out PageFault fault) =>
        TryAccess(va.Value, MemoryMarshal.CreateSpan(ref MemoryMarshal.GetReference(source), source.Length), AccessKind.Write, out fault);

    /// <summary>Reads bytes, throwing <see cref="PageFaultException"/> on a fault.</summary>
    public void Read(VirtAddr va, Span<byte> destination)
    {
        if (!TryRead(va, destination, out PageFault fault)) ThrowHelper.ThrowPageFault(fault);
    }

    /// <summary>Writes bytes, throwing <see cref="PageFaultException"/> on a fault.</summary>
    public void Write(VirtAddr va, ReadOnlySpan<byte> source)
    {
        if (!TryWrite(va, source, out PageFault fault)) ThrowHelper.ThrowPageFault(fault);
    }

    private bool TryAccess(ulong va, Span<byte> buffer, AccessKind access, out PageFault fault)
    {
        Volatile.Write(ref _slot.Busy, 1);
        try
        {
            if (buffer.IsEmpty)
            {
                fault = default;
                return true;
            }
            ulong last = va + (ulong)buffer.Length - 1;
            if (last < va)
            {
                fault = new PageFault(new VirtAddr(va), access, FaultReason.OutOfRange);
                return false;
            }
            if ((va >> Paging.PageShift) != (last >> Paging.PageShift))
            {
                // Check every page before touching any: a faulting access leaves no trace.
                for (ulong page = va & Paging.PageMask; ; page += Paging.PageSize)
                {
                    if (!Probe(Math.Max(page, va), access, out fault)) return false;
                    if (page >= (last & Paging.PageMask)) break;
                }
            }
            int done = 0;
            while (done < buffer.Length)
            {
                ulong at = va + (ulong)done;
                if (!Lookup(at, access, out Hit entry, out fault)) return false;
                int n = (int)Math.Min((ulong)(buffer.Length - done), Paging.PageSize - (at & (Paging.PageSize - 1)));
                Span<byte> part = buffer.Slice(done, n);
                ulong offset = at & (Paging.PageSize - 1);
                var host = new Span<byte>((byte*)entry.Host + offset, n);
                if (access == AccessKind.Write) part.CopyTo(host);
                else host.CopyTo(part);
                done += n;
            }
            fault = default;
            return true;
        }
        finally
        {
            Volatile.Write(ref _slot.Busy, 0);
        }
    }

    /// <summary>Would an access of <paramref name="access"/> at <paramref name="va"/> succeed? No side effects.</summary>
    private bool Probe(ulong va, AccessKind access, out PageFault fault)
    {
        if (_seen != _domain.Generation) ApplyFlushes();
        if (Unsafe.Add(ref _tlb.Entry(_tlb.IndexOf(va)).ReadTag, (int)access) == ((va & Paging.PageMask) | _tlb.UserEpoch))
        {
            fault = default;
            return true;
        }
        if (!Paging.IsCanonical(va, _memory.Layout.Mode) || va >= _userTop)
        {
            fault = new PageFault(new VirtAddr(va), access, Paging.IsCanonical(va, _memory.Layout.Mode) ? FaultReason.OutOfRange : FaultReason.NonCanonical);
            return false;
        }
        WalkStatus status = HardwareWalker.Walk(_physical, _mm.RootPa, _mm.RootLevel, va, access, user: true,
            updateAccessedDirty: false, _checked, out WalkResult walk);
        if (status == WalkStatus.Poisoned) throw ThrowHelper.UseAfterFree(_memory, va, walk);
        if (status == WalkStatus.Ok && !_memory.Sparse.PfnPresent(walk.PhysAddr >> Paging.PageShift)) status = WalkStatus.BadPhysicalAddress;
        if (status == WalkStatus.Ok)
        {
            fault = default;
            return true;
        }
        fault = new PageFault(new VirtAddr(va), access, FaultFor(status, walk));
        return false;
    }

    private void ThrowIfDisposed()
    {
        if (_disposed) ThrowHelper.ThrowObjectDisposed(nameof(MmuContext));
        if (_mm.Disposed) ThrowHelper.ThrowObjectDisposed(nameof(AddressSpace));
    }

    /// <summary>Detaches the context from its address space. Later calls throw <see cref="ObjectDisposedException"/>.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _slot.Disposed = true;
        _domain.Detach(_slot);
        _space.Forget(this);
        _seen = -1; // every later call takes the slow path, which throws
    }
}
