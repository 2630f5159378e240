using System;
using System.Collections.Generic;
using BenchmarkDotNet.Attributes;
using FastPt.Hardware;

namespace FastPt.Benchmarks.Paging;

/// <summary>Translation of random addresses in a 1 GiB region mapped with 4 KiB or 2 MiB leaves: FastPt's
/// <see cref="AddressSpace.TryTranslate"/> against the bare four-load walk over the very same native tables (the
/// baseline, so Ratio reads "times the physical limit"), a naive managed jagged-array page table and a
/// <see cref="Dictionary{TKey, TValue}"/> from virtual page to physical page. Results are per translation.</summary>
public class TranslateBenchmarks : IDisposable
{
    private const int AddressCount = 4096;
    private const ulong RegionSize = 1UL << 30;
    private const ulong PageSize4K = 4096;

    // 256 GiB: 1 GiB aligned and inside the 39-bit address space given to the jagged table.
    private const ulong RegionStart = 0x40_0000_0000;
    private const int JaggedAddressBits = 39;

    private Machine _machine = null!;
    private AddressSpace _space = null!;
    private PhysicalMemory _physical = null!;
    private ulong _rootPa;
    private JaggedPageTable _jagged = null!;
    private Dictionary<ulong, ulong> _dictionary = null!;
    private ulong[] _addresses = null!;

    /// <summary>Leaf size FastPt maps the region with (the jagged table and the dictionary always hold 4 KiB
    /// pages: that is their design).</summary>
    [Params(PageSize.Size4K, PageSize.Size2M)]
    public PageSize LeafSize { get; set; }

    /// <summary>Boots a 4 GiB machine, maps the region, fills the baselines with the same mapping, draws the
    /// addresses, and checks that every method translates every address alike.</summary>
    [GlobalSetup]
    public void Setup()
    {
        _machine = new Machine(new MachineOptions { MemorySize = 4UL << 30 });
        if (_machine.PagingMode != PagingMode.FourLevel) throw new InvalidOperationException("the bare walk is 4-level");
        _space = _machine.CreateAddressSpace();
        PhysAddr frames = _machine.AllocatePhysical(RegionSize);
        _space.Map(new VirtAddr(RegionStart), frames, RegionSize, Protection.ReadWrite, LeafSize);
        _physical = _machine.Memory.Physical;
        _rootPa = _space.Mm.RootPa;

        _jagged = new JaggedPageTable(JaggedAddressBits);
        _dictionary = new Dictionary<ulong, ulong>((int)(RegionSize / PageSize4K));
        for (ulong offset = 0; offset < RegionSize; offset += PageSize4K)
        {
            _jagged.Map(RegionStart + offset, frames.Value + offset);
            _dictionary.Add((RegionStart + offset) >> 12, (frames.Value + offset) >> 12);
        }

        var random = new Random(20261122);
        _addresses = new ulong[AddressCount];
        for (int i = 0; i < _addresses.Length; i++) _addresses[i] = RegionStart + (ulong)random.NextInt64((long)RegionSize);

        Verify(frames.Value);
    }

    private void Verify(ulong framesStart)
    {
        long expectedLeaves = (long)(RegionSize >> (int)LeafSize);
        if (_space.LeafCount(LeafSize) != expectedLeaves)
            throw new InvalidOperationException($"expected {expectedLeaves} {LeafSize} leaves, found {_space.LeafCount(LeafSize)}");
        foreach (ulong va in _addresses)
        {
            ulong expected = framesStart + (va - RegionStart);
            if (!_space.TryTranslate(new VirtAddr(va), AccessKind.Read, out PhysAddr pa) || pa.Value != expected)
                throw new InvalidOperationException($"FastPt translated 0x{va:x} to {pa}, expected 0x{expected:x}");
            ulong bare = BareWalker.Translate(_physical, _rootPa, va);
            if (bare != expected) throw new InvalidOperationException($"bare walk translated 0x{va:x} to 0x{bare:x}, expected 0x{expected:x}");
            ulong jagged = _jagged.Translate(va);
            if (jagged != expected) throw new InvalidOperationException($"jagged table translated 0x{va:x} to 0x{jagged:x}, expected 0x{expected:x}");
            ulong fromDictionary = DictionaryTranslate(_dictionary, va);
            if (fromDictionary != expected)
                throw new InvalidOperationException($"dictionary translated 0x{va:x} to 0x{fromDictionary:x}, expected 0x{expected:x}");
        }
        if (BareWalk() != FastPtTryTranslate() || JaggedArrayTable() != Dictionary())
            throw new InvalidOperationException("the benchmark sums differ");

        // The memory diagnoser rounds down to whole bytes per translation; this shows any allocation exactly.
        long before = GC.GetAllocatedBytesForCurrentThread();
        FastPtTryTranslate();
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Console.WriteLine($"// FastPt bytes allocated by {AddressCount} TryTranslate calls: {allocated}");
    }

    /// <summary>Four dependent loads over FastPt's native tables, no checks: the physical limit.</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = AddressCount)]
    public ulong BareWalk()
    {
        PhysicalMemory memory = _physical;
        ulong rootPa = _rootPa;
        ulong sum = 0;
        foreach (ulong va in _addresses) sum += BareWalker.Translate(memory, rootPa, va);
        return sum;
    }

    /// <summary>FastPt's fastest public translation: canonical and range checks, RCU read section, rights of
    /// every level, Accessed bit, presence of the frame.</summary>
    [Benchmark(OperationsPerInvoke = AddressCount)]
    public ulong FastPtTryTranslate()
    {
        AddressSpace space = _space;
        ulong sum = 0;
        foreach (ulong va in _addresses)
        {
            space.TryTranslate(new VirtAddr(va), AccessKind.Read, out PhysAddr pa);
            sum += pa.Value;
        }
        return sum;
    }

    /// <summary>Two-level managed jagged-array table holding 4 KiB pages (Ryujinx's <c>PageTable&lt;T&gt;</c>
    /// design).</summary>
    [Benchmark(OperationsPerInvoke = AddressCount)]
    public ulong JaggedArrayTable()
    {
        JaggedPageTable table = _jagged;
        ulong sum = 0;
        foreach (ulong va in _addresses) sum += table.Translate(va);
        return sum;
    }

    /// <summary><see cref="Dictionary{TKey, TValue}"/> from virtual page number to physical page number.</summary>
    [Benchmark(OperationsPerInvoke = AddressCount)]
    public ulong Dictionary()
    {
        Dictionary<ulong, ulong> dictionary = _dictionary;
        ulong sum = 0;
        foreach (ulong va in _addresses) sum += DictionaryTranslate(dictionary, va);
        return sum;
    }

    private static ulong DictionaryTranslate(Dictionary<ulong, ulong> dictionary, ulong va) =>
        dictionary.TryGetValue(va >> 12, out ulong pfn) ? (pfn << 12) | (va & (PageSize4K - 1)) : 0;

    /// <summary>Frees the machine and all its host memory.</summary>
    [GlobalCleanup]
    public void Dispose()
    {
        _machine?.Dispose();
        GC.SuppressFinalize(this);
    }
}
