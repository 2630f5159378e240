using System;
using System.Diagnostics;

namespace FastPt.Cli.Scenarios;

/// <summary>Runs scenarios and times them, turning an exception that escapes a scenario into a failed check.</summary>
public static class ScenarioRunner
{
    /// <summary>Boots a machine with <paramref name="options"/>, runs <paramref name="scenario"/> on it, disposes
    /// the machine and returns the report with its elapsed time (boot excluded).</summary>
    public static ScenarioReport Run(IScenario scenario, MachineOptions options, int seed, IProgress<ScenarioProgress>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(scenario);
        ArgumentNullException.ThrowIfNull(options);
        ScenarioContext context = ScenarioContext.Boot(options, seed, progress);
        using (context.Machine)
        {
            return Run(scenario, context);
        }
    }

    /// <summary>Runs <paramref name="scenario"/> in an existing context and returns its report with the elapsed
    /// time. An exception escaping the scenario becomes a failed check in a report of its own.</summary>
    public static ScenarioReport Run(IScenario scenario, ScenarioContext context)
    {
        ArgumentNullException.ThrowIfNull(scenario);
        ArgumentNullException.ThrowIfNull(context);
        long start = Stopwatch.GetTimestamp();
        ScenarioReport report;
#pragma warning disable CA1031 // A crashing scenario must become a failed report, whatever it threw.
        try
        {
            report = scenario.Run(context);
        }
        catch (Exception exception) when (IsOutOfMemory(exception))
        {
            // The machine is too small for what the scenario does (a 4 MiB machine cannot hold the tables of a
            // gigabyte of 4 KiB pages): that is no failed check, and no pass either.
            report = ScenarioReport.NotRun(scenario, $"the {Parsing.SizeParser.Format(context.Options.MemorySize)} machine has too little free memory for it: {exception.Message}");
        }
        catch (Exception exception)
        {
            report = new ScenarioReport(scenario);
            report.Check("scenario ran to completion", false, $"{exception.GetType().Name}: {exception.Message}");
        }
#pragma warning restore CA1031
        report.Elapsed = Stopwatch.GetElapsedTime(start);
        return report;
    }

    /// <summary>True for the engine's refusals for want of free frames.</summary>
    public static bool IsOutOfMemory(Exception exception) => exception switch
    {
        OutOfFramesException => true,
        PagingException paging => paging.Error == PagingError.OutOfFrames,
        HotplugException hotplug => hotplug.Error == HotplugError.OutOfMemory,
        _ => false,
    };
}
