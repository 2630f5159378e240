using System;
using System.Collections.Generic;

namespace FastPt.Cli.Scenarios;

/// <summary>Every scenario, in the order the main job runs them. A new scenario is one class plus one line here.</summary>
public static class ScenarioCatalog
{
    /// <summary>All scenarios, in run order.</summary>
    public static IReadOnlyList<IScenario> All { get; } =
    [
        new BootScenario(),
        new PagingScenario(),
        new ReplaySyntheticScenario(),
        new HotplugScenario(),
        new FaultsScenario(),
        new CollapseScenario(),
        new KernelCheckScenario(),
        new HugeTlbScenario(),
    ];

    /// <summary>The scenario called <paramref name="name"/> (case-insensitive), or null.</summary>
    public static IScenario? Find(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        foreach (IScenario scenario in All)
        {
            if (string.Equals(scenario.Name, name, StringComparison.OrdinalIgnoreCase)) return scenario;
        }
        return null;
    }
}
