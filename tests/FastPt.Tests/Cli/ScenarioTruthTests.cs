using System;
using System.Linq;
using System.Text.Json;
using FastPt.Cli.Commands;
using Xunit;

namespace FastPt.Tests.Cli;

/// <summary>Issue 9, section 1: the main job's checks measure the truth on every valid size, from the smallest
/// machine that boots to the 64 TiB the 4-level machine addresses. Serial, as <see cref="MainJobTests"/>: the main
/// job's kernel-check reads the process-wide VmPTE, which tests running beside it change.</summary>
[Collection("Serial")]
public class ScenarioTruthTests
{
    internal static JsonElement[] Scenarios(CliRunner.Result result)
    {
        using JsonDocument document = JsonDocument.Parse(result.Output);
        return document.RootElement.GetProperty("scenarios").EnumerateArray().Select(scenario => scenario.Clone()).ToArray();
    }

    internal static void AssertNoCheckFails(JsonElement[] scenarios)
    {
        string[] failed = scenarios
            .SelectMany(scenario => scenario.GetProperty("checks").EnumerateArray()
                .Where(check => !check.GetProperty("passed").GetBoolean())
                .Select(check => $"{scenario.GetProperty("name")}: {check.GetProperty("name")}: {check.GetProperty("detail")}"))
            .ToArray();
        Assert.True(failed.Length == 0, string.Join(Environment.NewLine, failed));
    }

    private static void AssertEveryCheckPasses(params string[] args)
    {
        CliRunner.Result result = CliRunner.Run([.. args, "--json"]);
        JsonElement[] scenarios = Scenarios(result);
        AssertNoCheckFails(scenarios);
        Assert.All(scenarios, scenario => Assert.True(scenario.GetProperty("ran").GetBoolean(), scenario.GetProperty("name").GetString()));
        Assert.Equal(ExitCodes.Success, result.ExitCode);
    }

    /// <summary>From 512 GiB the hot-added memory lies in a 512 GiB slot of the direct map that boot RAM does not
    /// use; hot-remove keeps the PUD table it took (as Linux does), which is not a lost page.</summary>
    [Theory]
    [InlineData("512G", 4)]
    [InlineData("1T", 4)]
    [InlineData("2T", 4)]
    [InlineData("4T", 4)]
    [InlineData("512G", 5)]
    public void Hotplug_passes_where_hot_remove_keeps_a_PUD_table(string memory, int levels) =>
        AssertEveryCheckPasses("run", "boot", "hotplug", "--memory", memory, "--levels", levels.ToString(System.Globalization.CultureInfo.InvariantCulture));

    /// <summary>The vmemmap check counts the whole vmemmap (no dump limit) at sizes where a dump of 100,000 runs of
    /// 2 MiB (195 GiB of vmemmap, 12.2 TiB of RAM) could not have covered it.</summary>
    [Theory]
    [InlineData("13T", 4)]
    [InlineData("64T", 5)]
    public void Boot_passes_where_the_vmemmap_is_larger_than_a_default_dump_covers(string memory, int levels) =>
        AssertEveryCheckPasses("run", "boot", "--memory", memory, "--levels", levels.ToString(System.Globalization.CultureInfo.InvariantCulture));

    /// <summary>The paging scenario maps frames it owns: mapping RAM it did not own let a region alias page tables
    /// the first pass had freed, and checked mode reported a use after free on small machines (found by the
    /// property test).</summary>
    [Theory]
    [InlineData("64M", "3")]
    [InlineData("64M", "12345")]
    [InlineData("4G", "3")]
    public void Paging_in_checked_mode_touches_no_freed_frame(string memory, string seed) =>
        AssertEveryCheckPasses("run", "paging", "--checked", "--memory", memory, "--seed", seed);
}
