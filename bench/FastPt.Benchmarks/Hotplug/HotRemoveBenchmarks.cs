using System;
using BenchmarkDotNet.Attributes;

namespace FastPt.Benchmarks.Hotplug;

/// <summary>Hot-remove of one 128 MiB memory block and of 16 GiB (128 blocks, one call), with the direct map in 2 MiB
/// leaves or in 4 KiB leaves; and a full add+remove cycle of one block. Each removal measures one call on memory
/// that the iteration setup has just added; results are per 128 MiB block, so linear scaling shows as equal
/// per-block times.</summary>
public class HotRemoveBenchmarks : IDisposable
{
    private const ulong Block = 128UL << 20;
    private const ulong Start = 64UL << 30;

    private Machine _machine = null!;

    /// <summary>Blocks removed per call: 1 (128 MiB) or 128 (16 GiB).</summary>
    [Params(1, 128)]
    public int Blocks { get; set; }

    /// <summary>Direct map with 2 MiB (and 1 GiB) leaves, or 4 KiB leaves only.</summary>
    [Params(true, false)]
    public bool HugeDirectMap { get; set; }

    /// <summary>Boots the machine.</summary>
    [GlobalSetup]
    public void Setup() => _machine = new Machine(new MachineOptions { MemorySize = 4UL << 30, DirectMapHugePages = HugeDirectMap, GigabytePages = false });

    /// <summary>Adds the memory the next removal takes out.</summary>
    [IterationSetup(Target = nameof(Remove))]
    public void Add() => _machine.AddMemory(new PhysAddr(Start), (ulong)Blocks * Block);

    /// <summary>Hot-removes the blocks in one call; per block.</summary>
    [Benchmark]
    public HotplugReport Remove() => _machine.RemoveMemory(new PhysAddr(Start), (ulong)Blocks * Block);

    /// <summary>Hot-adds then hot-removes the blocks.</summary>
    [Benchmark]
    public HotplugReport AddRemoveCycle()
    {
        _machine.AddMemory(new PhysAddr(Start), (ulong)Blocks * Block);
        return _machine.RemoveMemory(new PhysAddr(Start), (ulong)Blocks * Block);
    }

    /// <summary>Frees the machine.</summary>
    [GlobalCleanup]
    public void Dispose()
    {
        _machine?.Dispose();
        GC.SuppressFinalize(this);
    }
}
