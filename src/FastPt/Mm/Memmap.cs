using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
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
    /// <summary>Sets of the kernel TLB's first level, two ways each (2048 entries, as a Zen 3 L2 DTLB), indexed by
    /// the low bits of the virtual page number folded with the bits above (<see cref="KernelTlb.Way0"/>).</summary>
    private const int TlbSets = 1024;

    /// <summary>Entries of its second level, 2 MiB leaves by the low bits of <c>va &gt;&gt; 21</c>.</summary>
    private const int HugeTlbEntries = 512;

    /// <summary>Flush generations of one machine lie in [base, base + 2^36): a TLB entry tagged by another machine's
    /// generation never matches this one's, so a thread's TLB needs no owner and no reset.</summary>
    private const int GenerationRangeShift = 36;

    [ThreadStatic] private static KernelTlb? t_tlb;
    private static long s_generationBase;

    private readonly PhysicalMemory _memory;
    private readonly RcuDomain _rcu;
    private readonly KernelLayout _layout;
    private readonly int _rootLevel;
    private readonly bool _checked;
    private readonly bool _compoundInfoIsMask;
    private ulong _rootPa;
    // Read on every descriptor access; written only by kernel TLB shootdowns (hot-plug, HVO).
    private long _flushGeneration = Interlocked.Add(ref s_generationBase, 1L << GenerationRangeShift);
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
        if (tlb != null)
        {
            ref TlbEntry e = ref tlb.Way0(va >> 12);
            if (e.Tag == va >> 12 && e.Generation == Volatile.Read(ref _flushGeneration))
                return (PageDescriptor*)(e.Read + (nint)(va & 0xFFF));
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
        if (tlb != null)
        {
            ref TlbEntry e = ref tlb.Way0(va >> 12);
            if (e.Tag == va >> 12 && e.Generation == Volatile.Read(ref _flushGeneration) && e.Write != 0)
                return (PageDescriptor*)(e.Write + (nint)(va & 0xFFF));
        }
        return (PageDescriptor*)Miss(va, write: true);
    }

    /// <summary>Reads or writes through the kernel mapping of any kernel virtual address (vmemmap or direct map).</summary>
    public byte* KernelPointer(ulong va, bool write) => Miss(va, write);

    /// <summary>The first way missed: the second way, then the 2 MiB level, then a walk of the kernel tables.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private byte* Miss(ulong va, bool write)
    {
        // The generation is read before the walk: a flush that lands during the walk (after a remap this walk may
        // have missed) then leaves the entry tagged with the old generation, and the next access walks again.
        // Read after the walk, it could tag a stale translation as current and outlive the flush.
        long generation = Volatile.Read(ref _flushGeneration);
        KernelTlb tlb = t_tlb ??= new KernelTlb();
        ulong vpn = va >> 12;
        ref TlbEntry way0 = ref tlb.Way0(vpn);
        ref TlbEntry way1 = ref Unsafe.Add(ref way0, 1);
        if (way1.Tag == vpn && way1.Generation == generation && (!write || way1.Write != 0))
        {
            // Most recently used first, so that the inlined check finds it next time.
            (way0, way1) = (way1, way0);
            return (byte*)(write ? way0.Write : way0.Read) + (va & 0xFFF);
        }
        // A 2 MiB leaf (every boot vmemmap block until HugeTLB splits it, the direct map) is one entry for its 512
        // pages, as the hardware's TLB holds a 2 MiB translation: descriptors spread over a block (the buddy
        // lists') stop walking.
        ref HugeTlbEntry huge = ref tlb.Huge(va >> Paging.PmdShift);
        if (huge.Tag == va >> Paging.PmdShift && huge.Generation == generation && (!write || (huge.Block & HugeWritable) != 0))
            return Fill(ref way0, vpn, generation, (huge.Block & ~HugeWritable) + (va & (Paging.PmdSize - 1) & Paging.PageMask), write) + (va & 0xFFF);

        _walks.Add(1);
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
        bool deferred = Volatile.Read(ref _deferred).Length != 0;
        if (deferred) InitialiseDeferred(pagePa);
        if (walk.Level == Paging.PmdLevel)
        {
            // A block is cached whole only once none of its pages waits for deferred initialisation (a page is
            // initialised on a walk, which hits on the block would skip). Regions are deferred only at boot, before
            // anything reaches descriptors, so no page of a cached block becomes pending later.
            ulong blockPa = walk.PhysAddr & ~(Paging.PmdSize - 1);
            if (!deferred || !AnyPending(blockPa, Paging.PmdSize))
            {
                huge.Tag = va >> Paging.PmdShift;
                huge.Generation = generation;
                huge.Block = blockPa | ((walk.Rights & Rights.Writable) != 0 ? HugeWritable : 0);
            }
        }
        return Fill(ref way0, vpn, generation, pagePa, write) + (va & 0xFFF);
    }

    /// <summary>Marks a cached 2 MiB block whose leaf is writable (its address is 2 MiB aligned: bit 0 is free).</summary>
    private const ulong HugeWritable = 1;

    /// <summary>Caches <paramref name="vpn"/> → <paramref name="pagePa"/> in the first way of its set, the entry
    /// there moving to the second (a refill of the same page replaces it in place), and returns the page's host
    /// pointer. A write-capable entry is only made by a write, so that writes are accounted to their frame and
    /// chunk.</summary>
    private byte* Fill(ref TlbEntry way0, ulong vpn, long generation, ulong pagePa, bool write)
    {
        byte* host = write ? _memory.WritePointer(pagePa) : _memory.ReadPointer(pagePa);
        if (way0.Tag != vpn) Unsafe.Add(ref way0, 1) = way0;
        way0.Tag = vpn;
        way0.Generation = generation;
        way0.Read = (nint)host;
        way0.Write = write ? (nint)host : 0;
        return host;
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

    /// <summary>One cached translation of a 4 KiB page: the host pointers for reading and (when made by a write)
    /// writing, valid while <see cref="Generation"/> is the machine's flush generation.</summary>
    private struct TlbEntry
    {
        public ulong Tag;
        public long Generation;
        public nint Read;
        public nint Write;
    }

    /// <summary>One cached 2 MiB leaf: its block's physical address | <see cref="HugeWritable"/>.</summary>
    private struct HugeTlbEntry
    {
        public ulong Tag;
        public long Generation;
        public ulong Block;
    }

    /// <summary>A thread's kernel TLB, shared by every machine the thread touches (their generations differ).</summary>
    private sealed class KernelTlb
    {
        // Way 0 and way 1 of a set are adjacent: the two ways share a cache line.
        private readonly TlbEntry[] _entries = new TlbEntry[TlbSets * 2];
        private readonly HugeTlbEntry[] _huge = new HugeTlbEntry[HugeTlbEntries];

        /// <summary>The set of <paramref name="vpn"/>: its low bits XOR the bits three above them. Sequential pages
        /// still fill every set, and pages 8 apart — the head vmemmap pages of consecutive 2 MiB folios (32 KiB of
        /// descriptors each) — no longer share an eighth of the sets: by the low bits alone, the 512 heads of a
        /// 1 GiB pool fell into 128 sets of two ways and every second pass over them (HVO's remap pass after its
        /// split pass) missed on every head.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public ref TlbEntry Way0(ulong vpn) =>
            ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_entries), (nint)(((vpn ^ (vpn >> 3)) & (TlbSets - 1)) * 2));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public ref HugeTlbEntry Huge(ulong blockVpn) =>
            ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_huge), (nint)(blockVpn & (HugeTlbEntries - 1)));
    }
}
