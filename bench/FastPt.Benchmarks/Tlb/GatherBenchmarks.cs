using System;
using BenchmarkDotNet.Attributes;

namespace FastPt.Benchmarks.Tlb;

/// <summary>Unmapping 1 GiB of 4 KiB pages while a CPU context is attached: one range through the gather (one flush,
/// tables freed after it) against page by page with a flush each (the baseline). Results are per page.</summary>
public class GatherBenchmarks : IDisposable
{
    private const ulong Region = 0x40_0000_0000;
    private const ulong Size = 1UL << 30;
    private const int Pages = (int)(Size >> 12);

    private Machine _machine = null!;
    private AddressSpace _space = null!;
    private MmuContext _context = null!;
    private PhysAddr _frames;

    /// <summary>Boots the machine, attaches a context, and runs both unmaps often enough for the JIT to optimise
    /// them (each iteration invokes a benchmark once).</summary>
    [GlobalSetup]
    public void Setup()
    {
        _machine = new Machine(new MachineOptions { MemorySize = 4UL << 30 });
        _space = _machine.CreateAddressSpace();
        _frames = _machine.AllocatePhysical(Size);
        _context = _space.CreateContext();
        for (int i = 0; i < 60; i++)
        {
            _space.Map(new VirtAddr(Region), _frames, 64UL << 20, Protection.ReadWrite, PageSize.Size4K);
            _space.Unmap(new VirtAddr(Region), 32UL << 20);
            for (ulong a = 32UL << 20; a < 64UL << 20; a += 4096) _space.Unmap(new VirtAddr(Region + a), 4096);
        }
        System.Threading.Thread.Sleep(500); // let the background compiler install the optimised code
    }

    /// <summary>Maps the gigabyte again before each unmap and warms the context on it.</summary>
    [IterationSetup]
    public void MapAgain()
    {
        _space.Map(new VirtAddr(Region), _frames, Size, Protection.ReadWrite, PageSize.Size4K);
        for (ulong a = 0; a < Size; a += 1UL << 21) _context.TryTranslate(new VirtAddr(Region + a), AccessKind.Read, out _);
    }

    /// <summary>Baseline: one unmap and one flush per page.</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = Pages)]
    public long PerPageFlush()
    {
        for (ulong a = 0; a < Size; a += 4096) _space.Unmap(new VirtAddr(Region + a), 4096);
        return _space.FlushesPublished;
    }

    /// <summary>One range unmap: one flush for the gigabyte, then the tables are freed.</summary>
    [Benchmark(OperationsPerInvoke = Pages)]
    public long RangeThroughGather()
    {
        _space.Unmap(new VirtAddr(Region), Size);
        return _space.FlushesPublished;
    }

    /// <summary>Frees the machine.</summary>
    [GlobalCleanup]
    public void Dispose()
    {
        _context?.Dispose();
        _machine?.Dispose();
        GC.SuppressFinalize(this);
    }
}
