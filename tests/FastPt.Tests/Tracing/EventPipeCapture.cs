using System;
using System.Collections.Generic;
using System.Diagnostics.Tracing;
using System.IO;
using System.Linq;
using System.Threading.Tasks;
using Microsoft.Diagnostics.NETCore.Client;
using Microsoft.Diagnostics.Tracing;

namespace FastPt.Tests.Tracing;

/// <summary>One event as TraceEvent decoded it: provider, name, thread and payload fields by name.</summary>
internal sealed record CapturedEvent(string Provider, string Name, int Thread, IReadOnlyDictionary<string, object?> Payload)
{
    public ulong U64(string field) => Convert.ToUInt64(Payload[field], System.Globalization.CultureInfo.InvariantCulture);

    public long I64(string field) => Convert.ToInt64(Payload[field], System.Globalization.CultureInfo.InvariantCulture);

    public int Int(string field) => Convert.ToInt32(Payload[field], System.Globalization.CultureInfo.InvariantCulture);

    public bool Bool(string field) => (bool)Payload[field]!;

    public override string ToString() =>
        $"{Name}({string.Join(", ", Payload.Select(pair => $"{pair.Key}={pair.Value}"))})";
}

/// <summary>A real EventPipe session on the test process, straight through Microsoft.Diagnostics.NETCore.Client
/// (not through the code under test), written to a file and decoded with TraceEvent's dynamic parser.</summary>
internal sealed class EventPipeCapture : IDisposable
{
    private readonly EventPipeSession _session;
    private readonly FileStream _file;
    private readonly Task _copy;
    private bool _stopped;

    public EventPipeCapture(string path)
    {
        Path = path;
        var providers = new[] { new EventPipeProvider("FastPt", EventLevel.Verbose, -1) };
        var configuration = new EventPipeSessionConfiguration(providers, 64, requestRundown: false, requestStackwalk: false);
        _session = new DiagnosticsClient(Environment.ProcessId).StartEventPipeSession(configuration);
        _file = File.Create(path);
        _copy = _session.EventStream.CopyToAsync(_file);
    }

    public string Path { get; }

    /// <summary>Stops the session and returns every event of the file.</summary>
    public IReadOnlyList<CapturedEvent> Stop()
    {
        if (!_stopped)
        {
            _stopped = true;
            _session.Stop();
            if (!_copy.Wait(TimeSpan.FromSeconds(30))) throw new TimeoutException("EventPipe session did not end");
            _file.Dispose();
        }
        return Read(Path);
    }

    public static List<CapturedEvent> Read(string path)
    {
        var events = new List<CapturedEvent>();
        using var source = new EventPipeEventSource(path);
        source.Dynamic.All += data =>
        {
            var payload = new Dictionary<string, object?>(StringComparer.Ordinal);
            for (int i = 0; i < data.PayloadNames.Length; i++) payload[data.PayloadNames[i]] = data.PayloadValue(i);
            events.Add(new CapturedEvent(data.ProviderName, data.EventName, data.ThreadID, payload));
        };
        source.Process();
        return events;
    }

    public void Dispose()
    {
        if (!_stopped)
        {
            _stopped = true;
            _session.Stop();
            _copy.Wait(TimeSpan.FromSeconds(30));
            _file.Dispose();
        }
        _session.Dispose();
    }
}
