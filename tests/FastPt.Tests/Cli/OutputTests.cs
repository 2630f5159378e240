using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text.Json;
using FastPt.Cli.Commands;
using FastPt.Cli.Rendering;
using Spectre.Console;
using Xunit;

namespace FastPt.Tests.Cli;

/// <summary>Issue 9, section 1: output at 80 columns and on narrow terminals keeps every number and heading whole,
/// redirected output takes its width from <c>COLUMNS</c>, and the figures say what they measure.</summary>
public class OutputTests
{
    private static readonly char[] s_separators = [' ', '\n', '\r', '│', '─', '╭', '╮', '╰', '╯', '┬', '┴', '┼', '├', '┤', '(', ')', ';'];

    private static HashSet<string> Words(string text) =>
        text.Split(s_separators, StringSplitOptions.RemoveEmptyEntries).Select(word => word.TrimEnd(',', ':')).ToHashSet(StringComparer.Ordinal);

    private static void AssertFits(string output, int width)
    {
        foreach (string line in output.Split('\n'))
            Assert.True(line.TrimEnd('\r').Length <= width, $"a line is wider than {width} columns: '{line}'");
        Assert.DoesNotContain("…", output, StringComparison.Ordinal);
    }

    /// <summary>Every whole number of the JSON report and every word of every table heading, in the text report.</summary>
    private static void AssertWhole(JsonElement root, string text, int width)
    {
        HashSet<string> words = Words(text);
        foreach (JsonElement scenario in root.GetProperty("scenarios").EnumerateArray())
        {
            IEnumerable<JsonElement> values = scenario.GetProperty("facts").EnumerateArray().Select(fact => fact.GetProperty("value"))
                .Concat(scenario.GetProperty("tables").EnumerateArray().SelectMany(table => table.GetProperty("rows").EnumerateArray().SelectMany(row => row.EnumerateArray())));
            foreach (JsonElement value in values)
            {
                if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt64(out long number) || value.GetRawText().Contains('.', StringComparison.Ordinal)) continue;
                string shown = number.ToString("N0", CultureInfo.InvariantCulture);
                // A real number that happens to be whole (10 MiB of host memory) is shown with decimals ("10.00").
                Assert.True(words.Contains(shown) || words.Any(word => word.StartsWith(shown + ".", StringComparison.Ordinal)),
                    $"{scenario.GetProperty("name")}: {shown} is not whole at {width} columns");
            }
            foreach (JsonElement table in scenario.GetProperty("tables").EnumerateArray())
            {
                foreach (JsonElement column in table.GetProperty("columns").EnumerateArray())
                {
                    foreach (string word in column.GetString()!.Split(' '))
                        Assert.True(words.Contains(word.TrimEnd(',', ':')), $"heading word '{word}' is cut at {width} columns");
                }
            }
        }
    }

    [Theory]
    [InlineData(80)]
    [InlineData(40)]
    public void Scenario_reports_keep_numbers_and_headings_whole(int width)
    {
        string[] args = ["run", "boot", "hotplug", "--memory", "4G"];
        CliRunner.Result json = CliRunner.Run([.. args, "--json"]);
        Assert.Equal(ExitCodes.Success, json.ExitCode);
        using JsonDocument document = JsonDocument.Parse(json.Output);
        CliRunner.Result text = CliRunner.RunOn(width, false, args);
        Assert.True(text.ExitCode == ExitCodes.Success, text.Output);
        AssertFits(text.Output, width);
        AssertWhole(document.RootElement, text.Output, width);
        // A cell holding only a unit is the second half of a figure such as "35.5 ms".
        Assert.DoesNotMatch(@"│\s+(ms|µs)\s+│", text.Output);
        Assert.Contains("nr_memmap_boot_pages", text.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void Headers_are_not_cut_at_120_columns()
    {
        CliRunner.Result text = CliRunner.Run("run", "hotplug", "--memory", "4G");
        Assert.Equal(ExitCodes.Success, text.ExitCode);
        AssertFits(text.Output, 120);
        Assert.Contains("nr_memmap_boot_pages", text.Output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(80)]
    [InlineData(40)]
    public void Dumps_and_lists_fit_narrow_terminals(int width)
    {
        CliRunner.Result wide = CliRunner.RunOn(400, false, "dump", "--memory", "2560M");
        CliRunner.Result narrow = CliRunner.RunOn(width, false, "dump", "--memory", "2560M");
        Assert.Equal(ExitCodes.Success, narrow.ExitCode);
        AssertFits(narrow.Output, width);
        HashSet<string> words = Words(narrow.Output);
        foreach (string word in Words(wide.Output).Where(word => word.Any(char.IsAsciiDigit)))
            Assert.True(words.Contains(word), $"'{word}' is not whole at {width} columns");

        CliRunner.Result list = CliRunner.RunOn(width, false, "scenarios");
        AssertFits(list.Output, width);
        Assert.Contains("replay-synthetic", list.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void A_fitted_table_never_narrows_a_column_below_its_longest_word()
    {
        var table = new FittedTable("t");
        table.AddColumn("state");
        table.AddColumn("nr_memmap_boot_pages", rightAligned: true);
        table.AddColumn("free", rightAligned: true);
        table.AddRow("after removes", "16,384", "264,241,132");
        int[]? widths = table.FitColumns(80);
        Assert.NotNull(widths);
        Assert.True(widths[1] >= "nr_memmap_boot_pages".Length && widths[2] >= "264,241,132".Length && widths[0] >= "removes".Length);
        // Too narrow for the longest words side by side: no widths, the rows are listed instead.
        Assert.Null(table.FitColumns(40));
        using var output = new StringWriter();
        IAnsiConsole console = ConsoleFactory.Create(output, interactive: false, width: 30);
        table.Write(console);
        Assert.Contains("264,241,132", output.ToString(), StringComparison.Ordinal);
        Assert.Contains("nr_memmap_boot_pages", output.ToString(), StringComparison.Ordinal);
        AssertFits(output.ToString(), 30);
    }

    [Fact]
    public void A_short_column_keeps_its_width_and_a_sentence_wraps()
    {
        // Facts as the report writes them: a name, a right-aligned value, a unit.
        var table = new FittedTable { ShowHeaders = false };
        table.AddColumn("fact");
        table.AddColumn("value", rightAligned: true);
        table.AddColumn("unit");
        table.AddRow("translate one address repeated", "7.15", "ns/translation");
        table.AddRow("translation timing", "TryTranslate, fastest of 20 batches of 5,000 (the table: all 20)", "");
        int[]? widths = table.FitColumns(100);
        Assert.NotNull(widths);
        // The name fits whole; the sentence, not a figure, wraps in what is left instead of the table becoming a list.
        Assert.Equal("translate one address repeated".Length, widths[0]);
        Assert.True(widths[1] < "TryTranslate, fastest of 20 batches of 5,000 (the table: all 20)".Length);
        Assert.Equal(100 - (3 * 2 + 3 + 1), widths.Sum());
    }

    [Fact]
    public void A_long_name_may_fold_where_a_number_or_heading_may_not()
    {
        var table = new FittedTable("events");
        table.AddColumn("provider");
        table.AddColumn("event");
        table.AddColumn("count", rightAligned: true);
        table.AddRow("Microsoft-DotNETCore-EventPipe", "InitialInstrumentEnumerationComplete", "1,234,567");
        table.AddRow("FastPt", "0xffff888000000000-0xffff888040000000", "1");
        int[]? widths = table.FitColumns(70);
        Assert.NotNull(widths);
        Assert.True(widths[2] >= "1,234,567".Length);
        // The address holds digits: it is a number and stays whole, so the event column is at least that wide.
        Assert.True(widths[1] >= "0xffff888000000000-0xffff888040000000".Length);
        Assert.True(widths[0] < "Microsoft-DotNETCore-EventPipe".Length);
    }

    [Theory]
    [InlineData("80", 80)]
    [InlineData("40", 40)]
    [InlineData(null, CliTerminal.RedirectedWidth)]
    [InlineData("", CliTerminal.RedirectedWidth)]
    [InlineData("wide", CliTerminal.RedirectedWidth)]
    [InlineData("-3", CliTerminal.RedirectedWidth)]
    [InlineData("5", CliTerminal.MinimumWidth)]
    public void Redirected_output_takes_its_width_from_COLUMNS(string? columns, int expected) =>
        Assert.Equal(expected, CliTerminal.WidthFromColumns(columns));

    [Fact]
    [Trait("Category", "Environment")]
    public void The_process_reads_COLUMNS_when_its_output_is_redirected()
    {
        if (!Console.IsOutputRedirected) return;   // only meaningful under a test runner that captures output
        string? saved = Environment.GetEnvironmentVariable("COLUMNS");
        try
        {
            Environment.SetEnvironmentVariable("COLUMNS", "77");
            Assert.Equal(new CliTerminal(false, 77), CliTerminal.Detect());
        }
        finally
        {
            Environment.SetEnvironmentVariable("COLUMNS", saved);
        }
    }

    [Fact]
    public void Help_wraps_to_the_width()
    {
        CliRunner.Result help = CliRunner.RunOn(60, false, "dump", "--help");
        Assert.Equal(ExitCodes.Success, help.ExitCode);
        foreach (string line in help.Output.Split('\n')) Assert.True(line.TrimEnd('\r').Length <= 60, line);
    }

    // ---- figures that say what they measure

    [Fact]
    public void Boot_time_and_scenario_time_are_told_apart()
    {
        CliRunner.Result result = CliRunner.Run("run", "boot", "--memory", "1G");
        Assert.Equal(ExitCodes.Success, result.ExitCode);
        Assert.Matches(@"booted in \d", result.Output);
        Assert.Contains("boot time (before the scenario)", result.Output, StringComparison.Ordinal);
        Assert.Contains("scenario time (boot not included):", result.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("  time:", result.Output, StringComparison.Ordinal);
        Assert.Matches(@"1 of 1 scenarios passed in .*, after a boot of \d", result.Output);

        using JsonDocument json = JsonDocument.Parse(CliRunner.Run("run", "boot", "--memory", "1G", "--json").Output);
        Assert.True(json.RootElement.GetProperty("bootMilliseconds").GetDouble() > 0);
    }

    [Fact]
    public void One_run_is_one_run_and_one_section_is_one_section()
    {
        CliRunner.Result result = CliRunner.Run("run", "boot", "--memory", "128M");
        Assert.Equal(ExitCodes.Success, result.ExitCode);
        Assert.Contains("1 run maps", result.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("1 runs", result.Output, StringComparison.Ordinal);
        Assert.Matches(@"present sections\s+1\s+section\s", result.Output);
    }

    [Fact]
    public void Translation_cost_is_measured_without_the_checking_and_labelled()
    {
        CliRunner.Result json = CliRunner.Run("run", "paging", "--memory", "4G", "--json");
        Assert.Equal(ExitCodes.Success, json.ExitCode);
        using JsonDocument document = JsonDocument.Parse(json.Output);
        Dictionary<string, JsonElement> facts = document.RootElement.GetProperty("scenarios")[0].GetProperty("facts").EnumerateArray()
            .ToDictionary(fact => fact.GetProperty("name").GetString()!, fact => fact);
        JsonElement hit = facts["translate one address repeated"];
        JsonElement random = facts["translate random addresses"];
        Assert.Equal("ns/translation", hit.GetProperty("unit").GetString());
        Assert.True(hit.GetProperty("value").GetDouble() > 0 && random.GetProperty("value").GetDouble() > 0);
        // What was measured, by the context's own counters: every repeat a TLB hit, the random ones mostly misses.
        Assert.Equal(100, facts["TLB hits, one address repeated"].GetProperty("value").GetDouble());
        double randomHits = facts["TLB hits, random addresses"].GetProperty("value").GetDouble();
        Assert.InRange(randomHits, 0, 60);
        Assert.False(facts.ContainsKey("translate"));
    }
}

/// <summary>Issue 9, section 2 (the CLI side): whatever may take over a second shows progress on a terminal, and
/// nothing on redirected output.</summary>
public class ProgressTests
{
    [Fact]
    public void A_terminal_sees_a_long_boot_progress()
    {
        // Every command that boots shows the boot's steps (Spectre draws the finished task before it clears it).
        CliRunner.Result terminal = CliRunner.RunOn(100, true, "dump", "--memory", "1G", "--va", "0xffff888000000000+4M");
        Assert.Equal(ExitCodes.Success, terminal.ExitCode);
        Assert.Contains("boot: ", terminal.Output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("run", "boot", "--memory", "1G")]
    [InlineData("dump", "--memory", "1G")]
    public void Redirected_output_gets_no_progress(params string[] args)
    {
        CliRunner.Result redirected = CliRunner.RunOn(100, false, args);
        Assert.Equal(ExitCodes.Success, redirected.ExitCode);
        Assert.DoesNotContain("boot: ", redirected.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("walking", redirected.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("\u001b[", redirected.Output, StringComparison.Ordinal);
    }
}
