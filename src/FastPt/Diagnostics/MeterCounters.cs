using System;
using System.Collections.Generic;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading;

namespace FastPt.Diagnostics;

/// <summary>The counters of one simulated CPU (a CPU context): written only by the thread that owns the CPU, with
/// plain increments (a TLB hit pays no atomic instruction), and read by the Meter from another thread (an aligned
/// 64-bit read is atomic on x64, so a reading is at worst a moment old). Linux keeps its vm events per CPU the same
/// way and sums them when they are read. The counts sit 64 bytes away from either end of the object, so they never
/// share a cache line with another object (another CPU's counters or slot, which the garbage collector may compact
/// next to them): each is written on every access of its CPU.</summary>
/// <remarks>The hit count is the exception: it lives in the CPU's TLB storage, in the line of the hit word that every
/// fast path loads anyway (<c>SoftTlb.HitCountOf</c>), so a hit increments it through the base it
/// already holds instead of loading this object's address first (one load fewer per hit). It stays one exact word,
/// written by the owner only; <see cref="Hits"/> reads it.</remarks>
[StructLayout(LayoutKind.Explicit)]
internal sealed unsafe class CpuCounters
{
    // The storage the hit count lives in (kept alive by this reference: the Meter may read a retired CPU's count)
    // and the count's address inside it (pinned: it never moves).
    [FieldOffset(0)] private readonly byte[] _hitStorage;
    [FieldOffset(8)] private readonly long* _hits;
    [FieldOffset(72)] public long Misses;
    [FieldOffset(80)] public long PmdCacheHits;
    [FieldOffset(88)] public long PudCacheHits;
    [FieldOffset(96)] public long Walks;
    [FieldOffset(104)] public long Faults;
    [FieldOffset(112)] public long PageFlushes;
    [FieldOffset(120)] public long RangeFlushes;
    [FieldOffset(128)] public long FullFlushes;
    [FieldOffset(136)] public long KernelFlushes;

    /// <summary>Set (under the machine's lock) once the counts were folded into the machine's retired totals.</summary>
    [FieldOffset(144)] public bool Retired;

#pragma warning disable CS0169, IDE0051, CA1823 // Padding: never read or written, it only ends the object 64 bytes after the hot words.
    [FieldOffset(200)] private readonly long _padEnd;
#pragma warning restore CS0169, IDE0051, CA1823

    /// <summary>Counters whose hit count is the word at <paramref name="hits"/> inside the pinned
    /// <paramref name="storage"/> (a TLB's hit-word line).</summary>
    public CpuCounters(byte[] storage, long* hits)
    {
        _hitStorage = storage;
        _hits = hits;
    }

    /// <summary>Counters with a hit count of their own (a CPU without a TLB storage: tests).</summary>
    public CpuCounters()
    {
        _hitStorage = GC.AllocateArray<byte>(sizeof(long), pinned: true);
        _hits = (long*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_hitStorage));
    }

    /// <summary>TLB hits (of every fast and slow path): the word in the TLB's hit-word line.</summary>
    public ref long Hits
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => ref *_hits;
    }
}

/// <summary>Totals over CPUs of the counters the Meter reports.</summary>
internal struct CpuTotals
{
    public long Hits, Misses, Faults;

    public void Add(CpuCounters cpu)
    {
        Hits += Volatile.Read(ref cpu.Hits);
        Misses += Volatile.Read(ref cpu.Misses);
        Faults += Volatile.Read(ref cpu.Faults);
    }

    public void Add(in CpuTotals other)
    {
        Hits += other.Hits;
        Misses += other.Misses;
        Faults += other.Faults;
    }
}

/// <summary>What one machine publishes for the Meter: the engine keeps these figures here as it runs (the memory
/// manager's vmstat derives from this class, so its counters are these fields), registers the block with
/// <see cref="FastPtMeter"/> when the machine boots, and the Meter only reads it. CPUs register their
/// <see cref="CpuCounters"/> here and are folded into the retired totals when they go away (Linux's
/// <c>vm_events_fold_cpu</c>), so totals never drop while the machine lives.</summary>
internal class MachineCounters
{
    private readonly Lock _cpusLock = new();
    private readonly List<CpuCounters> _cpus = new();
    private CpuTotals _retired;

    /// <summary><c>PageTables</c> in /proc/meminfo (<c>NR_PAGETABLE</c>): constructed page-table pages.</summary>
    public long PageTablePages;

    /// <summary><c>nr_memmap_pages</c>: memmap pages allocated after boot (hot-add), in 4 KiB pages.</summary>
    public long MemmapPages;

    /// <summary><c>nr_memmap_boot_pages</c>: memmap pages allocated by memblock at boot.</summary>
    public long MemmapBootPages;

    /// <summary><c>nr_free_pages</c>: frames free in the buddy allocator, its per-CPU lists included. Per CPU
    /// (<c>percpu_counter</c>): every demand fault takes a frame off it, and CPUs faulting at once must not share
    /// the cache line it sits on. The Meter sums the cells.</summary>
    public readonly Sync.PerCpuCounter FreePages = new();

    /// <summary>Times a thread found an address space's page-table lock held by another.</summary>
    public long PageTableLockContentions;

    /// <summary>TLB flushes published to CPUs, of every address space and of the kernel (each one is a
    /// <c>TlbFlush</c> event).</summary>
    public long TlbFlushesPublished;

    /// <summary>Page-table blocks alive (PTE fragments share one).</summary>
    public long PteBlocks;

    /// <summary>PTE fragments handed out as tables and not freed, and fragments not handed out yet (in cursors).</summary>
    public long PteFragmentsInUse, PteFragmentsFree;

    /// <summary><c>pte_free_defer</c> calls, and re-deferrals (the <c>PTE_FREE_DEFERRED</c> callback queueing the
    /// block's head again).</summary>
    public long TablesDeferred, Redeferrals;

    /// <summary>Bytes of page-table memory referenced by queued RCU callbacks: whole blocks whose head is queued,
    /// and the tables of queued gather batches.</summary>
    public long RcuPendingTableBytes;

    /// <summary>HugeTLB vmemmap optimization: vmemmap pages freed and allocated again (restores), and folios whose
    /// vmemmap is optimized now.</summary>
    public long HvoPagesFreed, HvoPagesRestored, HvoFoliosOptimized;

    /// <summary>The machine's RCU domain, whose grace periods and callbacks the Meter reports: its counters are
    /// fields it keeps anyway, read with plain volatile loads (nothing the domain does is called).</summary>
    public Sync.RcuDomain? Rcu;

    /// <summary>Registers the counters of a new CPU, whose hit count is the word at <paramref name="hits"/> in the
    /// pinned <paramref name="hitStorage"/>.</summary>
    public unsafe CpuCounters AttachCpu(byte[] hitStorage, long* hits)
    {
        var cpu = new CpuCounters(hitStorage, hits);
        lock (_cpusLock) _cpus.Add(cpu);
        return cpu;
    }

    /// <summary>Folds the counts of a CPU that went away into the retired totals; the second call does nothing.
    /// An increment racing with the fold (a CPU still translating while its address space is torn down) may be
    /// lost.</summary>
    public void RetireCpu(CpuCounters cpu)
    {
        lock (_cpusLock)
        {
            if (cpu.Retired) return;
            cpu.Retired = true;
            _retired.Add(cpu);
            _cpus.Remove(cpu);
        }
    }

    /// <summary>Totals over every CPU the machine ever had.</summary>
    public CpuTotals ReadCpus()
    {
        lock (_cpusLock)
        {
            CpuTotals total = _retired;
            foreach (CpuCounters cpu in _cpus) total.Add(cpu);
            return total;
        }
    }
}
