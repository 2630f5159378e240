using System;
using BenchmarkDotNet.Attributes;

namespace FastPt.Benchmarks.Fragments;

/// <summary>Collapse of one 2 MiB region (khugepaged's <c>collapse_pte_mapped_thp</c>), per region. Each
/// invocation maps the region with 512 4 KiB pages, collapses it and unmaps it; the baseline maps and unmaps
/// without collapsing, so the difference to it is the collapse: checking the 512 PTEs, clearing the PMD, the
/// flush (paging-structure caches included), installing the leaf and <c>pte_free_defer</c> of the table — and,
/// with a copy, copying 2 MiB of data into another 2 MiB frame first.</summary>
public class CollapseBenchmarks : IDisposable
{
    private const ulong Region = 2UL << 20;
    private const ulong Va = 1UL << 30;
    private Machine _machine = null!;
    private AddressSpace _space = null!;
    private PhysAddr _frames;
    private PhysAddr _copy;

    /// <summary>A 1 GiB machine, two 2 MiB frames; checks what each method leaves mapped while it runs.</summary>
    [GlobalSetup]
    public void Setup()
    {
        _machine = new Machine(new MachineOptions { MemorySize = 1UL << 30 });
        _space = _machine.CreateAddressSpace();
        _frames = _machine.AllocatePhysical(Region);
        _copy = _machine.AllocatePhysical(Region);
        _space.Map(new VirtAddr(Va), _frames, Region, Protection.ReadWrite, PageSize.Size4K);
        _space.Write(new VirtAddr(Va + 4096), 0x1234_5678UL);
        _space.Collapse(new VirtAddr(Va), _copy);
        Mapping? leaf = _space.Lookup(new VirtAddr(Va));
        if (leaf is not { Size: PageSize.Size2M } m || m.Frame.Value != _copy.Value || _space.Read<ulong>(new VirtAddr(Va + 4096)) != 0x1234_5678UL)
            throw new InvalidOperationException($"collapse with copy left {leaf?.ToString() ?? "nothing"}");
        _space.Unmap(new VirtAddr(Va), Region);
        if (MapUnmap() != 0 || CollapseInPlace() != 0 || CollapseWithCopy() != 0) throw new InvalidOperationException("a method left something mapped");
        _machine.RcuBarrier();
        if (_machine.GetStatistics().PteBlocks != 0) throw new InvalidOperationException("a PTE table was not freed");
    }

    /// <summary>Map 512 pages and unmap them.</summary>
    [Benchmark(Baseline = true)]
    public ulong MapUnmap()
    {
        _space.Map(new VirtAddr(Va), _frames, Region, Protection.ReadWrite, PageSize.Size4K);
        _space.Unmap(new VirtAddr(Va), Region);
        return _space.MappedBytes;
    }

    /// <summary>Map, collapse in place (the 512 frames are one aligned 2 MiB range), unmap.</summary>
    [Benchmark]
    public ulong CollapseInPlace()
    {
        _space.Map(new VirtAddr(Va), _frames, Region, Protection.ReadWrite, PageSize.Size4K);
        _space.Collapse(new VirtAddr(Va));
        _space.Unmap(new VirtAddr(Va), Region);
        return _space.MappedBytes;
    }

    /// <summary>Map, collapse with a copy into the other 2 MiB frame, unmap.</summary>
    [Benchmark]
    public ulong CollapseWithCopy()
    {
        _space.Map(new VirtAddr(Va), _frames, Region, Protection.ReadWrite, PageSize.Size4K);
        _space.Collapse(new VirtAddr(Va), _copy);
        _space.Unmap(new VirtAddr(Va), Region);
        return _space.MappedBytes;
    }

    /// <summary>Lets the last deferred tables go and frees the machine.</summary>
    [GlobalCleanup]
    public void Dispose()
    {
        _machine?.RcuBarrier();
        _space?.Dispose();
        _machine?.Dispose();
        GC.SuppressFinalize(this);
    }
}
