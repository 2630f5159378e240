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

    /// <summary>Receives the states worth looking at that the scenario reaches (<see cref="Checkpoint"/>), or
    /// null when nobody looks (<c>fastpt map --scenario</c> draws the first one).</summary>
    public Action<ScenarioCheckpoint>? Checkpoints { get; init; }

    /// <summary>Says the scenario has reached <paramref name="state"/>, a state worth a picture, with the user
    /// address space it shows, if any. Whoever listens looks at the machine during the call.</summary>
    public void Checkpoint(string state, AddressSpace? space = null) => Checkpoints?.Invoke(new ScenarioCheckpoint(state, Machine, space));

    /// <summary>Reports progress if anyone listens.</summary>
    public void ReportProgress(string step, long completed, long total) =>
        Progress?.Report(new ScenarioProgress(step, completed, total));
}

/// <summary>A state a scenario reached and reported with <see cref="ScenarioContext.Checkpoint"/>; valid only
/// during the call that reports it.</summary>
/// <param name="State">What the state is, in words ("after the hot-adds").</param>
/// <param name="Machine">The machine.</param>
/// <param name="Space">The user address space the state shows, or null.</param>
public sealed record ScenarioCheckpoint(string State, Machine Machine, AddressSpace? Space);
