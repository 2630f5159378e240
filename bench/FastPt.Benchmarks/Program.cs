using System;
using System.Linq;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Exporters;
using BenchmarkDotNet.Exporters.Csv;
using BenchmarkDotNet.Running;

namespace FastPt.Benchmarks;

/// <summary>Entry point: every suite of the assembly behind BenchmarkDotNet's command line
/// (<c>--filter</c>, <c>--job</c>, <c>--artifacts</c>, ...).</summary>
public static class Program
{
    /// <summary>Runs the suites chosen by <paramref name="args"/>; with <c>boot-scaling</c> first, the boot scaling
    /// report (<see cref="Boot.BootScaling"/>); with <c>tlb-study [report.md]</c>, the study of TLB organisations on
    /// the recorded traces (<see cref="Traces.TlbStudy"/>).</summary>
    public static int Main(string[] args)
    {
        if (args is ["boot-scaling", ..]) return Boot.BootScaling.Run(args);
        if (args is ["tlb-study", ..])
        {
            Traces.TlbStudy.Run(args[1..]);
            return 0;
        }
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args, CreateConfig());
        return 0;
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
