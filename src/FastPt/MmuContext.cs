using System;
using System.Runtime.CompilerServices;
using FastPt.Hardware;
using FastPt.Internals;
using FastPt.Mm;

namespace FastPt;

/// <summary>A simulated CPU translating for one address space: a 2-way set-associative software TLB (one compare
/// and one add on a hit) and paging-structure caches, kept coherent by the address space's flushes, which the context
/// applies before its next translation. A context belongs to the thread that created it (a CPU runs one thread at
/// a time): flushes that wait for every CPU rely on knowing which thread each context runs on. <see
/// cref="AddressSpace"/> keeps one per thread automatically; an embedder's vCPU thread can create and hold its own,
/// which is the fastest way to translate.</summary>
public sealed class MmuContext : IDisposable
{
    // The simulated CPU itself (Hardware/Cpu.*.cs); this handle adds only the address-space bookkeeping. Not
    // readonly: the CPU is a mutable struct called in place, and a readonly field would make every call work on a copy.
    private Cpu<FrameMap> _cpu;
    private readonly MemoryManager _memory;
    private AddressSpace _space;

    internal MmuContext(AddressSpace space, bool implicitContext = false)
    {
        IsImplicit = implicitContext;
        _space = space;
        _memory = space.Mm.Memory;
        MachineOptions options = _memory.Options;
        _cpu = new Cpu<FrameMap>(_memory.Physical, new FrameMap(_memory), _memory.Rcu, _memory.Layout, _memory.Checked,
            options.TlbEntries, options.PagingStructureCacheEntries, _memory.InitMm.Root, space.Mm.Root, _memory.Stat);
    }

    /// <summary>True for the context an address space keeps for a thread (it cannot switch address spaces).</summary>
    public bool IsImplicit { get; }

    /// <summary>A number identifying the context in traces.</summary>
    public int Number => _cpu.Number;

    /// <summary>The address space this context translates for.</summary>
    public AddressSpace AddressSpace => _space;

    /// <summary>Entries of the TLB.</summary>
    public int TlbSize => _cpu.TlbSize;

    /// <summary>Counters of this context's caches.</summary>
    public TlbStatistics Statistics => _cpu.Statistics;

    /// <summary>What init_mm's flushes know of this context (for tests).</summary>
    internal ContextSlot KernelSlot => _cpu.KernelSlot;

    /// <summary>What the address space's flushes know of this context (for tests).</summary>
    internal ContextSlot Slot => _cpu.Slot;

    /// <summary>True while a flush signal makes the fast paths miss (for tests).</summary>
    internal bool FlushSignalled => _cpu.FlushSignalled;

    /// <summary>Loads another address space into this context (a CR3 write): non-global TLB entries and the
    /// paging-structure caches are dropped, global (kernel) entries stay.</summary>
    public void SwitchTo(AddressSpace space)
    {
        _cpu.ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(space);
        if (IsImplicit) ThrowHelper.ThrowImplicitContextSwitch();
        if (!ReferenceEquals(space.Machine.Memory, _memory)) ThrowHelper.ThrowArgument("The address space belongs to another machine.", nameof(space));
        if (space.Mm.Disposed) ThrowHelper.ThrowAddressSpaceDisposed();
        _space = space;
        _cpu.SwitchTo(space.Mm.Root);
    }

    /// <summary>Folds the counters into the machine's totals for the Meter (the address space is going away).</summary>
    internal void RetireCounters() => _cpu.RetireCounters();

    /// <summary>Drops everything cached (global entries included).</summary>
    public void FlushLocal() => _cpu.FlushLocal();

    /// <summary>Translates <paramref name="va"/> for <paramref name="access"/>: true and the physical address, or
    /// false if the access faults. A TLB hit is one compare and one add.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryTranslate(VirtAddr va, AccessKind access, out PhysAddr pa) => _cpu.TryTranslate(va.Value, access, out pa);

    /// <summary>Translates <paramref name="va"/> for <paramref name="access"/>, returning the physical address,
    /// page size and protection, or the fault.</summary>
    public Translation Translate(VirtAddr va, AccessKind access = AccessKind.Read) => _cpu.Translate(va.Value, access);

    /// <summary>Whether an access that misses inside an anonymous region takes a demand fault — frames and tables
    /// are allocated, the access retried — as a CPU's #PF handler would (default on). Off, every fault comes back to
    /// the caller as it is (<see cref="FaultReason.NotMapped"/> for a page not faulted in yet,
    /// <see cref="FaultReason.ProtectionViolation"/> for a write to the zero page), for an embedder that drives
    /// faults itself with <see cref="HandleFault"/>.</summary>
    public bool DemandFaults
    {
        get => _cpu.DemandFaults;
        set
        {
            _cpu.ThrowIfDisposed();
            _cpu.DemandFaults = value;
        }
    }

    /// <summary>Handles a fault of <paramref name="access"/> at <paramref name="va"/> as the kernel's
    /// <c>handle_mm_fault</c> does, whatever <see cref="DemandFaults"/> says: inside an anonymous region whose rights
    /// allow the access, the page is faulted in (a zeroed frame, a transparent huge page, the zero page, or a copy of
    /// it for a write); outside any region nothing changes. Returns the translation that results: the page, or the
    /// precise fault that stands (<see cref="FaultReason.NotMapped"/> outside regions,
    /// <see cref="FaultReason.ProtectionViolation"/> when the rights forbid the access,
    /// <see cref="FaultReason.OutOfMemory"/> when no frame is free). A page that is already there just translates.</summary>
    public Translation HandleFault(VirtAddr va, AccessKind access) => _cpu.Translate(va.Value, access, handleFaults: true);


    /// <summary>Translates <paramref name="va"/> without a lock and without this context's TLB, as a software
    /// walker does (GUP-fast, <c>pte_offset_map_ro_nolock</c>): inside an RCU read-side section of this context,
    /// reading each entry once and trusting a PTE only after re-reading its PMD unchanged (<c>pmd_same</c>), so it
    /// never answers from a PTE table that a collapse or a reclaim unlinked meanwhile. Sets no Accessed or Dirty
    /// bit. Never throws for an unmapped or forbidden address: the result carries the fault.</summary>
    public Translation TranslateLockless(VirtAddr va, AccessKind access = AccessKind.Read)
    {
        _cpu.ThrowIfDisposed();
        ulong v = va.Value;
        if (!Geometry.Paging.IsCanonical(v, _memory.Layout.Mode))
            return new Translation(new PageFault(va, access, FaultReason.NonCanonical));
        if (v > _space.Mm.UserLast) return new Translation(new PageFault(va, access, FaultReason.OutOfRange));
        return LocklessWalk.Translate(_space.Mm, _cpu.Reader, v, access);
    }

    /// <summary>GUP-fast: fills <paramref name="pages"/> with the frames of consecutive 4 KiB pages from
    /// <paramref name="start"/> in one lockless walk (the rules of <see cref="TranslateLockless"/>) and returns how
    /// many it filled — fewer than asked at the first page that is not mapped or forbids
    /// <paramref name="access"/>, or when the tables under one PMD kept changing; the caller then takes the slow
    /// path for the rest, as <c>get_user_pages_fast</c> callers do.</summary>
    public int GetPagesLockless(VirtAddr start, Span<PhysAddr> pages, AccessKind access = AccessKind.Read)
    {
        _cpu.ThrowIfDisposed();
        if ((start.Value & (Geometry.Paging.PageSize - 1)) != 0)
            throw new ArgumentException("The start must be 4 KiB aligned.", nameof(start));
        if (pages.IsEmpty) return 0;
        // Inclusive last byte: the pages may end exactly at 2^64 (a guest's top page) but not wrap or cross the hole.
        ulong span = (ulong)pages.Length << Geometry.Paging.PageShift;
        ulong last = start.Value + (span - 1);
        if (last < start.Value || !Geometry.Paging.InOneHalf(start.Value, last, _memory.Layout.Mode) || last > _space.Mm.UserLast)
            throw new ArgumentOutOfRangeException(nameof(pages), "The pages must lie inside the address space, in one canonical half.");
        return LocklessWalk.GetPages(_space.Mm, _cpu.Reader, start.Value, pages, access);
    }

    /// <summary>Translates a kernel address (direct map or vmemmap) as a supervisor access. The TLB entries it
    /// creates are global: they survive flushes of the user address space and go only with kernel flushes.</summary>
    public Translation TranslateKernel(VirtAddr va, AccessKind access = AccessKind.Read) => _cpu.TranslateKernel(va.Value, access);

    /// <summary>Reads a value through translation. Faults throw <see cref="PageFaultException"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public T Read<T>(VirtAddr va) where T : unmanaged => _cpu.Read<T>(va.Value);

    /// <summary>Writes a value through translation. Faults throw <see cref="PageFaultException"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Write<T>(VirtAddr va, T value) where T : unmanaged => _cpu.Write(va.Value, value);

    /// <summary>Reads bytes through translation; false with the fault (and nothing read) if any page faults.</summary>
    public bool TryRead(VirtAddr va, Span<byte> destination, out PageFault fault) => _cpu.TryRead(va.Value, destination, out fault);

    /// <summary>Writes bytes through translation. Every page is checked before the first byte is written, so a
    /// faulting write changes nothing (no data, no Dirty bits).</summary>
    public bool TryWrite(VirtAddr va, ReadOnlySpan<byte> source, out PageFault fault) => _cpu.TryWrite(va.Value, source, out fault);

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

    /// <summary>Detaches the context from its address space. Later calls throw <see cref="ObjectDisposedException"/>.</summary>
    public void Dispose()
    {
        if (_cpu.IsDisposed) return;
        _cpu.Dispose();
        _space.Forget(this);
    }
}
