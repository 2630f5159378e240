using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;

namespace FastPt.Plots;

/// <summary><c>FastPt.Plots [DIR...]</c>: finds the benchmark reports under each directory (default
/// <c>perf-results</c>) and draws their scaling curves as PNG and SVG beside them — translate cost vs working set
/// from <c>*TranslateBenchmarks-report.csv</c>, boot cost and memory vs simulated RAM from
/// <c>boot-scaling.md</c>, fault throughput vs threads from <c>*FaultBenchmarks-report.csv</c> — each with a
/// caption naming the CPU and date of the nearest <c>machine.txt</c>.</summary>
internal static class Program
{
    public const int Success = 0;
    public const int Usage = 2;
    public const int BadInput = 3;

    public static int Main(string[] args) => Run(args, Console.Out, Console.Error);

    public static int Run(IReadOnlyList<string> args, TextWriter output, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        if (args.Any(arg => arg is "-h" or "--help"))
        {
            output.WriteLine("usage: FastPt.Plots [DIR...]   (default: perf-results)");
            output.WriteLine("Draws PNG and SVG plots beside the TranslateBenchmarks and FaultBenchmarks CSV reports and boot-scaling.md under each DIR.");
            return Success;
        }
        string[] roots = args.Count > 0 ? args.ToArray() : ["perf-results"];
        foreach (string root in roots)
        {
            if (!Directory.Exists(root))
            {
                error.WriteLine($"FastPt.Plots: '{root}' is not a directory (give the perf-results folder or one run's folder)");
                return Usage;
            }
        }
        int written = 0;
        try
        {
            foreach (string root in roots)
            {
                foreach (string report in Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
                {
                    string name = Path.GetFileName(report);
                    Chart[] charts = name switch
                    {
                        _ when IsReportOf(name, "TranslateBenchmarks") =>
                            [Charts.Translate(BenchmarkReport.Read(report), MachineCaption.For(report, root))],
                        _ when IsReportOf(name, "FaultBenchmarks") =>
                            [Charts.Faults(BenchmarkReport.Read(report), MachineCaption.For(report, root))],
                        "boot-scaling.md" => BootCharts(report, root),
                        _ => [],
                    };
                    foreach (Chart chart in charts)
                    {
                        if (chart.Series.Count == 0)
                        {
                            error.WriteLine($"FastPt.Plots: {report}: no measured rows, no {chart.Name} plot");
                            continue;
                        }
                        foreach (string file in PlotRenderer.Save(chart, Path.GetDirectoryName(report)!))
                        {
                            output.WriteLine("wrote " + file);
                            written++;
                        }
                    }
                }
            }
        }
        catch (ReportFormatException exception)
        {
            error.WriteLine("FastPt.Plots: " + exception.Message);
            return BadInput;
        }
        if (written == 0) output.WriteLine("no reports to plot under " + string.Join(", ", roots));
        return Success;
    }

    /// <summary>True for BenchmarkDotNet's CSV report of the class <paramref name="suite"/> (named
    /// <c>Namespace.Suite-report.csv</c>), not of a class whose name merely ends the same way.</summary>
    private static bool IsReportOf(string name, string suite) =>
        name == suite + "-report.csv" || name.EndsWith("." + suite + "-report.csv", StringComparison.Ordinal);

    private static Chart[] BootCharts(string report, string root)
    {
        IReadOnlyList<BootRow> rows = BootScalingTable.Read(report);
        string caption = MachineCaption.For(report, root);
        return [Charts.BootTime(rows, caption), Charts.BootMemory(rows, caption)];
    }
}

/// <summary>The caption of a plot: the CPU and date from the <c>machine.txt</c> nearest the report (its folder or
/// a parent, up to the root searched), and whether the machine was shared.</summary>
internal static class MachineCaption
{
    public static string For(string report, string root)
    {
        string top = Path.GetFullPath(root);
        for (string? directory = Path.GetDirectoryName(Path.GetFullPath(report)); directory is not null; directory = Path.GetDirectoryName(directory))
        {
            string file = Path.Combine(directory, "machine.txt");
            if (File.Exists(file)) return FromFile(file);
            if (string.Equals(directory.TrimEnd(Path.DirectorySeparatorChar), top.TrimEnd(Path.DirectorySeparatorChar), StringComparison.Ordinal)) break;
        }
        return "machine unknown (no machine.txt beside the report)";
    }

    public static string FromFile(string path)
    {
        var fields = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string line in File.ReadLines(path))
        {
            int colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon > 0) fields.TryAdd(line[..colon].Trim(), line[(colon + 1)..].Trim());
        }
        string machine = fields.GetValueOrDefault("machine") ?? "machine not named";
        string date = fields.GetValueOrDefault("date") is { } d ? (d.Length >= 10 ? d[..10] : d) : "date unknown";
        string shared = fields.ContainsKey("shared") ? "; shared machine, noisy" : "";
        return $"{machine} · {date}{shared} (machine.txt)";
    }
}
