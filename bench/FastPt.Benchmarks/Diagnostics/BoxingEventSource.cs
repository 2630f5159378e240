using System.Diagnostics.Tracing;

namespace FastPt.Benchmarks.Diagnostics;

/// <summary>The FastPt TlbFlush event written the straightforward way, for comparison: the same payload through
/// <c>WriteEvent(int, params object[])</c>, which boxes every field and allocates the array when a session
/// listens. Guarded by the same <c>IsEnabled</c> check, so with no session it costs the same as FastPt's.</summary>
[EventSource(Name = "FastPt-Benchmarks-Boxing")]
internal sealed class BoxingEventSource : EventSource
{
    public static readonly BoxingEventSource Log = new();

    private BoxingEventSource() { }

    [Event(7, Level = EventLevel.Informational)]
    public void TlbFlush(ulong space, FlushKind kind, ulong start, ulong end, int contexts)
    {
        if (IsEnabled(EventLevel.Informational, EventKeywords.All)) WriteEvent(7, space, (int)kind, start, end, contexts);
    }
}
