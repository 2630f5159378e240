using System;
using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;

namespace FastPt.Benchmarks.Mm;

/// <summary>What a frame costs the first time it is handed out: <c>AllocatePhysical(4096)</c> and a 4 KiB map, page by
/// page as a demand-paging embedder does, of frames never written since the host gave them (<c>Fresh</c>) against
/// frames written, freed and handed out again (<c>Recycled</c>, the baseline). Category <c>HandOut</c> stops there;
/// <c>HandOutAndWrite</c> also writes one byte of each page through a CPU context (the guest's first write, where
/// the host must commit a page in any case). Every iteration runs on a fresh machine (booted outside the
/// measurement); results are per frame.</summary>
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public class FirstTouchBenchmarks : IDisposable
{
    private const int Frames = 4096;
    private const ulong Region = 0x40_0000_0000;
    private const string HandOut = "HandOut";
    private const string HandOutAndWrite = "HandOutAndWrite";

    private Machine? _machine;
    private AddressSpace? _space;
    private MmuContext? _context;

    private void Boot()
    {
        _machine = new Machine(new MachineOptions { MemorySize = 1UL << 30 });
        _space = _machine.CreateAddressSpace();
        _context = _space.CreateContext();
    }

    /// <summary>Runs every case about half a second first. Each case runs in its own process and an iteration is
    /// one call, so the few calls BenchmarkDotNet makes would otherwise time code the JIT has not optimised yet (a
    /// method is recompiled after 30 calls): the allocator's split and list code ran at tier 0 in a fresh case's
    /// measured iterations, while a recycled case's setup had already called it thousands of times.</summary>
    [GlobalSetup]
    public void WarmUp()
    {
        var clock = Stopwatch.StartNew();
        for (int round = 0; round < 40 || clock.ElapsedMilliseconds < 500; round++)
        {
            SetupFresh();
            FreshHandOut();
            Cleanup();
            SetupFresh();
            FreshHandOutAndWrite();
            Cleanup();
            SetupRecycled();
            RecycledHandOut();
            Cleanup();
            SetupRecycled();
            RecycledHandOutAndWrite();
            Cleanup();
        }
    }

    /// <summary>A fresh machine: its data frames were never written.</summary>
    [IterationSetup(Targets = [nameof(FreshHandOut), nameof(FreshHandOutAndWrite)])]
    public void SetupFresh() => Boot();

    /// <summary>A fresh machine whose first <see cref="Frames"/> data frames were written and freed, so the
    /// allocator hands the same, host-committed frames out again.</summary>
    [IterationSetup(Targets = [nameof(RecycledHandOut), nameof(RecycledHandOutAndWrite)])]
    public void SetupRecycled()
    {
        Boot();
        var frames = new PhysAddr[Frames];
        for (int i = 0; i < Frames; i++)
        {
            frames[i] = _machine!.AllocatePhysical(4096);
            _machine.WritePhysical(frames[i], [1, 2, 3, 4, 5, 6, 7, 8]);
        }
        for (int i = Frames - 1; i >= 0; i--) _machine!.FreePhysical(frames[i], 4096);
    }

    private ulong Run(bool write)
    {
        Machine machine = _machine!;
        AddressSpace space = _space!;
        ulong sum = 0;
        for (int i = 0; i < Frames; i++)
        {
            PhysAddr frame = machine.AllocatePhysical(4096);
            var va = new VirtAddr(Region + (ulong)i * 4096);
            space.Map(va, frame, 4096, Protection.ReadWrite);
            if (write) _context!.Write(va, (byte)1);
            sum += frame.Value;
        }
        return sum;
    }

    /// <summary>Baseline: recycled frames, handed out and mapped.</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = Frames), BenchmarkCategory(HandOut)]
    public ulong RecycledHandOut() => Run(write: false);

    /// <summary>Never-written frames, handed out and mapped.</summary>
    [Benchmark(OperationsPerInvoke = Frames), BenchmarkCategory(HandOut)]
    public ulong FreshHandOut() => Run(write: false);

    /// <summary>Baseline: recycled frames, handed out, mapped and written once.</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = Frames), BenchmarkCategory(HandOutAndWrite)]
    public ulong RecycledHandOutAndWrite() => Run(write: true);

    /// <summary>Never-written frames, handed out, mapped and written once (the host commits each page here).</summary>
    [Benchmark(OperationsPerInvoke = Frames), BenchmarkCategory(HandOutAndWrite)]
    public ulong FreshHandOutAndWrite() => Run(write: true);

    /// <summary>Frees the iteration's machine.</summary>
    [IterationCleanup]
    public void Cleanup()
    {
        _context?.Dispose();
        _machine?.Dispose();
        _machine = null;
        _space = null;
        _context = null;
    }

    /// <summary>Frees whatever an interrupted iteration left.</summary>
    public void Dispose()
    {
        Cleanup();
        GC.SuppressFinalize(this);
    }
}
