using System;
using System.Collections.Generic;
using System.Diagnostics.Tracing;
using System.IO;
using System.Linq;
using System.Threading.Tasks;
using FastPt.Cli.Commands;
using FastPt.Tests.Cli;
using FastPt.Tracing;
using Microsoft.Diagnostics.NETCore.Client;
using Xunit;

namespace FastPt.Tests.Tracing;

/// <summary>The runtime's events in a trace (rundown, the Meter's transport) are named, grouped one line per
/// provider, and the metrics source's session errors are explained. Real EventPipe sessions on this process.</summary>
[Collection("Serial")]
public class RuntimeEventsInSummaryTests
{
    private const string MetricsProvider = "System.Diagnostics.Metrics";

    /// <summary>A session on this process, written to a file, as dotnet-trace would start it.</summary>
    private sealed class Session : IDisposable
    {
        private readonly EventPipeSession _session;
        private readonly FileStream _file;
        private readonly Task _copy;

        public Session(string path, bool rundown, params EventPipeProvider[] providers)
        {
            _session = new DiagnosticsClient(Environment.ProcessId)
                .StartEventPipeSession(new EventPipeSessionConfiguration(providers, 64, requestRundown: rundown, requestStackwalk: false));
            _file = File.Create(path);
            _copy = _session.EventStream.CopyToAsync(_file);
        }

        public void Dispose()
        {
            _session.Stop();
            if (!_copy.Wait(TimeSpan.FromSeconds(60))) throw new TimeoutException("EventPipe session did not end");
            _file.Dispose();
            _session.Dispose();
        }
    }

    private static EventPipeProvider Metrics(string sessionId) =>
        new(MetricsProvider, EventLevel.Informational, 0x3,
            new Dictionary<string, string> { ["SessionId"] = sessionId, ["Metrics"] = "FastPt", ["RefreshInterval"] = "1" });

    private static void Work()
    {
        using var machine = new Machine(new MachineOptions { MemorySize = 1UL << 30 });
        using AddressSpace space = machine.CreateAddressSpace();
        space.Map(new VirtAddr(0x4000_0000), new PhysAddr(0), 1UL << 20, Protection.ReadWrite, PageSize.Size4K);
        space.Unmap(new VirtAddr(0x4000_0000), 1UL << 20);
    }

    [Fact]
    public void Rundown_events_are_named_and_take_one_line_unless_all_kinds_are_asked_for()
    {
        using var directory = new TemporaryDirectory();
        string path = directory.File("rundown.nettrace");
        using (new Session(path, rundown: true, new EventPipeProvider("FastPt", EventLevel.Verbose, -1))) Work();

        TraceSummary summary = TraceSummary.Read(path);
        ProviderSummary rundown = summary.Providers.Single(p => p.Name == "Microsoft-Windows-DotNETRuntimeRundown");
        Assert.True(rundown.Events > 100, $"{rundown.Events} rundown events");
        Assert.Contains("rundown", rundown.Role, StringComparison.Ordinal);
        Assert.Equal("FastPt", summary.Providers[0].Name);
        Assert.Equal(summary.TotalEvents, summary.Providers.Sum(p => p.Events));
        // TraceEvent's rundown parser names them: no anonymous EventID(144) rows.
        Assert.DoesNotContain(summary.Events, e => e.Name.StartsWith("EventID(", StringComparison.Ordinal));
        Assert.Contains(summary.Events, e => e.Provider == rundown.Name && e.Name == "Method/DCStopVerbose");

        CliRunner.Result grouped = CliRunner.Run("trace", "summarize", path);
        Assert.Equal(ExitCodes.Success, grouped.ExitCode);
        Assert.Contains("runtime rundown", grouped.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("Method/DCStopVerbose", grouped.Output, StringComparison.Ordinal);
        CliRunner.Result all = CliRunner.Run("trace", "summarize", path, "--all");
        Assert.Contains("Method/DCStopVerbose", all.Output, StringComparison.Ordinal);
        CliRunner.Result json = CliRunner.Run("trace", "summarize", path, "--json");
        Assert.Contains("\"role\": \"runtime rundown", json.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void A_second_metrics_session_is_warned_about_and_the_first_is_told_it_is_harmless()
    {
        using var directory = new TemporaryDirectory();
        string first = directory.File("first.nettrace"), second = directory.File("second.nettrace");
        using (new Session(first, rundown: false, Metrics("first")))
        {
            using (new Session(second, rundown: false, Metrics("second"))) Work();
        }

        TraceSummary late = TraceSummary.Read(second);
        TraceNote warning = Assert.Single(late.Notes);
        Assert.Equal(TraceNoteSeverity.Warning, warning.Severity);
        Assert.Contains("Another metrics session ('first'", warning.Text, StringComparison.Ordinal);

        TraceSummary early = TraceSummary.Read(first);
        Assert.All(early.Notes, note => Assert.Equal(TraceNoteSeverity.Information, note.Severity));
        Assert.Contains(early.Notes, note => note.Text.Contains("names session 'first', this trace's own", StringComparison.Ordinal));
    }
}
