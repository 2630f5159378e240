using System;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;

namespace FastPt.Benchmarks.Traces;

/// <summary><c>cold-warm [pairs] [trace]</c>: the cold/warm ratio of <see cref="TraceReplayBenchmarks"/>' Access
/// category measured as pairs in one process. Each pair boots a fresh machine (not timed), then times the cold pass
/// (every page allocated and mapped page by page, then the trace replayed: first touch included, as
/// <see cref="TraceReplayBenchmarks.ColdReplay"/>) and right after it a warm pass on the same machine (the replay
/// again, as <see cref="TraceReplayBenchmarks.WarmReplay"/>), by the thread's CPU clock (a descheduled thread is not
/// charged, so a shared machine blurs the figure less) and by the wall clock. The ratio is per pair, so drift of the
/// machine between pairs cancels; its mean comes with a 95% confidence interval over the pairs. The host's minor
/// page faults of each phase (<c>getrusage(RUSAGE_THREAD)</c>) and the cold pass's split into mapping and first
/// replay say where the cold pass pays. Before the pairs, rounds of cold and warm passes run for at least half a
/// second so that the timed code is the JIT's final tier, as in a long-running embedder. Linux only.</summary>
internal static partial class ColdWarm
{
    /// <summary>Runs the pairs on every recorded trace (or the one named) and prints one row per trace.</summary>
    public static int Run(string[] args)
    {
        if (!OperatingSystem.IsLinux()) throw new PlatformNotSupportedException("cold-warm reads getrusage(RUSAGE_THREAD) and CLOCK_THREAD_CPUTIME_ID");
        int pairs = 40;
        if (args.Length > 1 && (!int.TryParse(args[1], NumberStyles.None, CultureInfo.InvariantCulture, out pairs) || pairs is < 2 or > 100_000))
            throw new ArgumentException($"pairs must be a whole number from 2 to 100000, not '{args[1]}'");
        string[] files = LackeyTrace.Find();
        if (files.Length == 0) throw new FileNotFoundException("no traces in bench/traces/: run bench/traces/record.sh (bench/run-all.sh does)");
        if (args.Length > 2)
        {
            files = files.Where(f => LackeyTrace.NameOf(f) == args[2]).ToArray();
            if (files.Length == 0) throw new ArgumentException($"no trace named '{args[2]}' (recorded: {string.Join(", ", LackeyTrace.Find().Select(LackeyTrace.NameOf))})");
        }
        Console.WriteLine($"// {pairs} pairs per trace, thread CPU time; ratio = cold / warm per pair, mean ± 95% CI (t), median");
        Console.WriteLine($"{"trace",-6} {"pages",6} {"cold ms",8} {"map ms",7} {"1st ms",7} {"warm ms",8} {"ratio",15} {"median",7} {"wall ratio",11} {"faults map/1st/warm",20}");
        foreach (string file in files) Report(LackeyTrace.Read(file, dataOnly: false), pairs);
        return 0;
    }

    private readonly record struct Pair(long MapNs, long FirstNs, long WarmNs, long MapWallNs, long FirstWallNs, long WarmWallNs,
        long MapFaults, long FirstFaults, long WarmFaults);

    private static void Report(LackeyTrace trace, int pairs)
    {
        ulong[] pages = trace.Pages().Keys.ToArray();
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < 40 || clock.ElapsedMilliseconds < 500; i++) Measure(trace, pages);
        var results = new Pair[pairs];
        for (int i = 0; i < pairs; i++) results[i] = Measure(trace, pages);

        double[] ratio = results.Select(p => (double)(p.MapNs + p.FirstNs) / p.WarmNs).ToArray();
        double[] wall = results.Select(p => (double)(p.MapWallNs + p.FirstWallNs) / p.WarmWallNs).ToArray();
        (double mean, double half) = MeanCi(ratio);
        (double wallMean, double wallHalf) = MeanCi(wall);
        double Ms(Func<Pair, long> f) => results.Average(p => (double)f(p)) / 1e6;
        double Avg(Func<Pair, long> f) => results.Average(p => (double)f(p));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{trace.Name,-6} {pages.Length,6} {Ms(p => p.MapNs + p.FirstNs),8:F3} {Ms(p => p.MapNs),7:F3} {Ms(p => p.FirstNs),7:F3} {Ms(p => p.WarmNs),8:F3} " +
            $"{$"{mean:F3} ± {half:F3}",15} {Median(ratio),7:F3} {$"{wallMean:F3} ± {wallHalf:F3}",11} " +
            $"{$"{Avg(p => p.MapFaults):F1}/{Avg(p => p.FirstFaults):F1}/{Avg(p => p.WarmFaults):F1}",20}"));
    }

    /// <summary>One pair: a fresh machine (not timed), the cold pass (map, then first replay), then the warm pass.</summary>
    private static Pair Measure(LackeyTrace trace, ulong[] pages)
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        using var machine = new Machine(new MachineOptions { MemorySize = 1UL << 30 });
        AddressSpace space = machine.CreateAddressSpace();
        using MmuContext context = space.CreateContext();

        (long cpu0, long wall0, long faults0) = Now();
        TraceReplayBenchmarks.MapPages(machine, space, pages);
        (long cpu1, long wall1, long faults1) = Now();
        TraceReplayBenchmarks.Replay(context, trace);
        (long cpu2, long wall2, long faults2) = Now();
        TraceReplayBenchmarks.Replay(context, trace);
        (long cpu3, long wall3, long faults3) = Now();
        return new Pair(cpu1 - cpu0, cpu2 - cpu1, cpu3 - cpu2, wall1 - wall0, wall2 - wall1, wall3 - wall2,
            faults1 - faults0, faults2 - faults1, faults3 - faults2);
    }

    private static (double Mean, double HalfWidth) MeanCi(double[] x)
    {
        double mean = x.Average();
        double sd = Math.Sqrt(x.Sum(v => (v - mean) * (v - mean)) / (x.Length - 1));
        return (mean, StudentT975(x.Length - 1) * sd / Math.Sqrt(x.Length));
    }

    /// <summary>The 97.5% quantile of Student's t (two-sided 95%), tabulated to 30 degrees of freedom, then the
    /// normal approximation with the first correction term.</summary>
    private static double StudentT975(int df)
    {
        ReadOnlySpan<double> table = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
            2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042];
        return df <= table.Length ? table[df - 1] : 1.96 + 2.4 / df;
    }

    private static double Median(double[] x)
    {
        double[] sorted = x.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }

    private static (long CpuNs, long WallNs, long MinorFaults) Now()
    {
        if (ClockGettime(ClockThreadCputimeId, out Timespec t) != 0) throw new InvalidOperationException("clock_gettime failed");
        if (GetRusage(RusageThread, out Rusage u) != 0) throw new InvalidOperationException("getrusage failed");
        return (t.Seconds * 1_000_000_000 + t.Nanoseconds, (long)(Stopwatch.GetTimestamp() * (1e9 / Stopwatch.Frequency)), u.MinorFaults);
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct Timespec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    /// <summary><c>struct rusage</c> of Linux x86-64: two timevals, then 14 longs (<c>ru_minflt</c> is the fifth).</summary>
    [StructLayout(LayoutKind.Sequential)]
    private unsafe struct Rusage
    {
        public long UserSeconds, UserMicroseconds, SystemSeconds, SystemMicroseconds;
        public long MaxRss, SharedRss, UnsharedData, UnsharedStack, MinorFaults, MajorFaults;
        public fixed long Rest[8];
    }

    private const int ClockThreadCputimeId = 3;
    private const int RusageThread = 1;

    [LibraryImport("libc", EntryPoint = "clock_gettime")]
    private static partial int ClockGettime(int clock, out Timespec time);

    [LibraryImport("libc", EntryPoint = "getrusage")]
    private static partial int GetRusage(int who, out Rusage usage);
}
