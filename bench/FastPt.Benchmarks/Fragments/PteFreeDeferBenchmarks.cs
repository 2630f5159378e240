using System;
using BenchmarkDotNet.Attributes;
using FastPt.Mm;

namespace FastPt.Benchmarks.Fragments;

/// <summary><c>pte_free_defer</c> throughput per PTE table, for 1, 2 and 16 tables per page-table block and both
/// refcount schemes. Each invocation takes 256 fragments from an address space's cursor (as a map would), frees
/// them all and ends with an RCU barrier, so every block is really gone and the grace periods and callbacks are
/// paid for. The baseline frees the same tables at once (<c>pte_fragment_free</c>, what an unmap does after its
/// flush when no lockless walker needs protecting); <see cref="FreeDefer"/> defers each one as collapse does.</summary>
public class PteFreeDeferBenchmarks : IDisposable
{
    private const int Tables = 256;
    private Machine _machine = null!;
    private AddressSpace _space = null!;
    private PteFragments _fragments = null!;
    private readonly ulong[] _pfns = new ulong[Tables];

    /// <summary>PTE tables per page-table block.</summary>
    [Params(1, 2, 16)]
    public int PerBlock { get; set; }

    /// <summary>The refcount scheme.</summary>
    [Params(PteFreeDeferScheme.MarkAndDeferAtLastReference, PteFreeDeferScheme.DeferredRefcount)]
    public PteFreeDeferScheme Scheme { get; set; }

    /// <summary>A 1 GiB machine with the fragment size and scheme, one empty address space; checks that both
    /// paths give every frame back.</summary>
    [GlobalSetup]
    public void Setup()
    {
        _machine = new Machine(new MachineOptions { MemorySize = 1UL << 30, PteFragmentsPerBlock = PerBlock, PteFreeDeferScheme = Scheme });
        _space = _machine.CreateAddressSpace();
        _fragments = _machine.Memory.Fragments;
        long free = _machine.GetStatistics().FreePages;
        Free();
        FreeDefer();
        MemoryStatistics s = _machine.GetStatistics();
        if (s.FreePages != free || s.PteBlocks != 0 || s.TablesDeferred != Tables || s.DeferredBlocksFreed == 0)
            throw new InvalidOperationException($"the benchmark does not free what it takes: free pages {s.FreePages} (was {free}), blocks {s.PteBlocks}, deferred {s.TablesDeferred}, freed after RCU {s.DeferredBlocksFreed}");
    }

    private void Take()
    {
        if (!_fragments.TryReserve(_space.Mm, Tables)) throw new InvalidOperationException("out of memory");
        for (int i = 0; i < Tables; i++) _pfns[i] = _fragments.Take(_space.Mm);
    }

    /// <summary>Take, then free each table at once.</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = Tables)]
    public long Free()
    {
        Take();
        for (int i = 0; i < Tables; i++) _fragments.Free(_pfns[i]);
        _machine.RcuBarrier();
        return _machine.Memory.Rcu.GracePeriods;
    }

    /// <summary>Take, then <c>pte_free_defer</c> each table (none is linked, as after khugepaged's retract).</summary>
    [Benchmark(OperationsPerInvoke = Tables)]
    public long FreeDefer()
    {
        Take();
        for (int i = 0; i < Tables; i++) _fragments.FreeDefer(_space.Mm, _pfns[i] << 12, 0);
        _machine.RcuBarrier();
        return _machine.Memory.Rcu.GracePeriods;
    }

    /// <summary>Frees the machine.</summary>
    [GlobalCleanup]
    public void Dispose()
    {
        _space?.Dispose();
        _machine?.Dispose();
        GC.SuppressFinalize(this);
    }
}
