using System;
using System.Collections.Generic;
using System.Diagnostics.Metrics;
using System.Diagnostics.Tracing;
using System.Threading;
using FastPt.Diagnostics;
using Xunit;
using static FastPt.Tests.TestMachines;

namespace FastPt.Tests.Tracing;

/// <summary>The "FastPt" Meter, read in process with a <see cref="MeterListener"/>, reports what the engine counts.</summary>
[Collection("Serial")]
public sealed class FastPtMeterTests : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly Dictionary<string, double> _values = new(StringComparer.Ordinal);
    private readonly HashSet<string> _instruments = new(StringComparer.Ordinal);

    public FastPtMeterTests()
    {
        // The meter comes into being with the first machine; make sure it exists before the listener starts.
        Assert.Equal(FastPtMeter.MeterName, FastPtMeter.Meter.Name);
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name != FastPtMeter.MeterName) return;
            _instruments.Add(instrument.Name);
            listener.EnableMeasurementEvents(instrument);
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => _values[Key(instrument, tags)] = value);
        _listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) => _values[Key(instrument, tags)] = value);
        _listener.Start();
    }

    public void Dispose() => _listener.Dispose();

    private static string Key(Instrument instrument, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        string key = instrument.Name;
        foreach (KeyValuePair<string, object?> tag in tags) key += $"[{tag.Key}={tag.Value}]";
        return key;
    }

    private Dictionary<string, double> Observe()
    {
        _values.Clear();
        _listener.RecordObservableInstruments();
        return new Dictionary<string, double>(_values, StringComparer.Ordinal);
    }

    [Fact]
    public void Instruments_report_what_the_engine_publishes()
    {
        Dictionary<string, double> baseline = Observe();
        Assert.Superset(new HashSet<string>
        {
            "fastpt.page_tables", "fastpt.memmap.pages", "fastpt.memory.free_frames", "fastpt.tlb.hit_rate", "fastpt.tlb.hits",
            "fastpt.tlb.misses", "fastpt.faults", "fastpt.tlb.flushes_published", "fastpt.locks.contended",
        }, _instruments);
        int machinesBefore = FastPtMeter.LiveMachines;
        TlbStatistics tlb;
        long flushes;
        Dictionary<string, double> used;

        using (Machine machine = Create(1 * GiB))
        {
            Assert.Equal(machinesBefore + 1, FastPtMeter.LiveMachines);
            MemoryStatistics booted = machine.GetStatistics();
            Dictionary<string, double> afterBoot = Observe();
            Assert.Equal(booted.PageTablePages, afterBoot["fastpt.page_tables"] - baseline["fastpt.page_tables"]);
            Assert.Equal(booted.FreePages, afterBoot["fastpt.memory.free_frames"] - baseline["fastpt.memory.free_frames"]);
            Assert.Equal(booted.MemmapBootPages, afterBoot["fastpt.memmap.pages[kind=boot]"] - baseline["fastpt.memmap.pages[kind=boot]"]);
            Assert.Equal(booted.MemmapPages, afterBoot["fastpt.memmap.pages[kind=runtime]"] - baseline["fastpt.memmap.pages[kind=runtime]"]);

            using AddressSpace space = machine.CreateAddressSpace();
            space.Map(V(0x4000_0000), P(0), 4 * MiB, Protection.ReadWrite, PageSize.Size4K);
            for (int pass = 0; pass < 2; pass++)
                for (ulong offset = 0; offset < 4 * MiB; offset += 64 * Page) Assert.True(space.Translate(V(0x4000_0000 + offset)).Succeeded);
            Assert.False(space.Translate(V(0x5000_0000)).Succeeded);
            space.Unmap(V(0x4000_0000), Page);

            used = Observe();
            tlb = space.TlbStatistics;
            flushes = space.FlushesPublished;
            Assert.Equal(space.PageTables.Total + 1, used["fastpt.page_tables"] - afterBoot["fastpt.page_tables"]);
            Assert.Equal(-(space.PageTables.Total + 1), used["fastpt.memory.free_frames"] - afterBoot["fastpt.memory.free_frames"]);
            Assert.Equal(tlb.Hits, used["fastpt.tlb.hits"] - baseline["fastpt.tlb.hits"]);
            Assert.Equal(tlb.Misses, used["fastpt.tlb.misses"] - baseline["fastpt.tlb.misses"]);
            Assert.Equal(1, tlb.Faults);
            Assert.Equal(1, used["fastpt.faults"] - baseline["fastpt.faults"]);
            // The user space's flushes, and the kernel's since boot (none here: nothing was hot-removed).
            Assert.Equal(flushes, used["fastpt.tlb.flushes_published"] - baseline["fastpt.tlb.flushes_published"]);
            Assert.True(tlb.Hits > 0 && tlb.Misses > 0);
            double rate = used["fastpt.tlb.hit_rate"];
            Assert.InRange(rate, 0, 1);
            if (baseline["fastpt.tlb.hits"] + baseline["fastpt.tlb.misses"] == 0) Assert.Equal(tlb.HitRate, rate, 12);
            Assert.Equal(0, used["fastpt.locks.contended"] - baseline["fastpt.locks.contended"]);
        }

        // A disposed machine's gauges are gone; its counts stay in the counters, which never go down. Teardown
        // published one more flush.
        Dictionary<string, double> afterDispose = Observe();
        Assert.Equal(machinesBefore, FastPtMeter.LiveMachines);
        Assert.Equal(baseline["fastpt.page_tables"], afterDispose["fastpt.page_tables"]);
        Assert.Equal(baseline["fastpt.memory.free_frames"], afterDispose["fastpt.memory.free_frames"]);
        Assert.Equal(used["fastpt.tlb.hits"], afterDispose["fastpt.tlb.hits"]);
        Assert.Equal(used["fastpt.tlb.misses"], afterDispose["fastpt.tlb.misses"]);
        Assert.Equal(used["fastpt.faults"], afterDispose["fastpt.faults"]);
        Assert.Equal(used["fastpt.tlb.flushes_published"] + 1, afterDispose["fastpt.tlb.flushes_published"]);
    }

    [Fact]
    public void Hugetlb_instruments_report_the_vmemmap_pages_hvo_freed_and_restored()
    {
        Dictionary<string, double> baseline = Observe();
        Assert.Superset(new HashSet<string> { "fastpt.hugetlb.vmemmap_pages", "fastpt.hugetlb.folios_optimized" }, _instruments);
        Dictionary<string, double> shrunkReading;
        using (var machine = new Machine(new MachineOptions { MemorySize = 2 * GiB, HugeTlbOptimizeVmemmap = true }))
        {
            HugeTlbResizeResult grown = machine.HugeTlb.SetPoolSize(PageSize.Size2M, 64);
            Assert.Equal(64 * 7, grown.VmemmapPagesFreed);
            Dictionary<string, double> grownReading = Observe();
            Assert.Equal(grown.VmemmapPagesFreed, grownReading["fastpt.hugetlb.vmemmap_pages[kind=freed]"] - baseline["fastpt.hugetlb.vmemmap_pages[kind=freed]"]);
            Assert.Equal(0, grownReading["fastpt.hugetlb.vmemmap_pages[kind=restored]"] - baseline["fastpt.hugetlb.vmemmap_pages[kind=restored]"]);
            Assert.Equal(64, grownReading["fastpt.hugetlb.folios_optimized"] - baseline["fastpt.hugetlb.folios_optimized"]);

            HugeTlbResizeResult shrunk = machine.HugeTlb.SetPoolSize(PageSize.Size2M, 16);
            shrunkReading = Observe();
            Assert.Equal(48 * 7, shrunk.VmemmapPagesRestored);
            Assert.Equal(shrunk.VmemmapPagesRestored, shrunkReading["fastpt.hugetlb.vmemmap_pages[kind=restored]"] - baseline["fastpt.hugetlb.vmemmap_pages[kind=restored]"]);
            Assert.Equal(16, shrunkReading["fastpt.hugetlb.folios_optimized"] - baseline["fastpt.hugetlb.folios_optimized"]);
        }

        // The disposed machine's optimized folios leave the gauge; the counters keep its pages.
        Dictionary<string, double> afterDispose = Observe();
        Assert.Equal(baseline["fastpt.hugetlb.folios_optimized"], afterDispose["fastpt.hugetlb.folios_optimized"]);
        Assert.Equal(shrunkReading["fastpt.hugetlb.vmemmap_pages[kind=freed]"], afterDispose["fastpt.hugetlb.vmemmap_pages[kind=freed]"]);
        Assert.True(afterDispose["fastpt.hugetlb.vmemmap_pages[kind=restored]"] >= shrunkReading["fastpt.hugetlb.vmemmap_pages[kind=restored]"]);
    }

    private sealed class EventCounter : EventListener
    {
        public int PageFaults;
        public int TlbFlushes;

        protected override void OnEventSourceCreated(EventSource eventSource)
        {
            if (eventSource.Name == "FastPt") EnableEvents(eventSource, EventLevel.Verbose, EventKeywords.All);
        }

        protected override void OnEventWritten(EventWrittenEventArgs eventData)
        {
            if (eventData.EventName == "PageFault") Interlocked.Increment(ref PageFaults);
            if (eventData.EventName == "TlbFlush") Interlocked.Increment(ref TlbFlushes);
        }
    }

    [Fact]
    public void Faults_and_flushes_count_what_the_trace_shows()
    {
        Dictionary<string, double> before = Observe();
        var events = new EventCounter();
        using (events)
        using (Machine machine = Create(256 * MiB))
        using (AddressSpace space = machine.CreateAddressSpace())
        {
            space.Map(V(0x4000_0000), P(0), 2 * Page, Protection.Read, PageSize.Size4K);
            space.Map(V(0x4000_0000 + 2 * Page), P(2 * Page), Page, Protection.ReadWrite, PageSize.Size4K);
            MmuContext context = space.CreateContext();
            var buffer = new byte[2 * Page];
            // Every kind of fault a CPU context can report, through every entry point.
            Assert.False(space.Translate(V(0x5000_0000)).Succeeded);                                 // not mapped
            Assert.False(space.Translate(V(0x4000_0000), AccessKind.Write).Succeeded);               // protection
            Assert.False(space.Translate(V(0x0000_8000_0000_0000)).Succeeded);                       // non-canonical
            Assert.False(space.TryTranslate(V(0x5000_0000), AccessKind.Read, out _));                // fast path miss
            Assert.False(space.TryWrite(V(0x4000_0000 + Page), buffer, out _));                      // page check: read-only first page
            Assert.False(space.TryRead(V(0x4000_0000 + 2 * Page), buffer, out _));                   // page check: second page unmapped
            Assert.False(space.TryRead(V(ulong.MaxValue - 7), buffer.AsSpan(0, 16), out _));         // wraps around
            Assert.False(context.TranslateKernel(V(0x4000_0000)).Succeeded);                         // user address as kernel
            Assert.Throws<PageFaultException>(() => space.Write(V(0x4000_0000), 1UL));               // typed write
            space.Unmap(V(0x4000_0000), 3 * Page);
            context.Dispose();
        }

        Dictionary<string, double> after = Observe();
        Assert.Equal(9, events.PageFaults);
        Assert.Equal(events.PageFaults, after["fastpt.faults"] - before["fastpt.faults"]);
        Assert.True(events.TlbFlushes > 0);
        Assert.Equal(events.TlbFlushes, after["fastpt.tlb.flushes_published"] - before["fastpt.tlb.flushes_published"]);
    }

    [Fact]
    public void Observing_while_machines_come_and_go_never_throws()
    {
        bool stop = false;
        int observations = 0;
        Exception? failure = null;
        var observer = new System.Threading.Thread(() =>
        {
            try
            {
                while (!System.Threading.Volatile.Read(ref stop) || observations < 10)
                {
                    Observe();
                    observations++;
                }
            }
            catch (Exception exception)
            {
                failure = exception;
            }
        });
        observer.Start();
        for (int i = 0; i < 8; i++)
        {
            using Machine machine = Create(256 * MiB);
            using AddressSpace space = machine.CreateAddressSpace();
            space.Map(V(0x4000_0000), P(0), 2 * MiB, Protection.ReadWrite, PageSize.Size4K);
            Assert.True(space.Translate(V(0x4000_0000)).Succeeded);
        }
        System.Threading.Volatile.Write(ref stop, true);
        Assert.True(observer.Join(TimeSpan.FromSeconds(20)));
        Assert.Null(failure);
        Assert.True(observations >= 10);
    }

    [Fact]
    public void One_collection_is_one_snapshot_so_the_hit_rate_matches_its_hits_and_misses()
    {
        using Machine machine = Create(64 * MiB);
        using AddressSpace space = machine.CreateAddressSpace();
        // More pages than the TLB holds, so cycling through them both hits and misses.
        const ulong Pages = 4096;
        space.Map(V(0x4000_0000), P(0), Pages * Page, Protection.ReadWrite, PageSize.Size4K);
        using var stop = new CancellationTokenSource();
        // Translations while the listener samples: hits and misses move between any two reads of them.
        var translator = new Thread(() =>
        {
            ulong i = 0;
            while (!stop.IsCancellationRequested)
            {
                _ = space.Translate(V(0x4000_0000 + (ulong)(i % 3 == 0 ? i % Pages : 0) * Page));
                i++;
            }
        });
        translator.Start();
        try
        {
            long readingsBefore = FastPtMeter.ReadingsTaken;
            const int Collections = 300;
            for (int i = 0; i < Collections; i++)
            {
                Dictionary<string, double> sample = Observe();
                double hits = sample["fastpt.tlb.hits"], misses = sample["fastpt.tlb.misses"];
                Assert.Equal(hits + misses == 0 ? 0 : hits / (hits + misses), sample["fastpt.tlb.hit_rate"]);
            }
            Assert.Equal(Collections, FastPtMeter.ReadingsTaken - readingsBefore);
        }
        finally
        {
            stop.Cancel();
            translator.Join();
        }
    }
}
