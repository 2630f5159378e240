using System;
using System.IO;
using System.Linq;
using System.Text.Json;
using System.Threading;
using FastPt.Cli.Commands;
using FastPt.Cli.Scenarios;
using FastPt.Tests.Tools;
using Xunit;

namespace FastPt.Tests.Cli;

/// <summary><c>run … --duration / --repeat</c>: rounds on one machine (a new one after a failed round), a summary per scenario, and a clean stop.</summary>
public class ScenarioLoopTests
{
    private static readonly MachineOptions Small = new() { MemorySize = 1UL << 30 };

    /// <summary>Passes except in the rounds listed; counts the machines it ran on.</summary>
    private sealed class FlakyScenario(params int[] failingRounds) : IScenario
    {
        private int _round;
        public Machine? LastMachine { get; private set; }
        public int DistinctMachines { get; private set; }
        public int Rounds { get; private set; }
        public string Name => "flaky";
        public string Description => "fails in some rounds";

        public ScenarioReport Run(ScenarioContext context)
        {
            _round++;
            Rounds = _round;
            if (!ReferenceEquals(context.Machine, LastMachine)) DistinctMachines++;
            LastMachine = context.Machine;
            var report = new ScenarioReport(this);
            report.Check("round " + _round, !failingRounds.Contains(_round), "round " + _round);
            return report;
        }
    }

    private static (int Code, string Output, string Error) Loop(IScenario scenario, LoopLimits limits, bool json, Action<int>? afterRound = null, CancellationToken token = default)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        int code = ScenarioLoop.Run([scenario], Small, 1, json, new CliEnvironment(output, error, false), limits, afterRound, token);
        return (code, output.ToString(), error.ToString());
    }

    [Fact]
    public void Repeat_runs_that_many_rounds_on_one_machine()
    {
        var scenario = new FlakyScenario();
        (int code, string output, string error) = Loop(scenario, new LoopLimits(null, 3), json: true, token: TestContext.Current.CancellationToken);
        Assert.Equal(ExitCodes.Success, code);
        Assert.Equal(1, scenario.DistinctMachines);
        using JsonDocument document = JsonDocument.Parse(output);
        Assert.Equal(3, document.RootElement.GetProperty("loop").GetProperty("rounds").GetInt32());
        Assert.False(document.RootElement.GetProperty("loop").GetProperty("interrupted").GetBoolean());
        Assert.Equal(3, document.RootElement.GetProperty("scenarios")[0].GetProperty("passed").GetInt32());
        Assert.StartsWith("fastpt: round 1 of 3,", error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_failure_in_one_round_fails_the_loop_and_is_shown_with_its_round()
    {
        var flaky = new FlakyScenario(2);
        (int code, string output, _) = Loop(flaky, new LoopLimits(null, 3), json: false, token: TestContext.Current.CancellationToken);
        Assert.Equal(ExitCodes.ChecksFailed, code);
        Assert.Equal(2, flaky.DistinctMachines);   // round 3 ran on a new machine
        Assert.Contains("in 3 rounds on 2 machines (a new one after each failed round)", output, StringComparison.Ordinal);
        Assert.Contains("flaky failed in 1 of 3 runs; the first failure (round 2):", output, StringComparison.Ordinal);
        Assert.Contains("FAIL", output, StringComparison.Ordinal);
        Assert.Contains("1 of 3 scenario runs failed in 3 rounds", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Duration_stops_starting_rounds_once_the_time_is_up()
    {
        var scenario = new FlakyScenario();
        (int code, string output, _) = Loop(scenario, new LoopLimits(TimeSpan.FromMilliseconds(1), null), json: false, token: TestContext.Current.CancellationToken);
        Assert.Equal(ExitCodes.Success, code);
        // The first round always runs; by its end the millisecond is over.
        Assert.Equal(1, scenario.Rounds);
        Assert.Contains("1 of 1 scenario runs passed in 1 round,", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Cancelling_stops_cleanly_with_the_summary_so_far()
    {
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        var scenario = new FlakyScenario();
        (int code, string output, _) = Loop(scenario, new LoopLimits(TimeSpan.FromHours(1), null), json: false,
            afterRound: round => { if (round == 2) cancel.Cancel(); }, token: cancel.Token);
        Assert.Equal(ExitCodes.Success, code);
        Assert.Equal(1, scenario.DistinctMachines);
        Assert.Contains("2 of 2 scenario runs passed in 2 rounds", output, StringComparison.Ordinal);
        Assert.Contains("stopped by cancellation", output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--duration", "0")]
    [InlineData("--duration", "3x")]
    [InlineData("--duration", "8d")]
    [InlineData("--repeat", "0")]
    public void Bad_loop_limits_are_usage_errors(string option, string value)
    {
        CliRunner.Result result = CliRunner.Run("run", "boot", option, value);
        Assert.Equal(ExitCodes.Usage, result.ExitCode);
        Assert.Contains(option, result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Ctrl_c_on_a_real_process_ends_the_loop_with_the_summary()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux() || OperatingSystem.IsMacOS(), "sends SIGINT with kill(1)");
        Assert.SkipWhen(ChildProcess.SignalIgnored(2), "SIGINT is ignored in this process (a shell's background job?): the child inherits that, and the runtime keeps it ignored");
        using var fastpt = new ChildProcess(ChildProcess.FastPtCommand(), ["run", "boot", "--memory", "1G", "--duration", "10m"], ChildProcess.RepositoryRoot());
        Assert.True(fastpt.WaitForErrorLine(line => line.StartsWith("fastpt: round 1", StringComparison.Ordinal), DiagnosticsTools.Bound), fastpt.Transcript);
        (int? killed, string transcript, _) = ChildProcess.Run("kill", ["-INT", fastpt.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)], ".", DiagnosticsTools.Bound);
        Assert.True(killed == 0, transcript);
        int? code = fastpt.WaitForExit(DiagnosticsTools.Bound);
        Assert.True(code == ExitCodes.Success, $"exit code {code}" + Environment.NewLine + fastpt.Transcript);
        Assert.Contains("Summary of", fastpt.Output, StringComparison.Ordinal);
        Assert.Contains("stopped by SIGINT (Ctrl+C)", fastpt.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void Sigterm_on_a_real_process_ends_the_loop_with_the_summary_and_names_it()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux() || OperatingSystem.IsMacOS(), "sends SIGTERM with kill(1)");
        using var fastpt = new ChildProcess(ChildProcess.FastPtCommand(), ["run", "boot", "--memory", "1G", "--duration", "10m", "--json"], ChildProcess.RepositoryRoot());
        Assert.True(fastpt.WaitForErrorLine(line => line.StartsWith("fastpt: round 1", StringComparison.Ordinal), DiagnosticsTools.Bound), fastpt.Transcript);
        (int? killed, string transcript, _) = ChildProcess.Run("kill", ["-TERM", fastpt.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)], ".", DiagnosticsTools.Bound);
        Assert.True(killed == 0, transcript);
        int? code = fastpt.WaitForExit(DiagnosticsTools.Bound);
        Assert.True(code == ExitCodes.Success, $"exit code {code}" + Environment.NewLine + fastpt.Transcript);
        using var document = System.Text.Json.JsonDocument.Parse(fastpt.Output);
        System.Text.Json.JsonElement loop = document.RootElement.GetProperty("loop");
        Assert.True(loop.GetProperty("interrupted").GetBoolean());
        Assert.Equal("SIGTERM", loop.GetProperty("stoppedBy").GetString());
    }
}
