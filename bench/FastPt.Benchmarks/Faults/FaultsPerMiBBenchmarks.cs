using System;
using System.Threading;
using BenchmarkDotNet.Attributes;

namespace FastPt.Benchmarks.Faults;

/// <summary>Faults per MiB: the time to make a MiB of an anonymous region usable by writing one byte to each of its
/// 4 KiB pages, with 4 KiB pages (256 faults per MiB, each allocating and zeroing a frame: the baseline) and with
/// transparent huge pages (one fault per 2 MiB that allocates and zeroes a 2 MiB frame and installs a PMD leaf; the
/// other 511 writes hit). One thread, a 128 MiB region 2 MiB aligned, split inline page-table locks; frames come
/// back dirty from the previous iteration's unmap, so the zeroing is real. Results are per MiB.</summary>
public class FaultsPerMiBBenchmarks : IDisposable
{
    private const ulong Base = 0x7f00_0000_0000;
    private const ulong TouchBase = 0x1000_0000_0000;
    private const ulong RegionSize = 128UL << 20;
    private const int MiBs = (int)(RegionSize >> 20);

    private Machine _machine = null!;
    private AddressSpace _space = null!;
    private FaultWorkers _workers = null!;
    private AnonymousOptions _options;

    /// <summary>Boots the machine, starts the worker thread with its CPU context, and runs both workloads until the
    /// JIT has optimised them.</summary>
    [GlobalSetup]
    public void Setup()
    {
        _machine = new Machine(new MachineOptions { MemorySize = 2UL << 30, PageTableLocks = PageTableLockMode.Inline });
        _space = _machine.CreateAddressSpace();
        FaultWorkers.TouchAllFrames(_machine, _space, TouchBase);
        _workers = new FaultWorkers(_space, 1, Base, RegionSize);
        for (int i = 0; i < 6; i++)
        {
            _options = i % 2 == 0 ? AnonymousOptions.None : AnonymousOptions.TransparentHugePages;
            MapRegion();
            _workers.Run(1);
            UnmapRegion();
        }
        Thread.Sleep(500); // let the background compiler install the optimised code
    }

    /// <summary>Reserves the region with 4 KiB pages.</summary>
    [IterationSetup(Target = nameof(FourKiBPages))]
    public void MapFourKiB()
    {
        _options = AnonymousOptions.None;
        MapRegion();
    }

    /// <summary>Reserves the region with transparent huge pages.</summary>
    [IterationSetup(Target = nameof(TransparentHugePages))]
    public void MapHuge()
    {
        _options = AnonymousOptions.TransparentHugePages;
        MapRegion();
    }

    private void MapRegion() => _space.MapAnonymous(new VirtAddr(Base), RegionSize, Protection.ReadWrite, _options);

    /// <summary>Checks the region was faulted in with the leaves its options ask for, and releases it.</summary>
    [IterationCleanup]
    public void UnmapRegion()
    {
        bool huge = _options == AnonymousOptions.TransparentHugePages;
        long leaves = _space.LeafCount(huge ? PageSize.Size2M : PageSize.Size4K);
        long expected = (long)(RegionSize >> (huge ? 21 : 12));
        if (leaves != expected || (huge && _space.LeafCount(PageSize.Size4K) != 0))
            throw new InvalidOperationException($"{leaves} leaves faulted in with {_options}, expected {expected}");
        _space.Unmap(new VirtAddr(Base), RegionSize);
    }

    /// <summary>Baseline: 256 faults of 4 KiB per MiB.</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = MiBs)]
    public void FourKiBPages() => _workers.Run(1);

    /// <summary>Half a fault of 2 MiB per MiB; the other 511 writes of each 2 MiB hit its huge TLB entry.</summary>
    [Benchmark(OperationsPerInvoke = MiBs)]
    public void TransparentHugePages() => _workers.Run(1);

    /// <summary>Stops the worker and frees the machine.</summary>
    [GlobalCleanup]
    public void Dispose()
    {
        _workers?.Dispose();
        _machine?.Dispose();
        GC.SuppressFinalize(this);
    }
}
