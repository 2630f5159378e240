using System;
using BenchmarkDotNet.Attributes;

namespace FastPt.Benchmarks.Hotplug;

/// <summary>Hot-remove of one 128 MiB memory block and of 16 GiB (128 blocks in one call), with the direct map in
/// 2 MiB leaves or in 4 KiB leaves; and a full add+remove cycle of one block. The iteration setup hot-adds the
/// memory the next invocation removes — 64 separate blocks, or two 16 GiB ranges — so that each result is the
/// mean of warm calls, not of one cold call. Divide the 16 GiB time by 128 for the time per block (linear scaling
/// shows as the same per-block time).</summary>
public class HotRemoveBenchmarks : IDisposable
{
    private const ulong Block = 128UL << 20;
    private const ulong Big = 16UL << 30;
    private const int Blocks = 64;
    private const int BigRanges = 2;
    private const ulong Start = 64UL << 30;

    private Machine _machine = null!;

    /// <summary>Direct map with 2 MiB leaves where aligned, or 4 KiB leaves only.</summary>
    [Params(true, false)]
    public bool HugeDirectMap { get; set; }

    /// <summary>Boots the machine and runs add and remove often enough for the JIT to optimise them.</summary>
    [GlobalSetup]
    public void Setup()
    {
        _machine = new Machine(new MachineOptions { MemorySize = 8UL << 30, DirectMapHugePages = HugeDirectMap, GigabytePages = false });
        for (int i = 0; i < 60; i++)
        {
            _machine.AddMemory(new PhysAddr(Start), Block);
            _machine.RemoveMemory(new PhysAddr(Start), Block);
        }
        System.Threading.Thread.Sleep(500); // let the background compiler install the optimised code
    }

    /// <summary>Adds the 64 blocks the next invocation removes.</summary>
    [IterationSetup(Target = nameof(RemoveOneBlock))]
    public void AddBlocks()
    {
        for (int i = 0; i < Blocks; i++) _machine.AddMemory(new PhysAddr(Start + (ulong)i * Block), Block);
    }

    /// <summary>Hot-removes one 128 MiB block per call (mean of 64 calls).</summary>
    [Benchmark(OperationsPerInvoke = Blocks)]
    public HotplugReport RemoveOneBlock()
    {
        HotplugReport last = null!;
        for (int i = 0; i < Blocks; i++) last = _machine.RemoveMemory(new PhysAddr(Start + (ulong)i * Block), Block);
        return last;
    }

    /// <summary>Adds the two 16 GiB ranges the next invocation removes.</summary>
    [IterationSetup(Target = nameof(RemoveSixteenGiB))]
    public void AddBig()
    {
        for (int i = 0; i < BigRanges; i++) _machine.AddMemory(new PhysAddr(Start + (ulong)i * Big), Big);
    }

    /// <summary>Hot-removes 16 GiB (128 blocks) per call (mean of 2 calls).</summary>
    [Benchmark(OperationsPerInvoke = BigRanges)]
    public HotplugReport RemoveSixteenGiB()
    {
        HotplugReport last = null!;
        for (int i = 0; i < BigRanges; i++) last = _machine.RemoveMemory(new PhysAddr(Start + (ulong)i * Big), Big);
        return last;
    }

    /// <summary>Hot-adds then hot-removes one block.</summary>
    [Benchmark]
    public HotplugReport AddRemoveCycle()
    {
        _machine.AddMemory(new PhysAddr(Start), Block);
        return _machine.RemoveMemory(new PhysAddr(Start), Block);
    }

    /// <summary>Frees the machine.</summary>
    [GlobalCleanup]
    public void Dispose()
    {
        _machine?.Dispose();
        GC.SuppressFinalize(this);
    }
}
