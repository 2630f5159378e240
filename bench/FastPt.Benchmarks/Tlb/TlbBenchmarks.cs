using System;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using FastPt.Benchmarks.Paging;
using FastPt.Hardware;

namespace FastPt.Benchmarks.Tlb;

/// <summary>The three costs of a translation through a CPU context — a TLB hit, a TLB miss finished from the
/// PMD-level paging-structure cache (one load), and a full miss (a walk from the root) — each in its own category
/// with its own baseline: the bare four-load walk over the same tables and the same address stream, so every
/// Ratio compares like with like. The C reference walk (<c>bench/native/</c>) runs beside it. Results are per
/// translation. The setup proves each stream does what its name says (every hit a hit, every miss a miss refilled
/// from the cache it names) from the context's counters.</summary>
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public class TlbBenchmarks : IDisposable
{
    private const int Count = 4096;
    private const ulong Region = 0x40_0000_0000;
    private const string Hit = "Hit";
    private const string PscMiss = "PscMiss";
    private const string FullMissCategory = "FullMiss";

    private Machine _machine = null!;
    private AddressSpace _space = null!;
    private MmuContext _context = null!;
    private MmuContext _missContext = null!;
    private Machine _coldMachine = null!;
    private AddressSpace _coldSpace = null!;
    private MmuContext _coldContext = null!;
    private PhysicalMemory _physical = null!;
    private PhysicalMemory _coldPhysical = null!;
    private NativeWalker? _native;
    private NativeWalker? _coldNative;
    private ulong _rootPa;
    private ulong _coldRootPa;
    private ulong[] _hitAddresses = null!;
    private nint[] _hitHosts = null!;
    private ulong[] _pscAddresses = null!;
    private ulong[] _missAddresses = null!;

    /// <summary>Maps 1 GiB with 4 KiB pages (and 64 small pieces of 64 GiB for full misses); builds the address
    /// stream of each category, checks every translation and each stream's hit and miss counts, warms the TLBs.</summary>
    [GlobalSetup]
    public void Setup()
    {
        SetupMachines();
        var random = new Random(3);
        // 256 distinct pages, repeated: all TLB hits once warm.
        _hitAddresses = new ulong[Count];
        for (int i = 0; i < Count; i++) _hitAddresses[i] = Region + (ulong)(i % 256) * 4096 * 3 + (ulong)random.Next(4096);
        // 4096 consecutive pages in 16 MiB, four times the TLB: always a miss (the setup checks), the 8 PTE tables
        // stay in the PMD-level cache.
        _pscAddresses = new ulong[Count];
        for (int i = 0; i < Count; i++) _pscAddresses[i] = Region + (ulong)i * 4096 + (ulong)random.Next(4096);
        // Full misses: a context with a one-entry TLB and one-entry caches, and pages in different gigabytes.
        _missAddresses = new ulong[Count];
        for (int i = 0; i < Count; i++) _missAddresses[i] = Region + ((ulong)(i % 64) << 30) + (ulong)random.Next(2 << 20);

        // The host address of each ReadHit access, for the host load alone (HostLoadHit).
        _hitHosts = new nint[Count];
        unsafe
        {
            for (int i = 0; i < Count; i++) _hitHosts[i] = (nint)_physical.ReadPointer(BareWalker.Translate(_physical, _rootPa, _hitAddresses[i] & ~7UL));
        }

        // The minimal TLB's entries: 256 pages, 3 apart, in 256 distinct slots.
        foreach (ulong va in _hitAddresses)
        {
            int slot = (int)((va >> 11) & ((MinimalTlbEntries - 1) << 1));
            _minimalTlb[slot] = (va & ~4095UL) | 1;
            _minimalTlb[slot + 1] = BareWalker.Translate(_physical, _rootPa, va & ~4095UL);
        }

        Verify();
        // Warm-up for the hit streams (the held context and the per-thread one).
        TlbHit();
        TlbHitImplicitContext();
    }

    /// <summary>The same, plus the C reference walk.</summary>
    [GlobalSetup(Targets = [nameof(NativeWalkHit), nameof(NativeWalkPscMiss), nameof(NativeWalkFullMiss)])]
    public void SetupNative()
    {
        Setup();
        _native = new NativeWalker(_physical);
        _coldNative = new NativeWalker(_coldPhysical);
        if (NativeWalkHit() != BareWalkHit() || NativeWalkPscMiss() != BareWalkPscMiss() || NativeWalkFullMiss() != BareWalkFullMiss())
            throw new InvalidOperationException("the C walk and the bare walk disagree");
    }

    private void SetupMachines()
    {
        _machine = new Machine(new MachineOptions { MemorySize = 4UL << 30, TlbEntries = 1024 });
        _space = _machine.CreateAddressSpace();
        PhysAddr frames = _machine.AllocatePhysical(1UL << 30);
        _space.Map(new VirtAddr(Region), frames, 1UL << 30, Protection.ReadWrite, PageSize.Size4K);
        _context = _space.CreateContext();
        _missContext = _space.CreateContext();
        _physical = _machine.Memory.Physical;
        _rootPa = _space.Mm.RootPa;

        _coldMachine = new Machine(new MachineOptions { MemorySize = 4UL << 30, TlbEntries = 1, PagingStructureCacheEntries = 1 });
        _coldSpace = _coldMachine.CreateAddressSpace();
        for (int g = 0; g < 64; g++)
            _coldSpace.Map(new VirtAddr(Region + ((ulong)g << 30)), new PhysAddr((ulong)g << 21), 2UL << 20, Protection.Read, PageSize.Size4K);
        _coldContext = _coldSpace.CreateContext();
        _coldPhysical = _coldMachine.Memory.Physical;
        _coldRootPa = _coldSpace.Mm.RootPa;
    }

    private void Verify()
    {
        ulong framesStart = BareWalker.Translate(_physical, _rootPa, Region);
        foreach (ulong va in _hitAddresses) Check(_context, va, framesStart + (va - Region));
        foreach (ulong va in _pscAddresses) Check(_context, va, framesStart + (va - Region));
        foreach (ulong va in _missAddresses)
        {
            ulong g = (va - Region) >> 30;
            Check(_coldContext, va, (g << 21) + ((va - Region) & ((1UL << 30) - 1)));
        }
        if (BareWalkHit() != TlbHit() || BareWalkHit() != TlbHitImplicitContext() || BareWalkPscMiss() != TlbMissPscHit()
            || BareWalkPscMiss() != UncachedWalk() || BareWalkFullMiss() != FullMiss() || ReadHit() != HostLoadHit() || MinimalTlbHit() != BareWalkHit())
            throw new InvalidOperationException("the benchmark sums differ");

        // Each stream must be what its category says, in the steady state the benchmark measures.
        TlbHit();
        ExpectCounts("TlbHit", _context, TlbHit, hits: Count, misses: 0, pmdHits: 0, walks: 0);
        TlbHitImplicitContext();
        ExpectCounts("TlbHitImplicitContext", _space.CurrentContext, TlbHitImplicitContext, hits: Count, misses: 0, pmdHits: 0, walks: 0);
        TlbMissPscHit();
        ExpectCounts("TlbMissPscHit", _missContext, TlbMissPscHit, hits: 0, misses: Count, pmdHits: Count, walks: 0);
        FullMiss();
        ExpectCounts("FullMiss", _coldContext, FullMiss, hits: 0, misses: Count, pmdHits: 0, walks: Count);
    }

    private static void ExpectCounts(string what, MmuContext context, Func<ulong> run, long hits, long misses, long pmdHits, long walks)
    {
        TlbStatistics before = context.Statistics;
        run();
        TlbStatistics after = context.Statistics;
        (long h, long m, long p, long w) = (after.Hits - before.Hits, after.Misses - before.Misses,
            after.PmdCacheHits - before.PmdCacheHits, after.Walks - before.Walks);
        if (h != hits || m != misses || p != pmdHits || w != walks)
            throw new InvalidOperationException($"{what}: {h} hits, {m} misses, {p} PMD-cache refills, {w} walks per pass; expected {hits}, {misses}, {pmdHits}, {walks}");
    }

    private static void Check(MmuContext context, ulong va, ulong expected)
    {
        if (!context.TryTranslate(new VirtAddr(va), AccessKind.Read, out PhysAddr pa) || pa.Value != expected)
            throw new InvalidOperationException($"0x{va:x} translated to {pa}, expected 0x{expected:x}");
    }

    private static ulong Walk(PhysicalMemory memory, ulong rootPa, ulong[] addresses)
    {
        ulong sum = 0;
        foreach (ulong va in addresses) sum += BareWalker.Translate(memory, rootPa, va);
        return sum;
    }

    private static ulong Translate(MmuContext context, ulong[] addresses)
    {
        ulong sum = 0;
        foreach (ulong va in addresses)
        {
            context.TryTranslate(new VirtAddr(va), AccessKind.Read, out PhysAddr pa);
            sum += pa.Value;
        }
        return sum;
    }

    // ------------------------------------------------------------------ hits: 256 pages cycled

    /// <summary>Baseline of the hit category: the bare walk over the hit stream.</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = Count), BenchmarkCategory(Hit)]
    public ulong BareWalkHit() => Walk(_physical, _rootPa, _hitAddresses);

    /// <summary>The C walk over the hit stream.</summary>
    [Benchmark(OperationsPerInvoke = Count), BenchmarkCategory(Hit)]
    public ulong NativeWalkHit() => _native!.Walk(_hitAddresses, _rootPa);

    /// <summary>TLB hits through a context the caller holds.</summary>
    [Benchmark(OperationsPerInvoke = Count), BenchmarkCategory(Hit)]
    public ulong TlbHit() => Translate(_context, _hitAddresses);

    /// <summary>TLB hits through the address space's per-thread context (what <c>space.TryTranslate</c> costs).</summary>
    [Benchmark(OperationsPerInvoke = Count), BenchmarkCategory(Hit)]
    public ulong TlbHitImplicitContext()
    {
        AddressSpace space = _space;
        ulong sum = 0;
        foreach (ulong va in _hitAddresses)
        {
            space.TryTranslate(new VirtAddr(va), AccessKind.Read, out PhysAddr pa);
            sum += pa.Value;
        }
        return sum;
    }

    /// <summary>A TLB hit on the data path: <c>Read&lt;ulong&gt;</c> through the held context.</summary>
    [Benchmark(OperationsPerInvoke = Count), BenchmarkCategory(Hit)]
    public ulong ReadHit()
    {
        ulong sum = 0;
        MmuContext context = _context;
        foreach (ulong va in _hitAddresses) sum += context.Read<ulong>(new VirtAddr(va & ~7UL));
        return sum;
    }

    /// <summary>The data load of <see cref="ReadHit"/> alone, from host addresses computed in the setup: what the
    /// access itself costs on this stream (256 host pages, so the host's own TLB and caches are in it), the limit of
    /// a <c>Read</c> on a hit.</summary>
    [Benchmark(OperationsPerInvoke = Count), BenchmarkCategory(Hit)]
    public unsafe ulong HostLoadHit()
    {
        ulong sum = 0;
        foreach (nint host in _hitHosts) sum += *(ulong*)host;
        return sum;
    }

    /// <summary>The floor of a software TLB hit on this stream: a hand-written direct-mapped TLB of 1,024 entries (a
    /// tag and a physical page, adjacent), one shift, one mask, one compare and one or per hit; no access kinds,
    /// coherence, counters or bounds checks (filled in the setup; a miss would return 0, and the setup checks that
    /// none does).</summary>
    [Benchmark(OperationsPerInvoke = Count), BenchmarkCategory(Hit)]
    public ulong MinimalTlbHit()
    {
        ref ulong tlb = ref System.Runtime.InteropServices.MemoryMarshal.GetArrayDataReference(_minimalTlb);
        ulong sum = 0;
        foreach (ulong va in _hitAddresses)
        {
            nint slot = (nint)((va >> 11) & ((MinimalTlbEntries - 1) << 1));
            if (System.Runtime.CompilerServices.Unsafe.Add(ref tlb, slot) == ((va & ~4095UL) | 1))
                sum += System.Runtime.CompilerServices.Unsafe.Add(ref tlb, slot + 1) | (va & 4095);
        }
        return sum;
    }

    private const int MinimalTlbEntries = 1024;
    private readonly ulong[] _minimalTlb = new ulong[2 * MinimalTlbEntries];

    // ------------------------------------------------------------------ misses refilled from the PMD-level cache

    /// <summary>Baseline of the miss category: the bare walk over the miss stream.</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = Count), BenchmarkCategory(PscMiss)]
    public ulong BareWalkPscMiss() => Walk(_physical, _rootPa, _pscAddresses);

    /// <summary>The C walk over the miss stream.</summary>
    [Benchmark(OperationsPerInvoke = Count), BenchmarkCategory(PscMiss)]
    public ulong NativeWalkPscMiss() => _native!.Walk(_pscAddresses, _rootPa);

    /// <summary>The foundation's uncached translation: the engine's hardware walker from the root, every check and
    /// the Accessed bit included.</summary>
    [Benchmark(OperationsPerInvoke = Count), BenchmarkCategory(PscMiss)]
    public ulong UncachedWalk()
    {
        ulong sum = 0;
        foreach (ulong va in _pscAddresses)
        {
            HardwareWalker.Walk(_physical, _rootPa, 4, va, AccessKind.Read, user: true, updateAccessedDirty: true, checkPoison: false, out WalkResult walk);
            sum += walk.PhysAddr;
        }
        return sum;
    }

    /// <summary>TLB misses finished from the PMD-level paging-structure cache (a context of its own, so the hit
    /// benchmarks' warm TLB is not disturbed).</summary>
    [Benchmark(OperationsPerInvoke = Count), BenchmarkCategory(PscMiss)]
    public ulong TlbMissPscHit() => Translate(_missContext, _pscAddresses);

    // ------------------------------------------------------------------ full misses: a walk from the root

    /// <summary>Baseline of the full-miss category: the bare walk over the full-miss stream and tables.</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = Count), BenchmarkCategory(FullMissCategory)]
    public ulong BareWalkFullMiss() => Walk(_coldPhysical, _coldRootPa, _missAddresses);

    /// <summary>The C walk over the full-miss stream.</summary>
    [Benchmark(OperationsPerInvoke = Count), BenchmarkCategory(FullMissCategory)]
    public ulong NativeWalkFullMiss() => _coldNative!.Walk(_missAddresses, _coldRootPa);

    /// <summary>Full misses: no TLB entry, no cached partial walk, a walk from the root each time.</summary>
    [Benchmark(OperationsPerInvoke = Count), BenchmarkCategory(FullMissCategory)]
    public ulong FullMiss() => Translate(_coldContext, _missAddresses);

    /// <summary>Frees both machines.</summary>
    [GlobalCleanup]
    public void Dispose()
    {
        _native?.Dispose();
        _coldNative?.Dispose();
        _native = _coldNative = null;
        _context?.Dispose();
        _missContext?.Dispose();
        _coldContext?.Dispose();
        _machine?.Dispose();
        _coldMachine?.Dispose();
        GC.SuppressFinalize(this);
    }
}
