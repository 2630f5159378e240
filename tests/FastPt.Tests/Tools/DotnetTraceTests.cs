using System;
using FastPt.Cli.Commands;
using FastPt.Tests.Cli;
using FastPt.Tracing;
using Xunit;

namespace FastPt.Tests.Tools;

/// <summary>dotnet-trace, installed from the tool manifest, records fastpt with the provider strings the docs give,
/// and <c>fastpt trace summarize</c> reads what it wrote.</summary>
public class DotnetTraceTests
{
    private static TraceSummary Collect(TemporaryDirectory directory, string providers, bool rundown, params string[] fastptArguments)
    {
        string path = directory.File("trace.nettrace");
        (int? code, string transcript) = DiagnosticsTools.Run("dotnet-trace",
            ["collect", "-o", path, "--rundown", rundown ? "true" : "false", "--providers", providers, "--", ChildProcess.FastPtCommand(), .. fastptArguments]);
        Assert.True(code == 0, "dotnet-trace collect failed (its exit code is fastpt's):" + Environment.NewLine + transcript);
        return TraceSummary.Read(path);
    }

    [Fact]
    public void The_readme_provider_string_records_verbose_events_and_meter_values_that_the_summary_reads()
    {
        string providers = Assert.Single(DiagnosticsTools.ReadMeProviderStrings());
        using var directory = new TemporaryDirectory();
        TraceSummary summary = Collect(directory, providers, rundown: true, "run", "paging", "--memory", "4G", "--duration", "2s");

        Assert.True(summary.CountOf("MapRange") > 0);
        Assert.True(summary.CountOf("TableAlloc") > 0, "verbose events (level 5) missing");
        Assert.Equal(summary.Tables.Allocated, summary.CountOf("TableAlloc"));
        Assert.Contains(summary.Metrics, m => m.Instrument == "fastpt.page_tables" && m.Samples > 0);
        Assert.Contains(summary.Providers, p => p.Name == "Microsoft-Windows-DotNETRuntimeRundown");
        Assert.DoesNotContain(summary.Notes, n => n.Severity == TraceNoteSeverity.Warning);

        CliRunner.Result rendered = CliRunner.Run("trace", "summarize", directory.File("trace.nettrace"));
        Assert.Equal(ExitCodes.Success, rendered.ExitCode);
        Assert.Contains("runtime rundown", rendered.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("EventID(", rendered.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void Level_4_gives_informational_events_only_and_the_bare_provider_name_gives_none()
    {
        using var directory = new TemporaryDirectory();
        TraceSummary informational = Collect(directory, "FastPt:0xFFFFFFFFFFFFFFFF:4", rundown: false, "run", "paging", "--memory", "4G");
        Assert.True(informational.CountOf("MapRange") > 0);
        Assert.True(informational.CountOf("TlbFlush") > 0);
        Assert.Equal(0, informational.CountOf("TableAlloc"));

        // What docs/tracing.md warns about: dotnet-trace enables keywords 0x0, and every FastPt event has a keyword.
        TraceSummary bare = Collect(directory, "FastPt", rundown: false, "run", "paging", "--memory", "4G");
        Assert.Equal(0, bare.FastPtEvents);
        CliRunner.Result rendered = CliRunner.Run("trace", "summarize", directory.File("trace.nettrace"));
        Assert.Contains("--providers FastPt alone enables no keyword", rendered.Output, StringComparison.Ordinal);
    }
}
