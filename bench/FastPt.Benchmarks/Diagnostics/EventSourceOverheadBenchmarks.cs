using System;
using System.Runtime.CompilerServices;
using BenchmarkDotNet.Attributes;
using FastPt.Diagnostics;

namespace FastPt.Benchmarks.Diagnostics;

/// <summary>What an event site costs when no session listens: a loop of 1,024 iterations doing a little work
/// (the arguments an event would carry), with no event (the baseline), with FastPt's <c>TlbFlush</c> event site,
/// and with the same event written through the boxing <c>WriteEvent</c> overload. Results are per iteration, so
/// the difference to the baseline is the cost of one disabled event site.</summary>
[MemoryDiagnoser]
public class EventSourceOverheadBenchmarks
{
    private const int Sites = 1024;

    private readonly ulong _space = 7;

    /// <summary>Checks that no session or listener enabled the sources: the point is the disabled cost.</summary>
    [GlobalSetup]
    public void Setup()
    {
        if (FastPtEventSource.Log.IsEnabled() || BoxingEventSource.Log.IsEnabled())
            throw new InvalidOperationException("An event listener is enabled: this suite measures event sites with no session.");
    }

    /// <summary>The loop with no event site.</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = Sites)]
    public ulong NoEventSource()
    {
        ulong sum = 0;
        for (int i = 0; i < Sites; i++)
        {
            ulong start = (ulong)i << 12;
            sum += Work(start, _space);
        }
        return sum;
    }

    /// <summary>The loop with FastPt's TlbFlush event site (IsEnabled inline, payload written out of line).</summary>
    [Benchmark(OperationsPerInvoke = Sites)]
    public ulong FastPtEventSiteDisabled()
    {
        ulong sum = 0;
        for (int i = 0; i < Sites; i++)
        {
            ulong start = (ulong)i << 12;
            FastPtEventSource.Log.TlbFlush(_space, FlushKind.Range, start, start + 4096, 1);
            sum += Work(start, _space);
        }
        return sum;
    }

    /// <summary>The loop with the boxing version of the same event.</summary>
    [Benchmark(OperationsPerInvoke = Sites)]
    public ulong BoxingEventSiteDisabled()
    {
        ulong sum = 0;
        for (int i = 0; i < Sites; i++)
        {
            ulong start = (ulong)i << 12;
            BoxingEventSource.Log.TlbFlush(_space, FlushKind.Range, start, start + 4096, 1);
            sum += Work(start, _space);
        }
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Work(ulong start, ulong space) => (start ^ space) * 0x9E37_79B9_7F4A_7C15UL;
}
