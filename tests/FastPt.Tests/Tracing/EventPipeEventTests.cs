using System;
using System.Collections.Generic;
using System.Linq;
using FastPt.Tests.Cli;
using Xunit;
using static FastPt.Tests.TestMachines;

namespace FastPt.Tests.Tracing;

/// <summary>A real EventPipe session on the test process: a paging workload's events arrive, in order, with the
/// payloads the engine's own state says they must carry.</summary>
[Collection("Serial")]
public class EventPipeEventTests
{
    private const ulong Base = 0x4000_0000;          // 1 GiB: one PUD slot, one PMD table for everything below
    private const ulong HugeBase = Base + 8 * MiB;    // a 2 MiB leaf in the same PMD table
    private const ulong Unmapped = 0x5000_0000;

    [Fact]
    public void Paging_workload_events_arrive_in_order_with_their_payloads()
    {
        using var directory = new TemporaryDirectory();
        using Machine machine = Create(1 * GiB);
        ulong id;
        PageTableCounts beforeTeardown;
        IReadOnlyList<CapturedEvent> all;
        using (var capture = new EventPipeCapture(directory.File("paging.nettrace")))
        {
            AddressSpace space = machine.CreateAddressSpace();
            id = space.Id;
            space.Map(V(Base), P(0), 4 * MiB, Protection.ReadWrite, PageSize.Size4K);
            Assert.True(space.Translate(V(Base)).Succeeded); // attaches this thread's context: flushes now reach 1
            space.Map(V(HugeBase), P(8 * MiB), 2 * MiB, Protection.ReadWrite);
            space.Protect(V(HugeBase + Page), Page, Protection.Read);
            space.Unmap(V(Base), Page);
            Assert.False(space.Translate(V(Unmapped)).Succeeded);
            Assert.False(space.Translate(V(HugeBase + Page), AccessKind.Write).Succeeded);
            space.Unmap(V(Base + Page), 4 * MiB - Page);
            beforeTeardown = space.PageTables;
            space.Dispose();
            all = capture.Stop();
        }

        List<CapturedEvent> events = all.Where(e => e.Provider == "FastPt" && e.Payload.TryGetValue("space", out object? s) && Convert.ToUInt64(s) == id).ToList();
        string trace = string.Join("\n", events);
        var expected = new List<(string Name, Func<CapturedEvent, bool> Check)>
        {
            ("TableAlloc", e => e.Int("level") == 4 && !e.Bool("kernel")),                        // the root (PGD)
            ("TableAlloc", e => e.Int("level") == 3), ("TableAlloc", e => e.Int("level") == 2),   // PUD, PMD
            ("TableAlloc", e => e.Int("level") == 1), ("TableAlloc", e => e.Int("level") == 1),   // two PTE tables
            ("MapRange", e => e.U64("address") == Base && e.U64("length") == 4 * MiB && e.I64("leaves") == 1024 && e.I64("tablesAllocated") == 4),
            ("MapRange", e => e.U64("address") == HugeBase && e.U64("length") == 2 * MiB && e.I64("leaves") == 1 && e.I64("tablesAllocated") == 0),
            // Protecting one page of the 2 MiB leaf splits it (a new PTE table), then flushes the whole 2 MiB: 512
            // pages are above the 33-page ceiling, so the flush is a full one.
            ("TableAlloc", e => e.Int("level") == 1),
            ("TableSplit", e => e.Int("level") == 2 && e.U64("address") == HugeBase),
            ("ProtectRange", e => e.U64("address") == HugeBase + Page && e.U64("length") == Page && e.Int("protection") == (int)Protection.Read),
            ("TlbFlush", e => e.Int("kind") == (int)FlushKind.All && e.U64("start") == HugeBase && e.U64("end") == HugeBase + 2 * MiB && e.Int("contexts") == 1),
            // One 4 KiB page out of a table that keeps 511 others: a single-page flush, nothing freed.
            ("UnmapRange", e => e.U64("address") == Base && e.U64("length") == Page && e.I64("tablesFreed") == 0),
            ("TlbFlush", e => e.Int("kind") == (int)FlushKind.Page && e.U64("start") == Base && e.U64("end") == Base + Page && e.Int("contexts") == 1),
            // The next translation applies both flushes it missed, then faults.
            ("ContextInvalidated", e => e.I64("requests") == 2 && !e.Bool("full")),
            ("PageFault", e => e.U64("address") == Unmapped && e.Int("access") == (int)AccessKind.Read && e.Int("reason") == (int)FaultReason.NotMapped),
            ("PageFault", e => e.U64("address") == HugeBase + Page && e.Int("access") == (int)AccessKind.Write && e.Int("reason") == (int)FaultReason.ProtectionViolation),
            // The rest of the 4 MiB: both PTE tables empty out and are freed after the flush.
            ("UnmapRange", e => e.U64("address") == Base + Page && e.U64("length") == 4 * MiB - Page && e.I64("tablesFreed") == 2),
            ("TlbFlush", e => e.Int("kind") == (int)FlushKind.All && e.U64("start") == Base + Page && e.U64("end") == Base + 4 * MiB),
            ("TableFree", e => e.Int("level") == 1), ("TableFree", e => e.Int("level") == 1),
            // Teardown: the split PTE table, the PMD and PUD tables and the root.
            ("AddressSpaceTeardown", e => e.I64("tables") == beforeTeardown.Total + 1),
            ("TlbFlush", e => e.Int("kind") == (int)FlushKind.All && e.U64("start") == 0),
            ("TableFree", e => e.Int("level") == 1), ("TableFree", e => e.Int("level") == 2),
            ("TableFree", e => e.Int("level") == 3), ("TableFree", e => e.Int("level") == 4),
        };
        Assert.True(expected.Count == events.Count, $"expected {expected.Count} events of space {id}, got {events.Count}:\n{trace}");
        for (int i = 0; i < expected.Count; i++)
        {
            Assert.True(expected[i].Name == events[i].Name, $"event {i}: expected {expected[i].Name}, got {events[i]}\n{trace}");
            Assert.True(expected[i].Check(events[i]), $"event {i} has the wrong payload: {events[i]}\n{trace}");
        }
        Assert.Equal(3, beforeTeardown.Total);
        // Every table event names a frame, and each table freed is one that was allocated.
        var allocated = events.Where(e => e.Name == "TableAlloc").Select(e => e.U64("pfn")).ToHashSet();
        Assert.Equal(allocated, events.Where(e => e.Name == "TableFree").Select(e => e.U64("pfn")).ToHashSet());
        Assert.Single(events.Select(e => e.Thread).Distinct());
    }

    [Fact]
    public void Events_written_before_the_session_do_not_arrive_and_a_disabled_source_writes_nothing()
    {
        using var directory = new TemporaryDirectory();
        using Machine machine = Create(1 * GiB);
        using AddressSpace space = machine.CreateAddressSpace();
        Assert.False(Diagnostics.FastPtEventSource.Log.IsEnabled());
        space.Map(V(Base), P(0), 2 * MiB, Protection.ReadWrite);
        IReadOnlyList<CapturedEvent> events;
        using (var capture = new EventPipeCapture(directory.File("late.nettrace")))
        {
            Assert.True(Diagnostics.FastPtEventSource.Log.IsEnabled());
            space.Unmap(V(Base), 2 * MiB);
            events = capture.Stop();
        }
        Assert.False(Diagnostics.FastPtEventSource.Log.IsEnabled());
        List<string> names = events.Where(e => e.Provider == "FastPt" && e.Payload.TryGetValue("space", out object? s) && Convert.ToUInt64(s) == space.Id)
            .Select(e => e.Name).ToList();
        Assert.DoesNotContain("MapRange", names);
        Assert.Contains("UnmapRange", names);
    }
}
