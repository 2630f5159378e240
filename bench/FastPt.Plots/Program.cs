using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;

namespace FastPt.Plots;

/// <summary><c>FastPt.Plots [DIR...]</c>: finds the benchmark reports under each directory (default
/// <c>perf-results</c>) and draws their scaling curves as PNG and SVG beside them — translate cost vs working set
/// from <c>*TranslateBenchmarks-report.csv</c>, boot cost and memory vs simulated RAM from
/// <c>boot-scaling.md</c>, fault throughput vs threads from <c>*FaultBenchmarks-report.csv</c> — each with a
/// caption naming the CPU and date of the nearest <c>machine.txt</c>; HVO per 2 MiB folio against its goal from
/// <c>*Hvo2MBenchmarks-report.csv</c>, and issue 14's goals (measured ÷ goal, with the 99.9% intervals) in each
/// folder of Tlb/Translate/TraceReplay reports.</summary>
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
            output.WriteLine("Draws PNG and SVG plots beside the TranslateBenchmarks, FaultBenchmarks and Hvo2MBenchmarks CSV reports and boot-scaling.md under each DIR,");
            output.WriteLine("and issue 14's goals (issue14-goals) in each folder of Tlb/Translate/TraceReplay reports.");
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
                        _ when IsReportOf(name, "Hvo2MBenchmarks") =>
                            [GoalCharts.Hvo(BenchmarkReport.Read(report), MachineCaption.For(report, root))],
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
                foreach (string directory in GoalFolders(root))
                {
                    GoalChart chart = Issue14Goals(directory, root);
                    if (chart.Rows.Count == 0)
                    {
                        error.WriteLine($"FastPt.Plots: {directory}: no issue-14 goal rows in its reports, no {chart.Name} plot");
                        continue;
                    }
                    foreach (string file in PlotRenderer.Save(chart, directory))
                    {
                        output.WriteLine("wrote " + file);
                        written++;
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

    /// <summary>The folders that get an issue-14 goal chart: each one holding a TlbBenchmarks or TranslateBenchmarks
    /// report (its TraceReplayBenchmarks report may be in a subfolder), and each holding a TraceReplayBenchmarks report
    /// whose parent holds neither.</summary>
    private static List<string> GoalFolders(string root)
    {
        static bool Holds(string directory, params string[] suites) =>
            Directory.EnumerateFiles(directory).Any(file => suites.Any(suite => IsReportOf(Path.GetFileName(file), suite)));
        var folders = new List<string>();
        foreach (string directory in Directory.EnumerateDirectories(root, "*", SearchOption.AllDirectories).Prepend(root).Order(StringComparer.Ordinal))
        {
            if (Holds(directory, "TlbBenchmarks", "TranslateBenchmarks")) folders.Add(directory);
            else if (Holds(directory, "TraceReplayBenchmarks") && !(Path.GetDirectoryName(Path.GetFullPath(directory)) is { } parent
                && Holds(parent, "TlbBenchmarks", "TranslateBenchmarks")))
                folders.Add(directory);
        }
        return folders;
    }

    private static GoalChart Issue14Goals(string directory, string root)
    {
        IReadOnlyList<BenchmarkRow> Reports(string suite, bool subfolders) =>
            Directory.EnumerateFiles(directory).Concat(subfolders ? Directory.EnumerateDirectories(directory).SelectMany(Directory.EnumerateFiles) : [])
                .Where(file => IsReportOf(Path.GetFileName(file), suite)).Order(StringComparer.Ordinal)
                .SelectMany(BenchmarkReport.Read).ToArray();
        string caption = MachineCaption.For(Path.Combine(directory, "report"), root);
        return GoalCharts.Issue14(Reports("TlbBenchmarks", false), Reports("TranslateBenchmarks", false), Reports("TraceReplayBenchmarks", true), caption);
    }

    private static Chart[] BootCharts(string report, string root)
    {
        IReadOnlyList<BootRow> rows = BootScalingTable.Read(report);
        string caption = MachineCaption.For(report, root);
        return [Charts.BootTime(rows, caption), Charts.BootMemory(rows, caption)];
    }
}

/// <summary>The caption of a plot: the CPU and date from the <c>machine.txt</c> nearest the report (its folder or
/// a parent, up to the root searched, or above a root inside <c>perf-results/</c> up to that folder), and whether
/// the machine was shared.</summary>
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
        // A run's folder given as the root (perf-results/<date>-<cpu>/Suite/run): its machine.txt is further up, in
        // the same perf-results tree; look there, never above the perf-results folder.
        for (string? directory = Path.GetDirectoryName(top.TrimEnd(Path.DirectorySeparatorChar)); directory is not null
            && top.Contains(Path.DirectorySeparatorChar + "perf-results" + Path.DirectorySeparatorChar, StringComparison.Ordinal);
            directory = Path.GetDirectoryName(directory))
        {
            if (Path.GetFileName(directory) == "perf-results") break;
            string file = Path.Combine(directory, "machine.txt");
            if (File.Exists(file)) return FromFile(file);
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
