using System.Collections.Generic;
using System.Diagnostics.Metrics;
using System.Threading;

namespace FastPt.Diagnostics;

/// <summary>The "FastPt" <see cref="Meter"/>: observable instruments a person watches live (with
/// <c>dotnet-counters monitor --counters FastPt</c>, <c>dotnet-trace</c>'s <c>System.Diagnostics.Metrics</c>
/// provider, or a <see cref="MeterListener"/>). Gauges are sums over the machines alive in the process; counters
/// are totals since the process started, machines disposed included.</summary>
/// <remarks>The engine publishes what the Meter reports: each machine registers its block of counters when it
/// boots, keeps the figures in it as it runs (its CPUs keep theirs in per-CPU blocks it lists), and unregisters it
/// when disposed, when the block's totals are folded into the process's. The Meter reads those blocks when a
/// listener asks and calls nothing in the engine, so it costs nothing on the hot paths and cannot observe a machine
/// half torn down. <c>fastpt.faults</c> counts exactly the faults the <c>PageFault</c> events report, and
/// <c>fastpt.tlb.flushes_published</c> exactly the <c>TlbFlush</c> events. The instruments of one collection share
/// one reading of every block, so derived figures (the hit rate) agree with the counts of the same sample.</remarks>
public static class FastPtMeter
{
    /// <summary>The meter's name, also the one to give to <c>Metrics=</c> of the
    /// <c>System.Diagnostics.Metrics</c> EventPipe provider.</summary>
    public const string MeterName = "FastPt";

    private static readonly Lock s_lock = new();
    private static readonly List<System.WeakReference<MachineCounters>> s_machines = new();

    // Totals of the machines already disposed, so that the counters never go down.
    private static CpuTotals s_retiredCpus;
    private static long s_retiredFlushes;
    private static long s_retiredContentions;
    private static long s_retiredGracePeriods;
    private static long s_retiredCallbacksRun;
    private static long s_retiredDeferrals;
    private static long s_retiredRedeferrals;
    private static long s_retiredHvoFreed, s_retiredHvoRestored;

    /// <summary>The meter.</summary>
    public static Meter Meter { get; } = CreateMeter();

    private static Meter CreateMeter()
    {
        var meter = new Meter(MeterName, typeof(FastPtMeter).Assembly.GetName().Version?.ToString());
        meter.CreateObservableGauge("fastpt.page_tables", static () => Observe(Instrument.PageTables).PageTablePages, "{page}",
            "Page-table pages of every address space and of the kernel (PageTables in /proc/meminfo).");
        meter.CreateObservableGauge("fastpt.memmap.pages", ObserveMemmap, "{page}",
            "Memmap pages by when they were allocated: tag kind=boot (nr_memmap_boot_pages) or kind=runtime (nr_memmap_pages).");
        meter.CreateObservableGauge("fastpt.memory.free_frames", static () => Observe(Instrument.FreeFrames).FreePages, "{frame}",
            "Frames free in the buddy allocators (nr_free_pages).");
        meter.CreateObservableGauge("fastpt.tlb.hit_rate", static () => Observe(Instrument.HitRate).HitRate, null,
            "TLB hits over all translations since the process started (0 to 1; 0 before any translation), from the same "
            + "reading as the fastpt.tlb.hits and fastpt.tlb.misses of the same collection.");
        meter.CreateObservableCounter("fastpt.tlb.hits", static () => Observe(Instrument.Hits).Cpus.Hits, "{translation}",
            "Translations answered by a TLB, since the process started.");
        meter.CreateObservableCounter("fastpt.tlb.misses", static () => Observe(Instrument.Misses).Cpus.Misses, "{translation}",
            "Translations that missed the TLB, since the process started.");
        meter.CreateObservableCounter("fastpt.faults", static () => Observe(Instrument.Faults).Cpus.Faults, "{fault}",
            "Translations and accesses through a CPU context that faulted, since the process started: one per PageFault event.");
        meter.CreateObservableCounter("fastpt.tlb.flushes_published", static () => Observe(Instrument.Flushes).Flushes, "{flush}",
            "TLB flushes published to CPU contexts (user address spaces and the kernel), since the process started: one per TlbFlush event.");
        meter.CreateObservableCounter("fastpt.locks.contended", static () => Observe(Instrument.Contentions).Contentions, "{acquisition}",
            "Page-table lock acquisitions that found the lock held by another thread (each address space's "
            + "page_table_lock; split page-table locks are not built yet), since the process started.");
        meter.CreateObservableGauge("fastpt.rcu.pending_callbacks", static () => Observe(Instrument.RcuPendingCallbacks).RcuPendingCallbacks, "{callback}",
            "RCU callbacks waiting for a grace period.");
        meter.CreateObservableCounter("fastpt.rcu.grace_periods", static () => Observe(Instrument.RcuGracePeriods).RcuGracePeriods, "{grace_period}",
            "RCU grace periods completed, since the process started.");
        meter.CreateObservableCounter("fastpt.rcu.callbacks_run", static () => Observe(Instrument.RcuCallbacksRun).RcuCallbacksRun, "{callback}",
            "RCU callbacks run, since the process started.");
        meter.CreateObservableGauge("fastpt.rcu.pending_table_bytes", static () => Observe(Instrument.RcuPendingTableBytes).RcuPendingTableBytes, "By",
            "Page-table memory referenced by queued RCU callbacks (blocks whose head is queued, tables of queued gather batches).");
        meter.CreateObservableGauge("fastpt.pte.blocks", static () => Observe(Instrument.PteBlocks).PteBlocks, "{block}",
            "Page-table blocks alive (PTE fragments share one).");
        meter.CreateObservableGauge("fastpt.pte.fragments", ObserveFragments, "{fragment}",
            "PTE fragments by state: tag state=in_use (handed out as tables) or state=free (in the cursors).");
        meter.CreateObservableCounter("fastpt.pte.deferrals", ObserveDeferrals, "{deferral}",
            "pte_free_defer calls (tag kind=deferred) and re-deferrals of the PTE_FREE_DEFERRED scheme (kind=redeferred), since the process started.");
        meter.CreateObservableCounter("fastpt.hugetlb.vmemmap_pages", ObserveVmemmapPages, "{page}",
            "Vmemmap pages HugeTLB vmemmap optimization freed (tag kind=freed) and allocated again on restore (kind=restored), since the process started.");
        meter.CreateObservableGauge("fastpt.hugetlb.folios_optimized", static () => Observe(Instrument.HugetlbFoliosOptimized).HvoFoliosOptimized, "{folio}",
            "HugeTLB folios whose vmemmap is optimized now.");
        return meter;
    }

    /// <summary>The instruments, each with its bit in <see cref="s_consumed"/>.</summary>
    private enum Instrument
    {
        PageTables, Memmap, FreeFrames, HitRate, Hits, Misses, Faults, Flushes, Contentions,
        RcuPendingCallbacks, RcuGracePeriods, RcuCallbacksRun, RcuPendingTableBytes, PteBlocks, PteFragments, PteDeferrals,
        HugetlbVmemmapPages, HugetlbFoliosOptimized,
    }

    /// <summary>Everything the instruments report, read at once.</summary>
    private readonly record struct Reading(long PageTablePages, long MemmapBootPages, long MemmapPages, long FreePages,
        CpuTotals Cpus, long Flushes, long Contentions, long RcuPendingCallbacks, long RcuGracePeriods, long RcuCallbacksRun,
        long RcuPendingTableBytes, long PteBlocks, long PteFragmentsInUse, long PteFragmentsFree, long Deferrals, long Redeferrals,
        long HvoPagesFreed, long HvoPagesRestored, long HvoFoliosOptimized)
    {
        public double HitRate => Cpus.Hits + Cpus.Misses == 0 ? 0 : (double)Cpus.Hits / (Cpus.Hits + Cpus.Misses);
    }

    // A collection (dotnet-counters' refresh, MeterListener.RecordObservableInstruments) calls every instrument once,
    // one after the other; they all report the reading the first of them took, so derived figures (the hit rate)
    // agree with the counts of the same sample. An instrument asking a second time starts the next collection's
    // reading, and a reading older than ReadingLifetime is never reused (a listener that observes only some
    // instruments always gets fresh values).
    private static readonly long ReadingLifetimeTicks = System.Diagnostics.Stopwatch.Frequency / 10;
    private static Reading s_reading;
    private static int s_consumed;
    private static long s_readAt;

    /// <summary>Readings taken so far (for tests).</summary>
    internal static long ReadingsTaken { get; private set; }

    private static Reading Observe(Instrument instrument)
    {
        int bit = 1 << (int)instrument;
        lock (s_lock)
        {
            long now = System.Diagnostics.Stopwatch.GetTimestamp();
            if (s_consumed == 0 || (s_consumed & bit) != 0 || now - s_readAt > ReadingLifetimeTicks)
            {
                s_reading = ReadLocked();
                s_consumed = 0;
                s_readAt = now;
                ReadingsTaken++;
            }
            s_consumed |= bit;
            return s_reading;
        }
    }

    /// <summary>Machines alive right now (for tests and tools).</summary>
    public static int LiveMachines
    {
        get
        {
            lock (s_lock)
            {
                Prune();
                return s_machines.Count;
            }
        }
    }

    /// <summary>Starts reporting the counters of a machine that just booted.</summary>
    internal static void Register(MachineCounters machine)
    {
        lock (s_lock)
        {
            Prune();
            s_machines.Add(new System.WeakReference<MachineCounters>(machine));
        }
    }

    /// <summary>Stops reporting a machine's gauges and keeps its totals in the process's counters.</summary>
    internal static void Unregister(MachineCounters machine)
    {
        lock (s_lock)
        {
            int removed = s_machines.RemoveAll(reference => !reference.TryGetTarget(out MachineCounters? target) || ReferenceEquals(target, machine));
            if (removed == 0) return;
            s_retiredCpus.Add(machine.ReadCpus());
            s_retiredFlushes += Volatile.Read(ref machine.TlbFlushesPublished);
            s_retiredContentions += Volatile.Read(ref machine.PageTableLockContentions);
            s_retiredGracePeriods += machine.Rcu?.GracePeriods ?? 0;
            s_retiredCallbacksRun += machine.Rcu?.CallbacksInvoked ?? 0;
            s_retiredDeferrals += Volatile.Read(ref machine.TablesDeferred);
            s_retiredRedeferrals += Volatile.Read(ref machine.Redeferrals);
            s_retiredHvoFreed += Volatile.Read(ref machine.HvoPagesFreed);
            s_retiredHvoRestored += Volatile.Read(ref machine.HvoPagesRestored);
        }
    }

    private static void Prune() => s_machines.RemoveAll(static reference => !reference.TryGetTarget(out _));

    private static IEnumerable<Measurement<long>> ObserveMemmap()
    {
        Reading reading = Observe(Instrument.Memmap);
        return
        [
            new Measurement<long>(reading.MemmapBootPages, new KeyValuePair<string, object?>("kind", "boot")),
            new Measurement<long>(reading.MemmapPages, new KeyValuePair<string, object?>("kind", "runtime")),
        ];
    }

    private static IEnumerable<Measurement<long>> ObserveFragments()
    {
        Reading reading = Observe(Instrument.PteFragments);
        return
        [
            new Measurement<long>(reading.PteFragmentsInUse, new KeyValuePair<string, object?>("state", "in_use")),
            new Measurement<long>(reading.PteFragmentsFree, new KeyValuePair<string, object?>("state", "free")),
        ];
    }

    private static IEnumerable<Measurement<long>> ObserveDeferrals()
    {
        Reading reading = Observe(Instrument.PteDeferrals);
        return
        [
            new Measurement<long>(reading.Deferrals, new KeyValuePair<string, object?>("kind", "deferred")),
            new Measurement<long>(reading.Redeferrals, new KeyValuePair<string, object?>("kind", "redeferred")),
        ];
    }

    private static IEnumerable<Measurement<long>> ObserveVmemmapPages()
    {
        Reading reading = Observe(Instrument.HugetlbVmemmapPages);
        return
        [
            new Measurement<long>(reading.HvoPagesFreed, new KeyValuePair<string, object?>("kind", "freed")),
            new Measurement<long>(reading.HvoPagesRestored, new KeyValuePair<string, object?>("kind", "restored")),
        ];
    }

    /// <summary>Reads every live machine's block and adds the retired totals; the caller holds <see cref="s_lock"/>,
    /// which Register and Unregister take too, so no machine is counted both live and retired.</summary>
    private static Reading ReadLocked()
    {
        long pageTables = 0, memmapBoot = 0, memmap = 0, free = 0;
        CpuTotals cpus = s_retiredCpus;
        long flushes = s_retiredFlushes;
        long contentions = s_retiredContentions;
        long pendingCallbacks = 0, gracePeriods = s_retiredGracePeriods, callbacksRun = s_retiredCallbacksRun;
        long pendingTableBytes = 0, pteBlocks = 0, fragmentsInUse = 0, fragmentsFree = 0;
        long deferrals = s_retiredDeferrals, redeferrals = s_retiredRedeferrals;
        long hvoFreed = s_retiredHvoFreed, hvoRestored = s_retiredHvoRestored, hvoOptimized = 0;
        foreach (System.WeakReference<MachineCounters> reference in s_machines)
        {
            if (!reference.TryGetTarget(out MachineCounters? machine)) continue;
            pageTables += Volatile.Read(ref machine.PageTablePages);
            memmapBoot += Volatile.Read(ref machine.MemmapBootPages);
            memmap += Volatile.Read(ref machine.MemmapPages);
            free += machine.FreePages.Value;
            cpus.Add(machine.ReadCpus());
            flushes += Volatile.Read(ref machine.TlbFlushesPublished);
            contentions += Volatile.Read(ref machine.PageTableLockContentions);
            pendingCallbacks += machine.Rcu?.PendingCallbacks ?? 0;
            gracePeriods += machine.Rcu?.GracePeriods ?? 0;
            callbacksRun += machine.Rcu?.CallbacksInvoked ?? 0;
            pendingTableBytes += Volatile.Read(ref machine.RcuPendingTableBytes);
            pteBlocks += Volatile.Read(ref machine.PteBlocks);
            fragmentsInUse += Volatile.Read(ref machine.PteFragmentsInUse);
            fragmentsFree += Volatile.Read(ref machine.PteFragmentsFree);
            deferrals += Volatile.Read(ref machine.TablesDeferred);
            redeferrals += Volatile.Read(ref machine.Redeferrals);
            hvoFreed += Volatile.Read(ref machine.HvoPagesFreed);
            hvoRestored += Volatile.Read(ref machine.HvoPagesRestored);
            hvoOptimized += Volatile.Read(ref machine.HvoFoliosOptimized);
        }
        return new Reading(pageTables, memmapBoot, memmap, free, cpus, flushes, contentions, pendingCallbacks, gracePeriods,
            callbacksRun, pendingTableBytes, pteBlocks, fragmentsInUse, fragmentsFree, deferrals, redeferrals,
            hvoFreed, hvoRestored, hvoOptimized);
    }
}
