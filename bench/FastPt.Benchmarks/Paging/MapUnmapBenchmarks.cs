using System;
using System.Collections.Generic;
using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;

namespace FastPt.Benchmarks.Paging;

/// <summary>Mapping and unmapping gigabytes of forced 4 KiB pages (262,144 per gigabyte): FastPt's one range call
/// per gigabyte against one call per page (the baseline of each category, so Ratio is the range speed-up), with a
/// naive managed jagged-array page table and a <see cref="Dictionary{TKey, TValue}"/> doing the same page by page.
/// Results are per page.</summary>
/// <remarks>Map and unmap are measured apart: each invocation does exactly one of them, the other half runs in
/// <see cref="IterationSetupAttribute"/> / <see cref="IterationCleanupAttribute"/> outside the timing. Those
/// attributes force one invocation per iteration, which BenchmarkDotNet advises only for benchmarks long enough to
/// time on their own; one range call maps a gigabyte in well under a millisecond, so every invocation covers
/// <see cref="RegionCount"/> separate gigabytes (each one range call, all onto the same 1 GiB of frames). A job
/// then runs each method only a handful of times, so the global setup first runs every path for about half a
/// second so that the JIT has tiered them up before the first measured iteration.</remarks>
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public class MapUnmapBenchmarks : IDisposable
{
    /// <summary>Gigabyte regions each invocation maps or unmaps.</summary>
    public const int RegionCount = 16;

    private const int PagesPerRegion = 262_144;
    private const int Pages = RegionCount * PagesPerRegion;
    private const ulong PageSize4K = 4096;
    private const ulong RegionSize = PagesPerRegion * PageSize4K;

    // 256 GiB: 1 GiB aligned and inside the 39-bit address space given to the jagged table.
    private const ulong RegionStart = 0x40_0000_0000;
    private const int JaggedAddressBits = 39;

    private const string MapCategory = "Map";
    private const string UnmapCategory = "Unmap";

    private Machine _machine = null!;
    private AddressSpace _space = null!;
    private ulong _frames;
    private JaggedPageTable _jagged = null!;
    private Dictionary<ulong, ulong> _dictionary = null!;

    // All regions lie back to back, so [RegionStart, +TotalSize) is one contiguous range.
    private const ulong TotalSize = RegionCount * RegionSize;

    private static VirtAddr Region => new(RegionStart);

    private static ulong RegionAt(int region) => RegionStart + (ulong)region * RegionSize;

    /// <summary>Boots a 4 GiB machine, takes 1 GiB of frames to map, checks that a range map and a page-by-page
    /// map build the same translations, and warms every path up.</summary>
    [GlobalSetup]
    public void Setup()
    {
        _machine = new Machine(new MachineOptions { MemorySize = 4UL << 30 });
        _space = _machine.CreateAddressSpace();
        _frames = _machine.AllocatePhysical(RegionSize).Value;
        _jagged = new JaggedPageTable(JaggedAddressBits);
        _dictionary = new Dictionary<ulong, ulong>(Pages);
        Verify();
        WarmUp();
        ReportAllocations();
    }

    private void Verify()
    {
        MapRange();
        CheckMapped("range map");
        UnmapRange();
        CheckUnmapped("range unmap");
        MapPerPage();
        CheckMapped("page-by-page map");
        UnmapPerPage();
        CheckUnmapped("page-by-page unmap");

        JaggedMapPerPage();
        DictionaryMap();
        var random = new Random(20261122);
        for (int i = 0; i < 1024; i++)
        {
            ulong va = RegionAt(random.Next(RegionCount)) + (ulong)random.NextInt64((long)RegionSize);
            ulong expected = _frames + (va & (RegionSize - 1));
            if (_jagged.Translate(va) != expected) throw new InvalidOperationException($"jagged table maps 0x{va:x} wrongly");
            if (!_dictionary.TryGetValue(va >> 12, out ulong pfn) || (pfn << 12 | (va & 0xFFF)) != expected)
                throw new InvalidOperationException($"dictionary maps 0x{va:x} wrongly");
        }
        JaggedUnmapPerPage();
        DictionaryUnmap();
        if (_jagged.Read(RegionStart) != 0 || _dictionary.Count != 0) throw new InvalidOperationException("baselines not emptied");
    }

    private void CheckMapped(string how)
    {
        if (_space.LeafCount(PageSize.Size4K) != Pages || _space.MappedBytes != TotalSize)
            throw new InvalidOperationException($"{how}: {_space.LeafCount(PageSize.Size4K)} pages mapped, expected {Pages}");
        var random = new Random(20261122);
        for (int i = 0; i < 1024; i++)
        {
            int region = random.Next(RegionCount);
            ulong offset = (ulong)random.NextInt64((long)RegionSize);
            if (!_space.TryTranslate(new VirtAddr(RegionAt(region) + offset), AccessKind.Write, out PhysAddr pa) || pa.Value != _frames + offset)
                throw new InvalidOperationException($"{how}: region {region} +0x{offset:x} translates to {pa}, expected 0x{_frames + offset:x}");
        }
    }

    private void CheckUnmapped(string how)
    {
        if (_space.MappedBytes != 0 || _space.PageTables.Total != 0)
            throw new InvalidOperationException($"{how}: {_space.MappedBytes} bytes and {_space.PageTables.Total} tables left");
        if (_space.TryTranslate(Region, AccessKind.Read, out _)) throw new InvalidOperationException($"{how}: still translates");
    }

    private void WarmUp()
    {
        var clock = Stopwatch.StartNew();
        while (clock.ElapsedMilliseconds < 500)
        {
            MapRange();
            UnmapRange();
            for (ulong offset = 0; offset < 512 * PageSize4K; offset += PageSize4K)
                _space.Map(Region + offset, new PhysAddr(_frames + offset), PageSize4K, Protection.ReadWrite, PageSize.Size4K);
            for (ulong offset = 0; offset < 512 * PageSize4K; offset += PageSize4K) _space.Unmap(Region + offset, PageSize4K);
            JaggedMapPerPage();
            JaggedUnmapPerPage();
            DictionaryMap();
            DictionaryUnmap();
        }
    }

    /// <summary>The memory diagnoser divides a run's bytes by its pages, so a few bytes per range call would round to
    /// zero per page: this measures one warm call of each FastPt operation directly and prints it to the log.</summary>
    private void ReportAllocations()
    {
        var frames = new PhysAddr(_frames);
        long start = GC.GetAllocatedBytesForCurrentThread();
        _space.Map(Region, frames, RegionSize, Protection.ReadWrite, PageSize.Size4K);
        long afterMapRange = GC.GetAllocatedBytesForCurrentThread();
        _space.Unmap(Region, RegionSize);
        long afterUnmapRange = GC.GetAllocatedBytesForCurrentThread();
        _space.Map(Region, frames, PageSize4K, Protection.ReadWrite, PageSize.Size4K);
        long afterMapPage = GC.GetAllocatedBytesForCurrentThread();
        _space.Unmap(Region, PageSize4K);
        long afterUnmapPage = GC.GetAllocatedBytesForCurrentThread();
        Console.WriteLine($"// FastPt bytes allocated per call: Map 1 GiB {afterMapRange - start}, Unmap 1 GiB {afterUnmapRange - afterMapRange}, " +
            $"Map 4 KiB {afterMapPage - afterUnmapRange}, Unmap 4 KiB {afterUnmapPage - afterMapPage}");
    }

    // ---------------------------------------------------------------- map

    /// <summary>One <see cref="AddressSpace.Map"/> call per 4 KiB page: what page-at-a-time peer APIs force.</summary>
    [BenchmarkCategory(MapCategory)]
    [Benchmark(Baseline = true, OperationsPerInvoke = Pages)]
    public void MapPerPage()
    {
        AddressSpace space = _space;
        ulong frames = _frames;
        for (ulong offset = 0; offset < TotalSize; offset += PageSize4K)
            space.Map(Region + offset, new PhysAddr(frames + (offset & (RegionSize - 1))), PageSize4K, Protection.ReadWrite, PageSize.Size4K);
    }

    /// <summary>One <see cref="AddressSpace.Map"/> call per gigabyte, 4 KiB pages forced.</summary>
    [BenchmarkCategory(MapCategory)]
    [Benchmark(OperationsPerInvoke = Pages)]
    public void MapRange()
    {
        AddressSpace space = _space;
        for (int region = 0; region < RegionCount; region++)
            space.Map(new VirtAddr(RegionAt(region)), new PhysAddr(_frames), RegionSize, Protection.ReadWrite, PageSize.Size4K);
    }

    /// <summary>The jagged-array table, one page per call; its leaf arrays stay allocated between iterations.</summary>
    [BenchmarkCategory(MapCategory)]
    [Benchmark(OperationsPerInvoke = Pages)]
    public void JaggedMapPerPage()
    {
        JaggedPageTable table = _jagged;
        ulong frames = _frames;
        for (ulong offset = 0; offset < TotalSize; offset += PageSize4K)
            table.Map(RegionStart + offset, frames + (offset & (RegionSize - 1)));
    }

    /// <summary>Inserts into a dictionary from virtual page to physical page, presized so that it does not grow.</summary>
    [BenchmarkCategory(MapCategory)]
    [Benchmark(OperationsPerInvoke = Pages)]
    public void DictionaryMap()
    {
        Dictionary<ulong, ulong> dictionary = _dictionary;
        ulong virtualPage = RegionStart >> 12, physicalPage = _frames >> 12;
        for (int i = 0; i < Pages; i++)
            dictionary.Add(virtualPage + (ulong)i, physicalPage + (ulong)(i % PagesPerRegion));
    }

    /// <summary>Undoes a FastPt map benchmark, outside the timing.</summary>
    [IterationCleanup(Targets = new[] { nameof(MapPerPage), nameof(MapRange) })]
    public void UnmapAfterMap() => _space.Unmap(Region, TotalSize);

    /// <summary>Undoes <see cref="JaggedMapPerPage"/>, outside the timing.</summary>
    [IterationCleanup(Target = nameof(JaggedMapPerPage))]
    public void JaggedUnmapAfterMap() => JaggedUnmapPerPage();

    /// <summary>Undoes <see cref="DictionaryMap"/>, outside the timing (the capacity stays).</summary>
    [IterationCleanup(Target = nameof(DictionaryMap))]
    public void DictionaryClearAfterMap() => _dictionary.Clear();

    // ---------------------------------------------------------------- unmap

    /// <summary>Maps every region before a FastPt unmap benchmark, outside the timing.</summary>
    [IterationSetup(Targets = new[] { nameof(UnmapPerPage), nameof(UnmapRange) })]
    public void MapBeforeUnmap() => MapRange();

    /// <summary>Maps the jagged table before <see cref="JaggedUnmapPerPage"/>, outside the timing.</summary>
    [IterationSetup(Target = nameof(JaggedUnmapPerPage))]
    public void JaggedMapBeforeUnmap() => JaggedMapPerPage();

    /// <summary>Fills the dictionary before <see cref="DictionaryUnmap"/>, outside the timing.</summary>
    [IterationSetup(Target = nameof(DictionaryUnmap))]
    public void DictionaryFillBeforeUnmap() => DictionaryMap();

    /// <summary>One <see cref="AddressSpace.Unmap"/> call per 4 KiB page, each with its own TLB flush.</summary>
    [BenchmarkCategory(UnmapCategory)]
    [Benchmark(Baseline = true, OperationsPerInvoke = Pages)]
    public void UnmapPerPage()
    {
        AddressSpace space = _space;
        for (ulong offset = 0; offset < TotalSize; offset += PageSize4K) space.Unmap(Region + offset, PageSize4K);
    }

    /// <summary>One <see cref="AddressSpace.Unmap"/> call per gigabyte: one walk and one flush each, the 513 emptied
    /// tables (512 PTE tables and the PMD table) freed after the flush.</summary>
    [BenchmarkCategory(UnmapCategory)]
    [Benchmark(OperationsPerInvoke = Pages)]
    public void UnmapRange()
    {
        AddressSpace space = _space;
        for (int region = 0; region < RegionCount; region++) space.Unmap(new VirtAddr(RegionAt(region)), RegionSize);
    }

    /// <summary>The jagged-array table, one page per call (leaf arrays are kept, as such tables do).</summary>
    [BenchmarkCategory(UnmapCategory)]
    [Benchmark(OperationsPerInvoke = Pages)]
    public void JaggedUnmapPerPage()
    {
        JaggedPageTable table = _jagged;
        for (ulong offset = 0; offset < TotalSize; offset += PageSize4K) table.Unmap(RegionStart + offset);
    }

    /// <summary>Removes every page from the dictionary.</summary>
    [BenchmarkCategory(UnmapCategory)]
    [Benchmark(OperationsPerInvoke = Pages)]
    public void DictionaryUnmap()
    {
        Dictionary<ulong, ulong> dictionary = _dictionary;
        ulong virtualPage = RegionStart >> 12;
        for (int i = 0; i < Pages; i++) dictionary.Remove(virtualPage + (ulong)i);
    }

    /// <summary>Frees the machine and all its host memory.</summary>
    [GlobalCleanup]
    public void Dispose()
    {
        _machine?.Dispose();
        GC.SuppressFinalize(this);
    }
}
