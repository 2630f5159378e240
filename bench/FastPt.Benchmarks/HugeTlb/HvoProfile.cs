using System;
using System.Diagnostics;
using System.Globalization;
using FastPt.Mm;

namespace FastPt.Benchmarks.HugeTlb;

/// <summary>Where the time of an HVO batch goes, for a profiler or a quick look: optimizes and restores a pool of
/// frozen folios for a number of rounds and prints, per folio, the time and what the engine did (kernel descriptor
/// walks, that is misses of the kernel's descriptor TLB; buddy allocations and frees; flushes; grace periods).
/// Not a BenchmarkDotNet suite: it runs long enough for <c>perf record</c> (with <c>DOTNET_PerfMapEnabled=1</c>).
/// </summary>
/// <remarks><c>hvo-profile [--memory GiB] [--design 6x|shared] [--size 2m|1g] [--folios N] [--rounds N]
/// [--per-folio] [--compound-head]</c>.</remarks>
public static class HvoProfile
{
    /// <summary>Runs the profile and prints one line per step.</summary>
    public static int Run(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        int memoryGiB = 64, folios = 512, rounds = 200;
        HvoDesign design = HvoDesign.Linux6x;
        PageSize size = PageSize.Size2M;
        bool batched = true, compoundHead = false;
        for (int i = 1; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            switch (args[i])
            {
                case "--memory": memoryGiB = int.Parse(Value(), CultureInfo.InvariantCulture); break;
                case "--folios": folios = int.Parse(Value(), CultureInfo.InvariantCulture); break;
                case "--rounds": rounds = int.Parse(Value(), CultureInfo.InvariantCulture); break;
                case "--design": design = Value() == "shared" ? HvoDesign.SharedTail : HvoDesign.Linux6x; break;
                case "--size": size = Value() == "1g" ? PageSize.Size1G : PageSize.Size2M; break;
                case "--per-folio": batched = false; break;
                case "--compound-head": compoundHead = true; break;
                default: throw new ArgumentException($"unknown option {args[i]}");
            }
        }
        if (compoundHead) return CompoundHead(design, rounds);
        using HvoPool pool = HvoPool.Boot((ulong)memoryGiB << 30, design, size, folios);
        MemoryManager memory = pool.Machine.Memory;
        Console.WriteLine($"{memoryGiB} GiB, {design}, {folios} × {size}, {(batched ? "batched" : "per folio")}, {rounds} rounds");
        var optimize = new Totals();
        var restore = new Totals();
        for (int round = 0; round < rounds; round++)
        {
            bool measured = round >= rounds / 10; // the first tenth warms the JIT up
            Step(memory, measured ? optimize : null, () => pool.Optimize(batched), folios);
            Step(memory, measured ? restore : null, () => pool.Restore(batched), folios);
        }
        optimize.Print("optimize", folios);
        restore.Print("restore", folios);
        return 0;
    }

    /// <summary>The lookups of <see cref="HvoCompoundHeadBenchmarks"/> on one machine: time and descriptor walks
    /// (kernel TLB misses) per <c>compound_head()</c>.</summary>
    private static int CompoundHead(HvoDesign design, int rounds)
    {
        const int Lookups = 4096;
        foreach (bool optimize in new[] { true, false })
        {
            using HvoPool pool = HvoPool.Boot(4UL << 30, design, PageSize.Size2M, 64, optimize);
            ulong[] tails = HvoCompoundHeadBenchmarks.TailLookups(pool, Lookups);
            Memmap memmap = pool.Machine.Memory.Memmap;
            ulong sum = 0;
            for (int i = 0; i < 100; i++) sum += HvoCompoundHeadBenchmarks.Lookup(pool, tails);
            long walks = memmap.Walks, start = Stopwatch.GetTimestamp();
            for (int i = 0; i < rounds; i++) sum += HvoCompoundHeadBenchmarks.Lookup(pool, tails);
            double per = (double)rounds * Lookups;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"compound_head {design} optimized={optimize}: {(Stopwatch.GetTimestamp() - start) * 1e9 / Stopwatch.Frequency / per:F2} ns, " +
                $"descriptor walks {(memmap.Walks - walks) / per:F3} per lookup (sum {sum})"));
        }
        return 0;
    }

    private static void Step(MemoryManager memory, Totals? totals, Func<int> step, int folios)
    {
        long walks = memory.Memmap.Walks, allocations = memory.Buddy.Allocations, frees = memory.Buddy.Frees;
        long graces = memory.Rcu.GracePeriods, flushes = memory.Stat.TlbFlushesPublished, faults = HostFaults();
        long bytes = GC.GetAllocatedBytesForCurrentThread(), start = Stopwatch.GetTimestamp();
        int done = step();
        long ticks = Stopwatch.GetTimestamp() - start;
        bytes = GC.GetAllocatedBytesForCurrentThread() - bytes;
        if (done != folios) throw new InvalidOperationException($"the step did {done} of {folios} folios");
        if (totals is null) return;
        totals.Rounds++;
        totals.Ticks += ticks;
        totals.MinTicks = Math.Min(totals.MinTicks, ticks);
        totals.Walks += memory.Memmap.Walks - walks;
        totals.Allocations += memory.Buddy.Allocations - allocations;
        totals.Frees += memory.Buddy.Frees - frees;
        totals.GracePeriods += memory.Rcu.GracePeriods - graces;
        totals.Flushes += memory.Stat.TlbFlushesPublished - flushes;
        totals.HostFaults += HostFaults() - faults;
        totals.Bytes += bytes;
    }

    /// <summary>Minor page faults of this process so far (<c>/proc/self/stat</c> field 10): first touches of host
    /// memory behind simulated frames. 0 where there is no procfs.</summary>
    private static long HostFaults()
    {
        try
        {
            string stat = System.IO.File.ReadAllText("/proc/self/stat");
            string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return long.Parse(fields[7], CultureInfo.InvariantCulture);
        }
        catch (System.IO.IOException)
        {
            return 0;
        }
    }

    private sealed class Totals
    {
        public long Rounds, Ticks, Walks, Allocations, Frees, GracePeriods, Flushes, HostFaults, Bytes;
        public long MinTicks = long.MaxValue;

        public void Print(string what, int folios)
        {
            double per = (double)Rounds * folios;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{what,-9} {Ticks * 1e6 / Stopwatch.Frequency / per,8:F3} µs/folio (fastest round {MinTicks * 1e6 / Stopwatch.Frequency / folios,6:F3})  descriptor walks {Walks / per,6:F2}  " +
                $"allocations {Allocations / per,6:F2}  frees {Frees / per,6:F2}  grace periods/batch {GracePeriods / (double)Rounds,5:F1}  " +
                $"flushes/batch {Flushes / (double)Rounds,5:F1}  host faults {HostFaults / per,6:F3}  allocated {Bytes / (double)Rounds,6:F0} B/call"));
        }
    }
}
