using System;
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
        foreach (string name in new[] { "boot", "paging", "replay-synthetic", "hotplug", "faults", "kernel-check" })
            Assert.Contains("── " + name, result.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("FAIL", result.Output, StringComparison.Ordinal);
        if (HostSupport.Unsupported() is { } reason)
        {
            Assert.Contains("skipped: " + reason[..40], result.Output, StringComparison.Ordinal);
            Assert.Contains("5 of 5 scenarios passed (1 skipped on this host)", result.Output, StringComparison.Ordinal);
        }
        else
        {
            Assert.Contains("6 of 6 scenarios passed", result.Output, StringComparison.Ordinal);
        }
    }
}
