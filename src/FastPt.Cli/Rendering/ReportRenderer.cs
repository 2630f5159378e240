using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using FastPt.Cli.Scenarios;
using Spectre.Console;

namespace FastPt.Cli.Rendering;

/// <summary>Renders scenario reports for people: a rule per scenario, its facts, tables and checks, then a summary
/// of all scenarios.</summary>
internal static class ReportRenderer
{
    public static void RenderMachine(IAnsiConsole console, MachineOptions options, int seed)
    {
        string levels = options.PagingMode == PagingMode.FiveLevel ? "5-level" : "4-level";
        console.MarkupLine(CultureInfo.InvariantCulture,
            "[bold]fastpt[/]: simulated machine with [bold]{0}[/] of RAM, {1} paging{2}, seed {3}",
            Markup.Escape(Parsing.SizeParser.Format(options.MemorySize)), levels, options.CheckedMode ? ", checked mode" : "", seed);
    }

    public static void Render(IAnsiConsole console, ScenarioReport report)
    {
        console.WriteLine();
        console.Write(new Rule($"[bold]{Markup.Escape(report.Scenario)}[/]") { Justification = Justify.Left });
        console.MarkupLine($"[grey]{Markup.Escape(report.Description)}[/]");
        if (report.SkipReason is { } reason) console.MarkupLine($"  [yellow]skipped:[/] {Markup.Escape(reason)}");

        if (report.Facts.Count > 0)
        {
            var facts = new Table { Border = TableBorder.Simple, ShowHeaders = false };
            facts.AddColumn("fact");
            facts.AddColumn(new TableColumn("value").RightAligned());
            facts.AddColumn("unit");
            foreach (ReportFact fact in report.Facts)
                facts.AddRow(Markup.Escape(fact.Name), Markup.Escape(fact.Value.ToString()), Markup.Escape(fact.Unit ?? ""));
            console.Write(facts);
        }

        foreach (ReportTable table in report.Tables) console.Write(ToTable(table));

        if (report.Checks.Count > 0)
        {
            var checks = new Table { Border = TableBorder.Simple };
            checks.AddColumn("result");
            checks.AddColumn("check");
            checks.AddColumn("detail");
            foreach (ReportCheck check in report.Checks)
                checks.AddRow(check.Passed ? "[green]PASS[/]" : "[red]FAIL[/]", Markup.Escape(check.Name), $"[grey]{Markup.Escape(check.Detail)}[/]");
            console.Write(checks);
        }
        console.MarkupLine($"  [grey]time:[/] {Markup.Escape(ReportValue.FromDuration(report.Elapsed).ToString())}");
    }

    public static Table ToTable(ReportTable table)
    {
        var result = new Table { Border = TableBorder.Rounded, Title = new TableTitle(Markup.Escape(table.Title)) };
        bool[] numeric = new bool[table.Columns.Count];
        for (int column = 0; column < table.Columns.Count; column++)
        {
            numeric[column] = table.Rows.Count > 0 && table.Rows.All(row => row[column].Kind != ReportValueKind.Text);
            var header = new TableColumn(Markup.Escape(table.Columns[column]));
            if (numeric[column]) header.RightAligned();
            result.AddColumn(header);
        }
        foreach (IReadOnlyList<ReportValue> row in table.Rows)
            result.AddRow(row.Select(value => Markup.Escape(value.ToString())).ToArray());
        return result;
    }

    public static void RenderSummary(IAnsiConsole console, IReadOnlyList<ScenarioReport> reports, TimeSpan total)
    {
        console.WriteLine();
        var summary = new Table { Border = TableBorder.Rounded, Title = new TableTitle("Summary") };
        summary.AddColumn("scenario");
        summary.AddColumn("result");
        summary.AddColumn(new TableColumn("checks").RightAligned());
        summary.AddColumn(new TableColumn("time").RightAligned());
        foreach (ScenarioReport report in reports)
        {
            summary.AddRow(
                Markup.Escape(report.Scenario),
                report.Skipped ? "[yellow]skipped[/]" : report.Passed ? "[green]passed[/]" : "[red]FAILED[/]",
                FormattableString.Invariant($"{report.Checks.Count - report.FailedChecks}/{report.Checks.Count}"),
                Markup.Escape(ReportValue.FromDuration(report.Elapsed).ToString()));
        }
        console.Write(summary);
        int failed = reports.Count(report => !report.Passed);
        int skipped = reports.Count(report => report.Skipped);
        int ran = reports.Count - skipped;
        string skippedNote = skipped == 0 ? "" : FormattableString.Invariant($" ({skipped} skipped on this host)");
        string verdict = failed == 0
            ? FormattableString.Invariant($"[green]{ran} of {ran} scenarios passed[/]{skippedNote}")
            : FormattableString.Invariant($"[red]{failed} of {ran} scenarios failed[/]{skippedNote}");
        console.MarkupLine(CultureInfo.InvariantCulture, "{0} in {1}", verdict, Markup.Escape(ReportValue.FromDuration(total).ToString()));
    }
}
