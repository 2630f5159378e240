using System.Threading;
using FastPt.Diagnostics;
using FastPt.Geometry;
using FastPt.Internals;
using FastPt.Sync;

namespace FastPt.Hardware;

/// <summary>A simulated CPU's MMU translating for one address space: a 2-way set-associative software TLB (<see
/// cref="SoftTlb"/>: one compare and one add on a hit) and paging-structure caches, kept coherent by the address
/// space's flushes, which the CPU applies before its next translation. It reads page tables and never allocates or frees a
/// frame; what only the memory manager knows of a frame it asks through <typeparamref name="TFrames"/>. Split by
/// concern: translation (<c>Cpu.Translate.cs</c>), TLB refill (<c>Cpu.Refill.cs</c>), invalidation
/// (<c>Cpu.Invalidate.cs</c>), data access (<c>Cpu.Access.cs</c>) and checked mode (<c>Cpu.Checked.cs</c>). A CPU
/// belongs to the thread that created it: flushes that wait for every CPU rely on knowing which thread each runs
/// on. The public handle is <c>MmuContext</c>, which embeds the CPU: a struct, so that the hot paths load these
/// fields straight from the handle object, as they did before the split (a class would add one dependent load to
/// every TLB hit). Only ever held in a non-readonly field and called in place, never copied.</summary>
internal unsafe partial struct Cpu<TFrames> where TFrames : struct, IFrameMap
{
    private static int s_nextNumber;

    private readonly PhysicalMemory _physical;
    // PhysicalMemory.Arenas, copied: the refill's host pointers cost one dependent load, not two.
    private readonly nint* _arenas;
    private readonly TFrames _frames;
    // This CPU's registration with the RCU domain: the lockless walks of its context (TranslateLockless,
    // GetPagesLockless) run in its sections. Its own kernel walks need none: they are inside the kernel's flush.
    private readonly RcuReader _reader;
    private readonly PagingMode _mode;
    // Not readonly: the TLB is a mutable struct called in place (a readonly field would make every call work on a copy).
    private SoftTlb _tlb;
    private readonly bool _checked;
    private readonly ulong _watchMask;
    private readonly ContextSlot _slot = new();
    private readonly ContextSlot _kernelSlot = new();
    private readonly PageTableRoot _kernelRoot;
    private readonly ulong _userTop;
    // The last address user accesses of the loaded address space may translate (its layout's, read at each load).
    private ulong _userLast;
    private PageTableRoot _root;
    private FlushDomain _domain;
    private long _seen;
    private long _seenKernel;
    private bool _disposed;

    // Published for the Meter: the machine's block lists this CPU's counters and folds them when it goes away.
    private readonly MachineCounters _machineCounters;
    private readonly CpuCounters _counters;

    public Cpu(PhysicalMemory physical, TFrames frames, RcuDomain rcu, in KernelLayout layout, bool checkedMode,
        int tlbEntries, int pagingStructureCacheEntries, PageTableRoot kernelRoot, PageTableRoot root, MachineCounters counters)
    {
        _machineCounters = counters;
        _physical = physical;
        _arenas = physical.Arenas;
        _frames = frames;
        _reader = rcu.RegisterReader();
        _mode = layout.Mode;
        _userTop = layout.UserTop;
        _checked = checkedMode;
        _watchMask = _checked ? ~SoftTlb.WatchBit : ulong.MaxValue;
        _tlb = new SoftTlb(tlbEntries, pagingStructureCacheEntries);
        // The hit count lives in the TLB's hit-word line (SoftTlb.HitCountOf): the counters attach with it.
        _counters = counters.AttachCpu(_tlb.Storage, _tlb.HitCountAddress);
        // Flushes of the address space signal this TLB's hit word (the kernel slot signals none: kernel flushes
        // drop only global entries, which user fast paths never match).
        _slot.SignalTo(_tlb.Storage, _tlb.HitWordAddress);
        _kernelRoot = kernelRoot;
        _root = root;
        _domain = root.Flush;
        Number = Interlocked.Increment(ref s_nextNumber);
        // Kernel translations honour init_mm's flushes as user ones honour the address space's: the kernel
        // gather (hot-remove) waits for every CPU inside a kernel translation before its tables and memory go.
        _kernelSlot.Owner = Thread.CurrentThread;
        _seenKernel = kernelRoot.Flush.Generation;
        _kernelSlot.SeenGeneration = _seenKernel;
        kernelRoot.Flush.Attach(_kernelSlot);
        Attach(root);
    }

    /// <summary>What init_mm's flushes know of this CPU (tests hold it busy to stand for a kernel translation
    /// in progress).</summary>
    internal ContextSlot KernelSlot => _kernelSlot;

    /// <summary>What the address space's flushes know of this CPU (tests signal through it).</summary>
    internal ContextSlot Slot => _slot;

    /// <summary>True while a flush signal waits in the hit word (tests).</summary>
    internal bool FlushSignalled => _tlb.FlushPending;

    /// <summary>A number identifying the CPU in traces.</summary>
    public int Number { get; }

    /// <summary>Entries of the TLB.</summary>
    public int TlbSize => _tlb.Size;

    /// <summary>The address space loaded now.</summary>
    public PageTableRoot Root => _root;

    public bool IsDisposed => _disposed;

    /// <summary>Deliver faults of user accesses to the address space's fault handler and retry (default on); when
    /// off they go back to the caller as they are.</summary>
    public bool DemandFaults { get; set; } = true;

    /// <summary>The CPU's RCU reader (lockless walks of the memory manager run in its sections).</summary>
    public RcuReader Reader => _reader;

    /// <summary>Counters of this CPU's caches.</summary>
    public TlbStatistics Statistics => new(_counters.Hits, _counters.Misses, _counters.PmdCacheHits,
        _counters.PudCacheHits, _counters.Walks, _counters.Faults, _counters.PageFlushes, _counters.RangeFlushes,
        _counters.FullFlushes, _counters.KernelFlushes);

    /// <summary>Folds this CPU's counters into its machine's retired totals (when the CPU or its address space
    /// goes away); it counts on in <see cref="Statistics"/> only.</summary>
    public void RetireCounters() => _machineCounters.RetireCpu(_counters);

    private void Attach(PageTableRoot root)
    {
        _userLast = root.UserLast;
        _slot.Owner = Thread.CurrentThread;
        _seen = root.Flush.Generation;
        _slot.SeenGeneration = _seen;
        root.Flush.Attach(_slot);
    }

    /// <summary>Loads another address space (a CR3 write): non-global TLB entries and the paging-structure caches
    /// are dropped, global (kernel) entries stay, and so does what this CPU has still to apply of the kernel's
    /// flushes.</summary>
    public void SwitchTo(PageTableRoot root)
    {
        _domain.Detach(_slot);
        _root = root;
        _domain = root.Flush;
        _tlb.FlushUser();
        _tlb.FlushPagingStructureCaches();
        Attach(root);
    }

    /// <summary>Flushes were published that this CPU has not applied, or were signalled and not yet taken in (a
    /// signal may arrive after its flush was applied: it is cleared by applying nothing).</summary>
    private bool FlushesToApply => _tlb.FlushPending || _seen != _domain.Generation;

    public void ThrowIfDisposed()
    {
        if (_disposed) ThrowHelper.ThrowContextDisposed();
        if (_root.TornDown) ThrowHelper.ThrowAddressSpaceDisposed();
    }

    /// <summary>Detaches the CPU from its address space; every later call takes the slow path, which throws.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _slot.Disposed = true;
        _domain.Detach(_slot);
        _kernelSlot.Disposed = true;
        _kernelRoot.Flush.Detach(_kernelSlot);
        _seen = -1;
        SoftTlb.MarkFlushPending(_tlb.HitWordAddress); // for good: ApplyFlushes throws before it would clear it
        _reader.Dispose(); // inside a section (disposed by another thread mid-walk) it is reported, not waited for
        RetireCounters();
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
}
