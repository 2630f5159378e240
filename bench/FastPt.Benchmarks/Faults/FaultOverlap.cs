using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;

namespace FastPt.Benchmarks.Faults;

/// <summary><c>fault-overlap</c>: the scaling of <see cref="FaultBenchmarks"/>' workload measured only while both
/// threads really ran at the same time, for a shared machine. Each worker is pinned to its own CPU and stamps the
/// clock every <see cref="Chunk"/> faults; a two-thread chunk counts when the other thread's stamps cover it with
/// chunks of normal length (neither thread was descheduled meanwhile), a one-thread chunk when it is of normal
/// length. The slowdown is the median counted two-thread chunk over the median one-thread chunk: 1.0 is perfect
/// scaling, 1.18 the goal of ≥ 1.7× (BenchmarkDotNet's Ratio is half the slowdown). Rows: the three lock modes on
/// one machine; <c>two machines</c> (each thread its own machine: nothing of the engine shared, only the hardware),
/// the ceiling that removing shared writes can reach; and <c>zeroing</c>, the fault's memory traffic alone
/// (<see cref="ZeroingBenchmarks"/>). Linux only (<c>sched_setaffinity</c>).</summary>
internal static class FaultOverlap
{
    private const ulong Base = 0x7f00_0000_0000;
    private const ulong TouchBase = 0x1000_0000_0000;
    private const ulong RegionSize = 128UL << 20;
    private const int Pages = (int)(RegionSize >> 12);
    private const int Chunk = 64;
    private const int Chunks = Pages / Chunk;

    /// <summary><c>fault-overlap [passes]</c> (default 8 one-thread and 8 two-thread passes per row, interleaved,
    /// after 2 warm-up passes).</summary>
    public static int Run(string[] args)
    {
        if (!OperatingSystem.IsLinux()) throw new PlatformNotSupportedException("fault-overlap pins threads with sched_setaffinity");
        int passes = 8;
        if (args.Length > 1 && (!int.TryParse(args[1], NumberStyles.None, CultureInfo.InvariantCulture, out passes) || passes is < 1 or > 1000))
            throw new ArgumentException($"passes must be a whole number from 1 to 1000, not '{args[1]}'");
        string? only = args.Length > 2 ? args[2] : null;
        Console.WriteLine($"{"row",-16} {"1 thread ns/fault",18} {"2 threads ns/fault",19} {"slowdown",9} {"ratio",6} {"chunks 1/2",11}");
        foreach ((string name, Func<int, (Action<long[]> Pass, IDisposable Owned)> create, Action? map, Action? unmap, IDisposable? owner, Machine? machine) in Rows(name => only is null || name.Contains(only, StringComparison.Ordinal)))
        {
            using IDisposable? disposeOwner = owner;
            MemoryStatistics? before = machine?.GetStatistics();
            Report(name, Measure(create, map, unmap, passes));
            if (machine is null || before is null) continue;
            MemoryStatistics after = machine.GetStatistics();
            long faults = after.PageFaults - before.PageFaults, acquisitions = after.AllocatedLockAcquisitions - before.AllocatedLockAcquisitions;
            double held = (after.AllocatedLockHoldTime - before.AllocatedLockHoldTime).TotalNanoseconds;
            string holds = acquisitions > 0
                ? string.Create(CultureInfo.InvariantCulture, $"; allocated locks held {held / acquisitions:F0} ns per acquisition, {(double)acquisitions / faults:F3} acquisitions per fault")
                : "";
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{"",-16} lock contentions {after.PageTableLockContentions - before.PageTableLockContentions} in {faults} faults{holds}"));
        }
        return 0;
    }

    private static IEnumerable<(string, Func<int, (Action<long[]>, IDisposable)>, Action?, Action?, IDisposable?, Machine?)> Rows(Func<string, bool> wanted)
    {
        // Rows are built lazily and only when wanted: each boots machines and touches all their frames.
        foreach (PageTableLockMode mode in (PageTableLockMode[])[PageTableLockMode.Inline, PageTableLockMode.Allocated, PageTableLockMode.SingleLock])
        {
            if (!wanted($"{mode}")) continue;
            var machine = new Machine(new MachineOptions { MemorySize = 2UL << 30, PageTableLocks = mode });
            AddressSpace space = machine.CreateAddressSpace();
            FaultWorkers.TouchAllFrames(machine, space, TouchBase);
            yield return ($"{mode}", index => FaultPass(space, Base + (ulong)index * RegionSize),
                () => { for (int t = 0; t < 2; t++) space.MapAnonymous(new VirtAddr(Base + (ulong)t * RegionSize), RegionSize, Protection.ReadWrite); },
                () => space.Unmap(new VirtAddr(Base), 2 * RegionSize), machine, machine);
        }
        if (wanted("two machines"))
        {
            var machines = new Machine[2];
            var spaces = new AddressSpace[2];
            for (int t = 0; t < 2; t++)
            {
                machines[t] = new Machine(new MachineOptions { MemorySize = 2UL << 30, PageTableLocks = PageTableLockMode.Inline });
                spaces[t] = machines[t].CreateAddressSpace();
                FaultWorkers.TouchAllFrames(machines[t], spaces[t], TouchBase);
            }
            yield return ("two machines", index => FaultPass(spaces[index], Base),
                () => { foreach (AddressSpace s in spaces) s.MapAnonymous(new VirtAddr(Base), RegionSize, Protection.ReadWrite); },
                () => { foreach (AddressSpace s in spaces) s.Unmap(new VirtAddr(Base), RegionSize); },
                new Owner(machines), null);
        }
        if (wanted("zeroing")) yield return ("zeroing", ZeroPass, null, null, null, null);
    }

    private sealed class Owner(IDisposable[] owned) : IDisposable
    {
        public void Dispose()
        {
            foreach (IDisposable d in owned) d.Dispose();
        }
    }

    private static (Action<long[]>, IDisposable) FaultPass(AddressSpace space, ulong start)
    {
        MmuContext cpu = space.CreateContext();
        return (stamps =>
        {
            ulong a = start;
            stamps[0] = Stopwatch.GetTimestamp();
            for (int c = 1; c <= Chunks; c++)
            {
                for (int i = 0; i < Chunk; i++, a += 4096) cpu.Write(new VirtAddr(a), (byte)1);
                stamps[c] = Stopwatch.GetTimestamp();
            }
        }, cpu);
    }

    private static unsafe (Action<long[]>, IDisposable) ZeroPass(int index)
    {
        var memory = new HostBuffer(RegionSize);
        byte* p = memory.Pointer;
        return (stamps =>
        {
            byte* a = p;
            stamps[0] = Stopwatch.GetTimestamp();
            for (int c = 1; c <= Chunks; c++)
            {
                for (int i = 0; i < Chunk; i++, a += 4096)
                {
                    NativeMemory.Clear(a, 4096);
                    *a = 1;
                }
                stamps[c] = Stopwatch.GetTimestamp();
            }
        }, memory);
    }

    private sealed unsafe class HostBuffer : IDisposable
    {
        public HostBuffer(ulong size)
        {
            Pointer = (byte*)NativeMemory.AlignedAlloc((nuint)size, 4096);
            new Span<byte>(Pointer, (int)Math.Min(size, int.MaxValue)).Fill(0xa5);
            for (ulong o = int.MaxValue; o < size; o += 4096) Pointer[o] = 0xa5;
        }

        public byte* Pointer { get; }

        public void Dispose() => NativeMemory.AlignedFree(Pointer);
    }

    private readonly record struct Result(double Solo, double Both, int SoloChunks, int BothChunks,
        double SoloWall, double BothWall, double BothBusy, double StartSkew, double EndSkew);

    private static Result Measure(Func<int, (Action<long[]>, IDisposable)> create, Action? map, Action? unmap, int passes)
    {
        var stamps = new long[2][];
        for (int t = 0; t < 2; t++) stamps[t] = new long[Chunks + 1];
        var solo = new List<long>();
        var both = new List<(long Start, long End)>[2] { new(), new() };
        var bothLengths = new List<long>();
        var soloWall = new List<long>();
        var bothWall = new List<long>();
        var bothBusy = new List<long>();
        var startSkew = new List<long>();
        var endSkew = new List<long>();
        using var workers = new FaultWorkers(2, index =>
        {
            (Action<long[]> pass, IDisposable owned) = create(index);
            return (() => pass(stamps[index]), owned);
        });
        for (int pass = 0; pass < 2 + 2 * passes; pass++)
        {
            int threads = pass % 2 == 0 ? 1 : 2;
            map?.Invoke();
            long t0 = Stopwatch.GetTimestamp();
            workers.Run(threads);
            long wall = Stopwatch.GetTimestamp() - t0;
            unmap?.Invoke();
            if (pass < 2) continue;
            (threads == 1 ? soloWall : bothWall).Add(wall);
            if (threads == 1)
            {
                for (int c = 0; c < Chunks; c++) solo.Add(stamps[0][c + 1] - stamps[0][c]);
                continue;
            }
            bothBusy.Add(stamps[0][Chunks] - stamps[0][0]);
            bothBusy.Add(stamps[1][Chunks] - stamps[1][0]);
            startSkew.Add(Math.Abs(stamps[0][0] - stamps[1][0]));
            endSkew.Add(Math.Abs(stamps[0][Chunks] - stamps[1][Chunks]));
            // The normal length of a chunk in this pass: a chunk over three times it had its thread descheduled.
            var lengths = new List<long>();
            for (int t = 0; t < 2; t++)
                for (int c = 0; c < Chunks; c++) lengths.Add(stamps[t][c + 1] - stamps[t][c]);
            lengths.Sort();
            long limit = 3 * lengths[lengths.Count / 10];
            for (int t = 0; t < 2; t++)
            {
                long[] mine = stamps[t], other = stamps[1 - t];
                int j = 0;
                for (int c = 0; c < Chunks; c++)
                {
                    long s = mine[c], e = mine[c + 1];
                    if (e - s > limit) continue;
                    // The other thread's chunks that cover [s, e]: it started before s, ended after e, and none of
                    // those chunks was long (it ran throughout).
                    while (j < Chunks && other[j + 1] <= s) j++;
                    if (j >= Chunks || other[j] > s) continue;
                    bool ran = true;
                    int k = j;
                    for (; k < Chunks && other[k] < e; k++)
                        if (other[k + 1] - other[k] > limit) { ran = false; break; }
                    if (!ran || k >= Chunks && other[Chunks] < e) continue;
                    bothLengths.Add(e - s);
                }
            }
        }
        solo.Sort();
        long soloLimit = 3 * solo[solo.Count / 10];
        List<long> soloClean = solo.FindAll(x => x <= soloLimit);
        bothLengths.Sort();
        double perFault = 1e9 / Stopwatch.Frequency / Chunk;
        double soloNs = soloClean[soloClean.Count / 2] * perFault;
        double bothNs = bothLengths.Count == 0 ? double.NaN : bothLengths[bothLengths.Count / 2] * perFault;
        double perPass = 1e9 / Stopwatch.Frequency / Pages;
        return new Result(soloNs, bothNs, soloClean.Count, bothLengths.Count,
            Median(soloWall) * perPass, Median(bothWall) * perPass / 2, Median(bothBusy) * perPass,
            Median(startSkew) * 1e6 / Stopwatch.Frequency, Median(endSkew) * 1e6 / Stopwatch.Frequency);
    }

    private static double Median(List<long> values)
    {
        values.Sort();
        return values[values.Count / 2];
    }

    private static void Report(string name, Result r) =>
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{name,-16} {r.Solo,18:F0} {r.Both,19:F0} {r.Both / r.Solo,9:F2} {r.Both / r.Solo / 2,6:F2} {r.SoloChunks + "/" + r.BothChunks,11}   passes: 1 thread {r.SoloWall:F0}, 2 threads {r.BothWall:F0} ({r.BothWall / r.SoloWall:F2}), busy {r.BothBusy:F0}, skew start {r.StartSkew:F0} us, end {r.EndSkew:F0} us"));

}
