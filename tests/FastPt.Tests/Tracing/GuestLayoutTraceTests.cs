using System.Collections.Generic;
using System.Diagnostics.Tracing;
using System.Linq;
using FastPt.Tests.Cli;
using FastPt.Tracing;
using Xunit;
using static FastPt.Tests.TestMachines;

namespace FastPt.Tests.Tracing;

/// <summary>Trace events of a guest space's top page: the flush of a range ending at 2^64 carries an end of 0, and
/// the summariser reads it as 2^64, not as an anomaly.</summary>
[Collection("Serial")]
public sealed class GuestLayoutTraceTests
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

    private static void MapAndUnmapTheTopPage(Machine machine, AddressSpace space)
    {
        PhysAddr frame = machine.AllocatePhysical(Page);
        space.Map(V(TopMinus(Page)), frame, Page, Protection.ReadWrite);
        space.Write(V(ulong.MaxValue - 7), 1UL);
        space.Unmap(V(TopMinus(Page)), Page);
        Assert.Equal(FaultReason.NotMapped, space.Translate(V(ulong.MaxValue)).Fault.Reason);
    }

    [Fact]
    public void The_flush_of_the_top_page_reports_an_end_of_0()
    {
        using Machine machine = Create(GiB, checkedMode: false);
        using AddressSpace space = machine.CreateAddressSpace(AddressSpaceLayout.FullCanonical);
        using var listener = new Listener();
        MapAndUnmapTheTopPage(machine, space);
        List<EventWrittenEventArgs> events;
        lock (listener.Events) events = listener.Events.Where(e => e.Payload is { Count: > 0 } p && p[0] is ulong id && id == space.Id).ToList();
        EventWrittenEventArgs flush = Assert.Single(events, e => e.EventName == "TlbFlush");
        Assert.Equal((int)FlushKind.Page, flush.Payload![1]);
        Assert.Equal(0xffff_ffff_ffff_f000UL, flush.Payload[2]);
        Assert.Equal(0UL, flush.Payload[3]);
        EventWrittenEventArgs map = Assert.Single(events, e => e.EventName == "MapRange");
        Assert.Equal(0xffff_ffff_ffff_f000UL, map.Payload![1]);
        Assert.Contains(events, e => e.EventName == "UnmapRange" && e.Payload![1] is ulong address && address == 0xffff_ffff_ffff_f000UL);
    }

    [Fact]
    public void A_trace_of_the_top_page_summarises_without_anomalies()
    {
        using var directory = new TemporaryDirectory();
        string path = directory.File("guest.nettrace");
        using (Machine machine = Create(GiB, checkedMode: false))
        using (TraceRecorder recorder = TraceRecorder.Start(path, new TraceRecorderOptions { MeterRefreshSeconds = 0 }))
        {
            using (AddressSpace space = machine.CreateAddressSpace(AddressSpaceLayout.FullCanonical)) MapAndUnmapTheTopPage(machine, space);
            recorder.Stop();
        }
        TraceSummary summary = TraceSummary.Read(path);
        Assert.True(summary.AnomalyCount == 0, string.Join("\n", summary.Anomalies));
        Assert.Equal(summary.Tables.Allocated, summary.Tables.Freed);
    }
}
