using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text.RegularExpressions;

namespace FastPt.Plots;

/// <summary>One curve: points with error bars below and above, drawn dashed with open markers when it is a
/// baseline. Curves of one <see cref="Group"/> share a colour; <see cref="Squares"/> tells a variant apart.</summary>
internal sealed record Series(string Name, double[] X, double[] Y, double[] ErrorBelow, double[] ErrorAbove, bool Baseline)
{
    public string? Group { get; init; }

    public bool Squares { get; init; }
}

/// <summary>What a plot shows: title, axes with units, curves, and the caption naming the machine and date. X is
/// drawn on a log2 scale when <see cref="LogX"/> (sizes), Y on a log10 scale when <see cref="LogY"/>.</summary>
internal sealed record Chart(string Name, string Title, string XLabel, string YLabel, IReadOnlyList<Series> Series, bool LogX, bool LogY,
    Func<double, string> XFormat, string Caption)
{
    /// <summary>A goal drawn as a horizontal line at this Y value (in the Y axis's unit), or none.</summary>
    public double? Goal { get; init; }

    /// <summary>The goal line's legend text.</summary>
    public string? GoalLabel { get; init; }
}

/// <summary>The three scaling curves, built from the reports.</summary>
internal static partial class Charts
{
    private const double GiB = 1UL << 30;

    /// <summary>Translate cost vs working set (<c>TranslateBenchmarks</c>): one curve per method and leaf size,
    /// ns per translation against the working set's size. The FastPt methods are solid; the bare walk (the suite's
    /// baseline), the C walk and the managed tables are dashed.</summary>
    public static Chart Translate(IReadOnlyList<BenchmarkRow> rows, string caption)
    {
        var series = new List<Series>();
        foreach (IGrouping<string, (BenchmarkRow Row, double Bytes, string Leaf)> group in rows
            .Select(row => (Row: row, Set: WorkingSetOf(row)))
            .Select(item => (item.Row, item.Set.Bytes, item.Set.Leaf))
            .GroupBy(item => $"{item.Row.Method} ({item.Leaf} pages)")
            .OrderBy(group => group.Key, StringComparer.Ordinal))
        {
            var points = group.OrderBy(item => item.Bytes).ToArray();
            series.Add(new Series(group.Key, points.Select(p => p.Bytes).ToArray(), points.Select(p => p.Row.MeanNs).ToArray(),
                points.Select(p => p.Row.ErrorNs).ToArray(), points.Select(p => p.Row.ErrorNs).ToArray(),
                Baseline: !group.First().Row.Method.StartsWith("FastPt", StringComparison.Ordinal))
            {
                // A colour per method; squares for 2 MiB (and 1 GiB) pages, circles for 4 KiB.
                Group = group.First().Row.Method,
                Squares = group.First().Leaf != "4K",
            });
        }
        return new Chart("translate-vs-working-set", "Translate cost vs working set (TranslateBenchmarks)", "working set (log scale)",
            "time per translation (ns, log scale)", series, LogX: true, LogY: true, Size, caption);
    }

    /// <summary>The working set and leaf size of a TranslateBenchmarks row: the <c>Set</c> parameter
    /// (<c>OneGiBOf4K</c>, <c>SixtyFourGiBOf4K</c>, ...), or in reports from before it the <c>LeafSize</c>
    /// parameter over the suite's fixed gigabyte.</summary>
    public static (double Bytes, string Leaf) WorkingSetOf(BenchmarkRow row)
    {
        ArgumentNullException.ThrowIfNull(row);
        if (row.Parameters.TryGetValue("Set", out string? set))
        {
            Match match = WorkingSetName().Match(set);
            if (!match.Success || NumberWords(match.Groups["n"].Value) is not { } gib)
                throw new ReportFormatException($"TranslateBenchmarks: working set '{set}' is not of the form <number>GiBOf<4K|2M|1G>");
            return (gib * GiB, match.Groups["leaf"].Value);
        }
        if (row.Parameters.TryGetValue("LeafSize", out string? leaf) && leaf.StartsWith("Size", StringComparison.Ordinal))
            return (GiB, leaf["Size".Length..]);
        throw new ReportFormatException($"TranslateBenchmarks: row {row.Method} has neither a Set nor a LeafSize parameter");
    }

    /// <summary>Boot cost vs simulated RAM (boot-scaling): median boot time with the fastest and slowest of the
    /// launches as error bars; the eager boot is the baseline.</summary>
    public static Chart BootTime(IReadOnlyList<BootRow> rows, string caption) =>
        new("boot-time-vs-ram", "Boot cost vs simulated RAM (boot-scaling)", "simulated RAM (log scale)", "boot time (s, log scale; bars: min–max)",
            BootSeries(rows, row => row.Seconds, row => row.Seconds - row.MinSeconds, row => row.MaxSeconds - row.Seconds),
            LogX: true, LogY: true, Size, caption);

    /// <summary>Host memory a boot costs vs simulated RAM: median peak resident memory above the process's own.</summary>
    public static Chart BootMemory(IReadOnlyList<BootRow> rows, string caption) =>
        new("boot-memory-vs-ram", "Boot memory vs simulated RAM (boot-scaling)", "simulated RAM (log scale)",
            "peak resident memory above the process's own (MiB, log scale)",
            BootSeries(rows, row => row.PeakRssMiB, _ => 0, _ => 0), LogX: true, LogY: true, Size, caption);

    private static Series[] BootSeries(IReadOnlyList<BootRow> rows, Func<BootRow, double> y, Func<BootRow, double> below, Func<BootRow, double> above) =>
        rows.GroupBy(row => row.Boot).OrderBy(group => group.Key == "eager" ? 1 : 0).Select(group =>
        {
            BootRow[] points = group.OrderBy(row => row.RamBytes).ToArray();
            return new Series(group.Key == "eager" ? "eager boot (baseline)" : group.Key + " boot", points.Select(p => p.RamBytes).ToArray(),
                points.Select(y).ToArray(), points.Select(below).ToArray(), points.Select(above).ToArray(), Baseline: group.Key == "eager");
        }).ToArray();

    /// <summary>Fault throughput vs threads (<c>FaultBenchmarks</c>): faults per second of all threads together,
    /// one curve per page-table lock mode; one lock per address space (<c>SingleLock</c>) is the baseline the
    /// split locks are measured against.</summary>
    public static Chart Faults(IReadOnlyList<BenchmarkRow> rows, string caption)
    {
        var series = new List<Series>();
        foreach (IGrouping<string, BenchmarkRow> group in rows.GroupBy(row => row.Parameters.GetValueOrDefault("Locks") ?? "default").OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var points = group.Select(row => (Threads: ThreadsOf(row.Method), Row: row)).OrderBy(p => p.Threads).ToArray();
            // Mean is per fault (OperationsPerInvoke counts every thread's pages): throughput = 1 / mean.
            double[] rate = points.Select(p => 1e9 / p.Row.MeanNs / 1e6).ToArray();
            double[] error = points.Select((p, i) => rate[i] * Math.Min(p.Row.ErrorNs / p.Row.MeanNs, 1)).ToArray();
            bool baseline = group.Key == "SingleLock";
            series.Add(new Series(baseline ? "SingleLock (one lock per address space, baseline)" : group.Key + " split PTE locks",
                points.Select(p => (double)p.Threads).ToArray(), rate, error, error, baseline));
        }
        return new Chart("faults-vs-threads", "Demand-fault throughput vs threads (FaultBenchmarks)", "threads faulting at once",
            "faults per second, all threads (millions; bars: 99.9% CI)", series, LogX: false, LogY: false,
            x => x.ToString("0", CultureInfo.InvariantCulture), caption);
    }

    /// <summary>Threads of a FaultBenchmarks method: OneThread, TwoThreads, FourThreads, ...</summary>
    public static int ThreadsOf(string method)
    {
        ArgumentNullException.ThrowIfNull(method);
        Match match = ThreadsName().Match(method);
        if (match.Success && NumberWords(match.Groups["n"].Value) is { } threads) return (int)threads;
        throw new ReportFormatException($"FaultBenchmarks: method '{method}' does not say its thread count (OneThread, TwoThreads, ...)");
    }

    /// <summary>"One", "Two", "Sixteen", "SixtyFour", "TwoHundredFiftySix" as numbers, or null.</summary>
    public static double? NumberWords(string words)
    {
        ArgumentNullException.ThrowIfNull(words);
        string[] units = ["Zero", "One", "Two", "Three", "Four", "Five", "Six", "Seven", "Eight", "Nine", "Ten", "Eleven", "Twelve",
            "Thirteen", "Fourteen", "Fifteen", "Sixteen", "Seventeen", "Eighteen", "Nineteen"];
        string[] tens = ["", "", "Twenty", "Thirty", "Forty", "Fifty", "Sixty", "Seventy", "Eighty", "Ninety"];
        double total = 0, current = 0;
        int at = 0;
        while (at < words.Length)
        {
            int unit = Longest(units, words, at), ten = Longest(tens, words, at);
            if (words.AsSpan(at).StartsWith("Hundred", StringComparison.Ordinal)) { current = Math.Max(current, 1) * 100; at += 7; }
            else if (words.AsSpan(at).StartsWith("Thousand", StringComparison.Ordinal)) { total += Math.Max(current, 1) * 1000; current = 0; at += 8; }
            else if (ten >= 0 && (unit < 0 || tens[ten].Length >= units[unit].Length)) { current += ten * 10; at += tens[ten].Length; }
            else if (unit >= 0) { current += unit; at += units[unit].Length; }
            else return null;
        }
        return words.Length == 0 ? null : total + current;
    }

    private static int Longest(string[] names, string words, int at)
    {
        int best = -1;
        for (int i = 0; i < names.Length; i++)
        {
            if (names[i].Length > 0 && words.AsSpan(at).StartsWith(names[i], StringComparison.Ordinal) && (best < 0 || names[i].Length > names[best].Length))
                best = i;
        }
        return best;
    }

    /// <summary>Bytes as "512 MiB", "64 GiB", "16 TiB".</summary>
    public static string Size(double bytes)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
        int unit = 0;
        while (bytes >= 1024 && unit < units.Length - 1)
        {
            bytes /= 1024;
            unit++;
        }
        return bytes.ToString("0.##", CultureInfo.InvariantCulture) + " " + units[unit];
    }

    [GeneratedRegex("^(?<n>[A-Za-z]+?)GiBOf(?<leaf>4K|2M|1G)$")]
    private static partial Regex WorkingSetName();

    [GeneratedRegex("^(?<n>[A-Z][A-Za-z]*?)Threads?$")]
    private static partial Regex ThreadsName();
}
