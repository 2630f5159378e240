using System;
using System.Collections.Generic;
using System.Diagnostics.Tracing;
using System.Globalization;
using System.Linq;
using FastPt.Diagnostics;
using Xunit;

namespace FastPt.Tests.Tracing;

/// <summary>The EventSource's own consistency: a strict manifest builds, and every event's hand-written
/// <c>WriteEventCore</c> payload decodes back to exactly the arguments it was given.</summary>
[Collection("Serial")]
public class FastPtEventSourceTests
{
    private sealed class Listener : EventListener
    {
        public List<EventWrittenEventArgs> Events { get; } = new();

        protected override void OnEventSourceCreated(EventSource eventSource)
        {
            if (eventSource.Name == "FastPt") EnableEvents(eventSource, EventLevel.Verbose, EventKeywords.All);
        }

        protected override void OnEventWritten(EventWrittenEventArgs eventData)
        {
            lock (Events) Events.Add(eventData);
        }
    }

    [Fact]
    public void A_strict_manifest_builds_with_every_event()
    {
        string? manifest = EventSource.GenerateManifest(typeof(FastPtEventSource), "FastPt.dll", EventManifestOptions.Strict);
        Assert.NotNull(manifest);
        foreach (int id in new[] { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 20, 21, 30, 31, 40, 50 })
            Assert.Contains($"value=\"{id}\"", manifest, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_event_decodes_to_the_arguments_it_was_written_with()
    {
        FastPtEventSource log = FastPtEventSource.Log;
        var expected = new List<(string Name, object[] Values)>();
        using var listener = new Listener();
        void Expect(string name, params object[] values) => expected.Add((name, values));

        log.TableAlloc(11, 4, 0x12345, true); Expect("TableAlloc", 11UL, 4, 0x12345UL, true);
        log.TableFree(12, 1, 0xABCDE, false); Expect("TableFree", 12UL, 1, 0xABCDEUL, false);
        log.MapRange(13, 0x4000_0000, 0x20_0000, 512, -1); Expect("MapRange", 13UL, 0x4000_0000UL, 0x20_0000UL, 512L, -1L);
        log.UnmapRange(14, ulong.MaxValue, 0x1000, 3); Expect("UnmapRange", 14UL, ulong.MaxValue, 0x1000UL, 3L);
        log.ProtectRange(15, 0x5000, 0x2000, 5); Expect("ProtectRange", 15UL, 0x5000UL, 0x2000UL, 5);
        log.TableSplit(16, 3, 0x4000_0000); Expect("TableSplit", 16UL, 3, 0x4000_0000UL);
        log.TlbFlush(17, FlushKind.Kernel, 0x1000, 0x9000, 6); Expect("TlbFlush", 17UL, (int)FlushKind.Kernel, 0x1000UL, 0x9000UL, 6);
        log.ContextInvalidated(18, 42, 65, true); Expect("ContextInvalidated", 18UL, 42, 65L, true);
        log.AddressSpaceTeardown(19, 77); Expect("AddressSpaceTeardown", 19UL, 77L);
        log.HotAddStart(1UL << 32, 128UL << 20, true); Expect("HotAddStart", 1UL << 32, 128UL << 20, true);
        log.HotAddStop(1UL << 32, 128UL << 20, 512, 3, false); Expect("HotAddStop", 1UL << 32, 128UL << 20, 512L, 3L, false);
        log.HotRemoveStart(2UL << 32, 256UL << 20); Expect("HotRemoveStart", 2UL << 32, 256UL << 20);
        log.HotRemoveStop(2UL << 32, 256UL << 20, 1024, 5, 4096, true); Expect("HotRemoveStop", 2UL << 32, 256UL << 20, 1024L, 5L, 4096L, true);
        log.VmemmapFree(0xffffea0000000000, 0x20_0000, false); Expect("VmemmapFree", 0xffffea0000000000UL, 0x20_0000UL, false);
        log.VmemmapBatchStart(true, 512); Expect("VmemmapBatchStart", true, 512);
        log.VmemmapBatchStop(false, 512, 0, 3584, 2); Expect("VmemmapBatchStop", false, 512, 0L, 3584L, 2);
        log.GracePeriod(99, 7); Expect("GracePeriod", 99L, 7);
        log.TableDeferred(0x777, true); Expect("TableDeferred", 0x777UL, true);
        log.LockContended(1, 0x888, 1000); Expect("LockContended", 1, 0x888UL, 1000);
        log.PageFault(20, 0xdead_b000, (int)AccessKind.Execute, (int)FaultReason.NonCanonical);
        Expect("PageFault", 20UL, 0xdead_b000UL, (int)AccessKind.Execute, (int)FaultReason.NonCanonical);

        List<EventWrittenEventArgs> written;
        lock (listener.Events) written = listener.Events.Where(e => e.EventId > 0).ToList();
        // Other threads (tests of other collections never run beside this one) write nothing meanwhile.
        Assert.Equal(expected.Select(e => e.Name), written.Select(e => e.EventName));
        for (int i = 0; i < expected.Count; i++)
        {
            object[] values = expected[i].Values;
            var payload = written[i].Payload!;
            Assert.Equal(values.Length, payload.Count);
            for (int field = 0; field < values.Length; field++)
            {
                object? actual = payload[field];
                string name = $"{expected[i].Name}.{written[i].PayloadNames![field]}";
                if (values[field] is bool flag) Assert.True(flag.Equals(actual), $"{name}: expected {flag}, got {actual}");
                else Assert.True(Convert.ToString(values[field], CultureInfo.InvariantCulture) == Convert.ToString(actual is Enum e ? Convert.ToInt32(e, CultureInfo.InvariantCulture) : actual, CultureInfo.InvariantCulture),
                    $"{name}: expected {values[field]}, got {actual}");
            }
        }
    }
}
