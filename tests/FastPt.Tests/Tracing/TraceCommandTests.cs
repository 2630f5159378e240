using System;
using System.IO;
using System.Linq;
using System.Text.Json;
using FastPt.Cli.Commands;
using FastPt.Tests.Cli;
using Xunit;

namespace FastPt.Tests.Tracing;

/// <summary><c>fastpt trace record</c> and <c>fastpt trace summarize</c>, in process.</summary>
[Collection("Serial")]
public class TraceCommandTests
{
    [Fact]
    public void Record_runs_the_scenario_under_a_session_and_summarize_reads_the_file()
    {
        using var directory = new TemporaryDirectory();
        string path = directory.File("paging.nettrace");
        CliRunner.Result record = CliRunner.Run("trace", "record", "--out", path, "--", "run", "paging", "--memory", "2G");
        Assert.True(record.ExitCode == ExitCodes.Success, record.Output + record.Error);
        Assert.Contains("1 of 1 scenarios passed", record.Output, StringComparison.Ordinal);
        Assert.Contains("wrote " + path, record.Output, StringComparison.Ordinal);
        Assert.Contains("TLB flushes per operation", record.Output, StringComparison.Ordinal);
        Assert.True(new FileInfo(path).Length > 1000);

        CliRunner.Result json = CliRunner.Run("trace", "summarize", path, "--json");
        Assert.True(json.ExitCode == ExitCodes.Success, json.Error);
        using JsonDocument document = JsonDocument.Parse(json.Output);
        JsonElement root = document.RootElement;
        Assert.Equal(path, root.GetProperty("source").GetString());
        Assert.Equal(0, root.GetProperty("anomalyCount").GetInt64());
        JsonElement[] operations = root.GetProperty("operations").EnumerateArray().ToArray();
        // The scenario runs its sequence twice (warm-up, then measured): 3 maps, 2 protects, 3 unmaps and a
        // teardown each time. Maps never flush; each unmap, protect and teardown flushes once.
        JsonElement map = operations.Single(o => o.GetProperty("name").GetString() == "map");
        Assert.Equal(6, map.GetProperty("count").GetInt64());
        Assert.Equal(0, map.GetProperty("flushes").GetInt64());
        Assert.Equal(6L << 30, map.GetProperty("bytes").GetInt64());
        foreach (string name in new[] { "unmap", "protect", "teardown" })
        {
            JsonElement operation = operations.Single(o => o.GetProperty("name").GetString() == name);
            Assert.Equal(operation.GetProperty("count").GetInt64(), operation.GetProperty("flushes").GetInt64());
        }
        // Every user address space the scenario created was torn down with all its tables freed.
        JsonElement[] spaces = root.GetProperty("spaces").EnumerateArray().Where(s => !s.GetProperty("kernel").GetBoolean()).ToArray();
        Assert.Equal(2, spaces.Length);
        Assert.All(spaces, s =>
        {
            Assert.True(s.GetProperty("tornDown").GetBoolean());
            Assert.Equal(s.GetProperty("tablesAllocated").GetInt64(), s.GetProperty("tablesFreed").GetInt64());
        });
        long freed = root.GetProperty("tables").GetProperty("freed").GetInt64();
        Assert.Equal(freed * 4096, root.GetProperty("bytesFreed").GetProperty("pageTables").GetInt64());

        CliRunner.Result text = CliRunner.Run("trace", "summarize", path);
        Assert.Equal(ExitCodes.Success, text.ExitCode);
        foreach (string title in new[] { "Events per kind", "TLB flushes per operation", "Page-table pages and memory freed", "Address spaces", "Page faults" })
            Assert.Contains(title, text.Output, StringComparison.Ordinal);
        // The trace records leaves for maps only: an unmap of 6 GiB shows no leaf count rather than 0.
        string unmap = text.Output.Split('\n').First(line => line.StartsWith("│ unmap ", StringComparison.Ordinal));
        Assert.Matches(@"^│ unmap\s+│\s+6\s+│\s+6 GiB\s+│\s+–\s+│\s+-\d", unmap);
        string mapped = text.Output.Split('\n').First(line => line.StartsWith("│ map ", StringComparison.Ordinal));
        Assert.Matches(@"│\s+6 GiB\s+│\s+525,314\s+│\s+\+\d", mapped);
    }

    [Fact]
    public void Summarize_reports_a_truncated_file_and_a_missing_one_clearly()
    {
        using var directory = new TemporaryDirectory();
        string path = directory.File("boot.nettrace");
        CliRunner.Result record = CliRunner.Run("trace", "record", "-o", path, "--meter-interval", "0", "--", "run", "boot", "--memory", "1G");
        Assert.True(record.ExitCode == ExitCodes.Success, record.Output + record.Error);
        byte[] bytes = File.ReadAllBytes(path);
        string truncated = directory.File("truncated.nettrace");
        File.WriteAllBytes(truncated, bytes[..(bytes.Length * 2 / 3)]);

        CliRunner.Result result = CliRunner.Run("trace", "summarize", truncated);
        Assert.Equal(ExitCodes.BadInput, result.ExitCode);
        Assert.Contains(truncated, result.Error, StringComparison.Ordinal);
        Assert.Contains("truncated", result.Error, StringComparison.Ordinal);
        Assert.Equal("", result.Output);

        CliRunner.Result missing = CliRunner.Run("trace", "summarize", directory.File("nope.nettrace"));
        Assert.Equal(ExitCodes.Usage, missing.ExitCode);
        Assert.Contains("not found", missing.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("trace", "record")]
    [InlineData("trace", "record", "--", "trace", "summarize", "x.nettrace")]
    [InlineData("trace", "record", "--meter-interval", "0.01", "--", "run", "boot")]
    public void Record_refuses_a_bad_command_line(params string[] args)
    {
        CliRunner.Result result = CliRunner.Run(args);
        Assert.Equal(ExitCodes.Usage, result.ExitCode);
        Assert.NotEqual("", result.Error);
    }
}
