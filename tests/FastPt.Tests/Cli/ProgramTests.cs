using System;
using System.Linq;
using System.Text.Json;
using FastPt.Cli.Commands;
using Xunit;

namespace FastPt.Tests.Cli;

public class ProgramTests
{
    [Fact]
    public void Json_report_is_valid_and_carries_numbers_as_numbers()
    {
        CliRunner.Result result = CliRunner.Run("run", "boot", "paging", "--memory", "2G", "--levels", "5", "--seed", "9", "--json");
        Assert.Equal(ExitCodes.Success, result.ExitCode);
        using JsonDocument document = JsonDocument.Parse(result.Output);
        JsonElement root = document.RootElement;
        Assert.True(root.GetProperty("passed").GetBoolean());
        Assert.Equal(2UL << 30, root.GetProperty("machine").GetProperty("memoryBytes").GetUInt64());
        Assert.Equal(5, root.GetProperty("machine").GetProperty("pagingLevels").GetInt32());
        Assert.Equal(9, root.GetProperty("machine").GetProperty("seed").GetInt32());
        JsonElement[] scenarios = root.GetProperty("scenarios").EnumerateArray().ToArray();
        Assert.Equal(["boot", "paging"], scenarios.Select(s => s.GetProperty("name").GetString()));
        JsonElement presentPages = scenarios[0].GetProperty("facts").EnumerateArray().Single(f => f.GetProperty("name").GetString() == "present pages");
        Assert.Equal(524_288, presentPages.GetProperty("value").GetInt64());
        Assert.All(scenarios, s => Assert.All(s.GetProperty("checks").EnumerateArray(), c => Assert.True(c.GetProperty("passed").GetBoolean())));
    }

    [Fact]
    public void Scenarios_command_lists_the_catalog()
    {
        CliRunner.Result result = CliRunner.Run("scenarios");
        Assert.Equal(ExitCodes.Success, result.ExitCode);
        Assert.Contains("boot", result.Output, StringComparison.Ordinal);
        Assert.Contains("paging", result.Output, StringComparison.Ordinal);
        Assert.Contains("replay-synthetic", result.Output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--help")]
    [InlineData("run", "--help")]
    [InlineData("scenarios", "--help")]
    [InlineData("replay", "--help")]
    [InlineData("dump", "-h")]
    public void Help_works_everywhere(params string[] args)
    {
        CliRunner.Result result = CliRunner.Run(args);
        Assert.Equal(ExitCodes.Success, result.ExitCode);
        Assert.Contains("Usage:", result.Output, StringComparison.Ordinal);
        Assert.Contains("fastpt", result.Output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("unknown scenario 'nope'", "run", "nope")]
    [InlineData("'fastpt run' needs <scenario> (see 'fastpt run --help')", "run")]
    [InlineData("--memory", "--memory", "12Q")]
    [InlineData("multiple of 2 MiB", "--memory", "3M")]
    [InlineData("64 TiB", "--memory", "128T")]
    [InlineData("'6'", "--levels", "6")]
    [InlineData("--bogus", "--bogus")]
    [InlineData("--seed", "--seed", "many")]
    [InlineData("give either --pages FILE or --lackey FILE", "replay")]
    [InlineData("not found", "replay", "--pages", "/nonexistent/pages.txt")]
    [InlineData("not 4 KiB aligned", "replay", "--pages", "x", "--base", "0x123")]
    [InlineData("--va", "dump", "--va", "0x2000-0x1000")]
    [InlineData("--va", "dump", "--va", "nonsense")]
    [InlineData("not canonical", "dump", "--va", "0x1000-0x800000000000000", "--memory", "1G")]
    [InlineData("--base applies to a page file", "dump", "--base", "0x1000")]
    [InlineData("not found", "dump", "--pages", "/nonexistent/pages.txt")]
    [InlineData("Unrecognized command", "frobnicate")]
    public void Bad_arguments_give_a_message_and_exit_code_2(string expectedMessage, params string[] args)
    {
        CliRunner.Result result = CliRunner.Run(args);
        Assert.Equal(ExitCodes.Usage, result.ExitCode);
        Assert.Contains(expectedMessage, result.Error, StringComparison.Ordinal);
        Assert.StartsWith("fastpt: ", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Dump_without_pages_shows_the_direct_map_and_vmemmap_of_ram()
    {
        CliRunner.Result result = CliRunner.Run("dump", "--memory", "2560M");
        Assert.Equal(ExitCodes.Success, result.ExitCode);
        Assert.Contains("direct map of all RAM 0xffff888000000000-0xffff8880a0000000", result.Output, StringComparison.Ordinal);
        Assert.Contains("vmemmap of all RAM 0xffffea0000000000-", result.Output, StringComparison.Ordinal);
        // 2.5 GiB: two 1 GiB leaves, then 256 leaves of 2 MiB.
        Assert.Matches(@"0xffff888000000000 .* 0x0000000000000000 .* 1G .* 2 ", result.Output);
        Assert.Matches(@"0xffff888080000000 .* 0x0000000080000000 .* 2M .* 256 ", result.Output);
    }

    [Fact]
    public void Dump_of_a_kernel_range_with_five_levels_uses_the_five_level_direct_map()
    {
        CliRunner.Result result = CliRunner.Run("dump", "--memory", "1G", "--levels", "5", "--va", "0xff11000000000000+1G");
        Assert.Equal(ExitCodes.Success, result.ExitCode);
        Assert.Contains("0xff11000000000000", result.Output, StringComparison.Ordinal);
        Assert.Matches(@"1G\s+│\s+1\s+│\s+1\s+│\s+1G", result.Output);
    }
}
