using System;
using System.Runtime.CompilerServices;
using System.Threading;
using FastPt.Geometry;
using FastPt.Hardware;
using FastPt.Sync;

namespace FastPt.Mm;

/// <summary>Access to page descriptors the way the kernel reaches <c>struct page</c>: through the vmemmap's
/// virtual addresses, translated by the kernel page tables (with a per-thread TLB of its own). Freeing vmemmap
/// frames therefore really frees descriptors, and after HugeTLB vmemmap optimization a write to a tail
/// descriptor faults on its read-only mapping.</summary>
internal sealed unsafe partial class Memmap
{
    private const int TlbEntries = 512;

    [ThreadStatic] private static KernelTlb? t_tlb;

    private readonly PhysicalMemory _memory;
    private readonly RcuDomain _rcu;
    private readonly KernelLayout _layout;
    private readonly int _rootLevel;
    private readonly bool _checked;
    private readonly bool _compoundInfoIsMask;
    private ulong _rootPa;
    // Read on every descriptor access; written only by kernel TLB shootdowns (hot-plug, HVO).
    private long _flushGeneration = 1;
    // Per CPU: the misses of faulting CPUs would otherwise write a word on the cache line they all read
    // _flushGeneration from.
    private readonly PerCpuCounter _walks = new();

    public Memmap(PhysicalMemory memory, RcuDomain rcu, KernelLayout layout, bool checkedMode, bool compoundInfoIsMask = false)
    {
        _memory = memory;
        _rcu = rcu;
        _layout = layout;
        _rootLevel = Paging.RootLevel(layout.Mode);
        _checked = checkedMode;
        _compoundInfoIsMask = compoundInfoIsMask;
    }

    /// <summary>Root of the kernel page tables; set once by boot.</summary>
    public ulong KernelRootPa
    {
        get => _rootPa;
        set => _rootPa = value;
    }

    /// <summary>Kernel page walks done to reach descriptors (kernel TLB misses).</summary>
    public long Walks => _walks.Value;

    /// <summary>Generation of kernel TLB shootdowns; bumping it invalidates every thread's kernel TLB.</summary>
    public long FlushGeneration => Volatile.Read(ref _flushGeneration);

    /// <summary><c>flush_tlb_kernel_range</c> for the kernel's own accesses: every thread re-walks afterwards.</summary>
    public void FlushKernelTlb() => Interlocked.Increment(ref _flushGeneration);

    /// <summary>The descriptor of <paramref name="pfn"/> for reading.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public PageDescriptor* Get(ulong pfn) => GetAt(_layout.DescriptorAddress(pfn));

    /// <summary>The descriptor at vmemmap address <paramref name="va"/> for reading.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public PageDescriptor* GetAt(ulong va)
    {
        KernelTlb? tlb = t_tlb;
        if (tlb != null && tlb.Owner == this && tlb.Generation == Volatile.Read(ref _flushGeneration))
        {
            int i = (int)((va >> 12) & (TlbEntries - 1));
            if (tlb.Tags[i] == (va >> 12))
                return (PageDescriptor*)(tlb.ReadBase[i] + (nint)(va & 0xFFF));
        }
        return (PageDescriptor*)Miss(va, write: false);
    }

    /// <summary>The descriptor of <paramref name="pfn"/> for writing. Faults (throws) on a read-only mapping.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public PageDescriptor* GetMutable(ulong pfn) => GetMutableAt(_layout.DescriptorAddress(pfn));

    /// <summary>The descriptor at vmemmap address <paramref name="va"/> for writing. Faults (throws) on a
    /// read-only mapping.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public PageDescriptor* GetMutableAt(ulong va)
    {
        KernelTlb? tlb = t_tlb;
        if (tlb != null && tlb.Owner == this && tlb.Generation == Volatile.Read(ref _flushGeneration))
        {
            int i = (int)((va >> 12) & (TlbEntries - 1));
            if (tlb.Tags[i] == (va >> 12) && tlb.WriteBase[i] != 0)
                return (PageDescriptor*)(tlb.WriteBase[i] + (nint)(va & 0xFFF));
        }
        return (PageDescriptor*)Miss(va, write: true);
    }

    /// <summary>Reads or writes through the kernel mapping of any kernel virtual address (vmemmap or direct map).</summary>
    public byte* KernelPointer(ulong va, bool write) => Miss(va, write);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private byte* Miss(ulong va, bool write)
    {
        _walks.Add(1);
        // The generation is read before the walk: a flush that lands during the walk (after a remap this walk may
        // have missed) then leaves the entry tagged with the old generation, and the next access walks again.
        // Read after the walk, it could tag a stale translation as current and outlive the flush.
        long generation = Volatile.Read(ref _flushGeneration);
        WalkStatus status;
        WalkResult walk;
        _rcu.ReadLock();
        try
        {
            status = HardwareWalker.Walk(_memory, _rootPa, _rootLevel, va, write ? AccessKind.Write : AccessKind.Read,
                user: false, updateAccessedDirty: false, checkPoison: _checked, out walk);
        }
        finally
        {
            _rcu.ReadUnlock();
        }
        if (status != WalkStatus.Ok) throw KernelFault(va, write, status, walk);

        ulong pagePa = walk.PhysAddr & Paging.PageMask;
        // Descriptors of reserved frames are written on the first miss on their page, before anything caches it.
        if (Volatile.Read(ref _deferred).Length != 0) InitialiseDeferred(pagePa);
        // A write-capable cache entry is only made by a write, so that writes are accounted to their chunk.
        byte* host = write ? _memory.WritePointer(pagePa) : _memory.ReadPointer(pagePa);
        KernelTlb tlb = t_tlb ??= new KernelTlb();
        if (tlb.Owner != this || tlb.Generation != generation) tlb.Reset(this, generation);
        int i = (int)((va >> 12) & (TlbEntries - 1));
        if (tlb.Tags[i] != va >> 12) tlb.WriteBase[i] = 0;
        tlb.Tags[i] = va >> 12;
        tlb.ReadBase[i] = (nint)host;
        if (write) tlb.WriteBase[i] = (nint)host;
        return host + (va & 0xFFF);
    }

    private KernelFaultException KernelFault(ulong va, bool write, WalkStatus status, WalkResult walk)
    {
        bool vmemmap = va >= _layout.VmemmapBase && va < _layout.VmemmapBase + (1UL << 40);
        string what = vmemmap ? $" (descriptor of pfn 0x{_layout.DescriptorPfn(va):x})" : string.Empty;
        string reason = status switch
        {
            WalkStatus.NotPresent => "not-present page",
            WalkStatus.ProtectionFault when write && vmemmap =>
                "write to a read-only vmemmap mapping: the tail descriptors of a HugeTLB folio whose vmemmap is " +
                "optimized are shared and mapped read-only, so nothing may write them",
            WalkStatus.ProtectionFault => write ? "write to a read-only kernel mapping" : "protection fault",
            WalkStatus.Poisoned => "walk reached a freed (poisoned) page table",
            _ => "bad physical address in a kernel page table",
        };
        return new KernelFaultException(
            $"BUG: unable to handle kernel page fault for address 0x{va:x16}{what}: {reason} " +
            $"(level {walk.Level} entry 0x{walk.Entry:x16} in table at 0x{walk.TablePa:x})",
            new VirtAddr(va), write, status == WalkStatus.Poisoned);
    }

    private sealed class KernelTlb
    {
        public Memmap? Owner;
        public long Generation;
        public readonly ulong[] Tags = new ulong[TlbEntries];
        public readonly nint[] ReadBase = new nint[TlbEntries];
        public readonly nint[] WriteBase = new nint[TlbEntries];

        public void Reset(Memmap owner, long generation)
        {
            Owner = owner;
            Generation = generation;
            Array.Fill(Tags, ulong.MaxValue);
        }
    }
}
