namespace FastPt.Cli.Scenarios;

/// <summary>How far a scenario has come in its current step.</summary>
/// <param name="Step">What the scenario is doing now.</param>
/// <param name="Completed">Units done in this step.</param>
/// <param name="Total">Units in this step (at least 1).</param>
public readonly record struct ScenarioProgress(string Step, long Completed, long Total)
{
    /// <summary>Completed as a fraction of total, between 0 and 1.</summary>
    public double Fraction => Total <= 0 ? 1 : System.Math.Clamp((double)Completed / Total, 0, 1);
}
