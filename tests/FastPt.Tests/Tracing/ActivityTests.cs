using System;
using System.Linq;
using System.Threading;
using FastPt.Diagnostics;
using FastPt.Sync;
using FastPt.Tests.Cli;
using FastPt.Tracing;
using Xunit;
using static FastPt.Tests.TestMachines;

namespace FastPt.Tests.Tracing;

/// <summary>Start/Stop pairs are matched generically by task, thread and start address, and the Stop events'
/// counts become totals and bytes freed; RCU grace periods reach the trace.</summary>
[Collection("Serial")]
public class ActivityTests
{
    private sealed class CountingCallback : IRcuCallback
    {
        public int Calls;

        public void Invoke(ulong argument) => Interlocked.Increment(ref Calls);
    }

    [Fact]
    public void Start_stop_pairs_give_latencies_totals_and_bytes_freed()
    {
        using var directory = new TemporaryDirectory();
        string path = directory.File("activities.nettrace");
        FastPtEventSource log = FastPtEventSource.Log;
        const ulong a = 4 * GiB, b = 5 * GiB, c = 6 * GiB;
        using (TraceRecorder recorder = TraceRecorder.Start(path, new TraceRecorderOptions { MeterRefreshSeconds = 0 }))
        {
            // Two hot-adds, interleaved: each Stop closes the Start of its own range.
            log.HotAddStart(a, 128 * MiB, altmap: false);
            log.HotAddStart(b, 128 * MiB, altmap: true);
            Thread.Sleep(20);
            log.HotAddStop(b, 128 * MiB, memmapPages: 512, tablesAllocated: 3, success: true);
            Thread.Sleep(20);
            log.HotAddStop(a, 128 * MiB, memmapPages: 512, tablesAllocated: 2, success: true);
            // A hot-remove that completes, one whose Start predates nothing (a Stop alone) and one left running.
            log.HotRemoveStart(a, 128 * MiB);
            Thread.Sleep(5);
            log.HotRemoveStop(a, 128 * MiB, memmapFramesFreed: 512, tablesFreed: 2, bytesMarkedUnused: 0, success: true);
            log.HotRemoveStop(b, 128 * MiB, memmapFramesFreed: 8, tablesFreed: 1, bytesMarkedUnused: 4096, success: false);
            log.HotRemoveStart(c, 128 * MiB);
            // An HVO batch on another thread: pairs are matched per thread.
            var worker = new Thread(() =>
            {
                log.VmemmapBatchStart(optimize: true, folios: 512);
                Thread.Sleep(2);
                log.VmemmapBatchStop(optimize: true, folios: 512, pagesFreed: 3584, pagesRestored: 0, flushes: 2);
            });
            worker.Start();
            worker.Join();
            recorder.Stop();
        }

        TraceSummary summary = TraceSummary.Read(path);
        ActivitySummary hotAdd = summary.Activity("HotAdd")!;
        Assert.Equal(2, hotAdd.Completed);
        Assert.Equal(0, hotAdd.UnmatchedStarts + hotAdd.UnmatchedStops);
        // b's pair lasted one sleep, a's two: matched by address, not by order.
        Assert.True(hotAdd.Latency.Minimum >= TimeSpan.FromMilliseconds(19), hotAdd.Latency.ToString());
        Assert.True(hotAdd.Latency.Maximum >= TimeSpan.FromMilliseconds(39), hotAdd.Latency.ToString());
        Assert.True(hotAdd.Latency.Maximum >= hotAdd.Latency.P99 && hotAdd.Latency.P99 >= hotAdd.Latency.Median && hotAdd.Latency.Median >= hotAdd.Latency.Minimum);
        Assert.Equal(2, hotAdd.Latency.Buckets.Sum(bucket => bucket.Count));
        Assert.Equal(1024, hotAdd.StopTotals["memmapPages"]);
        Assert.Equal(5, hotAdd.StopTotals["tablesAllocated"]);
        Assert.Equal(2, hotAdd.StopTotals["success"]);

        ActivitySummary hotRemove = summary.Activity("HotRemove")!;
        Assert.Equal(1, hotRemove.Completed);
        Assert.Equal(1, hotRemove.UnmatchedStarts);
        Assert.Equal(1, hotRemove.UnmatchedStops);
        Assert.Equal(520, hotRemove.StopTotals["memmapFramesFreed"]);
        Assert.Equal(1, hotRemove.StopTotals["success"]);

        ActivitySummary batch = summary.Activity("VmemmapBatch")!;
        Assert.Equal(1, batch.Completed);
        Assert.Equal(3584, batch.StopTotals["pagesFreed"]);

        // Bytes freed: memmap frames from hot-remove, vmemmap pages from HVO, 4 KiB each.
        Assert.Equal(520 * 4096, summary.Freed.MemmapBytes);
        Assert.Equal(3584 * 4096, summary.Freed.VmemmapBytes);
        Assert.Equal(summary.Freed.MemmapBytes + summary.Freed.VmemmapBytes + summary.Freed.PageTableBytes, summary.Freed.Total);
        Assert.Equal(2, summary.CountOf("HotAdd/Start"));
        Assert.Equal(2, summary.CountOf("HotRemove/Stop"));
    }

    [Fact]
    public void Rcu_grace_periods_of_a_machine_reach_the_trace()
    {
        using var directory = new TemporaryDirectory();
        string path = directory.File("rcu.nettrace");
        using Machine machine = Create(1 * GiB);
        RcuDomain rcu = machine.Memory.Rcu;
        var callback = new CountingCallback();
        long gracePeriodsBefore;
        using (TraceRecorder recorder = TraceRecorder.Start(path, new TraceRecorderOptions { MeterRefreshSeconds = 0 }))
        {
            gracePeriodsBefore = rcu.GracePeriods;
            for (int i = 0; i < 5; i++) rcu.CallRcu(callback, (ulong)i);
            rcu.Synchronize();
            rcu.CallRcu(callback, 99);
            rcu.Synchronize();
            rcu.Synchronize(); // nothing queued: a grace period that runs no callback is not an event
            recorder.Stop();
        }
        TraceSummary summary = TraceSummary.Read(path);
        Assert.Equal(6, callback.Calls);
        Assert.Equal(2, summary.Rcu.GracePeriods);
        Assert.Equal(6, summary.Rcu.CallbacksRun);
        Assert.Equal(3, rcu.GracePeriods - gracePeriodsBefore);
    }

    [Fact]
    public void Latency_histogram_uses_nearest_ranks_and_power_of_two_buckets()
    {
        TimeSpan[] durations = Enumerable.Range(1, 100).Select(i => TimeSpan.FromMicroseconds(i * 10)).ToArray();
        LatencyHistogram histogram = LatencyHistogram.FromDurations(durations.Reverse());
        Assert.Equal(100, histogram.Count);
        Assert.Equal(TimeSpan.FromMicroseconds(10), histogram.Minimum);
        Assert.Equal(TimeSpan.FromMicroseconds(500), histogram.Median);
        Assert.Equal(TimeSpan.FromMicroseconds(990), histogram.P99);
        Assert.Equal(TimeSpan.FromMicroseconds(1000), histogram.Maximum);
        // 10 µs is in [8, 16); 1000 µs in [512, 1024).
        Assert.Equal(8, histogram.Buckets[0].LowerMicroseconds);
        Assert.Equal(16, histogram.Buckets[0].UpperMicroseconds);
        Assert.Equal(512, histogram.Buckets[^1].LowerMicroseconds);
        Assert.Equal(100, histogram.Buckets.Sum(bucket => bucket.Count));
        Assert.Equal(49, histogram.Buckets[^1].Count); // 520 .. 1000 µs
        Assert.Same(LatencyHistogram.Empty, LatencyHistogram.FromDurations([]));
        Assert.Equal(0, LatencyHistogram.FromDurations([TimeSpan.FromTicks(3)]).Buckets[0].LowerMicroseconds);
    }
}
