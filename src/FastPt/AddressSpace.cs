using System;
using System.Collections.Generic;
using System.Runtime.CompilerServices;
using System.Threading;
using FastPt.Geometry;
using FastPt.Hardware;
using FastPt.Internals;
using FastPt.Mm;

namespace FastPt;

/// <summary>A user address space (one "process"): its own page tables, mapped by ranges with the largest pages
/// alignment allows, or reserved as anonymous regions that fault their frames in on first touch, and accessed
/// through translation. Every method is safe to call from several threads at once: range operations are serialised
/// by the address space's mmap lock, while translations run without a lock and demand faults take only the split
/// page-table locks of the tables they change.</summary>
public sealed unsafe partial class AddressSpace : IDisposable
{
    private readonly Machine _machine;
    private readonly MmStruct _mm;
    private readonly MemoryManager _memory;
    private readonly ulong _userTop;
    private readonly ulong _last; // the last address the space maps (inclusive): never wraps, even at 2^64
    private readonly PagingMode _mode;
    private readonly ThreadLocal<MmuContext> _implicitContexts;
    private readonly Lock _contextsLock = new();
    private readonly List<MmuContext> _explicitContexts = new();
    private bool _disposed;

    // The calling thread's last (address space, context) pair: one thread-local load on the translation path.
    [ThreadStatic] private static MmuContext? t_context;

    internal AddressSpace(Machine machine, MemoryManager memory, AddressSpaceLayout layout = AddressSpaceLayout.User)
    {
        _machine = machine;
        _memory = memory;
        Layout = layout;
        _mm = memory.CreateUserMm(fullCanonical: layout == AddressSpaceLayout.FullCanonical);
        _last = _mm.UserLast;
        // The #PF vector of the address space's CPUs: misses inside anonymous regions become demand faults.
        _mm.Root.FaultHandler = new Faults.AnonymousFaultHandler(_mm);
        _userTop = memory.Layout.UserTop;
        _mode = memory.Layout.Mode;
        _implicitContexts = new ThreadLocal<MmuContext>(() => new MmuContext(this, implicitContext: true), trackAllValues: true);
    }

    internal MmStruct Mm => _mm;

    /// <summary>The machine this address space lives in.</summary>
    public Machine Machine => _machine;

    /// <summary>A number that identifies the address space in traces.</summary>
    public ulong Id => _mm.Id;

    /// <summary>Exclusive end of the lower canonical half: 2^47 (4-level) or 2^56 (5-level). For the
    /// <see cref="AddressSpaceLayout.User"/> layout the end of everything the space can map; a
    /// <see cref="AddressSpaceLayout.FullCanonical"/> space maps the higher half too (see <see cref="Contains"/>).</summary>
    public VirtAddr UserTop => new(_userTop);

    /// <summary>Which addresses the space maps: the lower half only, or both canonical halves (a guest).</summary>
    public AddressSpaceLayout Layout { get; }

    /// <summary>First address of the higher canonical half, 2^64 − 2^47 (4-level) or 2^64 − 2^56 (5-level):
    /// where a <see cref="AddressSpaceLayout.FullCanonical"/> space's second half begins (a
    /// <see cref="AddressSpaceLayout.User"/> space refuses it).</summary>
    public VirtAddr HigherHalfStart => new(Paging.HigherHalfStart(_mode));

    /// <summary>True when the space can map <paramref name="va"/>: canonical for the paging mode and, for the
    /// <see cref="AddressSpaceLayout.User"/> layout, below <see cref="UserTop"/>.</summary>
    public bool Contains(VirtAddr va)
    {
        ThrowIfDisposed();
        return InSpace(va);
    }

    private bool InSpace(VirtAddr va) => Paging.IsCanonical(va.Value, _mode) && va.Value <= _last;

    /// <summary>Page-table pages below the root, by level.</summary>
    public PageTableCounts PageTables
    {
        get
        {
            ThrowIfDisposed();
            long[] t = _mm.Tables;
            return new PageTableCounts(t[1], t[2], t[3], _mode == PagingMode.FiveLevel ? t[4] : 0);
        }
    }

    /// <summary>Bytes currently mapped (PROT_NONE pages included).</summary>
    public ulong MappedBytes
    {
        get
        {
            ThrowIfDisposed();
            return _mm.MappedBytes;
        }
    }

    /// <summary>Leaves currently mapped of each size.</summary>
    public long LeafCount(PageSize size)
    {
        ThrowIfDisposed();
        return _mm.LeafCount(size.LeafLevel());
    }

    /// <summary>TLB flushes published to this address space's CPU contexts.</summary>
    public long FlushesPublished
    {
        get
        {
            ThrowIfDisposed();
            return _mm.Flush.Published;
        }
    }

    // ---------------------------------------------------------------- map / unmap / protect

    /// <summary>Maps [<paramref name="va"/>, +<paramref name="length"/>) onto physical memory at
    /// <paramref name="pa"/> in one walk, choosing 1 GiB, 2 MiB and 4 KiB leaves by the alignment of both
    /// addresses unless <paramref name="pageSize"/> forces one size. Every page of the range must be unmapped and
    /// outside any anonymous region. On failure nothing changes.</summary>
    public PagingResult TryMap(VirtAddr va, PhysAddr pa, ulong length, Protection protection, PageSize? pageSize = null)
    {
        ThrowIfDisposed();
        PagingResult invalid = ValidateRange(va, length, pageSize ?? PageSize.Size4K);
        if (!invalid.IsSuccess) return invalid;
        if (length > _memory.Physical.MaxPhysicalAddress || pa.Value > _memory.Physical.MaxPhysicalAddress - length)
            return new PagingResult(PagingError.OutOfRange, va, null, $"physical range {pa}+0x{length:x} exceeds the physical address width");
        ulong align = (pageSize ?? PageSize.Size4K).Bytes() - 1;
        if ((pa.Value & align) != 0)
            return new PagingResult(PagingError.Misaligned, va, null, $"physical address {pa} is not aligned to {(pageSize ?? PageSize.Size4K).ShortName()}");
        protection = Normalize(protection);
        int allowed;
        int forced = 0;
        if (pageSize is { } size)
        {
            if (size == PageSize.Size1G && !_memory.Options.GigabytePages)
                return new PagingResult(PagingError.InvalidArgument, va, null, "1 GiB pages are disabled on this machine");
            forced = size.LeafLevel();
            allowed = 1 << forced;
        }
        else
        {
            allowed = (1 << 1) | (1 << 2) | (_memory.Options.GigabytePages ? 1 << 3 : 0);
        }
        var plan = new MapOperation.Plan(va.Value, pa.Value, allowed, forced,
            PageTableEntry.UserLeafBits(protection, 1), PageTableEntry.UserLeafBits(protection, 2), PageTableEntry.UserTable);
        PagingResult result = PageTableOps.Map(_mm, va.Value, length, plan);
        // The frames are now readable raw: memmap among them gets its deferred descriptors written. A translation
        // racing with this call is unordered with the map itself, so it may equally find the range unmapped.
        if (result.IsSuccess) _memory.Memmap.InitialiseBacking(pa.Value, length);
        return result;
    }

    /// <summary>Like <see cref="TryMap"/>, throwing <see cref="PagingException"/> on failure.</summary>
    public void Map(VirtAddr va, PhysAddr pa, ulong length, Protection protection, PageSize? pageSize = null) =>
        TryMap(va, pa, length, protection, pageSize).ThrowIfFailed();

    /// <summary>Reserves [<paramref name="va"/>, +<paramref name="length"/>) as an anonymous region, like
    /// <c>mmap(MAP_ANONYMOUS | MAP_PRIVATE | MAP_FIXED_NOREPLACE)</c>: no frame and no page table yet. The first
    /// access to each page through a <see cref="MmuContext"/> takes a demand fault that allocates a zeroed frame (or
    /// a 2 MiB page, or maps the zero page, as <paramref name="options"/> say) and retries; an access the rights
    /// forbid faults with <see cref="FaultReason.ProtectionViolation"/>. The range must hold no mapping and no other
    /// region (<see cref="PagingError.AlreadyMapped"/>); <see cref="TryUnmap"/> and <see cref="TryProtect"/> work on
    /// regions, freeing or re-protecting what was faulted in. On failure nothing changes.</summary>
    public PagingResult TryMapAnonymous(VirtAddr va, ulong length, Protection protection, AnonymousOptions options = AnonymousOptions.None)
    {
        ThrowIfDisposed();
        if ((options & ~(AnonymousOptions.TransparentHugePages | AnonymousOptions.ZeroPage)) != 0)
            throw new ArgumentOutOfRangeException(nameof(options), options, "unknown anonymous-mapping options");
        PagingResult invalid = ValidateRange(va, length, PageSize.Size4K);
        if (!invalid.IsSuccess) return invalid;
        return PageTableOps.MapAnonymous(_mm, va.Value, length, Normalize(protection), options);
    }

    /// <summary>Like <see cref="TryMapAnonymous"/>, throwing <see cref="PagingException"/> on failure.</summary>
    public void MapAnonymous(VirtAddr va, ulong length, Protection protection, AnonymousOptions options = AnonymousOptions.None) =>
        TryMapAnonymous(va, length, protection, options).ThrowIfFailed();

    /// <summary>The anonymous regions, in address order (a consistent snapshot, read without a lock). A region that
    /// was partly unmapped or re-protected shows as its pieces.</summary>
    public IReadOnlyList<AnonymousRegion> AnonymousRegions
    {
        get
        {
            ThrowIfDisposed();
            var regions = new List<AnonymousRegion>();
            foreach (VmArea vma in _mm.Vmas.All())
                regions.Add(new AnonymousRegion(new VirtAddr(vma.Start), vma.End - vma.Start, vma.Protection, vma.Options));
            return regions;
        }
    }

    /// <summary>Unmaps [<paramref name="va"/>, +<paramref name="length"/>). Outside anonymous regions every page must
    /// be mapped; a huge page only partly inside the range is split first. The parts of anonymous regions in the
    /// range are released, with the frames faulted into them. Page tables that become empty are freed after the TLB
    /// flush. With a <paramref name="gather"/>, the flush and frees wait until it is disposed.</summary>
    public PagingResult TryUnmap(VirtAddr va, ulong length, MmuGather? gather = null) => Unmap(va, length, gather, holes: false);

    /// <summary>Like <see cref="TryUnmap"/>, throwing <see cref="PagingException"/> on failure.</summary>
    public void Unmap(VirtAddr va, ulong length, MmuGather? gather = null) => TryUnmap(va, length, gather).ThrowIfFailed();

    /// <summary>Unmaps whatever is mapped in [<paramref name="va"/>, +<paramref name="length"/>) and succeeds over
    /// holes, as Linux <c>munmap</c> does (a range with nothing mapped is a success that changes nothing); the
    /// strict <see cref="TryUnmap"/> refuses a hole with <see cref="PagingError.NotMapped"/>, as Unicorn's
    /// <c>uc_mem_unmap</c> does. Huge pages only partly inside the range are split, empty tables freed after the
    /// flush; a bad range (misaligned, empty, outside the address space) or a shortage of split tables is still
    /// refused with nothing changed.</summary>
    public PagingResult TryDiscard(VirtAddr va, ulong length, MmuGather? gather = null) => Unmap(va, length, gather, holes: true);

    /// <summary>Like <see cref="TryDiscard"/>, throwing <see cref="PagingException"/> on failure.</summary>
    public void Discard(VirtAddr va, ulong length, MmuGather? gather = null) => TryDiscard(va, length, gather).ThrowIfFailed();

    private PagingResult Unmap(VirtAddr va, ulong length, MmuGather? gather, bool holes)
    {
        ThrowIfDisposed();
        PagingResult invalid = ValidateRange(va, length, PageSize.Size4K);
        if (!invalid.IsSuccess) return invalid;
        if (gather is not null) return PageTableOps.Unmap(_mm, va.Value, length, gather.Core, holes);
        using (_mm.LockMmap())
        {
            MmuGatherCore own = _mm.RentGather();
            try
            {
                return PageTableOps.Unmap(_mm, va.Value, length, own, holes);
            }
            finally
            {
                own.Finish();
            }
        }
    }

    /// <summary>Changes the rights of [<paramref name="va"/>, +<paramref name="length"/>). Outside anonymous regions
    /// every page must be mapped; in a region the new rights apply to the pages faulted in and to later faults (the
    /// zero page stays read-only: a write copies it). Huge pages at the edges are split. Taking rights away is flushed; granting is not (a stale cached
    /// entry only sends the access to the slow path, which re-walks).</summary>
    public PagingResult TryProtect(VirtAddr va, ulong length, Protection protection, MmuGather? gather = null)
    {
        ThrowIfDisposed();
        PagingResult invalid = ValidateRange(va, length, PageSize.Size4K);
        if (!invalid.IsSuccess) return invalid;
        protection = Normalize(protection);
        if (gather is not null) return PageTableOps.Protect(_mm, va.Value, length, protection, gather.Core);
        using (_mm.LockMmap())
        {
            MmuGatherCore own = _mm.RentGather();
            try
            {
                return PageTableOps.Protect(_mm, va.Value, length, protection, own);
            }
            finally
            {
                own.Finish();
            }
        }
    }

    /// <summary>Like <see cref="TryProtect"/>, throwing <see cref="PagingException"/> on failure.</summary>
    public void Protect(VirtAddr va, ulong length, Protection protection, MmuGather? gather = null) =>
        TryProtect(va, length, protection, gather).ThrowIfFailed();

    /// <summary>Harvests the Dirty bits of [<paramref name="va"/>, +<paramref name="length"/>) (a dirty log, as KVM
    /// keeps for migration): sets bit i of <paramref name="bitmap"/> for each 4 KiB page i that was written since the
    /// last harvest, clears Dirty, and flushes, so that the next write through any context sets it again. Holes are
    /// skipped. Returns the number of dirty pages.</summary>
    public long CollectDirty(VirtAddr va, ulong length, Span<ulong> bitmap, MmuGather? gather = null) =>
        TestAndClear(va, length, PageTableEntry.Dirty, bitmap, gather);

    /// <summary>Like <see cref="CollectDirty"/> for the Accessed bit (what reclaim's <c>page_referenced</c> tests).</summary>
    public long CollectAccessed(VirtAddr va, ulong length, Span<ulong> bitmap, MmuGather? gather = null) =>
        TestAndClear(va, length, PageTableEntry.Accessed, bitmap, gather);

    private long TestAndClear(VirtAddr va, ulong length, ulong bit, Span<ulong> bitmap, MmuGather? gather)
    {
        ThrowIfDisposed();
        ValidateRange(va, length, PageSize.Size4K).ThrowIfFailed();
        ulong pages = length >> Paging.PageShift;
        if ((ulong)bitmap.Length * 64 < pages)
            ThrowHelper.ThrowBitmapTooSmall(pages, nameof(bitmap));
        bitmap[..(int)((pages + 63) / 64)].Clear();
        if (gather is not null) return TestAndClearOperation.Run(_mm, va.Value, length, bit, bitmap, gather.Core);
        using (_mm.LockMmap())
        {
            MmuGatherCore own = _mm.RentGather();
            try
            {
                return TestAndClearOperation.Run(_mm, va.Value, length, bit, bitmap, own);
            }
            finally
            {
                own.Finish();
            }
        }
    }

    /// <summary>Collapses the PTE table of the 2 MiB region at <paramref name="va"/> into one 2 MiB leaf
    /// (khugepaged's <c>collapse_pte_mapped_thp</c>). In place when <paramref name="copyTo"/> is null: the 512 pages
    /// must map one 2 MiB aligned physical range. Otherwise the 512 frames, wherever they are, are copied into the
    /// 2 MiB frame at <paramref name="copyTo"/> (2 MiB aligned, owned by the caller) and the old frames stay the
    /// caller's: they are unmapped when this returns, and reusable once lockless walkers that started before have
    /// left (<see cref="Machine.RcuBarrier"/> waits for that). Inside an anonymous region (which must cover the whole
    /// 2 MiB) the collapse is khugepaged's <c>collapse_huge_page</c>: it allocates a 2 MiB page itself, copies the 512
    /// pages into it and frees them once lockless walkers have left; <paramref name="copyTo"/> must then be null.
    /// Every page must be present with the same protection.
    /// Break before make: translations inside the region fault as not mapped for the moment between the PMD's clear
    /// and the leaf; the old table is freed after an RCU grace period (<c>pte_free_defer</c>). On failure nothing
    /// changes.</summary>
    public PagingResult TryCollapse(VirtAddr va, PhysAddr? copyTo = null)
    {
        ThrowIfDisposed();
        PagingResult invalid = ValidateRange(va, PageSize.Size2M.Bytes(), PageSize.Size2M);
        if (!invalid.IsSuccess) return invalid;
        if (copyTo is { } destination)
        {
            if ((destination.Value & (PageSize.Size2M.Bytes() - 1)) != 0)
                return new PagingResult(PagingError.Misaligned, va, null, $"copy destination {destination} is not 2 MiB aligned");
            if (destination.Value + PageSize.Size2M.Bytes() > _memory.Physical.MaxPhysicalAddress || !_memory.Sparse.PfnPresent(destination.Pfn))
                return new PagingResult(PagingError.OutOfRange, va, null, $"copy destination {destination} is not present memory");
        }
        return Faults.Collapse.CollapsePmd(_mm, va.Value, copyTo?.Value);
    }

    /// <summary>Like <see cref="TryCollapse"/>, throwing <see cref="PagingException"/> on failure.</summary>
    public void Collapse(VirtAddr va, PhysAddr? copyTo = null) => TryCollapse(va, copyTo).ThrowIfFailed();

    /// <summary>Starts a gather that lets several unmaps and protects share one TLB flush.</summary>
    public MmuGather BeginGather()
    {
        ThrowIfDisposed();
        return new MmuGather(_mm);
    }

    // ---------------------------------------------------------------- inspection

    /// <summary>The leaf mapping <paramref name="va"/>, read from the tables without side effects, or null.</summary>
    public Mapping? Lookup(VirtAddr va)
    {
        ThrowIfDisposed();
        if (!InSpace(va)) return null;
        if (!PageTableOps.Lookup(_mm, va.Value, out ulong entry, out int level)) return null;
        return MapOperation.Describe(entry, level, va.Value);
    }

    /// <summary>The leaves of [<paramref name="start"/>, +<paramref name="length"/>) as runs of equal pages.</summary>
    public IReadOnlyList<MappingRun> Dump(VirtAddr start, ulong length, int maxRuns = 100_000)
    {
        ThrowIfDisposed();
        PagingResult invalid = ValidateRange(start, length, PageSize.Size4K);
        if (!invalid.IsSuccess) ThrowHelper.ThrowPaging(invalid);
        return PageTableOps.Dump(_mm, start.Value, start.Value + length, maxRuns);
    }

    /// <summary>Counts the leaves of [<paramref name="start"/>, +<paramref name="length"/>) by page size, with no
    /// limit: the figures a <see cref="Dump"/> of the whole range would sum to.</summary>
    public MappingTotals CountMappings(VirtAddr start, ulong length)
    {
        ThrowIfDisposed();
        PagingResult invalid = ValidateRange(start, length, PageSize.Size4K);
        if (!invalid.IsSuccess) throw new PagingException(invalid);
        return MappingTotals.Count(_mm, start.Value, start.Value + length);
    }

    // ---------------------------------------------------------------- translation and access

    /// <summary>Creates a CPU context for this address space, for a thread that wants to hold its own (a vCPU
    /// loop). Methods of the address space itself use a context per calling thread, created on first use.</summary>
    public MmuContext CreateContext()
    {
        ThrowIfDisposed();
        var context = new MmuContext(this);
        lock (_contextsLock) _explicitContexts.Add(context);
        return context;
    }

    internal void Forget(MmuContext context)
    {
        lock (_contextsLock) _explicitContexts.Remove(context);
    }

    /// <summary>The calling thread's context for this address space.</summary>
    public MmuContext CurrentContext
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get
        {
            MmuContext? context = t_context;
            if (context is not null && ReferenceEquals(context.AddressSpace, this)) return context;
            return CurrentContextSlow();
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private MmuContext CurrentContextSlow()
    {
        ThrowIfDisposed();
        MmuContext context = _implicitContexts.Value!;
        t_context = context;
        return context;
    }

    /// <summary>Counters summed over every CPU context of this address space.</summary>
    public TlbStatistics TlbStatistics
    {
        get
        {
            ThrowIfDisposed();
            TlbStatistics sum = default;
            lock (_contextsLock)
            {
                // Dispose runs under the same lock, so the thread-local list cannot go away while it is read.
                ThrowIfDisposed();
                foreach (MmuContext? c in _implicitContexts.Values)
                    if (c is not null) sum += c.Statistics;
                foreach (MmuContext c in _explicitContexts) sum += c.Statistics;
            }
            return sum;
        }
    }

    /// <summary>Flushes published to this address space's contexts, by kind.</summary>
    public long FlushesPublishedOf(FlushKind kind)
    {
        ThrowIfDisposed();
        return _mm.Flush.PublishedOf(kind);
    }

    /// <summary>Translates <paramref name="va"/> for an access of kind <paramref name="access"/>, as the MMU does,
    /// through the calling thread's context: checks the rights of every level and sets Accessed (and Dirty for
    /// writes). Never throws for an unmapped or forbidden address: the result carries the fault.</summary>
    public Translation Translate(VirtAddr va, AccessKind access = AccessKind.Read) => CurrentContext.Translate(va, access);

    /// <summary>Translates with an explicit context, which must belong to this address space.</summary>
    public Translation Translate(VirtAddr va, AccessKind access, MmuContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (!ReferenceEquals(context.AddressSpace, this))
            ThrowHelper.ThrowArgument("The context translates for another address space.", nameof(context));
        return context.Translate(va, access);
    }

    /// <summary>The fastest form of <see cref="Translate(VirtAddr, AccessKind)"/>: true and the physical address, or false.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryTranslate(VirtAddr va, AccessKind access, out PhysAddr pa) => CurrentContext.TryTranslate(va, access, out pa);

    /// <summary>Handles a fault at <paramref name="va"/> for <paramref name="access"/> through the calling thread's
    /// context (<see cref="MmuContext.HandleFault"/>): faults the page of an anonymous region in and returns the
    /// translation that results, or the fault that stands.</summary>
    public Translation HandleFault(VirtAddr va, AccessKind access) => CurrentContext.HandleFault(va, access);

    /// <summary>Translates without a lock, a TLB or side effects, through the calling thread's context (see
    /// <see cref="MmuContext.TranslateLockless"/>: RCU read-side section, entries read once, <c>pmd_same</c>
    /// re-check).</summary>
    public Translation TranslateLockless(VirtAddr va, AccessKind access = AccessKind.Read) => CurrentContext.TranslateLockless(va, access);

    /// <summary>GUP-fast over consecutive pages from <paramref name="start"/> through the calling thread's context
    /// (see <see cref="MmuContext.GetPagesLockless"/>); returns the number of leading pages filled.</summary>
    public int GetPagesLockless(VirtAddr start, Span<PhysAddr> pages, AccessKind access = AccessKind.Read) =>
        CurrentContext.GetPagesLockless(start, pages, access);

    /// <summary>Reads <paramref name="destination"/>.Length bytes at <paramref name="va"/> through translation.
    /// Returns false with the fault (and reads nothing) if any page of the range faults.</summary>
    public bool TryRead(VirtAddr va, Span<byte> destination, out PageFault fault) => CurrentContext.TryRead(va, destination, out fault);

    /// <summary>Writes <paramref name="source"/> at <paramref name="va"/> through translation. Every page is checked
    /// before the first byte is written, so a faulting write changes nothing (no data, no Dirty bits).</summary>
    public bool TryWrite(VirtAddr va, ReadOnlySpan<byte> source, out PageFault fault) => CurrentContext.TryWrite(va, source, out fault);

    /// <summary>Reads bytes, throwing <see cref="PageFaultException"/> on a fault.</summary>
    public void Read(VirtAddr va, Span<byte> destination) => CurrentContext.Read(va, destination);

    /// <summary>Writes bytes, throwing <see cref="PageFaultException"/> on a fault.</summary>
    public void Write(VirtAddr va, ReadOnlySpan<byte> source) => CurrentContext.Write(va, source);

    /// <summary>Reads a value of an unmanaged type (little-endian, as x86 stores it).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public T Read<T>(VirtAddr va) where T : unmanaged => CurrentContext.Read<T>(va);

    /// <summary>Writes a value of an unmanaged type.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Write<T>(VirtAddr va, T value) where T : unmanaged => CurrentContext.Write(va, value);

    // ---------------------------------------------------------------- helpers

    private PagingResult ValidateRange(VirtAddr va, ulong length, PageSize alignment)
    {
        if (length == 0) return new PagingResult(PagingError.InvalidArgument, va, null, "length is zero");
        // A range may end exactly at 2^64 (its last byte is the top one); only one that goes past it wraps.
        if (length - 1 > ulong.MaxValue - va.Value)
            return new PagingResult(PagingError.InvalidArgument, va, null, $"range 0x{va.Value:x}+0x{length:x} runs past 2^64");
        if (!Paging.IsCanonical(va.Value, _mode)) return new PagingResult(PagingError.NonCanonical, va);
        ulong last = va.Value + (length - 1); // inclusive: every bound below is compared without wrapping
        if (va.Value > _last || last > _last)
            return new PagingResult(PagingError.OutOfRange, va, null, $"user addresses end at {UserTop}");
        if (!Paging.InOneHalf(va.Value, last, _mode))
            return new PagingResult(PagingError.NonCanonical, va, null,
                $"range [{va}, 0x{last:x16}] crosses the non-canonical hole [{new VirtAddr(Paging.LowerHalfEnd(_mode))}, {HigherHalfStart})");
        ulong mask = alignment.Bytes() - 1;
        if ((va.Value & mask) != 0 || (length & mask) != 0)
            return new PagingResult(PagingError.Misaligned, va, null, $"address and length must be multiples of {alignment.ShortName()}");
        return PagingResult.Success;
    }

    private static Protection Normalize(Protection protection)
    {
        if ((protection & ~Protection.All) != 0) ThrowHelper.ThrowArgumentOutOfRange(nameof(protection));
        return protection == Protection.None ? Protection.None : protection | Protection.Read;
    }

    private void ThrowIfDisposed()
    {
        if (_disposed || _mm.Disposed) ThrowHelper.ThrowObjectDisposed(nameof(AddressSpace));
    }

    /// <summary>Frees every page table of the address space. Later calls throw <see cref="ObjectDisposedException"/>.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _machine.Forget(this);
        _memory.DestroyUserMm(_mm);
        // Contexts see the teardown's flush and throw on their next use; the thread-local list goes now, and every
        // context's counts go to the machine's totals, which the Meter reads.
        lock (_contextsLock)
        {
            foreach (MmuContext? c in _implicitContexts.Values) c?.RetireCounters();
            foreach (MmuContext c in _explicitContexts) c.RetireCounters();
            _implicitContexts.Dispose();
        }
        if (t_context is not null && ReferenceEquals(t_context.AddressSpace, this)) t_context = null;
    }
}
