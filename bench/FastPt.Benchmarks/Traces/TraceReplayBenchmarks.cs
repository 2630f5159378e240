using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using FastPt.Benchmarks.Paging;
using FastPt.Hardware;

namespace FastPt.Benchmarks.Traces;

/// <summary>Replays the memory accesses of real programs (valgrind lackey traces recorded by
/// <c>bench/traces/record.sh</c>; instruction fetches included, as an interpreter fetches) against an address
/// space where every page the trace touches is mapped onto its own 4 KiB frame. Category <c>Translate</c>:
/// translation only, FastPt through a held context against the bare walk (baseline), the jagged-array table and
/// the dictionary holding the same pages. Category <c>Access</c>: a one-byte read or write per access through the
/// context, warm (baseline: the mapping and the TLB were used before) against cold (a fresh machine: every frame
/// allocated, mapped and touched for the first time inside the measured replay). Results are per replay of the
/// whole trace; <c>bench/traces/traces.txt</c> gives each trace's accesses and pages. Category <c>FirstTouch</c>:
/// translation from an empty table, every page mapped at its first access — FastPt by demand faults in one anonymous
/// region through a held context (a zeroed 4 KiB frame per page, tables allocated as needed), against the dictionary
/// (baseline) and the jagged-array table, which hand out frame numbers from a counter with no memory behind them.
/// Category <c>AccessPaired</c>: the cold pass against the warm pass that follows it on the same fresh machine, both
/// one call per iteration with the same JIT warm-up, so that their ratio compares like with like (the Access
/// category's cold and warm cases run with different job settings).</summary>
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public class TraceReplayBenchmarks : IDisposable
{
    private const ulong Guard = 0x1000;
    private const string Translate = "Translate";
    private const string Access = "Access";
    private const string FirstTouch = "FirstTouch";
    private const string Paired = "AccessPaired";
    private const string NoTraces = "none-recorded";

    private LackeyTrace _trace = null!;
    private ulong[] _pages = null!;
    private Machine _machine = null!;
    private AddressSpace _space = null!;
    private MmuContext _context = null!;
    private PhysicalMemory _physical = null!;
    private ulong _rootPa;
    private Dictionary<ulong, ulong> _dictionary = null!;
    private JaggedPageTable _jagged = null!;
    private Machine? _coldMachine;
    private AddressSpace? _coldSpace;
    private MmuContext? _coldContext;
    private Dictionary<ulong, ulong>? _coldDictionary;
    private JaggedPageTable? _coldJagged;

    /// <summary>The traces found under <c>bench/traces/</c>.</summary>
    public static IEnumerable<string> Traces
    {
        get
        {
            string[] files = LackeyTrace.Find();
            return files.Length == 0 ? [NoTraces] : files.Select(LackeyTrace.NameOf);
        }
    }

    /// <summary>The trace replayed (<c>bench/traces/&lt;name&gt;.lackey.gz</c>).</summary>
    [ParamsSource(nameof(Traces))]
    public string Trace { get; set; } = "";

    /// <summary>The global setup of the methods that run warm code on every call (<see cref="Setup"/>).</summary>
    [GlobalSetup(Targets = [nameof(BareWalk), nameof(FastPtHeldContext), nameof(Dictionary), nameof(JaggedArrayTable), nameof(MinimalTlb),
        nameof(WarmReplay), nameof(DictionaryFirstTouch), nameof(JaggedArrayFirstTouch)])]
    public void SetupWarm() => Setup();

    /// <summary><see cref="Setup"/>, then cold replays for about half a second (see <see cref="WarmUpJit"/>).</summary>
    [GlobalSetup(Target = nameof(ColdReplay))]
    public void SetupColdReplay()
    {
        Setup();
        WarmUpJit(() =>
        {
            SetupCold();
            ColdReplay();
            CleanupCold();
        });
    }

    /// <summary><see cref="Setup"/>, then rounds of a cold and a warm pass on a fresh machine for about half a second
    /// (see <see cref="WarmUpJit"/>).</summary>
    [GlobalSetup(Targets = [nameof(ColdPass), nameof(WarmPass)])]
    public void SetupPaired()
    {
        Setup();
        WarmUpJit(() =>
        {
            SetupCold();
            ColdReplay();
            Replay(_coldContext!, _trace);
            CleanupCold();
        });
    }

    /// <summary><see cref="Setup"/>, then first-touch replays for about half a second (see <see cref="WarmUpJit"/>).</summary>
    [GlobalSetup(Target = nameof(FastPtFirstTouch))]
    public void SetupFastPtFirstTouchJit()
    {
        Setup();
        WarmUpJit(() =>
        {
            SetupFastPtFirstTouch();
            FastPtFirstTouch();
            CleanupFirstTouch();
        });
    }

    /// <summary>A cold method's iteration is one call on a fresh machine, and each method runs in its own process,
    /// so BenchmarkDotNet's few calls would time the replay loop and the map and fault paths before the JIT has
    /// optimised them (a method is recompiled after 30 calls), while the warm baseline's many invocations run
    /// optimised code: the cold/warm ratio would then measure the JIT, not first touch. At least 40 rounds and
    /// half a second.</summary>
    private static void WarmUpJit(Action round)
    {
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < 40 || clock.ElapsedMilliseconds < 500; i++) round();
    }

    /// <summary>Reads the trace, maps its pages, fills the baselines, checks that every method translates every
    /// access alike and warms the context with one pass.</summary>
    public void Setup()
    {
        if (Trace == NoTraces) throw new InvalidOperationException("no traces in bench/traces/: run bench/traces/record.sh (bench/run-all.sh does)");
        string path = LackeyTrace.Find().Single(f => LackeyTrace.NameOf(f) == Trace);
        _trace = LackeyTrace.Read(path, dataOnly: false);
        _pages = _trace.Pages().Keys.ToArray();
        (_machine, _space, _context) = Build(out ulong[] frames);
        _physical = _machine.Memory.Physical;
        _rootPa = _space.Mm.RootPa;

        _dictionary = new Dictionary<ulong, ulong>(_pages.Length);
        _jagged = new JaggedPageTable(47);
        for (int i = 0; i < _pages.Length; i++)
        {
            _dictionary.Add(_pages[i] >> 12, frames[i] >> 12);
            _jagged.Map(_pages[i], frames[i]);
        }
        for (int i = 0; i < _trace.Count; i++)
        {
            ulong va = _trace.Addresses[i];
            ulong expected = frames[Array.BinarySearch(_pages, va & ~4095UL)] | (va & 4095);
            if (!_context.TryTranslate(new VirtAddr(va), _trace.Kinds[i], out PhysAddr pa) || pa.Value != expected
                || BareWalker.Translate(_physical, _rootPa, va) != expected || DictionaryTranslate(va) != expected || _jagged.Translate(va) != expected)
                throw new InvalidOperationException($"access {i} (0x{va:x}) translated differently by the methods");
        }
        if (BareWalk() != FastPtHeldContext() || BareWalk() != Dictionary() || BareWalk() != JaggedArrayTable() || BareWalk() != MinimalTlb())
            throw new InvalidOperationException("the replay sums differ");
        WarmReplay();
        TlbStatistics before = _context.Statistics;
        FastPtHeldContext();
        TlbStatistics after = _context.Statistics;
        Console.WriteLine($"// {_trace.Name}: {_trace.Count} accesses, {_pages.Length} pages; warm FastPt TLB hit rate {(double)(after.Hits - before.Hits) / _trace.Count:P3} ({after.Misses - before.Misses} misses per pass)");
    }

    /// <summary>A machine with every page of the trace mapped read-write-execute onto its own frame, allocated
    /// and mapped page by page as a demand-paging embedder would.</summary>
    private (Machine, AddressSpace, MmuContext) Build(out ulong[] frames)
    {
        var machine = new Machine(new MachineOptions { MemorySize = 1UL << 30 });
        AddressSpace space = machine.CreateAddressSpace();
        frames = MapPages(machine, space);
        return (machine, space, space.CreateContext());
    }

    private ulong[] MapPages(Machine machine, AddressSpace space) => MapPages(machine, space, _pages);

    /// <summary>Maps each of <paramref name="pages"/> read-write-execute onto a frame of its own, allocated and
    /// mapped page by page as a demand-paging embedder would; returns the frames.</summary>
    internal static ulong[] MapPages(Machine machine, AddressSpace space, ulong[] pages)
    {
        var frames = new ulong[pages.Length];
        for (int i = 0; i < pages.Length; i++)
        {
            frames[i] = machine.AllocatePhysical(4096).Value;
            space.Map(new VirtAddr(pages[i]), new PhysAddr(frames[i]), 4096, Protection.All, PageSize.Size4K);
        }
        return frames;
    }

    private ulong DictionaryTranslate(ulong va) => _dictionary.TryGetValue(va >> 12, out ulong pfn) ? (pfn << 12) | (va & 4095) : 0;

    // ------------------------------------------------------------------ translation only

    /// <summary>Baseline: the bare four-load walk for every access.</summary>
    [Benchmark(Baseline = true), BenchmarkCategory(Translate)]
    public ulong BareWalk()
    {
        PhysicalMemory memory = _physical;
        ulong rootPa = _rootPa;
        ulong sum = 0;
        foreach (ulong va in _trace.Addresses) sum += BareWalker.Translate(memory, rootPa, va);
        return sum;
    }

    /// <summary>FastPt through a held context, each access with its own kind (fetch, read, write).</summary>
    [Benchmark, BenchmarkCategory(Translate)]
    public ulong FastPtHeldContext()
    {
        MmuContext context = _context;
        ulong[] addresses = _trace.Addresses;
        AccessKind[] kinds = _trace.Kinds;
        ulong sum = 0;
        for (int i = 0; i < addresses.Length; i++)
        {
            context.TryTranslate(new VirtAddr(addresses[i]), kinds[i], out PhysAddr pa);
            sum += pa.Value;
        }
        return sum;
    }

    /// <summary>The dictionary from virtual page to frame.</summary>
    [Benchmark, BenchmarkCategory(Translate)]
    public ulong Dictionary()
    {
        ulong sum = 0;
        foreach (ulong va in _trace.Addresses) sum += DictionaryTranslate(va);
        return sum;
    }

    /// <summary>The jagged-array table of 4 KiB pages.</summary>
    [Benchmark, BenchmarkCategory(Translate)]
    public ulong JaggedArrayTable()
    {
        JaggedPageTable table = _jagged;
        ulong sum = 0;
        foreach (ulong va in _trace.Addresses) sum += table.Translate(va);
        return sum;
    }

    /// <summary>The floor of any software TLB on this trace: a hand-written direct-mapped TLB of 1,024 entries
    /// (a tag and a physical page per entry, adjacent), hit = one shift, one mask, one compare, one or; no access
    /// kinds, rights, coherence, counters or bounds checks; a miss fills from the dictionary. What a hit costs
    /// before FastPt adds anything, beside the jagged array's two dependent loads.</summary>
    [Benchmark, BenchmarkCategory(Translate)]
    public ulong MinimalTlb()
    {
        ref ulong tlb = ref MemoryMarshal.GetArrayDataReference(_minimalTlb);
        ulong[] addresses = _trace.Addresses;
        ulong sum = 0;
        for (int i = 0; i < addresses.Length; i++)
        {
            ulong va = addresses[i];
            nint slot = (nint)((va >> 11) & ((MinimalTlbEntries - 1) << 1));
            if (Unsafe.Add(ref tlb, slot) == ((va & ~4095UL) | 1)) sum += Unsafe.Add(ref tlb, slot + 1) | (va & 4095);
            else sum += MinimalTlbMiss(va, slot);
        }
        return sum;
    }

    private const int MinimalTlbEntries = 1024;
    private readonly ulong[] _minimalTlb = new ulong[2 * MinimalTlbEntries];

    [MethodImpl(MethodImplOptions.NoInlining)]
    private ulong MinimalTlbMiss(ulong va, nint slot)
    {
        ulong pa = DictionaryTranslate(va);
        _minimalTlb[slot] = (va & ~4095UL) | 1;
        _minimalTlb[slot + 1] = pa & ~4095UL;
        return pa;
    }

    // ------------------------------------------------------------------ data access, warm and cold

    /// <summary>One pass of <paramref name="trace"/>: a one-byte read or write per access through <paramref name="context"/>.</summary>
    internal static ulong Replay(MmuContext context, LackeyTrace trace)
    {
        ulong[] addresses = trace.Addresses;
        AccessKind[] kinds = trace.Kinds;
        ulong sum = 0;
        for (int i = 0; i < addresses.Length; i++)
        {
            var va = new VirtAddr(addresses[i]);
            if (kinds[i] == AccessKind.Write) context.Write(va, (byte)i);
            else sum += context.Read<byte>(va);
        }
        return sum;
    }

    /// <summary>Baseline of the access category: the replay on the warm machine.</summary>
    [Benchmark(Baseline = true), BenchmarkCategory(Access)]
    public ulong WarmReplay() => Replay(_context, _trace);

    /// <summary>A fresh machine for the cold replay (boot is not part of the measurement).</summary>
    [IterationSetup(Target = nameof(ColdReplay))]
    public void SetupCold()
    {
        _coldMachine = new Machine(new MachineOptions { MemorySize = 1UL << 30 });
        _coldSpace = _coldMachine.CreateAddressSpace();
        _coldContext = _coldSpace.CreateContext();
    }

    /// <summary>The replay on a fresh machine: every frame allocated and mapped page by page, then touched for
    /// the first time (host page faults included), with a cold TLB and cold paging-structure caches.</summary>
    [Benchmark, BenchmarkCategory(Access)]
    public ulong ColdReplay()
    {
        MapPages(_coldMachine!, _coldSpace!);
        return Replay(_coldContext!, _trace);
    }

    /// <summary>A fresh machine on which the cold pass ran (not timed): the state <see cref="WarmPass"/> starts from.</summary>
    [IterationSetup(Target = nameof(WarmPass))]
    public void SetupWarmPass()
    {
        SetupCold();
        ColdReplay();
    }

    /// <summary>Baseline of the paired access category: the second pass on a fresh machine, right after its cold
    /// pass. Like <see cref="ColdPass"/> it is one call per iteration (an iteration setup builds its machine), so the
    /// two run with the same job settings and the same JIT warm-up, which <see cref="WarmReplay"/> (many calls per
    /// iteration) and <see cref="ColdReplay"/> do not share; <c>cold-warm</c> (<see cref="ColdWarm"/>) pairs them in
    /// one process.</summary>
    [Benchmark(Baseline = true), BenchmarkCategory(Paired)]
    public ulong WarmPass() => Replay(_coldContext!, _trace);

    /// <summary>A fresh machine for <see cref="ColdPass"/> (boot is not part of the measurement).</summary>
    [IterationSetup(Target = nameof(ColdPass))]
    public void SetupColdPass() => SetupCold();

    /// <summary>The cold pass of <see cref="ColdReplay"/> (every frame allocated, mapped, then touched for the first
    /// time) with the job settings and JIT warm-up of <see cref="WarmPass"/>.</summary>
    [Benchmark, BenchmarkCategory(Paired)]
    public ulong ColdPass() => ColdReplay();

    /// <summary>Frees the cold machine.</summary>
    [IterationCleanup(Targets = [nameof(ColdReplay), nameof(ColdPass), nameof(WarmPass)])]
    public void CleanupCold()
    {
        _coldContext?.Dispose();
        _coldMachine?.Dispose();
        _coldMachine = null;
        _coldSpace = null;
        _coldContext = null;
    }

    // ------------------------------------------------------------------ first touch: translation from an empty table

    /// <summary>An empty dictionary for the first-touch replay.</summary>
    [IterationSetup(Target = nameof(DictionaryFirstTouch))]
    public void SetupDictionaryFirstTouch() => _coldDictionary = new Dictionary<ulong, ulong>();

    /// <summary>Baseline of the first-touch category: the dictionary, a page added at its first access.</summary>
    [Benchmark(Baseline = true), BenchmarkCategory(FirstTouch)]
    public ulong DictionaryFirstTouch()
    {
        Dictionary<ulong, ulong> table = _coldDictionary!;
        ulong next = 1, sum = 0;
        foreach (ulong va in _trace.Addresses)
        {
            if (!table.TryGetValue(va >> 12, out ulong pfn)) table.Add(va >> 12, pfn = next++);
            sum += (pfn << 12) | (va & 4095);
        }
        return sum;
    }

    /// <summary>An empty jagged-array table for the first-touch replay.</summary>
    [IterationSetup(Target = nameof(JaggedArrayFirstTouch))]
    public void SetupJaggedFirstTouch() => _coldJagged = new JaggedPageTable(47);

    /// <summary>The jagged-array table, a page mapped at its first access.</summary>
    [Benchmark, BenchmarkCategory(FirstTouch)]
    public ulong JaggedArrayFirstTouch()
    {
        JaggedPageTable table = _coldJagged!;
        ulong next = 1, sum = 0;
        foreach (ulong va in _trace.Addresses)
        {
            ulong pa = table.Translate(va);
            if (pa == 0)
            {
                table.Map(va & ~4095UL, (next++) << 12);
                pa = table.Translate(va);
            }
            sum += pa;
        }
        return sum;
    }

    /// <summary>A fresh machine whose user range is one anonymous region, and a context on it.</summary>
    [IterationSetup(Target = nameof(FastPtFirstTouch))]
    public void SetupFastPtFirstTouch()
    {
        SetupCold();
        _coldSpace!.MapAnonymous(new VirtAddr(0), _coldSpace.UserTop.Value, Protection.All);
    }

    /// <summary>FastPt: each page faulted in by its first access (a demand fault maps a zeroed frame), every access
    /// translated with its kind through a held context.</summary>
    [Benchmark, BenchmarkCategory(FirstTouch)]
    public ulong FastPtFirstTouch()
    {
        MmuContext context = _coldContext!;
        ulong[] addresses = _trace.Addresses;
        AccessKind[] kinds = _trace.Kinds;
        ulong sum = 0;
        for (int i = 0; i < addresses.Length; i++)
        {
            context.TryTranslate(new VirtAddr(addresses[i]), kinds[i], out PhysAddr pa);
            sum += pa.Value;
        }
        return sum;
    }

    /// <summary>Frees what a first-touch replay built.</summary>
    [IterationCleanup(Targets = [nameof(DictionaryFirstTouch), nameof(JaggedArrayFirstTouch), nameof(FastPtFirstTouch)])]
    public void CleanupFirstTouch()
    {
        _coldDictionary = null;
        _coldJagged = null;
        CleanupCold();
    }

    /// <summary>Frees the machine.</summary>
    [GlobalCleanup]
    public void Dispose()
    {
        CleanupCold();
        _context?.Dispose();
        _machine?.Dispose();
        GC.SuppressFinalize(this);
    }
}
