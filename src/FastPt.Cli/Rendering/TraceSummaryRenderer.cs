using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using FastPt.Cli.Scenarios;
using FastPt.Tracing;
using Spectre.Console;

namespace FastPt.Cli.Rendering;

/// <summary>Renders a <see cref="TraceSummary"/> for people: facts, events per kind, page tables and bytes freed,
/// flushes per operation, address spaces, faults, Start/Stop latencies and Meter values. The short form (after
/// <c>trace record</c>) keeps the facts, the events and the operations. Other providers' events (the runtime's
/// rundown, the Meter's transport) take one line per provider unless every kind is asked for.</summary>
internal static class TraceSummaryRenderer
{
    private const int MaxSpaceRows = 20;

    private static readonly FlushKind[] s_flushKinds = Enum.GetValues<FlushKind>();

    public static void Render(IAnsiConsole console, TraceSummary summary, bool full, bool allKinds = false)
    {
        RenderFacts(console, summary);
        RenderEvents(console, summary, allKinds);
        RenderNotes(console, summary);
        RenderOperations(console, summary);
        if (!full) return;
        RenderTables(console, summary);
        RenderSpaces(console, summary);
        RenderFaults(console, summary);
        RenderActivities(console, summary);
        RenderMetrics(console, summary);
    }

    private static void RenderFacts(IAnsiConsole console, TraceSummary summary)
    {
        var facts = new FittedTable { Border = TableBorder.Simple, ShowHeaders = false };
        facts.AddColumn("fact");
        facts.AddColumn("value", rightAligned: true);
        facts.AddRow("trace", Markup.Escape(summary.Source));
        facts.AddRow("duration", Markup.Escape(ReportValue.FromDuration(summary.Duration).ToString()));
        facts.AddRow("events (FastPt / all)", $"{Number(summary.FastPtEvents)} / {Number(summary.TotalEvents)}");
        facts.AddRow("events lost", summary.EventsLost == 0 ? "0" : $"[red]{Number(summary.EventsLost)}[/]");
        facts.AddRow("page-table pages allocated / freed", $"{Number(summary.Tables.Allocated)} / {Number(summary.Tables.Freed)}");
        facts.AddRow("bytes freed", Markup.Escape(Bytes(summary.Freed.Total)));
        facts.AddRow("TLB flushes", Number(summary.Flushes.Total));
        facts.AddRow("page faults", Number(summary.Faults.Total));
        if (summary.AnomalyCount > 0) facts.AddRow("[red]impossible payloads (damaged file?)[/]", $"[red]{Number(summary.AnomalyCount)}[/]");
        facts.Write(console);
        foreach (string anomaly in summary.Anomalies) console.MarkupLine($"  [red]{Markup.Escape(anomaly)}[/]");
        if (summary.FastPtEvents == 0)
            console.MarkupLine("[yellow]No FastPt events: enable the FastPt provider with its keywords, e.g. FastPt:0xFFFFFFFFFFFFFFFF:5 "
                + "(dotnet-trace's --providers FastPt alone enables no keyword, and every FastPt event has one).[/]");
    }

    private static void RenderEvents(IAnsiConsole console, TraceSummary summary, bool allKinds)
    {
        var table = new FittedTable("Events per kind");
        table.AddColumn("provider");
        table.AddColumn("event");
        table.AddColumn("count", rightAligned: true);
        foreach (EventCount count in summary.Events.Where(e => allKinds || e.Provider == TraceSummary.ProviderName))
            table.AddRow(Markup.Escape(count.Provider), Markup.Escape(count.Name), Number(count.Count));
        if (!allKinds)
        {
            foreach (ProviderSummary provider in summary.Providers.Where(p => p.Name != TraceSummary.ProviderName))
            {
                string kinds = provider.Kinds == 1 ? "1 kind" : $"{Number(provider.Kinds)} kinds";
                table.AddRow(Markup.Escape(provider.Name), $"[grey]{kinds}: {Markup.Escape(provider.Role)}[/]", Number(provider.Events));
            }
        }
        table.Write(console);
        if (!allKinds && summary.Providers.Any(p => p.Name != TraceSummary.ProviderName))
            console.MarkupLine("[grey]Other providers are one line each; 'trace summarize --all' lists every kind.[/]");
    }

    private static void RenderNotes(IAnsiConsole console, TraceSummary summary)
    {
        foreach (TraceNote note in summary.Notes)
        {
            console.MarkupLine(note.Severity == TraceNoteSeverity.Warning
                ? $"[yellow]warning:[/] {Markup.Escape(note.Text)}"
                : $"[grey]note:[/] {Markup.Escape(note.Text)}");
        }
    }

    private static void RenderOperations(IAnsiConsole console, TraceSummary summary)
    {
        var table = new FittedTable("TLB flushes per operation");
        table.AddColumn("operation");
        // The trace records leaves for maps only, and tables allocated by maps but freed by unmaps and teardowns.
        foreach (string column in new[] { "count", "bytes", "leaves mapped", "tables +/-" }) table.AddColumn(column, rightAligned: true);
        foreach (FlushKind kind in s_flushKinds) table.AddColumn(KindName(kind), rightAligned: true);
        table.AddColumn("flushes", rightAligned: true);
        table.AddColumn("flushes/op", rightAligned: true);
        foreach (OperationSummary operation in summary.Operations)
        {
            var cells = new List<string>
            {
                Markup.Escape(operation.Name), Number(operation.Count), Markup.Escape(Bytes(operation.Bytes)),
                operation.Name == "map" ? Number(operation.Leaves) : "–",
                (operation.Name == "map" ? "+" : operation.Tables == 0 ? "" : "-") + Number(operation.Tables),
            };
            cells.AddRange(s_flushKinds.Select(kind => Number(operation.FlushesByKind.GetValueOrDefault(kind))));
            cells.Add(Number(operation.Flushes));
            cells.Add(operation.FlushesPerOperation.ToString("F2", CultureInfo.InvariantCulture));
            table.AddRow(cells.ToArray());
        }
        if (summary.UnattributedFlushes > 0)
        {
            var cells = new List<string> { "[grey]no operation before[/]", "", "", "", "" };
            cells.AddRange(s_flushKinds.Select(_ => ""));
            cells.Add(Number(summary.UnattributedFlushes));
            cells.Add("");
            table.AddRow(cells.ToArray());
        }
        var totals = new List<string> { "[bold]all flushes[/]", "", "", "", "" };
        totals.AddRange(s_flushKinds.Select(kind => Number(summary.Flushes.Of(kind))));
        totals.Add(Number(summary.Flushes.Total));
        totals.Add("");
        table.AddRow(totals.ToArray());
        table.Caption = FormattableString.Invariant(
            $"published to {summary.Flushes.ContextsNotified:N0} contexts in all; contexts caught up {summary.Flushes.ContextCatchUps:N0} times, applying {summary.Flushes.RequestsApplied:N0} requests ({summary.Flushes.FullResyncs:N0} full resyncs); ")
            + "leaves: the trace counts those a map installs, not those an unmap or protect removes or changes";
        table.Write(console);
    }

    private static void RenderTables(IAnsiConsole console, TraceSummary summary)
    {
        var table = new FittedTable("Page-table pages and memory freed");
        table.AddColumn("");
        foreach (string level in new[] { "PTE", "PMD", "PUD", "P4D or 4-level PGD", "5-level PGD", "all", "of which kernel" }) table.AddColumn(level, rightAligned: true);
        table.AddRow(Row("allocated", summary.Tables.AllocatedByLevel, summary.Tables.Allocated, summary.Tables.KernelAllocated));
        table.AddRow(Row("freed", summary.Tables.FreedByLevel, summary.Tables.Freed, summary.Tables.KernelFreed));
        table.Caption = Markup.Escape(FormattableString.Invariant(
            $"{summary.Tables.Splits:N0} huge leaves split; freed: page tables {Bytes(summary.Freed.PageTableBytes)}, memmap (hot-remove) {Bytes(summary.Freed.MemmapBytes)}, vmemmap (HVO) {Bytes(summary.Freed.VmemmapBytes)}"));
        table.Write(console);

        static string[] Row(string name, IReadOnlyList<long> byLevel, long total, long kernel)
        {
            var cells = new List<string> { name };
            for (int level = 1; level <= 5; level++) cells.Add(Number(level < byLevel.Count ? byLevel[level] : 0));
            cells.Add(Number(total));
            cells.Add(Number(kernel));
            return cells.ToArray();
        }
    }

    private static void RenderSpaces(IAnsiConsole console, TraceSummary summary)
    {
        if (summary.Spaces.Count == 0) return;
        var table = new FittedTable("Address spaces");
        table.AddColumn("id", rightAligned: true);
        foreach (string column in new[] { "maps", "unmaps", "protects", "mapped", "tables +", "tables -", "splits", "flushes", "faults" })
            table.AddColumn(column, rightAligned: true);
        table.AddColumn("");
        foreach (SpaceSummary space in summary.Spaces.Take(MaxSpaceRows))
        {
            table.AddRow(
                Number((long)space.Id), Number(space.Maps), Number(space.Unmaps), Number(space.Protects), Markup.Escape(Bytes(space.BytesMapped)),
                Number(space.TablesAllocated), Number(space.TablesFreed), Number(space.Splits), Number(space.Flushes), Number(space.Faults),
                space.Kernel ? "kernel" : space.TornDown ? "torn down" : "");
        }
        if (summary.Spaces.Count > MaxSpaceRows) table.Caption = $"{summary.Spaces.Count - MaxSpaceRows} more address spaces (see --json)";
        table.Write(console);
    }

    private static void RenderFaults(IAnsiConsole console, TraceSummary summary)
    {
        if (summary.Faults.Total == 0) return;
        var table = new FittedTable("Page faults");
        table.AddColumn("reason");
        table.AddColumn("faults", rightAligned: true);
        foreach (KeyValuePair<FaultReason, long> pair in summary.Faults.ByReason.OrderByDescending(pair => pair.Value))
            table.AddRow(Markup.Escape(pair.Key.ToString()), Number(pair.Value));
        table.Caption = Markup.Escape(string.Join(", ",
            summary.Faults.ByAccess.OrderBy(pair => pair.Key).Select(pair => FormattableString.Invariant($"{pair.Key}: {pair.Value:N0}"))));
        table.Write(console);
    }

    private static void RenderActivities(IAnsiConsole console, TraceSummary summary)
    {
        if (summary.Activities.Count == 0)
        {
            console.MarkupLine("[grey]No Start/Stop pairs (hot-add, hot-remove, HVO batches) in this trace.[/]");
            return;
        }
        var table = new FittedTable("Start/Stop latencies");
        table.AddColumn("activity");
        foreach (string column in new[] { "pairs", "min", "median", "p99", "max", "unmatched" }) table.AddColumn(column, rightAligned: true);
        table.AddColumn("histogram (log2 µs buckets)");
        table.AddColumn("Stop totals");
        foreach (ActivitySummary activity in summary.Activities)
        {
            LatencyHistogram latency = activity.Latency;
            table.AddRow(
                Markup.Escape(activity.Name), Number(activity.Completed),
                Duration(latency.Minimum), Duration(latency.Median), Duration(latency.P99), Duration(latency.Maximum),
                FormattableString.Invariant($"{activity.UnmatchedStarts}/{activity.UnmatchedStops}"),
                Markup.Escape(string.Join(" ", latency.Buckets.Select(b => FormattableString.Invariant($"<{b.UpperMicroseconds:G}:{b.Count}")))),
                Markup.Escape(string.Join(", ", activity.StopTotals.OrderBy(pair => pair.Key, StringComparer.Ordinal)
                    .Select(pair => FormattableString.Invariant($"{pair.Key} {pair.Value:N0}")))));
        }
        table.Write(console);
    }

    private static void RenderMetrics(IAnsiConsole console, TraceSummary summary)
    {
        if (summary.Metrics.Count == 0)
        {
            console.MarkupLine("[grey]No FastPt Meter values (the Metrics provider was off, or the run was shorter than its refresh interval).[/]");
            return;
        }
        var table = new FittedTable("FastPt Meter");
        table.AddColumn("instrument");
        table.AddColumn("tags");
        table.AddColumn("kind");
        foreach (string column in new[] { "samples", "last", "min", "max" }) table.AddColumn(column, rightAligned: true);
        foreach (MetricSummary metric in summary.Metrics)
        {
            table.AddRow(Markup.Escape(metric.Instrument), Markup.Escape(metric.Tags), Markup.Escape(metric.Kind), Number(metric.Samples),
                Real(metric.Last), Real(metric.Minimum), Real(metric.Maximum));
        }
        table.Write(console);
    }

    private static string KindName(FlushKind kind) => kind.ToString().ToLowerInvariant();

    private static string Number(long value) => value.ToString("N0", CultureInfo.InvariantCulture);

    private static string Real(double value) =>
        value == Math.Floor(value) && Math.Abs(value) < 1e15 ? Number((long)value) : ReportValue.FromRealNumber(value).ToString();

    private static string Duration(TimeSpan value) => Markup.Escape(ReportValue.FromDuration(value).ToString());

    /// <summary>Bytes in the largest binary unit that keeps a whole part: exact when it divides, else two decimals.</summary>
    private static string Bytes(long bytes)
    {
        string[] units = ["KiB", "MiB", "GiB", "TiB", "PiB"];
        if (bytes < 1024) return Number(bytes) + " B";
        int unit = Math.Min(units.Length - 1, (int)(Math.Log2(bytes) / 10) - 1);
        long scale = 1L << (10 * (unit + 1));
        return bytes % scale == 0
            ? Number(bytes / scale) + " " + units[unit]
            : ((double)bytes / scale).ToString("F2", CultureInfo.InvariantCulture) + " " + units[unit];
    }
}
