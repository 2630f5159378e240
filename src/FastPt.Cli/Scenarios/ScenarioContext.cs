using System;
using System.Diagnostics;

namespace FastPt.Cli.Scenarios;

/// <summary>What a scenario runs on: a booted machine, a seed for every random choice, and an optional progress
/// sink.</summary>
public sealed class ScenarioContext
{
    /// <summary>Creates a context around a machine that is already booted.</summary>
    /// <param name="machine">The machine to run on; the context does not own it.</param>
    /// <param name="seed">Seed for every random choice the scenario makes.</param>
    /// <param name="bootTime">How long booting <paramref name="machine"/> took, when the caller measured it.</param>
    /// <param name="progress">Receives progress reports, or null.</param>
    public ScenarioContext(Machine machine, int seed, TimeSpan? bootTime = null, IProgress<ScenarioProgress>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(machine);
        Machine = machine;
        Seed = seed;
        BootTime = bootTime;
        Progress = progress;
    }

    /// <summary>The machine.</summary>
    public Machine Machine { get; }

    /// <summary>The options the machine was booted with.</summary>
    public MachineOptions Options => Machine.Options;

    /// <summary>Seed for every random choice, so that a run can be repeated exactly.</summary>
    public int Seed { get; }

    /// <summary>How long the machine took to boot, when known.</summary>
    public TimeSpan? BootTime { get; }

    /// <summary>Receives progress reports, or null when nobody watches.</summary>
    public IProgress<ScenarioProgress>? Progress { get; }

    /// <summary>Boots a machine with <paramref name="options"/>, measuring the boot, and wraps it in a context.
    /// The caller owns the machine (<see cref="Machine"/>) and disposes it.</summary>
    public static ScenarioContext Boot(MachineOptions options, int seed, IProgress<ScenarioProgress>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        long start = Stopwatch.GetTimestamp();
        var machine = new Machine(options);
        return new ScenarioContext(machine, seed, Stopwatch.GetElapsedTime(start), progress);
    }

    /// <summary>Reports progress if anyone listens.</summary>
    public void ReportProgress(string step, long completed, long total) =>
        Progress?.Report(new ScenarioProgress(step, completed, total));
}
