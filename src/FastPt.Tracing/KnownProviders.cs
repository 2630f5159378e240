namespace FastPt.Tracing;

/// <summary>What the providers a FastPt trace usually holds are, so that a summary can group the runtime's events
/// under one line with a word on why they are there.</summary>
internal static class KnownProviders
{
    public const string Metrics = "System.Diagnostics.Metrics";
    public const string RuntimeRundown = "Microsoft-Windows-DotNETRuntimeRundown";

    /// <summary>One phrase saying what <paramref name="provider"/>'s events are.</summary>
    public static string Describe(string provider) => provider switch
    {
        TraceSummary.ProviderName => "FastPt's events",
        Metrics => "Meter transport (FastPt's values: Meter table)",
        RuntimeRundown => "runtime rundown: method and module names for stacks (--rundown false drops them)",
        "Microsoft-Windows-DotNETRuntime" => "the runtime's own events (GC, JIT, loader)",
        "Microsoft-Windows-DotNETRuntimePrivate" => "the runtime's private events",
        "Microsoft-DotNETCore-EventPipe" => "session header (command line, OS, architecture)",
        "Microsoft-DotNETCore-SampleProfiler" => "CPU samples (dotnet-trace's default profile)",
        "System.Runtime" => "the runtime's EventCounters",
        _ => "another provider",
    };
}
