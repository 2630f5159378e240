using System;
using System.Threading;
using BenchmarkDotNet.Attributes;

namespace FastPt.Benchmarks.Faults;

/// <summary>Demand-fault throughput (Linux will-it-scale <c>page_fault2</c>): each thread owns an anonymous region
/// of 128 MiB and writes one byte to every 4 KiB page of it, so every write takes a fault that allocates and zeroes
/// a frame (frames come back dirty from the previous iteration's unmap: the zeroing is real). The regions are
/// adjacent, so the threads fault in disjoint PTE tables under one shared PMD table. One thread is the baseline, so
/// the Ratio of <c>TwoThreads</c> is its time per fault over one thread's: 0.5 is perfect scaling, and the goal of
/// split locks is at most 0.59 (≥ 1.7× the throughput) while one lock per address space is visibly worse.
/// Results are per fault. The workers are bound to CPUs 0 and 1 (as will-it-scale binds its tasks), and the setup
/// writes every free frame once, so no pass pays for a host page the host has not committed yet.</summary>
public class FaultBenchmarks : IDisposable
{
    private const ulong Base = 0x7f00_0000_0000;
    private const ulong TouchBase = 0x1000_0000_0000;
    private const ulong RegionSize = 128UL << 20;
    private const int PagesPerRegion = (int)(RegionSize >> 12);

    private Machine _machine = null!;
    private AddressSpace _space = null!;
    private FaultWorkers _workers = null!;

    /// <summary>How page tables are locked.</summary>
    [Params(PageTableLockMode.Inline, PageTableLockMode.Allocated, PageTableLockMode.SingleLock)]
    public PageTableLockMode Locks { get; set; }

    /// <summary>Boots a machine in the lock mode, starts two worker threads with their own CPU contexts, and runs
    /// the workload until the JIT has optimised it.</summary>
    [GlobalSetup]
    public void Setup()
    {
        _machine = new Machine(new MachineOptions { MemorySize = 2UL << 30, PageTableLocks = Locks });
        _space = _machine.CreateAddressSpace();
        FaultWorkers.TouchAllFrames(_machine, _space, TouchBase);
        _workers = new FaultWorkers(_space, 2, Base, RegionSize);
        for (int i = 0; i < 6; i++)
        {
            MapRegions();
            _workers.Run(2);
            UnmapRegions();
        }
        Thread.Sleep(500); // let the background compiler install the optimised code
    }

    /// <summary>Reserves both regions (no frames yet).</summary>
    [IterationSetup]
    public void MapRegions()
    {
        for (int t = 0; t < 2; t++) _space.MapAnonymous(new VirtAddr(Base + (ulong)t * RegionSize), RegionSize, Protection.ReadWrite);
    }

    /// <summary>Releases both regions with their frames, and checks the work was done.</summary>
    [IterationCleanup]
    public void UnmapRegions()
    {
        long pages = _space.LeafCount(PageSize.Size4K);
        if (pages != PagesPerRegion && pages != 2L * PagesPerRegion)
            throw new InvalidOperationException($"{pages} pages faulted in, expected {PagesPerRegion} or {2 * PagesPerRegion}");
        _space.Unmap(new VirtAddr(Base), 2 * RegionSize);
    }

    /// <summary>Baseline: one thread faults its region in.</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = PagesPerRegion)]
    public void OneThread() => _workers.Run(1);

    /// <summary>Two threads fault their regions in at the same time.</summary>
    [Benchmark(OperationsPerInvoke = 2 * PagesPerRegion)]
    public void TwoThreads() => _workers.Run(2);

    /// <summary>Stops the workers and frees the machine.</summary>
    [GlobalCleanup]
    public void Dispose()
    {
        _workers?.Dispose();
        _machine?.Dispose();
        GC.SuppressFinalize(this);
    }
}
