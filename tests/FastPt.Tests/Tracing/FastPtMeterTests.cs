using System;
using System.Collections.Generic;
using System.Diagnostics.Metrics;
using System.Linq;
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
    public void Instruments_report_the_counters_of_the_live_machines()
    {
        Dictionary<string, double> baseline = Observe();
        Assert.Superset(new HashSet<string>
        {
            "fastpt.page_tables", "fastpt.memmap.pages", "fastpt.memory.free_frames", "fastpt.tlb.hit_rate", "fastpt.tlb.hits",
            "fastpt.tlb.misses", "fastpt.faults", "fastpt.tlb.flushes_published", "fastpt.rcu.pending_callbacks", "fastpt.locks.contended",
        }, _instruments);
        int machinesBefore = FastPtMeter.LiveMachines;

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

            Dictionary<string, double> used = Observe();
            TlbStatistics tlb = space.TlbStatistics;
            Assert.Equal(space.PageTables.Total + 1, used["fastpt.page_tables"] - afterBoot["fastpt.page_tables"]);
            Assert.Equal(-(space.PageTables.Total + 1), used["fastpt.memory.free_frames"] - afterBoot["fastpt.memory.free_frames"]);
            Assert.Equal(tlb.Hits, used["fastpt.tlb.hits"] - baseline["fastpt.tlb.hits"]);
            Assert.Equal(tlb.Misses, used["fastpt.tlb.misses"] - baseline["fastpt.tlb.misses"]);
            Assert.Equal(1, used["fastpt.faults"] - baseline["fastpt.faults"]);
            Assert.Equal(space.FlushesPublished, used["fastpt.tlb.flushes_published"] - baseline["fastpt.tlb.flushes_published"]);
            Assert.True(tlb.Hits > 0 && tlb.Misses > 0);
            double rate = used["fastpt.tlb.hit_rate"];
            Assert.InRange(rate, 0, 1);
            if (baseline["fastpt.tlb.hits"] + baseline["fastpt.tlb.misses"] == 0) Assert.Equal(tlb.HitRate, rate, 12);
            Assert.Equal(0, used["fastpt.locks.contended"]);
            Assert.Equal(machine.GetStatistics().RcuPendingCallbacks, used["fastpt.rcu.pending_callbacks"] - baseline["fastpt.rcu.pending_callbacks"]);
        }

        // A disposed machine no longer counts in the gauges; the counters keep what it counted.
        Dictionary<string, double> afterDispose = Observe();
        Assert.Equal(machinesBefore, FastPtMeter.LiveMachines);
        Assert.Equal(baseline["fastpt.page_tables"], afterDispose["fastpt.page_tables"]);
        Assert.Equal(baseline["fastpt.memory.free_frames"], afterDispose["fastpt.memory.free_frames"]);
        Assert.True(afterDispose["fastpt.tlb.hits"] > baseline["fastpt.tlb.hits"]);
        Assert.Equal(1, afterDispose["fastpt.faults"] - baseline["fastpt.faults"]);
    }

    /// <summary>Issue 9: the Meter said 0 faults where the trace of the same run counted 4, because the address
    /// spaces that faulted were gone. Counters never go down: a disposed context, address space or machine leaves
    /// its counts behind.</summary>
    [Fact]
    public void Counters_keep_the_counts_of_what_was_disposed()
    {
        Dictionary<string, double> baseline = Observe();
        string[] counters = ["fastpt.tlb.hits", "fastpt.tlb.misses", "fastpt.faults", "fastpt.tlb.flushes_published"];
        Dictionary<string, double> previous = baseline;
        void AssertNoCounterWentDown(Dictionary<string, double> now)
        {
            foreach (string counter in counters) Assert.True(now[counter] >= previous[counter], $"{counter}: {previous[counter]} -> {now[counter]}");
            previous = now;
        }

        TlbStatistics counted;
        long flushes;
        using (Machine machine = Create(1 * GiB))
        {
            AddressSpace space = machine.CreateAddressSpace();
            space.Map(V(0x4000_0000), P(0), 2 * MiB, Protection.Read, PageSize.Size4K);
            using (MmuContext cpu = space.CreateContext())
            {
                for (int pass = 0; pass < 2; pass++)
                    for (ulong offset = 0; offset < 2 * MiB; offset += 16 * Page) Assert.True(cpu.TryTranslate(V(0x4000_0000 + offset), AccessKind.Read, out _));
                Assert.False(cpu.Translate(V(0x4000_0000), AccessKind.Write).Succeeded);
                Assert.False(cpu.Translate(V(0x5000_0000)).Succeeded);
            }
            // The explicit context is gone; its counts stay in the address space's.
            counted = space.TlbStatistics;
            Assert.Equal(2, counted.Faults);
            Assert.True(counted.Hits > 0 && counted.Misses > 0);
            Assert.False(space.Translate(V(0x4000_0000), AccessKind.Write).Succeeded);
            space.Unmap(V(0x4000_0000), 2 * MiB);
            counted = space.TlbStatistics;
            flushes = space.FlushesPublished;
            Assert.Equal(3, counted.Faults);
            AssertNoCounterWentDown(Observe());

            space.Dispose();
            Dictionary<string, double> afterSpace = Observe();
            AssertNoCounterWentDown(afterSpace);
            Assert.Equal(counted.Faults, afterSpace["fastpt.faults"] - baseline["fastpt.faults"]);
            Assert.Equal(counted.Hits, afterSpace["fastpt.tlb.hits"] - baseline["fastpt.tlb.hits"]);
        }

        Dictionary<string, double> afterMachine = Observe();
        AssertNoCounterWentDown(afterMachine);
        Assert.Equal(counted.Faults, afterMachine["fastpt.faults"] - baseline["fastpt.faults"]);
        Assert.Equal(counted.Hits, afterMachine["fastpt.tlb.hits"] - baseline["fastpt.tlb.hits"]);
        Assert.Equal(counted.Misses, afterMachine["fastpt.tlb.misses"] - baseline["fastpt.tlb.misses"]);
        Assert.Equal(flushes, afterMachine["fastpt.tlb.flushes_published"] - baseline["fastpt.tlb.flushes_published"]);
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
}
