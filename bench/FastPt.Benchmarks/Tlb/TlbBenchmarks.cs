using System;
using BenchmarkDotNet.Attributes;
using FastPt.Benchmarks.Paging;
using FastPt.Hardware;

namespace FastPt.Benchmarks.Tlb;

/// <summary>The three costs of a translation through a CPU context: a TLB hit, a TLB miss finished from the
/// PMD-level paging-structure cache (one load), and a full miss (walk from the root), against the bare four-load
/// walk over the same tables (the baseline) and the foundation's uncached translation (the engine's hardware walker,
/// checks and Accessed bit included, no caches). Results are per translation.</summary>
public class TlbBenchmarks : IDisposable
{
    private const int Count = 4096;
    private const ulong Region = 0x40_0000_0000;

    private Machine _machine = null!;
    private AddressSpace _space = null!;
    private MmuContext _context = null!;
    private Machine _coldMachine = null!;
    private AddressSpace _coldSpace = null!;
    private MmuContext _coldContext = null!;
    private PhysicalMemory _physical = null!;
    private ulong _rootPa;
    private ulong[] _hitAddresses = null!;
    private ulong[] _pscAddresses = null!;
    private ulong[] _missAddresses = null!;

    /// <summary>Maps 1 GiB with 4 KiB pages; builds address sets for each case and warms the TLB for the hit case.</summary>
    [GlobalSetup]
    public void Setup()
    {
        _machine = new Machine(new MachineOptions { MemorySize = 4UL << 30 });
        _space = _machine.CreateAddressSpace();
        PhysAddr frames = _machine.AllocatePhysical(1UL << 30);
        _space.Map(new VirtAddr(Region), frames, 1UL << 30, Protection.ReadWrite, PageSize.Size4K);
        _context = _space.CreateContext();
        _physical = _machine.Memory.Physical;
        _rootPa = _space.Mm.RootPa;

        var random = new Random(3);
        // 256 distinct pages, repeated: all TLB hits once warm.
        _hitAddresses = new ulong[Count];
        for (int i = 0; i < Count; i++) _hitAddresses[i] = Region + (ulong)(i % 256) * 4096 * 3 + (ulong)random.Next(4096);
        // 4096 consecutive pages in 16 MiB: each TLB slot serves 4 of them in turn (always a miss), the 8 PTE tables
        // stay in the PMD-level cache.
        _pscAddresses = new ulong[Count];
        for (int i = 0; i < Count; i++) _pscAddresses[i] = Region + (ulong)i * 4096 + (ulong)random.Next(4096);

        // Full misses: a context with a one-entry TLB and one-entry caches, and pages in different gigabytes.
        _coldMachine = new Machine(new MachineOptions { MemorySize = 4UL << 30, TlbEntries = 1, PagingStructureCacheEntries = 1 });
        _coldSpace = _coldMachine.CreateAddressSpace();
        _missAddresses = new ulong[Count];
        for (int g = 0; g < 64; g++)
            _coldSpace.Map(new VirtAddr(Region + ((ulong)g << 30)), new PhysAddr((ulong)g << 21), 2UL << 20, Protection.Read, PageSize.Size4K);
        for (int i = 0; i < Count; i++) _missAddresses[i] = Region + ((ulong)(i % 64) << 30) + (ulong)random.Next(2 << 20);
        _coldContext = _coldSpace.CreateContext();

        foreach (ulong va in _hitAddresses) Check(_context, va, frames.Value + (va - Region));
        foreach (ulong va in _pscAddresses) Check(_context, va, frames.Value + (va - Region));
        foreach (ulong va in _missAddresses)
        {
            ulong g = (va - Region) >> 30;
            Check(_coldContext, va, (g << 21) + ((va - Region) & ((1UL << 30) - 1)));
        }
        foreach (ulong va in _hitAddresses) _context.TryTranslate(new VirtAddr(va), AccessKind.Read, out _);
    }

    private static void Check(MmuContext context, ulong va, ulong expected)
    {
        if (!context.TryTranslate(new VirtAddr(va), AccessKind.Read, out PhysAddr pa) || pa.Value != expected)
            throw new InvalidOperationException($"0x{va:x} translated to {pa}, expected 0x{expected:x}");
    }

    /// <summary>Baseline: four dependent loads over the same tables (the PSC-hit address set).</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = Count)]
    public ulong BareWalk()
    {
        ulong sum = 0;
        foreach (ulong va in _pscAddresses) sum += BareWalker.Translate(_physical, _rootPa, va);
        return sum;
    }

    /// <summary>The foundation's uncached translation: the engine's hardware walker from the root, every check and
    /// the Accessed bit included.</summary>
    [Benchmark(OperationsPerInvoke = Count)]
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

    /// <summary>TLB hits (256 pages cycled).</summary>
    [Benchmark(OperationsPerInvoke = Count)]
    public ulong TlbHit()
    {
        ulong sum = 0;
        MmuContext context = _context;
        foreach (ulong va in _hitAddresses)
        {
            context.TryTranslate(new VirtAddr(va), AccessKind.Read, out PhysAddr pa);
            sum += pa.Value;
        }
        return sum;
    }

    /// <summary>TLB hits through the address space's per-thread context (what <c>space.TryTranslate</c> costs).</summary>
    [Benchmark(OperationsPerInvoke = Count)]
    public ulong TlbHitImplicitContext()
    {
        ulong sum = 0;
        foreach (ulong va in _hitAddresses)
        {
            _space.TryTranslate(new VirtAddr(va), AccessKind.Read, out PhysAddr pa);
            sum += pa.Value;
        }
        return sum;
    }

    /// <summary>TLB misses finished from the PMD-level paging-structure cache.</summary>
    [Benchmark(OperationsPerInvoke = Count)]
    public ulong TlbMissPscHit()
    {
        ulong sum = 0;
        MmuContext context = _context;
        foreach (ulong va in _pscAddresses)
        {
            context.TryTranslate(new VirtAddr(va), AccessKind.Read, out PhysAddr pa);
            sum += pa.Value;
        }
        return sum;
    }

    /// <summary>Full misses: no TLB entry, no cached partial walk, a walk from the root each time.</summary>
    [Benchmark(OperationsPerInvoke = Count)]
    public ulong FullMiss()
    {
        ulong sum = 0;
        MmuContext context = _coldContext;
        foreach (ulong va in _missAddresses)
        {
            context.TryTranslate(new VirtAddr(va), AccessKind.Read, out PhysAddr pa);
            sum += pa.Value;
        }
        return sum;
    }

    /// <summary>A TLB hit on the data path: <c>Read&lt;ulong&gt;</c> through the context.</summary>
    [Benchmark(OperationsPerInvoke = Count)]
    public ulong ReadHit()
    {
        ulong sum = 0;
        MmuContext context = _context;
        foreach (ulong va in _hitAddresses) sum += context.Read<ulong>(new VirtAddr(va & ~7UL));
        return sum;
    }

    /// <summary>Frees both machines.</summary>
    [GlobalCleanup]
    public void Dispose()
    {
        _context?.Dispose();
        _coldContext?.Dispose();
        _machine?.Dispose();
        _coldMachine?.Dispose();
        GC.SuppressFinalize(this);
    }
}
