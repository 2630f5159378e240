namespace FastPt.Cli.Scenarios;

/// <summary>An experiment on a booted machine that measures something and verifies what it claims. A scenario
/// returns data only (a <see cref="ScenarioReport"/>); rendering it is the caller's business. Add a scenario by
/// writing one class and listing it in <see cref="ScenarioCatalog"/>.</summary>
public interface IScenario
{
    /// <summary>The name used on the command line (lower case, words joined by '-').</summary>
    string Name { get; }

    /// <summary>One sentence saying what the scenario does.</summary>
    string Description { get; }

    /// <summary>Runs the scenario on <paramref name="context"/>'s machine and reports facts, tables and checks.
    /// The machine is left as the scenario found it when the scenario's own checks pass.</summary>
    ScenarioReport Run(ScenarioContext context);
}
