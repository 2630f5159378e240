using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading;
using FastPt.Cli.Rendering;
using FastPt.Cli.Scenarios;
using Spectre.Console;

namespace FastPt.Cli.Commands;

/// <summary>When a loop of scenario rounds stops: after a time, after a number of rounds, or whichever comes
/// first. A round that has started always finishes its scenarios unless the loop is interrupted.</summary>
/// <param name="Duration">Stop starting rounds once this much time has passed, or null.</param>
/// <param name="Repeat">Stop after this many rounds, or null.</param>
internal sealed record LoopLimits(TimeSpan? Duration, int? Repeat)
{
    public string Describe()
    {
        var parts = new List<string>();
        if (Duration is { } duration) parts.Add("for " + ReportValue.FromDuration(duration));
        if (Repeat is { } repeat) parts.Add(repeat == 1 ? "1 round" : string.Create(CultureInfo.InvariantCulture, $"{repeat:N0} rounds"));
        return string.Join(" or ", parts) + (Duration is not null && Repeat is not null ? ", whichever comes first" : "");
    }
}

/// <summary><c>fastpt run … --duration TIME / --repeat N</c> (and the main job with them): the scenarios again and
/// again on one machine (scenarios that pass leave it as they found it; a failed round gets a newly booted one
/// next), so that the gauges stay steady for a profiler (<c>dotnet-counters monitor -n fastpt</c>,
/// <c>dotnet-trace collect -p PID</c>) can attach to a steady workload. A progress line on standard error; a summary
/// per scenario at the end; Ctrl+C (or SIGTERM) ends the loop cleanly with the summary so far, a second Ctrl+C
/// ends the process.</summary>
internal static class ScenarioLoop
{
    private static readonly TimeSpan RedirectedProgressInterval = TimeSpan.FromSeconds(5);

    /// <summary>What one scenario did over the whole loop.</summary>
    private sealed class Tally(string name)
    {
        public string Name { get; } = name;
        public int Runs { get; set; }
        public int Failed { get; set; }
        public int NotRun { get; set; }
        public TimeSpan Total { get; set; }
        public TimeSpan Minimum { get; set; } = TimeSpan.MaxValue;
        public TimeSpan Maximum { get; set; }
        public ScenarioReport? FirstFailure { get; set; }
        public int FirstFailureRound { get; set; }

        public TimeSpan Mean => Runs == 0 ? TimeSpan.Zero : Total / Runs;
    }

    /// <summary>Runs rounds until <paramref name="limits"/> or <paramref name="cancellation"/> stop them; returns 0
    /// when every run of every scenario passed. <paramref name="afterRound"/> (for tests) sees each finished round.</summary>
    public static int Run(IReadOnlyList<IScenario> scenarios, MachineOptions machineOptions, int seed, bool json, CliEnvironment environment,
        LoopLimits limits, Action<int>? afterRound = null, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(scenarios);
        ArgumentNullException.ThrowIfNull(limits);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        var stoppedBy = new StrongBox<string?>();
        using PosixSignalRegistration? interrupt = StopOn(PosixSignal.SIGINT, "SIGINT (Ctrl+C)", stop, stoppedBy);
        using PosixSignalRegistration? terminate = StopOn(PosixSignal.SIGTERM, "SIGTERM", stop, stoppedBy);

        IAnsiConsole console = environment.CreateConsole();

        Tally[] tallies = scenarios.Select(s => new Tally(s.Name)).ToArray();
        Machine? machine = null;
        TimeSpan bootTime = TimeSpan.Zero;
        int boots = 0;
        long start = Stopwatch.GetTimestamp();
        TimeSpan lastProgress = TimeSpan.MinValue;
        int rounds = 0;
        bool interrupted = false;
        try
        {
            while (true)
            {
                TimeSpan elapsed = Stopwatch.GetElapsedTime(start);
                if (stop.IsCancellationRequested) { interrupted = true; break; }
                if (rounds > 0 && limits.Repeat is { } repeat && rounds >= repeat) break;
                if (rounds > 0 && limits.Duration is { } duration && elapsed >= duration) break;

                if (machine is null)
                {
                    long bootStart = Stopwatch.GetTimestamp();
                    machine = CommonOptions.Boot(machineOptions, environment);
                    bootTime = Stopwatch.GetElapsedTime(bootStart);
                    boots++;
                    if (boots == 1 && !json)
                    {
                        ReportRenderer.RenderMachine(console, machineOptions, seed, bootTime);
                        console.MarkupLine(CultureInfo.InvariantCulture, "looping [bold]{0}[/] {1} (Ctrl+C stops with the summary so far)",
                            Markup.Escape(string.Join(", ", scenarios.Select(s => s.Name))), Markup.Escape(limits.Describe()));
                    }
                }
                bool roundPassed = true;
                for (int i = 0; i < scenarios.Count && !stop.IsCancellationRequested; i++)
                {
                    ScenarioReport report = ScenarioRunner.Run(scenarios[i], new ScenarioContext(machine, seed, bootTime));
                    Count(tallies[i], report, rounds + 1);
                    roundPassed &= report.Passed;
                }
                // Scenarios that pass leave the machine as they found it; after a failure, the next round gets a new one.
                if (!roundPassed)
                {
                    machine.Dispose();
                    machine = null;
                }
                if (stop.IsCancellationRequested) { interrupted = true; rounds++; break; }
                rounds++;
                afterRound?.Invoke(rounds);

                elapsed = Stopwatch.GetElapsedTime(start);
                if (environment.Interactive || rounds == 1 || elapsed - lastProgress >= RedirectedProgressInterval)
                {
                    WriteProgress(environment, rounds, elapsed, limits, tallies);
                    lastProgress = elapsed;
                }
            }
        }
        finally
        {
            machine?.Dispose();
        }
        if (environment.Interactive && rounds > 0) environment.Error.WriteLine();
        TimeSpan total = Stopwatch.GetElapsedTime(start);

        // The cancellation token of a caller (a test, an embedder) stops the loop without a signal.
        string? stopReason = interrupted ? Volatile.Read(ref stoppedBy.Value) ?? "cancellation" : null;
        if (json) WriteJson(environment.Output, machineOptions, seed, limits, tallies, rounds, boots, stopReason, total);
        else Render(console, tallies, rounds, boots, stopReason, total);
        if (tallies.Any(t => t.Failed > t.NotRun)) return ExitCodes.ChecksFailed;
        // As a single run: a scenario the machine cannot run (too little memory) is bad input, not a failed check.
        return tallies.Any(t => t.NotRun > 0) ? ExitCodes.BadInput : ExitCodes.Success;
    }

    /// <summary>The first signal cancels the loop and is swallowed; once the loop is stopping, a signal does what
    /// it normally does (ends the process).</summary>
    private static PosixSignalRegistration? StopOn(PosixSignal signal, string name, CancellationTokenSource stop, StrongBox<string?> stoppedBy)
    {
        try
        {
            return PosixSignalRegistration.Create(signal, context =>
            {
                if (stop.IsCancellationRequested) return;
                context.Cancel = true;
                // Named before the cancel, so the loop that sees the cancel reads the name (Cancel is a full fence).
                Interlocked.CompareExchange(ref stoppedBy.Value, name, null);
                stop.Cancel();
            });
        }
        catch (PlatformNotSupportedException)
        {
            return null;
        }
    }

    private static void Count(Tally tally, ScenarioReport report, int round)
    {
        tally.Runs++;
        tally.Total += report.Elapsed;
        if (report.Elapsed < tally.Minimum) tally.Minimum = report.Elapsed;
        if (report.Elapsed > tally.Maximum) tally.Maximum = report.Elapsed;
        if (report.Passed) return;
        tally.Failed++;
        if (report.NotRunReason is not null) tally.NotRun++;
        if (tally.FirstFailure is null)
        {
            tally.FirstFailure = report;
            tally.FirstFailureRound = round;
        }
    }

    private static void WriteProgress(CliEnvironment environment, int rounds, TimeSpan elapsed, LoopLimits limits, Tally[] tallies)
    {
        string of = limits.Duration is { } duration ? " of " + ReportValue.FromDuration(duration) : "";
        string ofRounds = limits.Repeat is { } repeat ? string.Create(CultureInfo.InvariantCulture, $" of {repeat:N0}") : "";
        string line = string.Create(CultureInfo.InvariantCulture,
            $"fastpt: round {rounds:N0}{ofRounds}, {ReportValue.FromDuration(elapsed)}{of}, {Runs(tallies.Sum(t => t.Runs))}, {tallies.Sum(t => t.Failed):N0} failed");
        if (environment.Interactive)
        {
            // One row of the terminal, cut and padded to its width: "\r" then rewrites it in place (a longer line
            // would wrap, and every update would leave a row behind).
            int room = Math.Max(environment.Width - 1, 2);
            environment.Error.Write("\r" + (line.Length > room ? line[..(room - 1)] + "…" : line.PadRight(room)));
        }
        else
        {
            environment.Error.WriteLine(line);
        }
        environment.Error.Flush();
    }

    private static void Render(IAnsiConsole console, Tally[] tallies, int rounds, int boots, string? stopReason, TimeSpan total)
    {
        foreach (Tally tally in tallies.Where(t => t.FirstFailure is not null))
        {
            console.MarkupLine(CultureInfo.InvariantCulture, "[red]{0} failed in {1:N0} of {2:N0} runs; the first failure (round {3:N0}):[/]",
                Markup.Escape(tally.Name), tally.Failed, tally.Runs, tally.FirstFailureRound);
            ReportRenderer.Render(console, tally.FirstFailure!);
        }
        console.WriteLine();
        var summary = new FittedTable(string.Create(CultureInfo.InvariantCulture, $"Summary of {rounds:N0} round{(rounds == 1 ? "" : "s")}"));
        summary.AddColumn("scenario");
        foreach (string column in new[] { "runs", "passed", "failed", "mean", "min", "max" }) summary.AddColumn(column, rightAligned: true);
        foreach (Tally tally in tallies)
        {
            summary.AddRow(
                Markup.Escape(tally.Name), Number(tally.Runs), Number(tally.Runs - tally.Failed),
                tally.Failed == 0 ? "0" : $"[red]{Number(tally.Failed)}[/]",
                Time(tally.Mean), Time(tally.Runs == 0 ? TimeSpan.Zero : tally.Minimum), Time(tally.Maximum));
        }
        summary.Write(console);
        int runs = tallies.Sum(t => t.Runs), failed = tallies.Sum(t => t.Failed);
        string verdict = failed == 0
            ? string.Create(CultureInfo.InvariantCulture, $"[green]{runs:N0} of {runs:N0} scenario runs passed[/]")
            : string.Create(CultureInfo.InvariantCulture, $"[red]{failed:N0} of {runs:N0} scenario runs failed[/]");
        string how = stopReason is null ? "" : $"; stopped by {stopReason}, the summary covers the runs that finished";
        string machines = boots == 1 ? "" : string.Create(CultureInfo.InvariantCulture, $" on {boots:N0} machines (a new one after each failed round)");
        console.MarkupLine(CultureInfo.InvariantCulture, "{0} in {1:N0} round{2}{3}, {4}{5}", verdict, rounds, rounds == 1 ? "" : "s", Markup.Escape(machines),
            Markup.Escape(Time(total)), Markup.Escape(how));
    }

    private static void WriteJson(TextWriter output, MachineOptions options, int seed, LoopLimits limits, Tally[] tallies, int rounds, int boots, string? stopReason, TimeSpan total) =>
        JsonOutput.WriteDocument(output, json =>
        {
            json.WriteMachine(options, seed);
            json.WriteBoolean("passed", tallies.All(t => t.Failed == 0));
            json.WriteNumber("elapsedMilliseconds", total.TotalMilliseconds);
            json.WriteObject("loop", w =>
            {
                if (limits.Duration is { } duration) w.WriteNumber("durationMilliseconds", duration.TotalMilliseconds);
                if (limits.Repeat is { } repeat) w.WriteNumber("repeat", repeat);
                w.WriteNumber("rounds", rounds);
                w.WriteNumber("machinesBooted", boots);
                w.WriteBoolean("interrupted", stopReason is not null);
                if (stopReason is not null) w.WriteString("stoppedBy", stopReason);
            });
            json.WriteObjects("scenarios", tallies, static (w, tally) =>
            {
                w.WriteString("name", tally.Name);
                w.WriteNumber("runs", tally.Runs);
                w.WriteNumber("passed", tally.Runs - tally.Failed);
                w.WriteNumber("failed", tally.Failed);
                w.WriteNumber("meanMilliseconds", tally.Mean.TotalMilliseconds);
                w.WriteNumber("minMilliseconds", tally.Runs == 0 ? 0 : tally.Minimum.TotalMilliseconds);
                w.WriteNumber("maxMilliseconds", tally.Maximum.TotalMilliseconds);
                if (tally.FirstFailure is not { } failure) return;
                w.WriteObject("firstFailure", inner =>
                {
                    inner.WriteNumber("round", tally.FirstFailureRound);
                    inner.WriteObjects("failedChecks", failure.Checks.Where(c => !c.Passed), static (c, check) =>
                    {
                        c.WriteString("name", check.Name);
                        c.WriteString("detail", check.Detail);
                    });
                });
            });
        });

    private static string Runs(int runs) => runs == 1 ? "1 scenario run" : string.Create(CultureInfo.InvariantCulture, $"{runs:N0} scenario runs");

    private static string Number(long value) => value.ToString("N0", CultureInfo.InvariantCulture);

    private static string Time(TimeSpan value) => ReportValue.FromDuration(value).ToString();
}
