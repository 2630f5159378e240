using System;
using System.Collections.Generic;
using System.Diagnostics.Tracing;
using System.Globalization;
using System.IO;
using System.Threading.Tasks;
using FastPt.Diagnostics;
using Microsoft.Diagnostics.NETCore.Client;

namespace FastPt.Tracing;

/// <summary>What <see cref="TraceRecorder"/> records.</summary>
public sealed record TraceRecorderOptions
{
    /// <summary>The level of FastPt events: <see cref="EventLevel.Verbose"/> (default) includes every table
    /// allocation and free and every context catch-up; <see cref="EventLevel.Informational"/> keeps the range
    /// operations, flushes, faults and Start/Stop pairs.</summary>
    public EventLevel Level { get; init; } = EventLevel.Verbose;

    /// <summary>The FastPt keywords (<see cref="FastPtEventSource.Keywords"/>); all by default.</summary>
    public EventKeywords Keywords { get; init; } = (EventKeywords)(-1);

    /// <summary>Seconds between two publications of the FastPt Meter's values (at least 0.1, the Metrics
    /// provider's minimum); 0 leaves the Meter out.</summary>
    public double MeterRefreshSeconds { get; init; } = 1;

    /// <summary>Size of the runtime's buffer for the session; events are lost if the file cannot keep up.</summary>
    public int BufferMegabytes { get; init; } = 256;

    /// <summary>Whether the runtime walks and records the managed stack of every event. Off by default: the
    /// summary does not use stacks, and a stack walk per event costs microseconds (dotnet-trace, which has no
    /// such switch, always records them).</summary>
    public bool CaptureStacks { get; init; }
}

/// <summary>Records the FastPt events (and the FastPt Meter) of the current process to a .nettrace file through
/// an EventPipe session on the process itself — what <c>dotnet-trace collect</c> does from outside, with the same
/// providers (<see cref="VerboseProviders"/>). Only events written after <see cref="Start"/> returns are
/// recorded.</summary>
/// <example>
/// <code>
/// using (TraceRecorder recorder = TraceRecorder.Start("run.nettrace"))
/// {
///     RunWorkload();
///     recorder.Stop();
/// }
/// TraceSummary summary = TraceSummary.Read("run.nettrace");
/// </code>
/// </example>
public sealed class TraceRecorder : IDisposable
{
    /// <summary>The Metrics provider's name.</summary>
    public const string MetricsProviderName = "System.Diagnostics.Metrics";

    /// <summary>The <c>dotnet-trace --providers</c> string for every FastPt event (all keywords, verbose level);
    /// <c>--providers FastPt</c> alone would mean informational level only.</summary>
    public const string VerboseProviders = "FastPt:0xFFFFFFFFFFFFFFFF:5";

    /// <summary>The <c>dotnet-trace --providers</c> string for the FastPt Meter, published every second.</summary>
    public const string MeterProviders = "System.Diagnostics.Metrics:0x3:4:SessionId=s1;Metrics=FastPt;RefreshInterval=1";

    private static readonly TimeSpan s_stopTimeout = TimeSpan.FromSeconds(60);

    private readonly EventPipeSession _session;
    private readonly FileStream _file;
    private readonly Task _copy;
    private long _bytes = -1;
    private bool _disposed;

    private TraceRecorder(string path, EventPipeSession session, FileStream file)
    {
        Path = path;
        _session = session;
        _file = file;
        _copy = session.EventStream.CopyToAsync(file);
    }

    /// <summary>The .nettrace file being written.</summary>
    public string Path { get; }

    /// <summary>Starts a session on the current process that writes to <paramref name="path"/> (replaced if it
    /// exists).</summary>
    /// <exception cref="InvalidOperationException">The runtime refused the session (for example when
    /// <c>DOTNET_EnableDiagnostics=0</c> disabled its diagnostics server).</exception>
    public static TraceRecorder Start(string path, TraceRecorderOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        options ??= new TraceRecorderOptions();
        if (options.MeterRefreshSeconds != 0 && !(options.MeterRefreshSeconds >= 0.1))
            throw new ArgumentOutOfRangeException(nameof(options), "MeterRefreshSeconds must be 0 (no Meter) or at least 0.1.");
        var providers = new List<EventPipeProvider> { new(TraceSummary.ProviderName, options.Level, (long)options.Keywords) };
        if (options.MeterRefreshSeconds > 0)
        {
            providers.Add(new EventPipeProvider(MetricsProviderName, EventLevel.Informational, 0x3, new Dictionary<string, string>
            {
                ["SessionId"] = "fastpt-" + Guid.NewGuid().ToString("N"),
                ["Metrics"] = FastPtMeter.MeterName,
                ["RefreshInterval"] = options.MeterRefreshSeconds.ToString(CultureInfo.InvariantCulture),
            }));
        }
        var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read);
        EventPipeSession session;
        try
        {
            var configuration = new EventPipeSessionConfiguration(providers, options.BufferMegabytes, requestRundown: false, requestStackwalk: options.CaptureStacks);
            session = new DiagnosticsClient(Environment.ProcessId).StartEventPipeSession(configuration);
        }
        catch (Exception exception) when (exception is DiagnosticsClientException or IOException or UnauthorizedAccessException or TimeoutException)
        {
            file.Dispose();
            File.Delete(path);
            throw new InvalidOperationException($"cannot start an EventPipe session on this process: {exception.Message}", exception);
        }
        return new TraceRecorder(path, session, file);
    }

    /// <summary>Stops the session, waits until every buffered event is in the file and closes it. Returns the
    /// size of the file in bytes. Calling it again returns the same size.</summary>
    public long Stop()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_bytes >= 0) return _bytes;
        try
        {
            _session.Stop();
            if (!_copy.Wait(s_stopTimeout))
                throw new TimeoutException($"the EventPipe session did not end within {s_stopTimeout.TotalSeconds:N0} s after it was stopped");
            _file.Flush();
            _bytes = _file.Length;
        }
        finally
        {
            _file.Dispose();
            _session.Dispose();
        }
        return _bytes;
    }

    /// <summary>Stops the session if <see cref="Stop"/> was not called, and releases it.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        if (_bytes < 0)
        {
            try
            {
                Stop();
            }
            catch (Exception exception) when (exception is DiagnosticsClientException or IOException or TimeoutException)
            {
                // Disposing after a failure: the file stays as far as it got.
            }
        }
        _disposed = true;
    }
}
