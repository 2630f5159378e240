using System;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using FastPt.Mm;

namespace FastPt.Benchmarks.HugeTlb;

/// <summary>HugeTLB vmemmap optimization per folio: optimizing and restoring a pool of frozen folios batched (one
/// split pass, one grace period, one gather) against one folio at a time (a flush and a grace period per folio, the
/// baseline of each category), on 64 GiB and 256 GiB machines, in both designs. Only the HVO step is timed: the
/// folios are allocated once, unoptimized; each optimize iteration starts from a restored pool and each restore
/// iteration from an optimized one (the other step runs in the iteration setup, which makes every iteration one
/// invocation). Times are per folio. The anchor (issue 13): Linux spent about 4.5 µs of HVO per 2 MiB folio batched
/// on a 252-vCPU VM; the goal here is 1 µs. <see cref="Hvo2MBenchmarks"/> and <see cref="Hvo1GBenchmarks"/> give
/// the folio size and count.</summary>
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public abstract class HvoBenchmarks : IDisposable
{
    private HvoPool _pool = null!;

    /// <summary>Simulated RAM in GiB.</summary>
    [Params(64, 256)]
    public int MemoryGiB { get; set; }

    /// <summary>The HVO design.</summary>
    [Params(HvoDesign.Linux6x, HvoDesign.SharedTail)]
    public HvoDesign Design { get; set; }

    /// <summary>Folio size.</summary>
    protected abstract PageSize Size { get; }

    /// <summary>Folios per invocation (the OperationsPerInvoke of the derived class's methods).</summary>
    protected abstract int Folios { get; }

    /// <summary>Boots the machine with the switch off and fills the pool, checks that one optimize and one restore
    /// free and give back the kernel's page counts (7 or 4095 per folio), and warms the JIT up on both paths.</summary>
    [GlobalSetup]
    public void Setup()
    {
        _pool = HvoPool.Boot((ulong)MemoryGiB << 30, Design, Size, Folios);
        _pool.CheckPageCounts();
        _pool.WarmUp();
    }

    /// <summary>Before an optimize: the pool restored (nothing to do the first time).</summary>
    [IterationSetup(Targets = ["OptimizePerFolio", "OptimizeBatched"])]
    public void RestoreAll() => _pool.Restore(batched: true);

    /// <summary>Before a restore: the pool optimized (already, for the first restore iteration after the setup).</summary>
    [IterationSetup(Targets = ["RestorePerFolio", "RestoreBatched"])]
    public void OptimizeAll() => _pool.Optimize(batched: true, allowNone: true);

    /// <summary>The pool (booted by the global setup).</summary>
    internal HvoPool Pool => _pool;

    /// <summary>Optimizes the pool, batched or one folio at a time.</summary>
    protected int Optimize(bool batched) => _pool.Optimize(batched);

    /// <summary>Restores the pool, batched or one folio at a time.</summary>
    protected int Restore(bool batched) => _pool.Restore(batched);

    /// <summary>Frees the machine.</summary>
    [GlobalCleanup]
    public void Dispose()
    {
        _pool?.Dispose();
        GC.SuppressFinalize(this);
    }
}

/// <summary><see cref="HvoBenchmarks"/> for 512 folios of 2 MiB (the pool of the 6.18 measurement), with the floor
/// of a batched optimize beside it (category <c>Floor</c>, <see cref="HvoFloor"/>): the bare copy, PTE writes, page
/// allocation and frees one folio's optimize must do, on the same pool in the same cache state.</summary>
public class Hvo2MBenchmarks : HvoBenchmarks
{
    private const int Count = 512;
    private HvoFloor? _floor;

    /// <summary>Before a floor call: the frames it frees taken, the pages the last one allocated given back (the
    /// pool stays restored: no floor method optimizes).</summary>
    [IterationSetup(Targets = ["Floor", "FloorAllocateAndFree", "FloorPteWrites"])]
    public void PrepareFloor() => (_floor ??= new HvoFloor(Pool)).Prepare(destinations: false);

    /// <summary>Before <see cref="FloorCopy"/>: the same, and its destination pages taken.</summary>
    [IterationSetup(Targets = ["FloorCopy", "FloorCopyPrefetched", "FloorCopyNonTemporal"])]
    public void PrepareFloorCopy() => (_floor ??= new HvoFloor(Pool)).Prepare(destinations: true);

    /// <inheritdoc/>
    protected override PageSize Size => PageSize.Size2M;

    /// <inheritdoc/>
    protected override int Folios => Count;

    /// <summary>Optimize one folio at a time (<c>hugetlb_vmemmap_optimize_folio</c>).</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = Count), BenchmarkCategory("Optimize")]
    public int OptimizePerFolio() => Optimize(batched: false);

    /// <summary>Optimize the pool as one batch (<c>hugetlb_vmemmap_optimize_folios</c>).</summary>
    [Benchmark(OperationsPerInvoke = Count), BenchmarkCategory("Optimize")]
    public int OptimizeBatched() => Optimize(batched: true);

    /// <summary>Restore one folio at a time (<c>hugetlb_vmemmap_restore_folio</c>).</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = Count), BenchmarkCategory("Restore")]
    public int RestorePerFolio() => Restore(batched: false);

    /// <summary>Restore the pool as one batch (<c>hugetlb_vmemmap_restore_folios</c>).</summary>
    [Benchmark(OperationsPerInvoke = Count), BenchmarkCategory("Restore")]
    public int RestoreBatched() => Restore(batched: true);

    /// <summary>The floor: per folio a page from the per-CPU list, the head vmemmap page copied into it, 8 PTE
    /// writes; then 8 frees per folio in one bulk free.</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = Count), BenchmarkCategory("Floor")]
    public int Floor() => _floor!.All();

    /// <summary>The floor's head page copies alone, each copy's source and destination prefetched two copies
    /// ahead.</summary>
    [Benchmark(OperationsPerInvoke = Count), BenchmarkCategory("Floor")]
    public int FloorCopyPrefetched() => _floor!.CopyPrefetched();

    /// <summary>The floor's head page copies alone (into pages taken before the call).</summary>
    [Benchmark(OperationsPerInvoke = Count), BenchmarkCategory("Floor")]
    public int FloorCopy() => _floor!.Copy();

    /// <summary>The floor's head page copies with non-temporal stores.</summary>
    [Benchmark(OperationsPerInvoke = Count), BenchmarkCategory("Floor")]
    public int FloorCopyNonTemporal() => _floor!.CopyNonTemporal();

    /// <summary>The floor's 8 PTE writes per folio alone.</summary>
    [Benchmark(OperationsPerInvoke = Count), BenchmarkCategory("Floor")]
    public int FloorPteWrites() => _floor!.Ptes();

    /// <summary>The floor's page allocation and 8 frees per folio alone.</summary>
    [Benchmark(OperationsPerInvoke = Count), BenchmarkCategory("Floor")]
    public int FloorAllocateAndFree() => _floor!.AllocateAndFree();
}

/// <summary><see cref="HvoBenchmarks"/> for 8 folios of 1 GiB.</summary>
public class Hvo1GBenchmarks : HvoBenchmarks
{
    private const int Count = 8;

    /// <inheritdoc/>
    protected override PageSize Size => PageSize.Size1G;

    /// <inheritdoc/>
    protected override int Folios => Count;

    /// <summary>Optimize one folio at a time.</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = Count), BenchmarkCategory("Optimize")]
    public int OptimizePerFolio() => Optimize(batched: false);

    /// <summary>Optimize the pool as one batch.</summary>
    [Benchmark(OperationsPerInvoke = Count), BenchmarkCategory("Optimize")]
    public int OptimizeBatched() => Optimize(batched: true);

    /// <summary>Restore one folio at a time.</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = Count), BenchmarkCategory("Restore")]
    public int RestorePerFolio() => Restore(batched: false);

    /// <summary>Restore the pool as one batch.</summary>
    [Benchmark(OperationsPerInvoke = Count), BenchmarkCategory("Restore")]
    public int RestoreBatched() => Restore(batched: true);
}

/// <summary><c>compound_head()</c> of tail descriptors of optimized 2 MiB folios: Linux 6.x must recognise fake
/// heads (a descriptor reading as a head at the start of every tail vmemmap page, checked while any folio is
/// optimized), the 2026 shared-tail series reads one mask and ANDs it with the descriptor's address. The baseline is
/// 6.x with optimized folios; 6.x with none optimized (the static key off) shows what the fake-head check costs.
/// Tails are read through the kernel mapping (as the kernel does), a quarter of them at fake-head positions.</summary>
public unsafe class HvoCompoundHeadBenchmarks : IDisposable
{
    private const int Lookups = 4096;
    private const int Folios = 64;
    private HvoPool _fakeHeads = null!, _keyOff = null!, _sharedTail = null!;
    private ulong[] _fakeHeadTails = [], _keyOffTails = [], _sharedTails = [];

    /// <summary>Three 4 GiB machines with 64 × 2 MiB folios each: 6.x optimized, 6.x not, shared tail optimized.</summary>
    [GlobalSetup]
    public void Setup()
    {
        (_fakeHeads, _fakeHeadTails) = Boot(HvoDesign.Linux6x, optimize: true);
        (_keyOff, _keyOffTails) = Boot(HvoDesign.Linux6x, optimize: false);
        (_sharedTail, _sharedTails) = Boot(HvoDesign.SharedTail, optimize: true);
    }

    private static (HvoPool, ulong[]) Boot(HvoDesign design, bool optimize)
    {
        HvoPool pool = HvoPool.Boot(4UL << 30, design, PageSize.Size2M, Folios, optimize);
        ulong[] tails = TailLookups(pool, Lookups);
        if (optimize != (pool.Machine.HugeTlb.GetStatistics().Size2M.FoliosOptimizedNow == Folios))
            throw new InvalidOperationException("the pool is not optimized as asked");
        return (pool, tails);
    }

    /// <summary><paramref name="count"/> tail descriptors of the pool's folios, a quarter at the first descriptor of
    /// a tail vmemmap page (a fake head in 6.x), the rest anywhere; checked to find their heads.</summary>
    internal static ulong[] TailLookups(HvoPool pool, int count)
    {
        var random = new Random(1);
        var tails = new ulong[count];
        for (int i = 0; i < count; i++)
        {
            ulong offset = i % 4 == 0 ? (ulong)random.Next(1, 8) * 64 : (ulong)random.Next(1, 512);
            tails[i] = pool.Folios[random.Next(pool.Folios.Length)].HeadPfn + offset;
        }
        Memmap memmap = pool.Machine.Memory.Memmap;
        foreach (ulong tail in tails)
        {
            ulong head = tail & ~511UL;
            if (memmap.CompoundHead(tail) != head) throw new InvalidOperationException($"compound_head(0x{tail:x}) is not 0x{head:x}");
        }
        return tails;
    }

    /// <summary>The timed loop: <c>compound_head()</c> of every tail through the machine's memmap.</summary>
    internal static ulong Lookup(HvoPool pool, ulong[] tails)
    {
        Memmap memmap = pool.Machine.Memory.Memmap;
        ulong sum = 0;
        foreach (ulong tail in tails) sum += memmap.CompoundHead(tail);
        return sum;
    }

    /// <summary>Linux 6.x with optimized folios: the fake-head check runs.</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = Lookups)]
    public ulong FakeHeadAware() => Lookup(_fakeHeads, _fakeHeadTails);

    /// <summary>Linux 6.x with no folio optimized: the static key skips the check.</summary>
    [Benchmark(OperationsPerInvoke = Lookups)]
    public ulong FakeHeadAwareKeyOff() => Lookup(_keyOff, _keyOffTails);

    /// <summary>The shared-tail design: one load, one AND.</summary>
    [Benchmark(OperationsPerInvoke = Lookups)]
    public ulong SharedTailMask() => Lookup(_sharedTail, _sharedTails);

    /// <summary>Frees the machines.</summary>
    [GlobalCleanup]
    public void Dispose()
    {
        _fakeHeads?.Dispose();
        _keyOff?.Dispose();
        _sharedTail?.Dispose();
        GC.SuppressFinalize(this);
    }
}
