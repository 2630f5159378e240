using System;
using System.IO;
using System.Linq;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Exporters;
using BenchmarkDotNet.Exporters.Csv;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;

namespace FastPt.Benchmarks;

/// <summary>Entry point: every suite of the assembly behind BenchmarkDotNet's command line
/// (<c>--filter</c>, <c>--job</c>, <c>--artifacts</c>, ...).</summary>
public static class Program
{
    /// <summary>Runs the suites chosen by <paramref name="args"/>; with <c>boot-scaling</c> first, the boot
    /// scaling report (<see cref="Boot.BootScaling"/>); with <c>fault-cpu [passes]</c>, the demand-fault workload
    /// timed by each thread's CPU clock (<see cref="Faults.FaultCpuTime"/>); with <c>fault-overlap [passes]</c>, its
    /// scaling counted only while both threads ran (<see cref="Faults.FaultOverlap"/>); with <c>fault-1t [passes]</c>,
    /// one thread's fault cost in each lock mode, interleaved pass by pass (<see cref="Faults.FaultModesOneThread"/>); with <c>hvo-profile</c>, the HVO cost
    /// breakdown (<see cref="HugeTlb.HvoProfile"/>); with <c>cold-warm [pairs] [trace]</c>, the trace replays' cold/warm
    /// ratio measured in pairs (<see cref="Traces.ColdWarm"/>); with <c>tlb-study [report.md]</c>, the study of TLB
    /// organisations on the recorded traces (<see cref="Traces.TlbStudy"/>); with <c>compare DIR</c> first, a
    /// same-run comparison of the FastPt of the source tree in DIR ("before") with this tree's ("after") — see
    /// <c>bench/compare.sh</c>.</summary>
    public static int Main(string[] args)
    {
        try
        {
            return Dispatch(args);
        }
        catch (Exception e) when (e is ArgumentException or FileNotFoundException or DirectoryNotFoundException)
        {
            // Bad arguments to a subcommand (a junk pass count, a missing tree): one line, not a stack trace.
            Console.Error.WriteLine($"FastPt.Benchmarks: {e.Message}");
            return 2;
        }
    }

    private static int Dispatch(string[] args)
    {
#if !FASTPT_BENCH_SUBSET
        // The tools (not BenchmarkDotNet suites). A build with only some benchmark sources (bench/compare.sh
        // SOURCES=...) leaves them out: the files that define them need not be among those sources.
        if (args is ["boot-scaling", ..]) return Boot.BootScaling.Run(args);
        if (args is ["fault-cpu", ..]) return Faults.FaultCpuTime.Run(args);
        if (args is ["fault-overlap", ..]) return Faults.FaultOverlap.Run(args);
        if (args is ["fault-1t", ..]) return Faults.FaultModesOneThread.Run(args);
        if (args is ["hvo-profile", ..]) return HugeTlb.HvoProfile.Run(args);
        if (args is ["cold-warm", ..]) return Traces.ColdWarm.Run(args);
        if (args is ["tlb-study", ..])
        {
            Traces.TlbStudy.Run(args[1..]);
            return 0;
        }
#endif
        if (args is ["compare", string baseline, .. string[] rest])
        {
            BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(rest, CreateComparisonConfig(baseline));
            return 0;
        }
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args, CreateConfig());
        return 0;
    }

    /// <summary><see cref="CreateConfig"/> with two jobs alike but for the engine they are built against: "before"
    /// references the FastPt project of the source tree in <paramref name="baselineDirectory"/>, "after" the
    /// project of this tree. Every
    /// benchmark runs in both, interleaved in one run on one machine state; two launches of ten iterations each
    /// so that a ratio's spread shows (FASTPT_COMPARE_LAUNCHES=N: N launches of six). The Ratio column stays per job (to each suite's baseline method).</summary>
    public static IConfig CreateComparisonConfig(string baselineDirectory)
    {
        string full = Path.GetFullPath(baselineDirectory);
        if (!File.Exists(Path.Combine(full, "src", "FastPt", "FastPt.csproj")))
            throw new FileNotFoundException($"no src/FastPt/FastPt.csproj in {full} (bench/compare.sh extracts one)");
        // FASTPT_COMPARE_SHORT=1: one launch of three iterations, for direction while the machine is shared.
        // FASTPT_COMPARE_LAUNCHES=N: N launches (default 2). Process-to-process variance (code and arena placement)
        // dominates on a small VM, so a conclusive comparison needs launches more than iterations.
        string? launchesText = Environment.GetEnvironmentVariable("FASTPT_COMPARE_LAUNCHES");
        int launches = 2;
        if (launchesText is not null && (!int.TryParse(launchesText, out launches) || launches is < 1 or > 100))
            throw new ArgumentException($"FASTPT_COMPARE_LAUNCHES must be a whole number from 1 to 100, not '{launchesText}'");
        Job measured = Environment.GetEnvironmentVariable("FASTPT_COMPARE_SHORT") == "1"
            ? Job.Default.WithLaunchCount(1).WithWarmupCount(3).WithIterationCount(3)
            : Job.Default.WithLaunchCount(launches).WithWarmupCount(3).WithIterationCount(launches > 2 ? 6 : 10);
        return CreateConfig()
            .AddJob(measured.WithArguments([new MsBuildArgument($"/p:FastPtBaseline={full}")]).WithId("before"))
            .AddJob(measured.WithId("after"))
            .WithOption(ConfigOptions.JoinSummary, true)
            // Both jobs build bench/FastPt.Benchmarks into the same obj/ with different references: one at a time.
            // A loaded machine takes minutes per build, more than BenchmarkDotNet's default two.
            .WithOption(ConfigOptions.DisableParallelBuild, true)
            .WithBuildTimeout(System.TimeSpan.FromMinutes(15));
    }

    /// <summary>BenchmarkDotNet's defaults (columns, loggers, analysers, validators) with the memory diagnoser on,
    /// exporting GitHub markdown and CSV only: the two formats committed under <c>perf-results/</c>. The build of
    /// the generated project may take 15 minutes instead of 2 (a loaded shared machine takes longer than 2).</summary>
    public static IConfig CreateConfig()
    {
        IConfig defaults = DefaultConfig.Instance;
        return ManualConfig.CreateEmpty()
            .AddColumnProvider(defaults.GetColumnProviders().ToArray())
            .AddLogger(defaults.GetLoggers().ToArray())
            .AddAnalyser(defaults.GetAnalysers().ToArray())
            .AddValidator(defaults.GetValidators().ToArray())
            .AddDiagnoser(MemoryDiagnoser.Default)
            .AddExporter(MarkdownExporter.GitHub, CsvExporter.Default)
            .WithBuildTimeout(TimeSpan.FromMinutes(15));
    }
}
