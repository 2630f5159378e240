using System;
using System.Runtime.CompilerServices;
using FastPt.Hardware;
using FastPt.Mm;

namespace FastPt;

/// <summary>A simulated CPU translating for one address space: a software TLB (one compare and one add on a hit),
/// a victim TLB and paging-structure caches, kept coherent by the address space's flushes, which the context
/// applies before its next translation. A context belongs to the thread that created it (a CPU runs one thread at
/// a time): flushes that wait for every CPU rely on knowing which thread each context runs on. <see
/// cref="AddressSpace"/> keeps one per thread automatically; an embedder's vCPU thread can create and hold its own,
/// which is the fastest way to translate.</summary>
public sealed class MmuContext : IDisposable
{
    // The simulated CPU itself (Hardware/Cpu.*.cs); this handle adds only the address-space bookkeeping.
    private readonly Cpu<FrameMap> _cpu;
    private readonly MemoryManager _memory;
    private AddressSpace _space;

    internal MmuContext(AddressSpace space, bool implicitContext = false)
    {
        IsImplicit = implicitContext;
        _space = space;
        _memory = space.Mm.Memory;
        MachineOptions options = _memory.Options;
        _cpu = new Cpu<FrameMap>(_memory.Physical, new FrameMap(_memory), _memory.Rcu, _memory.Layout, _memory.Checked,
            options.TlbEntries, options.PagingStructureCacheEntries, _memory.InitMm.Root, space.Mm.Root);
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

    /// <summary>Loads another address space into this context (a CR3 write): non-global TLB entries and the
    /// paging-structure caches are dropped, global (kernel) entries stay.</summary>
    public void SwitchTo(AddressSpace space)
    {
        _cpu.ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(space);
        if (IsImplicit) throw new InvalidOperationException("The per-thread context of an address space cannot switch; create one with CreateContext.");
        if (!ReferenceEquals(space.Machine.Memory, _memory)) throw new ArgumentException("The address space belongs to another machine.", nameof(space));
        if (space.Mm.Disposed) Internals.ThrowHelper.ThrowObjectDisposed(nameof(AddressSpace));
        _space = space;
        _cpu.SwitchTo(space.Mm.Root);
    }

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
        if (!TryRead(va, destination, out PageFault fault)) Internals.ThrowHelper.ThrowPageFault(fault);
    }

    /// <summary>Writes bytes, throwing <see cref="PageFaultException"/> on a fault.</summary>
    public void Write(VirtAddr va, ReadOnlySpan<byte> source)
    {
        if (!TryWrite(va, source, out PageFault fault)) Internals.ThrowHelper.ThrowPageFault(fault);
    }

    /// <summary>Detaches the context from its address space. Later calls throw <see cref="ObjectDisposedException"/>.</summary>
    public void Dispose()
    {
        if (_cpu.IsDisposed) return;
        _cpu.Dispose();
        _space.Forget(this);
    }
}
