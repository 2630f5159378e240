using System;
using System.IO;
using System.IO.Compression;
using System.Linq;
using System.Text;
using System.Text.Json;
using FastPt.Cli.Commands;
using Xunit;

namespace FastPt.Tests.Cli;

/// <summary>Issue 9, section 1: options in every position, no unhandled exception, messages that say what is wrong,
/// exit codes. Every case runs through <c>Program.Run</c>.</summary>
public class CommandLineTests
{
    private static JsonElement Machine(CliRunner.Result result)
    {
        Assert.True(result.ExitCode == ExitCodes.Success, result.Output + result.Error);
        using JsonDocument document = JsonDocument.Parse(result.Output);
        return document.RootElement.GetProperty("machine").Clone();
    }

    internal static void AssertUsageError(CliRunner.Result result, string expected)
    {
        Assert.True(result.ExitCode == ExitCodes.Usage, $"exit code {result.ExitCode}: {result.Output}{result.Error}");
        Assert.Contains(expected, result.Error, StringComparison.Ordinal);
        Assert.StartsWith("fastpt: ", result.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", result.Error, StringComparison.Ordinal);
    }

    // ---- options before the command apply

    [Fact]
    public void Memory_before_the_command_applies_to_it()
    {
        JsonElement machine = Machine(CliRunner.Run("--memory", "3G", "run", "boot", "--json"));
        Assert.Equal(3UL << 30, machine.GetProperty("memoryBytes").GetUInt64());
    }

    [Fact]
    public void Levels_and_json_before_the_command_apply_to_it()
    {
        JsonElement machine = Machine(CliRunner.Run("--levels", "5", "--json", "run", "boot", "--memory", "1G"));
        Assert.Equal(5, machine.GetProperty("pagingLevels").GetInt32());
    }

    [Fact]
    public void An_option_only_the_subcommand_knows_may_also_come_first()
    {
        // 2.5 GiB: the direct map is two runs (1 GiB leaves, then 2 MiB leaves).
        CliRunner.Result result = CliRunner.Run("--rows", "1", "-m", "2560M", "dump");
        Assert.True(result.ExitCode == ExitCodes.Success, result.Error);
        Assert.Matches(@"… \d+ more runs? not listed \(--rows\)", result.Output);
    }

    [Theory]
    [InlineData("'abc' is not a size", "--memory", "abc", "run", "boot")]
    [InlineData("must be a non-zero multiple of 2 MiB", "--memory", "3M", "run", "boot")]
    [InlineData("'--levels' is not an option of 'fastpt scenarios'", "--levels", "5", "scenarios")]
    [InlineData("'--seed' is not an option of 'fastpt dump'", "--seed", "3", "dump")]
    [InlineData("write it after '--'", "--levels", "5", "trace", "record", "--", "run", "boot")]
    [InlineData("'--bogus' is not an option of 'fastpt replay'", "--bogus", "replay", "--pages", "x")]
    [InlineData("expects a single argument", "--memory", "1G", "run", "boot", "--memory", "2G")]
    public void An_option_before_the_command_is_checked_like_one_after_it(string expected, params string[] args) =>
        AssertUsageError(CliRunner.Run(args), expected);

    // ---- no unhandled exceptions

    [Theory]
    [InlineData("--memory", "2M")]
    [InlineData("run", "boot", "--memory", "2M")]
    [InlineData("run", "paging", "hotplug", "--memory", "2M", "--json")]
    [InlineData("dump", "--memory", "2M")]
    [InlineData("--memory", "2M", "dump", "--va", "0x1000+4K", "--levels", "5")]
    public void Too_little_memory_to_boot_is_bad_data_not_a_crash(params string[] args)
    {
        CliRunner.Result result = CliRunner.Run(args);
        Assert.True(result.ExitCode == ExitCodes.BadInput, result.Output + result.Error);
        Assert.Contains("fastpt: cannot boot a machine with 2M of RAM", result.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", result.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("(Parameter '", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Too_little_memory_to_boot_replay_is_bad_data_not_a_crash()
    {
        using var directory = new TemporaryDirectory();
        string pages = directory.File("pages.txt");
        File.WriteAllText(pages, "1\n2\n");
        CliRunner.Result result = CliRunner.Run("replay", "--pages", pages, "--memory", "2M");
        Assert.Equal(ExitCodes.BadInput, result.ExitCode);
        Assert.Contains("cannot boot a machine with 2M of RAM", result.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("4M")]
    [InlineData("16M")]
    [InlineData("30M")]
    public void A_machine_below_the_minimum_is_refused_with_the_minimum_named(string memory)
    {
        // MachineOptions.MinimumMemorySize (32 MiB): below it the CLI names the limit instead of booting a machine
        // whose scenarios could not run.
        CliRunner.Result result = CliRunner.Run("run", "boot", "paging", "--memory", memory);
        Assert.Equal(ExitCodes.BadInput, result.ExitCode);
        Assert.Contains($"fastpt: cannot boot a machine with {memory} of RAM", result.Error, StringComparison.Ordinal);
        Assert.Contains("it needs at least 32M", result.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", result.Error, StringComparison.Ordinal);
        Assert.Equal("", result.Output);
    }

    [Fact]
    public void A_scenario_the_machine_cannot_hold_is_not_run_rather_than_failed()
    {
        // A 64 TiB machine addresses no physical space above its RAM, so hot-add has nowhere to go: not run, not FAIL.
        CliRunner.Result result = CliRunner.Run("run", "boot", "hotplug", "--memory", "64T");
        Assert.True(result.ExitCode == ExitCodes.BadInput, result.Output + result.Error);
        Assert.DoesNotContain("FAIL", result.Output, StringComparison.Ordinal);
        Assert.Contains("1 of 2 scenarios passed; 1 could not run on this machine", result.Output, StringComparison.Ordinal);
        Assert.StartsWith("fastpt: scenario hotplug could not run: no physical address space is left", result.Error, StringComparison.Ordinal);

        using JsonDocument json = JsonDocument.Parse(CliRunner.Run("run", "hotplug", "--memory", "64T", "--json").Output);
        JsonElement report = json.RootElement.GetProperty("scenarios")[0];
        Assert.False(report.GetProperty("ran").GetBoolean());
        Assert.Empty(report.GetProperty("checks").EnumerateArray());
    }

    [Theory]
    [InlineData("--rows: 'abc' is not a whole number", "dump", "--rows", "abc")]
    [InlineData("--rows: '-1' is out of range", "dump", "--rows", "-1")]
    [InlineData("--rows: '1.5' is not a whole number", "dump", "--rows", "1.5")]
    [InlineData("--meter-interval: 'abc' is not a number of seconds", "trace", "record", "--meter-interval", "abc", "--", "run", "boot")]
    [InlineData("--meter-interval: 'NaN' is not a number of seconds", "trace", "record", "--meter-interval", "NaN", "--", "run", "boot")]
    [InlineData("--meter-interval: '1e9' is not a number of seconds", "trace", "record", "--meter-interval", "1e9", "--", "run", "boot")]
    [InlineData("--seed: '99999999999' is out of range", "run", "boot", "--seed", "99999999999")]
    [InlineData("--seed: 'many' is not a whole number", "run", "boot", "--seed", "many")]
    public void A_number_that_does_not_convert_is_a_usage_error(string expected, params string[] args) =>
        AssertUsageError(CliRunner.Run(args), expected);

    [Fact]
    public void A_huge_row_count_lists_every_run()
    {
        CliRunner.Result result = CliRunner.Run("dump", "--rows", "99999999999", "--memory", "2560M");
        Assert.True(result.ExitCode == ExitCodes.Success, result.Error);
        Assert.DoesNotContain("not listed", result.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void A_negative_seed_is_a_seed()
    {
        Assert.Equal(-5, Machine(CliRunner.Run("--seed", "-5", "run", "boot", "--memory", "1G", "--json")).GetProperty("seed").GetInt32());
    }

    // ---- messages

    [Fact]
    public void A_directory_given_as_an_input_file_is_called_a_directory()
    {
        using var directory = new TemporaryDirectory();
        AssertUsageError(CliRunner.Run("replay", "--pages", directory.Path), "is a directory, not a file");
        AssertUsageError(CliRunner.Run("dump", "--pages", directory.Path), "is a directory, not a file");
        AssertUsageError(CliRunner.Run("trace", "summarize", directory.Path), "is a directory, not a file");
    }

    [Fact]
    public void A_directory_or_a_missing_directory_as_trace_output_is_a_usage_error()
    {
        using var directory = new TemporaryDirectory();
        CliRunner.Result result = CliRunner.Run("trace", "record", "--out", directory.Path, "--", "run", "boot", "--memory", "1G");
        AssertUsageError(result, "is a directory: give a file name");
        Assert.DoesNotContain("denied", result.Error, StringComparison.Ordinal);
        AssertUsageError(CliRunner.Run("trace", "record", "--out", Path.Combine(directory.Path, "no", "x.nettrace"), "--", "run", "boot"),
            "does not exist");
        Assert.Empty(Directory.GetFileSystemEntries(directory.Path));
    }

    [Fact]
    public void Replaying_a_binary_file_echoes_no_raw_bytes()
    {
        using var directory = new TemporaryDirectory();
        string binary = directory.File("pages.bin");
        byte[] bytes = new byte[3000];
        new Random(5).NextBytes(bytes);
        "\u007fELF"u8.CopyTo(bytes);
        File.WriteAllBytes(binary, bytes);
        CliRunner.Result result = CliRunner.Run("replay", "--pages", binary, "--memory", "1G");
        Assert.Equal(ExitCodes.BadInput, result.ExitCode);
        Assert.Contains("looks binary", result.Error, StringComparison.Ordinal);
        Assert.DoesNotContain(result.Error, c => c < ' ' && c != '\n' && c != '\r' || c == '\ufffd' || c == '\u007f');
        Assert.True(result.Error.Length < 400, result.Error);
    }

    [Fact]
    public void A_bad_line_is_quoted_and_cut_short()
    {
        using var directory = new TemporaryDirectory();
        string file = directory.File("pages.txt");
        File.WriteAllText(file, "1\n" + new string('z', 5000) + "\u001b[2J\n");
        CliRunner.Result result = CliRunner.Run("replay", "--pages", file, "--memory", "1G");
        Assert.Equal(ExitCodes.BadInput, result.ExitCode);
        Assert.Contains(":2: 'zzzz", result.Error, StringComparison.Ordinal);
        Assert.Contains("…' is not a page index", result.Error, StringComparison.Ordinal);
        Assert.True(result.Error.Length < 300, result.Error);
    }

    [Theory]
    [InlineData("--base: 'abc' is not an address", "replay", "--pages", "x", "--base", "abc")]
    [InlineData("bad end: 'abc' is not an address", "dump", "--va", "0x1000-abc")]
    [InlineData("bad start: 'abc' is not an address", "dump", "--va", "abc-0x1000")]
    [InlineData("bad length: 'abc' is not a size", "dump", "--va", "0x1000+abc")]
    [InlineData("unknown option '--bogus' for 'fastpt run'", "run", "boot", "--bogus")]
    [InlineData("unknown option '-x' for 'fastpt run'", "run", "-x", "boot")]
    [InlineData("unknown option '--bogus' for 'fastpt trace summarize'", "trace", "summarize", "--bogus")]
    [InlineData("unknown scenario '--memory'", "run", "--", "--memory")]
    [InlineData("trace file '-' not found", "trace", "summarize", "-")]
    [InlineData("unknown option '--bogus' for 'fastpt trace record'", "trace", "record", "--bogus", "--", "run", "boot")]
    public void Messages_name_the_thing_that_is_wrong(string expected, params string[] args)
    {
        CliRunner.Result result = CliRunner.Run(args);
        AssertUsageError(result, expected);
        Assert.DoesNotContain("a address", result.Error, StringComparison.Ordinal);
        if (!args.Contains("--")) Assert.DoesNotContain("unknown scenario '-", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_truncated_gzip_file_reports_no_figure_read_from_garbage()
    {
        using var directory = new TemporaryDirectory();
        string whole = directory.File("pages.gz");
        using (FileStream file = File.Create(whole))
        using (var gzip = new GZipStream(file, CompressionLevel.Optimal))
        {
            gzip.Write(Encoding.ASCII.GetBytes(string.Join('\n', Enumerable.Range(0, 200_000))));
        }
        byte[] bytes = File.ReadAllBytes(whole);
        string truncated = directory.File("truncated.gz");
        File.WriteAllBytes(truncated, bytes[..(bytes.Length / 2)]);
        CliRunner.Result result = CliRunner.Run("replay", "--pages", truncated, "--memory", "1G");
        Assert.Equal(ExitCodes.BadInput, result.ExitCode);
        Assert.Contains("truncated or corrupt", result.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("trailer records", result.Error, StringComparison.Ordinal);
    }

    // ---- exit codes are documented

    [Theory]
    [InlineData("--help")]
    [InlineData("run", "--help")]
    [InlineData("trace", "record", "--help")]
    public void Help_lists_the_exit_codes(params string[] args)
    {
        CliRunner.Result result = CliRunner.RunOn(200, false, args);
        Assert.Equal(ExitCodes.Success, result.ExitCode);
        Assert.Contains("Exit codes:", result.Output, StringComparison.Ordinal);
        foreach ((int code, string meaning) in ExitCodes.Meanings)
            Assert.Contains($"  {code}  {meaning}", result.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void The_readme_lists_the_exit_codes()
    {
        string readme = File.ReadAllText(Path.Combine(RepositoryRoot(), "README.md"));
        foreach (int code in new[] { 0, 1, 2, 3 }) Assert.Contains($"| {code} | ", readme, StringComparison.Ordinal);
        Assert.Contains("| exit code | meaning |", readme, StringComparison.Ordinal);
    }

    private static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "FastPt.sln"))) directory = directory.Parent;
        Assert.NotNull(directory);
        return directory.FullName;
    }
}

/// <summary><c>trace record</c> checks the command it records before recording and writes nothing when it fails.</summary>
[Collection("Serial")]
public class TraceRecordFailureTests
{
    [Theory]
    [InlineData("unknown scenario 'nosuch'", "run", "nosuch")]
    [InlineData("'abc' is not a size", "run", "boot", "--memory", "abc")]
    [InlineData("Unrecognized command or argument '--bogus'", "--bogus")]
    [InlineData("unknown option '--bogus'", "run", "boot", "--bogus")]
    [InlineData("page file", "replay", "--pages", "/nonexistent/pages.txt")]
    public void A_bad_command_to_record_is_a_usage_error_and_writes_no_file(string expected, params string[] inner)
    {
        using var directory = new TemporaryDirectory();
        string path = directory.File("x.nettrace");
        CliRunner.Result result = CliRunner.Run(["trace", "record", "--out", path, "--", .. inner]);
        CommandLineTests.AssertUsageError(result, expected);
        Assert.Contains("in the command to record", result.Error, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFileSystemEntries(directory.Path));
        Assert.Equal("", result.Output);
    }

    [Fact]
    public void A_recorded_command_that_fails_leaves_no_file_and_an_existing_one_untouched()
    {
        using var directory = new TemporaryDirectory();
        string path = directory.File("x.nettrace");
        CliRunner.Result fresh = CliRunner.Run("trace", "record", "--out", path, "--", "run", "boot", "--memory", "2M");
        Assert.Equal(ExitCodes.BadInput, fresh.ExitCode);
        Assert.Contains("no trace written", fresh.Error, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFileSystemEntries(directory.Path));

        File.WriteAllText(path, "keep me");
        CliRunner.Result again = CliRunner.Run("trace", "record", "--out", path, "--", "run", "boot", "--memory", "2M");
        Assert.Equal(ExitCodes.BadInput, again.ExitCode);
        Assert.Equal("keep me", File.ReadAllText(path));
        Assert.Single(Directory.GetFileSystemEntries(directory.Path));
    }

    [Fact]
    public void The_follow_up_hint_names_the_file_as_the_user_can_type_it()
    {
        using var directory = new TemporaryDirectory();
        string path = directory.File("boot.nettrace");
        CliRunner.Result result = CliRunner.Run("trace", "record", "--meter-interval", "0", "--out", path, "--", "run", "boot", "--memory", "1G");
        Assert.True(result.ExitCode == ExitCodes.Success, result.Output + result.Error);
        string hint = result.Output.Split('\n').Single(line => line.Contains("fastpt trace summarize", StringComparison.Ordinal)).Trim();
        string named = hint["fastpt trace summarize ".Length..];
        // The test's working directory is not the temporary one: the hint must not be the bare file name.
        Assert.Equal(Path.GetFullPath(path), Path.GetFullPath(named));
        Assert.True(File.Exists(named));
    }
}
