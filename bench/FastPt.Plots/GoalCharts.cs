using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;

namespace FastPt.Plots;

/// <summary>One goal of an issue against one measured figure: the figure (a ratio of two rows of one report, or a
/// time) with its 99.9% confidence interval, and the bound it must stay under. Every goal is an upper bound: a
/// "≥ 2× faster than X" goal is the time ratio to X ≤ 0.5.</summary>
internal sealed record GoalRow(string Label, double Value, double Low, double High, double Bound, string Unit)
{
    /// <summary>Met when the whole interval is under the bound, missed when the whole interval is over it.</summary>
    public string Verdict => High <= Bound ? "met" : Low > Bound ? "missed" : "undecided";
}

/// <summary>A chart of goal rows: each figure divided by its bound, on a log scale, with the bound at 1.</summary>
internal sealed record GoalChart(string Name, string Title, IReadOnlyList<GoalRow> Rows, string Caption);

/// <summary>Issue 14's goals (the soft-MMU hot path) read from the Tlb, Translate and TraceReplay reports of one
/// run, and issue 13's HVO goal from an <c>Hvo2MBenchmarks</c> report.</summary>
internal static class GoalCharts
{
    /// <summary>One row per issue-14 goal that the reports measure (rows whose methods a report lacks are left out).
    /// A ratio is the two rows' means; its interval combines their relative errors (BenchmarkDotNet's Error is half
    /// the 99.9% interval of a mean) in quadrature, as <c>bench/ratio-ci.py</c> does.</summary>
    public static GoalChart Issue14(IReadOnlyList<BenchmarkRow> tlb, IReadOnlyList<BenchmarkRow> translate, IReadOnlyList<BenchmarkRow> replay, string caption)
    {
        ArgumentNullException.ThrowIfNull(tlb);
        ArgumentNullException.ThrowIfNull(translate);
        ArgumentNullException.ThrowIfNull(replay);
        var rows = new List<GoalRow>();
        Time(rows, tlb, "TLB hit, held context", "TlbHit", 2);
        Time(rows, tlb, "Read<ulong> on a hit", "ReadHit", 2);
        Time(rows, tlb, "hit, per-thread context", "TlbHitImplicitContext", 3);
        Ratio(rows, "miss from the PSC ÷ bare walk", Find(tlb, "TlbMissPscHit"), Find(tlb, "BareWalkPscMiss"), 1.5);
        foreach ((string set, string name, double bound, bool dictionary) in new[]
        {
            ("OneGiBOf4K", "random 4K over 1 GiB", 2.0, true), ("OneGiBOf2M", "random 2M over 1 GiB", 1.2, true),
            ("SixtyFourGiBOf4K", "random 4K over 64 GiB", 1.5, false),
        })
        {
            foreach ((string method, string context) in new[] { ("FastPtHeldContext", "held"), ("FastPtTryTranslate", "per-thread") })
            {
                BenchmarkRow? fastPt = Find(translate, method, ("Set", set));
                Ratio(rows, $"{name}, {context} ÷ bare walk", fastPt, Find(translate, "BareWalk", ("Set", set)), bound);
                if (dictionary) Ratio(rows, $"{name}, {context} ÷ Dictionary", fastPt, Find(translate, "Dictionary", ("Set", set)), 1);
            }
        }
        foreach (string trace in replay.Select(row => row.Parameters.GetValueOrDefault("Trace")).OfType<string>().Distinct().Order(StringComparer.Ordinal))
        {
            BenchmarkRow? fastPt = Find(replay, "FastPtHeldContext", ("Trace", trace));
            Ratio(rows, $"{trace}: warm replay ÷ Dictionary (≥ 2× faster)", fastPt, Find(replay, "Dictionary", ("Trace", trace)), 0.5);
            Ratio(rows, $"{trace}: warm replay ÷ jagged array (≥ 1.3× faster)", fastPt, Find(replay, "JaggedArrayTable", ("Trace", trace)), 1 / 1.3);
            Ratio(rows, $"{trace}: cold pass ÷ warm pass", Find(replay, "ColdPass", ("Trace", trace)), Find(replay, "WarmPass", ("Trace", trace)), 1.25);
        }
        return new GoalChart("issue14-goals", "Issue 14's goals: measured ÷ goal (≤ 1 meets; bars: 99.9% CI)", rows, caption);
    }

    /// <summary>HugeTLB vmemmap optimization per 2 MiB folio against issue 13's goal (optimize, batched, ≤ 1 µs):
    /// µs per folio against the machine's memory, one curve per step (optimize, restore), way (batched, one folio
    /// at a time: the baseline, dashed) and design (circles Linux 6.x, squares the shared tail), and the floor (the bare
    /// work of one batched optimize, <c>Floor</c>) where the report has it.</summary>
    public static Chart Hvo(IReadOnlyList<BenchmarkRow> rows, string caption)
    {
        ArgumentNullException.ThrowIfNull(rows);
        var series = new List<Series>();
        // The floor's parts (FloorCopy, FloorPteWrites, ...) sum to the floor: only the whole is drawn.
        foreach (IGrouping<string, BenchmarkRow> group in rows
            .Where(row => row.Method == "Floor" || !row.Method.StartsWith("Floor", StringComparison.Ordinal))
            .GroupBy(row => $"{Step(row)}|{row.Method.EndsWith("PerFolio", StringComparison.Ordinal)}|{Parameter(row, "Design")}")
            .OrderBy(group => group.Key, StringComparer.Ordinal))
        {
            BenchmarkRow first = group.First();
            bool perFolio = first.Method.EndsWith("PerFolio", StringComparison.Ordinal);
            string design = Parameter(first, "Design");
            var points = group.Select(row => (Bytes: GiBOf(row) * (double)(1UL << 30), Row: row)).OrderBy(p => p.Bytes).ToArray();
            string label = Step(first) == "Floor"
                ? $"floor: a batched optimize's bare work ({DesignName(design)})"
                : $"{Step(first).ToLowerInvariant()}, {(perFolio ? "one folio at a time" : "batched")} ({DesignName(design)})";
            series.Add(new Series(label,
                points.Select(p => p.Bytes).ToArray(), points.Select(p => p.Row.MeanNs / 1e3).ToArray(),
                points.Select(p => p.Row.ErrorNs / 1e3).ToArray(), points.Select(p => p.Row.ErrorNs / 1e3).ToArray(), Baseline: perFolio)
            {
                Group = $"{Step(first)} {perFolio}",
                Squares = design != "Linux6x",
            });
        }
        return new Chart("hvo-2m-per-folio", "HugeTLB vmemmap optimization per 2 MiB folio (Hvo2MBenchmarks)", "machine memory (log scale)",
            "µs per folio (bars: 99.9% CI)", series, LogX: true, LogY: false, Charts.Size, caption)
        {
            Goal = 1,
            GoalLabel = "goal (issue 13): optimize, batched ≤ 1 µs",
        };
    }

    private static string Step(BenchmarkRow row) =>
        row.Method.StartsWith("Optimize", StringComparison.Ordinal) ? "Optimize"
        : row.Method.StartsWith("Restore", StringComparison.Ordinal) ? "Restore"
        : row.Method == "Floor" ? "Floor"
        : throw new ReportFormatException($"Hvo2MBenchmarks: method '{row.Method}' is neither an Optimize, a Restore nor the Floor benchmark");

    private static string DesignName(string design) => design switch
    {
        "Linux6x" => "Linux 6.x",
        "SharedTail" => "shared tail",
        _ => design,
    };

    private static double GiBOf(BenchmarkRow row)
    {
        string text = Parameter(row, "MemoryGiB");
        return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double gib) && gib > 0
            ? gib
            : throw new ReportFormatException($"Hvo2MBenchmarks: row {row.Method} has MemoryGiB '{text}', not a positive number");
    }

    private static string Parameter(BenchmarkRow row, string name) =>
        row.Parameters.TryGetValue(name, out string? value)
            ? value
            : throw new ReportFormatException($"Hvo2MBenchmarks: row {row.Method} has no {name} parameter (a column before Mean)");

    private static BenchmarkRow? Find(IReadOnlyList<BenchmarkRow> rows, string method, params (string Name, string Value)[] parameters) =>
        rows.FirstOrDefault(row => row.Method == method
            && parameters.All(p => row.Parameters.TryGetValue(p.Name, out string? value) && value == p.Value));

    private static void Time(List<GoalRow> rows, IReadOnlyList<BenchmarkRow> report, string label, string method, double boundNs)
    {
        if (Find(report, method) is not { } row) return;
        rows.Add(new GoalRow($"{label} ≤ {boundNs:0.##} ns", row.MeanNs, row.MeanNs - row.ErrorNs, row.MeanNs + row.ErrorNs, boundNs, "ns"));
    }

    private static void Ratio(List<GoalRow> rows, string label, BenchmarkRow? measured, BenchmarkRow? reference, double bound)
    {
        if (measured is null || reference is null) return;
        double ratio = measured.MeanNs / reference.MeanNs;
        double relative = Math.Sqrt(Math.Pow(measured.ErrorNs / measured.MeanNs, 2) + Math.Pow(reference.ErrorNs / reference.MeanNs, 2));
        rows.Add(new GoalRow($"{label} ≤ {bound.ToString("0.##", CultureInfo.InvariantCulture)}", ratio, ratio * (1 - relative), ratio * (1 + relative), bound, "×"));
    }
}
