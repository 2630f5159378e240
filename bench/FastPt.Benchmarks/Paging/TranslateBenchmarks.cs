using System;
using System.Collections.Generic;
using BenchmarkDotNet.Attributes;
using FastPt.Hardware;

namespace FastPt.Benchmarks.Paging;

/// <summary>What <see cref="TranslateBenchmarks"/> maps and translates at random.</summary>
public enum WorkingSet
{
    /// <summary>1 GiB of 4 KiB pages: 2 MiB of PTE tables, inside the host's last-level cache.</summary>
    OneGiBOf4K,

    /// <summary>1 GiB of 2 MiB pages: 512 leaves, all in the large-page TLB once warm.</summary>
    OneGiBOf2M,

    /// <summary>64 GiB of 4 KiB pages (64 virtual gigabytes onto the same gigabyte of frames): 128 MiB of PTE
    /// tables, far beyond the host's caches, so a translation waits for DRAM.</summary>
    SixtyFourGiBOf4K,
}

/// <summary>Translation of random addresses in a region mapped with 4 KiB or 2 MiB leaves: FastPt through a held
/// <see cref="MmuContext"/> and through <see cref="AddressSpace.TryTranslate"/> (the per-thread context), against
/// the bare four-load walk over the very same native tables (the baseline, so Ratio reads "times the physical
/// limit"), the same walk compiled from C, a naive managed jagged-array page table and a
/// <see cref="Dictionary{TKey, TValue}"/> from virtual page to physical page, both holding the same leaf size as
/// FastPt. Each invocation translates a stream of 2^20 addresses drawn uniformly over the whole region, each used
/// once, so the stream is not a small working set in disguise; results are per translation.</summary>
public class TranslateBenchmarks : IDisposable
{
    private const int AddressCount = 1 << 20;
    private const ulong FramesSize = 1UL << 30;

    // 256 GiB: 1 GiB aligned and inside the 39-bit address space given to the jagged table.
    private const ulong RegionStart = 0x40_0000_0000;
    private const int JaggedAddressBits = 39;

    private Machine _machine = null!;
    private AddressSpace _space = null!;
    private MmuContext _context = null!;
    private PhysicalMemory _physical = null!;
    private NativeWalker? _native;
    private ulong _rootPa;
    private ulong _framesStart;
    private ulong _regionSize;
    private int _leafShift;
    private JaggedPageTable _jagged = null!;
    private Dictionary<ulong, ulong> _dictionary = null!;
    private ulong[] _addresses = null!;

    /// <summary>Region size and leaf size.</summary>
    [Params(WorkingSet.OneGiBOf4K, WorkingSet.OneGiBOf2M, WorkingSet.SixtyFourGiBOf4K)]
    public WorkingSet Set { get; set; }

    /// <summary>Machine, mapping and address stream for the FastPt and bare-walk benchmarks.</summary>
    [GlobalSetup(Targets = [nameof(BareWalk), nameof(FastPtHeldContext), nameof(FastPtTryTranslate)])]
    public void Setup()
    {
        SetupMachine();
        VerifyFastPt();
    }

    /// <summary>The same, plus the C reference walk.</summary>
    [GlobalSetup(Target = nameof(NativeWalk))]
    public void SetupNative()
    {
        SetupMachine();
        _native = new NativeWalker(_physical);
        Verify("bare walk", translate: null);
        if (NativeWalk() != BareWalk()) throw new InvalidOperationException("the C walk and the bare walk disagree");
    }

    /// <summary>The machine (for the frame addresses) and the jagged table with the same leaves.</summary>
    [GlobalSetup(Target = nameof(JaggedArrayTable))]
    public void SetupJagged()
    {
        SetupMachine();
        _jagged = new JaggedPageTable(JaggedAddressBits, _leafShift);
        for (ulong offset = 0; offset < _regionSize; offset += 1UL << _leafShift) _jagged.Map(RegionStart + offset, Expected(RegionStart + offset));
        Verify("jagged table", _jagged.Translate);
    }

    /// <summary>The machine (for the frame addresses) and the dictionary with the same leaves.</summary>
    [GlobalSetup(Target = nameof(Dictionary))]
    public void SetupDictionary()
    {
        SetupMachine();
        _dictionary = new Dictionary<ulong, ulong>((int)(_regionSize >> _leafShift));
        for (ulong offset = 0; offset < _regionSize; offset += 1UL << _leafShift)
            _dictionary.Add((RegionStart + offset) >> _leafShift, Expected(RegionStart + offset) >> _leafShift);
        Dictionary<ulong, ulong> dictionary = _dictionary;
        int shift = _leafShift;
        Verify("dictionary", va => DictionaryTranslate(dictionary, shift, va));
    }

    private void SetupMachine()
    {
        (_regionSize, PageSize leaf) = Set switch
        {
            WorkingSet.OneGiBOf4K => (1UL << 30, PageSize.Size4K),
            WorkingSet.OneGiBOf2M => (1UL << 30, PageSize.Size2M),
            _ => (64UL << 30, PageSize.Size4K),
        };
        _leafShift = leaf == PageSize.Size2M ? 21 : 12;
        _machine = new Machine(new MachineOptions { MemorySize = 4UL << 30 });
        if (_machine.PagingMode != PagingMode.FourLevel) throw new InvalidOperationException("the bare walk is 4-level");
        _space = _machine.CreateAddressSpace();
        _framesStart = _machine.AllocatePhysical(FramesSize).Value;
        for (ulong at = 0; at < _regionSize; at += FramesSize)
            _space.Map(new VirtAddr(RegionStart + at), new PhysAddr(_framesStart), FramesSize, Protection.ReadWrite, leaf);
        long expectedLeaves = (long)(_regionSize >> _leafShift);
        if (_space.LeafCount(leaf) != expectedLeaves)
            throw new InvalidOperationException($"expected {expectedLeaves} {leaf} leaves, found {_space.LeafCount(leaf)}");
        _context = _space.CreateContext();
        _physical = _machine.Memory.Physical;
        _rootPa = _space.Mm.RootPa;

        var random = new Random(20261122);
        _addresses = new ulong[AddressCount];
        for (int i = 0; i < _addresses.Length; i++) _addresses[i] = RegionStart + (ulong)random.NextInt64((long)_regionSize);
    }

    private ulong Expected(ulong va) => _framesStart + ((va - RegionStart) & (FramesSize - 1));

    private void VerifyFastPt()
    {
        MmuContext context = _context;
        Verify("FastPt (held context)", va => context.TryTranslate(new VirtAddr(va), AccessKind.Read, out PhysAddr pa) ? pa.Value : 0);
        AddressSpace space = _space;
        Verify("FastPt (per-thread context)", va => space.TryTranslate(new VirtAddr(va), AccessKind.Read, out PhysAddr pa) ? pa.Value : 0);
        ulong bare = BareWalk();
        if (bare != FastPtHeldContext() || bare != FastPtTryTranslate()) throw new InvalidOperationException("the benchmark sums differ");

        // The memory diagnoser rounds down to whole bytes per translation; this shows any allocation exactly.
        long before = GC.GetAllocatedBytesForCurrentThread();
        FastPtHeldContext();
        FastPtTryTranslate();
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        if (allocated != 0) throw new InvalidOperationException($"FastPt allocated {allocated} bytes in {2 * AddressCount} translations");
    }

    /// <summary>Checks the bare walk and <paramref name="translate"/> (if any) against the mapping on every address
    /// of the stream.</summary>
    private void Verify(string what, Func<ulong, ulong>? translate)
    {
        foreach (ulong va in _addresses)
        {
            ulong expected = Expected(va);
            ulong bare = BareWalker.Translate(_physical, _rootPa, va);
            if (bare != expected) throw new InvalidOperationException($"bare walk translated 0x{va:x} to 0x{bare:x}, expected 0x{expected:x}");
            if (translate is null) continue;
            ulong got = translate(va);
            if (got != expected) throw new InvalidOperationException($"{what} translated 0x{va:x} to 0x{got:x}, expected 0x{expected:x}");
        }
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

    /// <summary>The same walk in C (<c>bench/native/walk.c</c>, system compiler, <c>-O2 -march=native</c>).</summary>
    [Benchmark(OperationsPerInvoke = AddressCount)]
    public ulong NativeWalk() => _native!.Walk(_addresses, _rootPa);

    /// <summary>FastPt through a context the caller holds (an embedder's vCPU thread): TLB, paging-structure
    /// caches, rights of every level, Accessed bit, presence of the frame.</summary>
    [Benchmark(OperationsPerInvoke = AddressCount)]
    public ulong FastPtHeldContext()
    {
        MmuContext context = _context;
        ulong sum = 0;
        foreach (ulong va in _addresses)
        {
            context.TryTranslate(new VirtAddr(va), AccessKind.Read, out PhysAddr pa);
            sum += pa.Value;
        }
        return sum;
    }

    /// <summary>FastPt through <see cref="AddressSpace.TryTranslate"/>: the same, after finding the calling
    /// thread's context.</summary>
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

    /// <summary>Two-level managed jagged-array table (Ryujinx's <c>PageTable&lt;T&gt;</c> design) holding pages
    /// of FastPt's leaf size.</summary>
    [Benchmark(OperationsPerInvoke = AddressCount)]
    public ulong JaggedArrayTable()
    {
        JaggedPageTable table = _jagged;
        ulong sum = 0;
        foreach (ulong va in _addresses) sum += table.Translate(va);
        return sum;
    }

    /// <summary><see cref="Dictionary{TKey, TValue}"/> from virtual page number to physical page number, pages of
    /// FastPt's leaf size.</summary>
    [Benchmark(OperationsPerInvoke = AddressCount)]
    public ulong Dictionary()
    {
        Dictionary<ulong, ulong> dictionary = _dictionary;
        int shift = _leafShift;
        ulong sum = 0;
        foreach (ulong va in _addresses) sum += DictionaryTranslate(dictionary, shift, va);
        return sum;
    }

    private static ulong DictionaryTranslate(Dictionary<ulong, ulong> dictionary, int shift, ulong va) =>
        dictionary.TryGetValue(va >> shift, out ulong page) ? (page << shift) | (va & ((1UL << shift) - 1)) : 0;

    /// <summary>Frees the machine and all its host memory.</summary>
    [GlobalCleanup]
    public void Dispose()
    {
        _native?.Dispose();
        _native = null;
        _context?.Dispose();
        _machine?.Dispose();
        _dictionary = null!;
        _jagged = null!;
        GC.SuppressFinalize(this);
    }
}
