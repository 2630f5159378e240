using System;
using System.Runtime.InteropServices;
using System.Threading;
using BenchmarkDotNet.Attributes;

namespace FastPt.Benchmarks.Faults;

/// <summary>The memory traffic of <see cref="FaultBenchmarks"/> without the engine: each thread owns 128 MiB of host
/// memory and, for every 4 KiB page of it, zeroes the page (the call the engine zeroes a frame with) and writes one
/// byte to it — what a fault and the access it retries do to memory, nothing else. The pages are dirty from the
/// previous pass and 128 MiB is far beyond the last-level cache, so each zeroing reads and writes a page of DRAM,
/// as a fault's does. One thread is the baseline, so <c>TwoThreads</c>' Ratio is its time per page over one
/// thread's: the scaling the machine's memory allows. Demand faults on two threads cannot scale better than this
/// (their zeroing is most of a fault), so it is the ceiling the fault ratios are read against. Results are per page.</summary>
public unsafe class ZeroingBenchmarks : IDisposable
{
    private const ulong RegionSize = 128UL << 20;
    private const int PagesPerRegion = (int)(RegionSize >> 12);

    private FaultWorkers _workers = null!;

    /// <summary>Starts two worker threads, each with its region (allocated zeroed like the engine's arenas), and runs
    /// the workload until every page is dirty and the JIT has optimised it.</summary>
    [GlobalSetup]
    public void Setup()
    {
        _workers = new FaultWorkers(2, _ =>
        {
            var region = new Region((byte*)NativeMemory.AllocZeroed((nuint)RegionSize));
            Action work = region.ZeroAndTouch;
            return (work, region);
        });
        for (int i = 0; i < 6; i++) _workers.Run(2);
        Thread.Sleep(500); // let the background compiler install the optimised code
    }

    /// <summary>Baseline: one thread zeroes and touches its 32768 pages.</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = PagesPerRegion)]
    public void OneThread() => _workers.Run(1);

    /// <summary>Two threads zero and touch their pages at the same time.</summary>
    [Benchmark(OperationsPerInvoke = 2 * PagesPerRegion)]
    public void TwoThreads() => _workers.Run(2);

    /// <summary>Stops the workers, which free their regions.</summary>
    [GlobalCleanup]
    public void Dispose()
    {
        _workers?.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>One thread's memory.</summary>
    private sealed class Region : IDisposable
    {
        private byte* _base;

        public Region(byte* memory) => _base = memory;

        /// <summary>A fault's zeroing and the write it retries, for every page.</summary>
        public void ZeroAndTouch()
        {
            byte* end = _base + RegionSize;
            for (byte* page = _base; page < end; page += 4096)
            {
                NativeMemory.Clear(page, 4096);
                *page = 1;
            }
        }

        public void Dispose()
        {
            NativeMemory.Free(_base);
            _base = null;
        }
    }
}
