using System;
using System.Linq;
using System.Text.Json;
using FastPt.Cli.Commands;
using Xunit;

namespace FastPt.Tests.Cli;

/// <summary>Issue 9, section 1: the main job's checks measure the truth on every valid size. Sizes up to 1 TiB run
/// always; 2 TiB, 4 TiB and 13 TiB boots take seconds to minutes and many GiB of host memory, so they run only with
/// <c>FASTPT_LONG_TESTS=1</c>.</summary>
public class ScenarioTruthTests
{
    private static bool LongTests => Environment.GetEnvironmentVariable("FASTPT_LONG_TESTS") == "1";

    private static void AssertEveryCheckPasses(params string[] args)
    {
        CliRunner.Result result = CliRunner.Run([.. args, "--json"]);
        using JsonDocument document = JsonDocument.Parse(result.Output);
        string[] failed = document.RootElement.GetProperty("scenarios").EnumerateArray()
            .SelectMany(scenario => scenario.GetProperty("checks").EnumerateArray()
                .Where(check => !check.GetProperty("passed").GetBoolean())
                .Select(check => $"{scenario.GetProperty("name")}: {check.GetProperty("name")}: {check.GetProperty("detail")}"))
            .ToArray();
        Assert.True(failed.Length == 0, string.Join(Environment.NewLine, failed));
        Assert.Equal(ExitCodes.Success, result.ExitCode);
    }

    /// <summary>From 512 GiB the hot-added memory lies in a 512 GiB slot of the direct map that boot RAM does not
    /// use; hot-remove keeps the PUD table it took (as Linux does), which is not a lost page.</summary>
    [Theory]
    [InlineData("512G", 4)]
    [InlineData("1T", 4)]
    [InlineData("512G", 5)]
    public void Hotplug_passes_where_hot_remove_keeps_a_PUD_table(string memory, int levels) =>
        AssertEveryCheckPasses("run", "hotplug", "--memory", memory, "--levels", levels.ToString(System.Globalization.CultureInfo.InvariantCulture));

    [Theory]
    [InlineData("2T")]
    [InlineData("4T")]
    public void Boot_and_hotplug_pass_up_to_4_TiB(string memory)
    {
        Assert.SkipUnless(LongTests, "set FASTPT_LONG_TESTS=1 to run");
        AssertEveryCheckPasses("run", "boot", "hotplug", "--memory", memory);
    }

    /// <summary>13 TiB has 106,496 sections, each with its own 2 MiB vmemmap block: more runs than a dump lists by
    /// default, so the vmemmap check must count rather than dump.</summary>
    [Fact]
    public void Boot_passes_with_more_vmemmap_runs_than_a_default_dump_lists()
    {
        Assert.SkipUnless(LongTests, "set FASTPT_LONG_TESTS=1 to run");
        AssertEveryCheckPasses("run", "boot", "--memory", "13T");
    }
}
