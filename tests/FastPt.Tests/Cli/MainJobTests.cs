using System;
using System.Linq;
using System.Text.Json;
using FastPt.Cli.Commands;
using FastPt.Cli.KernelCheck;
using Xunit;

namespace FastPt.Tests.Cli;

/// <summary>The main job, as CI runs it. Serial: its kernel-check reads the process-wide VmPTE.</summary>
[Collection("Serial")]
public class MainJobTests
{
    [Fact]
    public void Main_job_runs_every_scenario_and_exits_zero()
    {
        CliRunner.Result result = CliRunner.Run("--memory", "4G");
        Assert.True(result.ExitCode == ExitCodes.Success, result.Output + result.Error);
        Assert.Equal("", result.Error);
        foreach (string name in new[] { "boot", "paging", "replay-synthetic", "hotplug", "faults", "collapse", "kernel-check", "hugetlb" })
            Assert.Contains("── " + name, result.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("FAIL", result.Output, StringComparison.Ordinal);
        if (HostSupport.Unsupported() is { } reason)
        {
            Assert.Contains("skipped: " + reason[..40], result.Output, StringComparison.Ordinal);
            Assert.Contains("7 of 7 scenarios passed (1 skipped on this host)", result.Output, StringComparison.Ordinal);
        }
        else
        {
            Assert.Contains("8 of 8 scenarios passed", result.Output, StringComparison.Ordinal);
        }
    }

    /// <summary>A 4-level machine addresses 64 TiB: with 64 TiB of RAM nothing is left to hot-add, which the
    /// hotplug scenario says rather than failing.</summary>
    [Fact]
    public void The_main_job_on_the_largest_4_level_machine_fails_no_check()
    {
        CliRunner.Result result = CliRunner.Run("--memory", "64T", "--json");
        JsonElement[] scenarios = ScenarioTruthTests.Scenarios(result);
        ScenarioTruthTests.AssertNoCheckFails(scenarios);
        JsonElement hotplug = scenarios.Single(scenario => scenario.GetProperty("name").GetString() == "hotplug");
        Assert.False(hotplug.GetProperty("ran").GetBoolean());
        Assert.Contains("no physical address space is left for hot-add", hotplug.GetProperty("notRunReason").GetString(), StringComparison.Ordinal);
        Assert.All(scenarios.Where(scenario => scenario.GetProperty("name").GetString() != "hotplug"),
            scenario => Assert.True(scenario.GetProperty("passed").GetBoolean()));
        Assert.Equal(ExitCodes.BadInput, result.ExitCode);
    }
}
