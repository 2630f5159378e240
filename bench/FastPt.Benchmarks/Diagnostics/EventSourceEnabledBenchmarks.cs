using System;
using System.Diagnostics.Tracing;
using System.IO;
using System.Threading.Tasks;
using BenchmarkDotNet.Attributes;
using FastPt.Diagnostics;
using Microsoft.Diagnostics.NETCore.Client;

namespace FastPt.Benchmarks.Diagnostics;

/// <summary>What one event costs while an EventPipe session on the process listens (as <c>fastpt trace record</c>
/// sets one up, without stack walks; the stream is read and discarded): FastPt's TlbFlush, written with
/// <c>WriteEventCore</c> and stack-allocated descriptors, against the same event through the boxing
/// <c>WriteEvent(int, params object[])</c> (the baseline). The Allocated column is the point: 0 bytes per event
/// for FastPt.</summary>
[MemoryDiagnoser]
public class EventSourceEnabledBenchmarks
{
    private EventPipeSession? _session;
    private Task? _drain;
    private ulong _start;

    /// <summary>Starts the session (FastPt's TLB keyword and the boxing source, informational) and its reader.</summary>
    [GlobalSetup]
    public void Setup()
    {
        EventPipeProvider[] providers =
        [
            new("FastPt", EventLevel.Informational, (long)FastPtEventSource.Keywords.Tlb),
            new("FastPt-Benchmarks-Boxing", EventLevel.Informational),
        ];
        // Without stack walks, as fastpt trace record does: a walk per event would dwarf what is measured here.
        var configuration = new EventPipeSessionConfiguration(providers, 256, requestRundown: false, requestStackwalk: false);
        _session = new DiagnosticsClient(Environment.ProcessId).StartEventPipeSession(configuration);
        _drain = _session.EventStream.CopyToAsync(Stream.Null);
        if (!FastPtEventSource.Log.IsEnabled() || !BoxingEventSource.Log.IsEnabled())
            throw new InvalidOperationException("The EventPipe session did not enable the event sources.");
    }

    /// <summary>Stops the session.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        _session?.Stop();
        _drain?.Wait(TimeSpan.FromSeconds(30));
        _session?.Dispose();
    }

    /// <summary>The boxing event: five boxed fields and an object array per event.</summary>
    [Benchmark(Baseline = true)]
    public void BoxingEventEnabled()
    {
        _start += 4096;
        BoxingEventSource.Log.TlbFlush(7, FlushKind.Range, _start, _start + 4096, 1);
    }

    /// <summary>FastPt's event.</summary>
    [Benchmark]
    public void FastPtEventEnabled()
    {
        _start += 4096;
        FastPtEventSource.Log.TlbFlush(7, FlushKind.Range, _start, _start + 4096, 1);
    }
}
