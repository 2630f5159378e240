using System;
using System.Collections.Generic;
using System.Linq;

namespace FastPt.Cli.Scenarios;

/// <summary>One named fact of a report, such as "present pages = 16,777,216".</summary>
/// <param name="Name">What the fact is.</param>
/// <param name="Value">Its value.</param>
/// <param name="Unit">The unit of a number ("pages", "KiB"...), or null.</param>
public sealed record ReportFact(string Name, ReportValue Value, string? Unit);

/// <summary>A table of a report: a title, column headings and rows of values.</summary>
/// <param name="Title">What the table shows.</param>
/// <param name="Columns">Column headings.</param>
/// <param name="Rows">Rows, each with one value per column.</param>
public sealed record ReportTable(string Title, IReadOnlyList<string> Columns, IReadOnlyList<IReadOnlyList<ReportValue>> Rows);

/// <summary>A claim the scenario verified, and whether it held.</summary>
/// <param name="Name">The claim.</param>
/// <param name="Passed">True when it held.</param>
/// <param name="Detail">The numbers behind the verdict (expected and actual).</param>
public sealed record ReportCheck(string Name, bool Passed, string Detail);

/// <summary>What a scenario found: ordered facts, tables, checks and the time it took. Scenarios fill it through
/// the Add methods and <see cref="Check"/>; renderers read it.</summary>
public sealed class ScenarioReport
{
    private readonly List<ReportFact> _facts = [];
    private readonly List<ReportTable> _tables = [];
    private readonly List<ReportCheck> _checks = [];

    /// <summary>Starts an empty report for <paramref name="scenario"/>.</summary>
    public ScenarioReport(IScenario scenario)
    {
        ArgumentNullException.ThrowIfNull(scenario);
        Scenario = scenario.Name;
        Description = scenario.Description;
    }

    /// <summary>Starts an empty report with a name and description.</summary>
    public ScenarioReport(string scenario, string description)
    {
        ArgumentNullException.ThrowIfNull(scenario);
        ArgumentNullException.ThrowIfNull(description);
        Scenario = scenario;
        Description = description;
    }

    /// <summary>The scenario's name.</summary>
    public string Scenario { get; }

    /// <summary>The scenario's description.</summary>
    public string Description { get; }

    /// <summary>Facts in the order they were added.</summary>
    public IReadOnlyList<ReportFact> Facts => _facts;

    /// <summary>Tables in the order they were added.</summary>
    public IReadOnlyList<ReportTable> Tables => _tables;

    /// <summary>Checks in the order they were made.</summary>
    public IReadOnlyList<ReportCheck> Checks => _checks;

    /// <summary>Wall-clock time of the whole scenario (set by whoever ran it).</summary>
    public TimeSpan Elapsed { get; set; }

    /// <summary>Why the scenario does not apply to this host (kernel-check off Linux), or null. A skipped scenario
    /// makes no checks and counts as passed: nothing was wrong with the run.</summary>
    public string? SkipReason { get; private set; }

    /// <summary>True when the scenario does not apply to this host (<see cref="SkipReason"/> says why).</summary>
    public bool Skipped => SkipReason is not null;

    /// <summary>Why the scenario could not run on this machine (it needs more memory than the machine has), or null
    /// when it ran. A scenario that did not run has no verdict: it neither passed nor failed a check.</summary>
    public string? NotRunReason { get; private set; }

    /// <summary>A report for <paramref name="scenario"/>, which the machine could not run, and why.</summary>
    public static ScenarioReport NotRun(IScenario scenario, string reason)
    {
        ArgumentNullException.ThrowIfNull(reason);
        return new ScenarioReport(scenario) { NotRunReason = reason };
    }

    /// <summary>True when every check passed (and there was at least one), or the scenario was skipped.</summary>
    public bool Passed => Skipped || (_checks.Count > 0 && _checks.All(check => check.Passed));

    /// <summary>Number of checks that failed.</summary>
    public int FailedChecks => _checks.Count(check => !check.Passed);

    /// <summary>Adds a whole-number fact.</summary>
    public void AddFact(string name, long value, string? unit = null) => AddFact(name, ReportValue.FromWholeNumber(value), unit);

    /// <summary>Adds a real-number fact.</summary>
    public void AddFact(string name, double value, string? unit = null) => AddFact(name, ReportValue.FromRealNumber(value), unit);

    /// <summary>Adds a duration.</summary>
    public void AddFact(string name, TimeSpan value) => AddFact(name, ReportValue.FromDuration(value), null);

    /// <summary>Adds a text fact.</summary>
    public void AddFact(string name, string value) => AddFact(name, ReportValue.FromText(value), null);

    /// <summary>Adds a fact of any kind.</summary>
    public void AddFact(string name, ReportValue value, string? unit)
    {
        ArgumentNullException.ThrowIfNull(name);
        _facts.Add(new ReportFact(name, value, unit));
    }

    /// <summary>Adds a table.</summary>
    public void AddTable(ReportTable table)
    {
        ArgumentNullException.ThrowIfNull(table);
        foreach (IReadOnlyList<ReportValue> row in table.Rows)
        {
            if (row.Count != table.Columns.Count)
                throw new ArgumentException($"Table '{table.Title}' has {table.Columns.Count} columns but a row has {row.Count} values.", nameof(table));
        }
        _tables.Add(table);
    }

    /// <summary>Marks the scenario as not run on this host, with a one-line reason; it makes no checks.</summary>
    public void Skip(string reason)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(reason);
        if (_checks.Count > 0) throw new InvalidOperationException("A scenario that made checks cannot be skipped.");
        SkipReason = reason;
    }

    /// <summary>Records a check and returns its verdict.</summary>
    /// <param name="name">The claim being verified.</param>
    /// <param name="passed">Whether it held.</param>
    /// <param name="detail">Expected and actual values, so a failure explains itself.</param>
    public bool Check(string name, bool passed, string detail)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(detail);
        if (Skipped) throw new InvalidOperationException("A skipped scenario makes no checks.");
        _checks.Add(new ReportCheck(name, passed, detail));
        return passed;
    }

    /// <summary>Records that two numbers are equal.</summary>
    public bool CheckEqual(string name, long expected, long actual) =>
        Check(name, expected == actual, FormattableString.Invariant($"expected {expected:N0}, got {actual:N0}"));
}
