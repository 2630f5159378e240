using System;
using System.Diagnostics.Metrics;
using System.Linq;
using System.Threading;
using FastPt.Diagnostics;
using FastPt.Tests.Cli;
using FastPt.Tracing;
using Xunit;
using static FastPt.Tests.TestMachines;

namespace FastPt.Tests.Tracing;

/// <summary>The summariser's numbers for a recorded run equal the engine's own counters for the same run.</summary>
[Collection("Serial")]
public class TraceSummaryTests
{
    private const ulong SmallBase = 0x4000_0000;            // 4 MiB of 4 KiB pages
    private const ulong HugeBase = SmallBase + 16 * MiB;     // 8 MiB of 2 MiB pages, same PMD table
    private const ulong GigaBase = 0x80_0000_0000;           // one 1 GiB page in the next 512 GiB slot

    [Fact]
    public void Summary_of_a_paging_run_equals_the_engine_counters()
    {
        using var directory = new TemporaryDirectory();
        using Machine machine = Create(1 * GiB);
        string workPath = directory.File("work.nettrace");
        string teardownPath = directory.File("teardown.nettrace");

        MemoryStatistics before, after, afterTeardown;
        AddressSpace space;
        long leavesAfterMapping, splitTables, flushesBeforeTeardown, flushesAfterTeardown;
        ulong mappedBytes;
        long faults;
        long[] flushesByKind;
        using (TraceRecorder recorder = TraceRecorder.Start(workPath, new TraceRecorderOptions { MeterRefreshSeconds = 0.1 }))
        {
            before = machine.GetStatistics();
            space = machine.CreateAddressSpace();
            space.Map(V(SmallBase), P(0), 4 * MiB, Protection.ReadWrite, PageSize.Size4K);
            space.Map(V(HugeBase), P(16 * MiB), 8 * MiB, Protection.ReadWrite, PageSize.Size2M);
            space.Map(V(GigaBase), P(0), 1 * GiB, Protection.ReadWrite, PageSize.Size1G);
            leavesAfterMapping = space.LeafCount(PageSize.Size4K) + space.LeafCount(PageSize.Size2M) + space.LeafCount(PageSize.Size1G);

            for (ulong offset = 0; offset < 64 * Page; offset += Page) Assert.True(space.Translate(V(SmallBase + offset)).Succeeded);
            for (int i = 0; i < 3; i++) Assert.False(space.Translate(V(0x7000_0000)).Succeeded);

            // Splits 1G -> 2M -> 4K: two new tables, one full flush.
            long tablesBeforeSplit = space.PageTables.Total;
            space.Protect(V(GigaBase + 5 * Page), Page, Protection.Read);
            splitTables = space.PageTables.Total - tablesBeforeSplit;
            // Taking rights away from 8 pages is a range flush; giving them back is not flushed at all.
            space.Protect(V(SmallBase + 8 * Page), 8 * Page, Protection.Read);
            space.Protect(V(SmallBase + 8 * Page), 8 * Page, Protection.ReadWrite);
            // Two unmaps share one gather, hence one flush.
            using (MmuGather gather = space.BeginGather())
            {
                space.Unmap(V(SmallBase + 100 * Page), Page, gather);
                space.Unmap(V(SmallBase + 102 * Page), Page, gather);
            }
            space.Unmap(V(HugeBase), 8 * MiB);
            Assert.False(space.Translate(V(HugeBase)).Succeeded);

            // Wait until the Meter (collected every 0.1 s) has published at least twice while the machine is alive:
            // a probe instrument on a meter of the same name is collected in the same passes, and its third
            // collection means two whole passes were published. The bound only ends a test that failed.
            int collections = 0;
            using (var probe = new Meter(FastPtMeter.MeterName))
            {
                probe.CreateObservableGauge("fastpt.tests.collection_probe", () => Interlocked.Increment(ref collections));
                Assert.True(SpinWait.SpinUntil(() => Volatile.Read(ref collections) >= 3, TimeSpan.FromMinutes(2)), "the Meter was not collected");
            }
            after = machine.GetStatistics();
            mappedBytes = space.MappedBytes;
            faults = space.TlbStatistics.Faults;
            flushesByKind = Enum.GetValues<FlushKind>().Select(space.FlushesPublishedOf).ToArray();
            flushesBeforeTeardown = space.FlushesPublished;
            recorder.Stop();
        }
        using (TraceRecorder recorder = TraceRecorder.Start(teardownPath, new TraceRecorderOptions { MeterRefreshSeconds = 0 }))
        {
            space.Dispose();
            afterTeardown = machine.GetStatistics();
            flushesAfterTeardown = space.Mm.Flush.Published; // the public counter throws once the space is disposed
            recorder.Stop();
        }

        TraceSummary work = TraceSummary.Read(workPath);
        SpaceSummary s = work.Space(space.Id) ?? throw new InvalidOperationException("the trace never mentions the address space");
        Assert.Equal(0, work.EventsLost);

        // Page tables: allocations minus frees are exactly the engine's PageTables growth, level by level, and the
        // free frames went down by as much (the mappings use fixed frames, so tables are the only allocations).
        Assert.Equal(after.PageTablePages - before.PageTablePages, s.TablesAllocated - s.TablesFreed);
        for (int level = 1; level <= 4; level++)
            Assert.Equal(after.UserPageTablesByLevel[level] - before.UserPageTablesByLevel[level], work.Tables.AllocatedByLevel[level] - work.Tables.FreedByLevel[level]);
        Assert.Equal(before.FreePages - after.FreePages, s.TablesAllocated - s.TablesFreed);
        Assert.Equal(0, work.Tables.KernelAllocated);
        Assert.Equal(splitTables, s.Splits);
        Assert.Equal(2, s.Splits);

        // Flushes: by kind and in all, as the address space counted them.
        FlushKind[] kinds = Enum.GetValues<FlushKind>();
        for (int k = 0; k < kinds.Length; k++) Assert.True(flushesByKind[k] == s.FlushesOf(kinds[k]), $"{kinds[k]} flushes: engine {flushesByKind[k]}, trace {s.FlushesOf(kinds[k])}");
        Assert.Equal(flushesBeforeTeardown, s.Flushes);
        Assert.Equal(flushesBeforeTeardown, work.Flushes.Total);
        // The split (the whole 1 GiB leaf's range) and the 8 MiB unmap are full flushes; 8 pages and the gather's 3 are ranges.
        Assert.Equal(2, s.FlushesOf(FlushKind.All));
        Assert.Equal(2, s.FlushesOf(FlushKind.Range));

        // Flushes per operation: maps never flush; the split and the rights taken away flush once each, giving
        // rights back does not; the shared gather flushes once for its two unmaps, the 8 MiB unmap once.
        Assert.Equal(0, work.Operation("map")!.Flushes);
        Assert.Equal(3, work.Operation("map")!.Count);
        Assert.Equal(3, work.Operation("protect")!.Count);
        Assert.Equal(2, work.Operation("protect")!.Flushes);
        Assert.Equal(3, work.Operation("unmap")!.Count);
        Assert.Equal(2, work.Operation("unmap")!.Flushes);
        Assert.Equal(0, work.UnattributedFlushes);
        Assert.Null(work.Operation("teardown"));

        // Mappings and faults.
        Assert.Equal(leavesAfterMapping, s.LeavesMapped);
        Assert.Equal((long)mappedBytes, s.BytesMapped - s.BytesUnmapped);
        Assert.Equal(faults, s.Faults);
        Assert.Equal(4, faults);
        Assert.Equal(4, work.Faults.ByReason[FaultReason.NotMapped]);

        // The Meter published while the machine was alive: the page-table gauge saw at least this machine's tables.
        MetricSummary pageTables = Assert.Single(work.Metrics, m => m.Instrument == "fastpt.page_tables");
        Assert.True(pageTables.Samples >= 2, $"{pageTables.Samples} samples");
        Assert.True(pageTables.Maximum >= after.PageTablePages, $"gauge max {pageTables.Maximum}, machine {after.PageTablePages}");
        Assert.Contains(work.Metrics, m => m.Instrument == "fastpt.memmap.pages" && m.Tags == "kind=boot" && m.Maximum >= after.MemmapBootPages);
        // Counters are totals since the process started (earlier tests may have contended): none during this run.
        Assert.Contains(work.Metrics, m => m.Instrument == "fastpt.locks.contended" && m.Kind == "counter" && m.Maximum == m.Minimum);

        // Teardown: every remaining table freed, in bytes exactly what the buddy allocator got back.
        TraceSummary teardown = TraceSummary.Read(teardownPath);
        SpaceSummary t = teardown.Space(space.Id)!;
        Assert.True(t.TornDown);
        Assert.Equal(after.PageTablePages - afterTeardown.PageTablePages, t.TablesFreed);
        Assert.Equal((afterTeardown.FreePages - after.FreePages) * 4096, teardown.Freed.PageTableBytes);
        Assert.Equal(teardown.Freed.PageTableBytes, teardown.Freed.Total);
        Assert.Equal(s.TablesAllocated - s.TablesFreed, t.TablesFreed);
        Assert.Equal(1, teardown.Operation("teardown")!.Count);
        Assert.Equal(t.TablesFreed, teardown.Operation("teardown")!.Tables);
        Assert.Equal(flushesAfterTeardown - flushesBeforeTeardown, teardown.Operation("teardown")!.Flushes);
    }
}
