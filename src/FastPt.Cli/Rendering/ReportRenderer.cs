using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using FastPt.Cli.Scenarios;
using Spectre.Console;

namespace FastPt.Cli.Rendering;

/// <summary>Renders scenario reports for people: a rule per scenario, its facts, tables and checks, then a summary
/// of all scenarios. Every table fits the console's width without breaking a number (<see cref="FittedTable"/>).</summary>
internal static class ReportRenderer
{
    /// <summary>The machine every scenario runs on, and how long booting it took (which no scenario's time
    /// includes).</summary>
    public static void RenderMachine(IAnsiConsole console, MachineOptions options, int seed, TimeSpan bootTime)
    {
        ArgumentNullException.ThrowIfNull(options);
        string levels = options.PagingMode == PagingMode.FiveLevel ? "5-level" : "4-level";
        console.MarkupLine(CultureInfo.InvariantCulture,
            "[bold]fastpt[/]: simulated machine with [bold]{0}[/] of RAM, {1} paging{2}, seed {3}; booted in {4}",
            Markup.Escape(Parsing.SizeParser.Format(options.MemorySize)), levels, options.CheckedMode ? ", checked mode" : "", seed,
            Markup.Escape(ReportValue.FromDuration(bootTime).ToString()));
    }

    public static void Render(IAnsiConsole console, ScenarioReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        console.WriteLine();
        TextFormat.Heading(console, $"[bold]{Markup.Escape(report.Scenario)}[/]");
        console.MarkupLine($"[grey]{Markup.Escape(report.Description)}[/]");
        if (report.SkipReason is { } skip) console.MarkupLine($"  [yellow]skipped:[/] {Markup.Escape(skip)}");
        if (report.NotRunReason is { } reason) console.MarkupLine($"[yellow]not run: {Markup.Escape(reason)}[/]");

        if (report.Facts.Count > 0)
        {
            var facts = new FittedTable { Border = TableBorder.Simple, ShowHeaders = false };
            facts.AddColumn("fact");
            facts.AddColumn("value", rightAligned: true);
            facts.AddColumn("unit");
            foreach (ReportFact fact in report.Facts)
                facts.AddRow(Markup.Escape(fact.Name), Markup.Escape(fact.Value.ToString()), Markup.Escape(UnitOf(fact)));
            facts.Write(console);
        }

        foreach (ReportTable table in report.Tables) ToTable(table).Write(console);

        if (report.Checks.Count > 0)
        {
            var checks = new FittedTable { Border = TableBorder.Simple };
            checks.AddColumn("result");
            checks.AddColumn("check");
            checks.AddColumn("detail");
            foreach (ReportCheck check in report.Checks)
                checks.AddRow(check.Passed ? "[green]PASS[/]" : "[red]FAIL[/]", Markup.Escape(check.Name), $"[grey]{Markup.Escape(check.Detail)}[/]");
            checks.Write(console);
        }
        console.MarkupLine($"  [grey]scenario time (boot not included):[/] {Markup.Escape(ReportValue.FromDuration(report.Elapsed).ToString())}");
    }

    /// <summary>The unit of a fact as it reads after its value: "1 section", "2 sections".</summary>
    public static string UnitOf(ReportFact fact)
    {
        ArgumentNullException.ThrowIfNull(fact);
        string unit = fact.Unit ?? "";
        bool plainPluralWord = unit.Length > 1 && unit[^1] == 's' && unit.All(char.IsAsciiLetterLower);
        return fact.Value.Kind == ReportValueKind.WholeNumber && fact.Value.WholeNumber == 1 && plainPluralWord ? unit[..^1] : unit;
    }

    public static FittedTable ToTable(ReportTable table)
    {
        ArgumentNullException.ThrowIfNull(table);
        var result = new FittedTable(Markup.Escape(table.Title));
        for (int column = 0; column < table.Columns.Count; column++)
        {
            bool numeric = table.Rows.Count > 0 && table.Rows.All(row => row[column].Kind != ReportValueKind.Text);
            result.AddColumn(Markup.Escape(table.Columns[column]), rightAligned: numeric);
        }
        foreach (IReadOnlyList<ReportValue> row in table.Rows)
            result.AddRow(row.Select(value => Markup.Escape(value.ToString())).ToArray());
        return result;
    }

    public static void RenderSummary(IAnsiConsole console, IReadOnlyList<ScenarioReport> reports, TimeSpan bootTime, TimeSpan total)
    {
        ArgumentNullException.ThrowIfNull(reports);
        console.WriteLine();
        var summary = new FittedTable("Summary");
        summary.AddColumn("scenario");
        summary.AddColumn("result");
        summary.AddColumn("checks", rightAligned: true);
        summary.AddColumn("time", rightAligned: true);
        foreach (ScenarioReport report in reports)
        {
            summary.AddRow(
                Markup.Escape(report.Scenario),
                report.Skipped ? "[yellow]skipped[/]" : report.NotRunReason is not null ? "[yellow]not run[/]" : report.Passed ? "[green]passed[/]" : "[red]FAILED[/]",
                FormattableString.Invariant($"{report.Checks.Count - report.FailedChecks}/{report.Checks.Count}"),
                Markup.Escape(ReportValue.FromDuration(report.Elapsed).ToString()));
        }
        summary.Write(console);
        int failed = reports.Count(report => report.NotRunReason is null && !report.Passed);
        int notRun = reports.Count(report => report.NotRunReason is not null);
        int skipped = reports.Count(report => report.Skipped);
        int counted = reports.Count - skipped;
        int passed = counted - failed - notRun;
        string verdict = failed > 0
            ? FormattableString.Invariant($"[red]{failed} of {counted} scenarios failed[/]")
            : FormattableString.Invariant($"[green]{passed} of {counted} scenarios passed[/]");
        if (skipped > 0) verdict += FormattableString.Invariant($" ({skipped} skipped on this host)");
        if (notRun > 0) verdict += FormattableString.Invariant($"; [yellow]{notRun} could not run on this machine[/]");
        console.MarkupLine(CultureInfo.InvariantCulture, "{0} in {1}, after a boot of {2}", verdict,
            Markup.Escape(ReportValue.FromDuration(total).ToString()), Markup.Escape(ReportValue.FromDuration(bootTime).ToString()));
    }
}
