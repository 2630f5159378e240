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
/// <c>fastpt.tlb.flushes_published</c> exactly the <c>TlbFlush</c> events.</remarks>
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
    private static long s_retiredGracePeriods, s_retiredCallbacksRun, s_retiredDeferred, s_retiredRedeferred;
    private static long s_retiredHvoFreed, s_retiredHvoRestored;

    /// <summary>The meter.</summary>
    public static Meter Meter { get; } = CreateMeter();

    private static Meter CreateMeter()
    {
        var meter = new Meter(MeterName, typeof(FastPtMeter).Assembly.GetName().Version?.ToString());
        meter.CreateObservableGauge("fastpt.page_tables", () => SumGauge(static m => Volatile.Read(ref m.PageTablePages)), "{page}",
            "Page-table pages of every address space and of the kernel (PageTables in /proc/meminfo).");
        meter.CreateObservableGauge("fastpt.memmap.pages", ObserveMemmap, "{page}",
            "Memmap pages by when they were allocated: tag kind=boot (nr_memmap_boot_pages) or kind=runtime (nr_memmap_pages).");
        meter.CreateObservableGauge("fastpt.memory.free_frames", () => SumGauge(static m => Volatile.Read(ref m.FreePages)), "{frame}",
            "Frames free in the buddy allocators (nr_free_pages).");
        meter.CreateObservableGauge("fastpt.tlb.hit_rate", ObserveHitRate, null,
            "TLB hits over all translations since the process started (0 to 1; 0 before any translation).");
        meter.CreateObservableCounter("fastpt.tlb.hits", () => Totals().Cpus.Hits, "{translation}",
            "Translations answered by a TLB, since the process started.");
        meter.CreateObservableCounter("fastpt.tlb.misses", () => Totals().Cpus.Misses, "{translation}",
            "Translations that missed the TLB, since the process started.");
        meter.CreateObservableCounter("fastpt.faults", () => Totals().Cpus.Faults, "{fault}",
            "Translations and accesses through a CPU context that faulted, since the process started: one per PageFault event.");
        meter.CreateObservableCounter("fastpt.tlb.flushes_published", () => Totals().Flushes, "{flush}",
            "TLB flushes published to CPU contexts (user address spaces and the kernel), since the process started: one per TlbFlush event.");
        meter.CreateObservableCounter("fastpt.locks.contended", () => Totals().Contentions, "{acquisition}",
            "Page-table lock acquisitions that found the lock held by another thread (each address space's "
            + "page_table_lock; split page-table locks are not built yet), since the process started.");
        meter.CreateObservableCounter("fastpt.rcu.grace_periods", () => SumCounter(static m => Volatile.Read(ref m.RcuGracePeriods), ref s_retiredGracePeriods), "{grace_period}",
            "RCU grace periods completed, since the process started.");
        meter.CreateObservableCounter("fastpt.rcu.callbacks_run", () => SumCounter(static m => Volatile.Read(ref m.RcuCallbacksRun), ref s_retiredCallbacksRun), "{callback}",
            "RCU callbacks run, since the process started.");
        meter.CreateObservableGauge("fastpt.rcu.pending_table_bytes", () => SumGauge(static m => Volatile.Read(ref m.RcuPendingTableBytes)), "By",
            "Page-table memory referenced by queued RCU callbacks (blocks whose head is queued, tables of queued gather batches).");
        meter.CreateObservableGauge("fastpt.pte.blocks", () => SumGauge(static m => Volatile.Read(ref m.PteBlocks)), "{block}",
            "Page-table blocks alive (PTE fragments share one).");
        meter.CreateObservableGauge("fastpt.pte.fragments", ObserveFragments, "{fragment}",
            "PTE fragments by state: tag state=in_use (handed out as tables) or state=free (in the cursors).");
        meter.CreateObservableCounter("fastpt.pte.deferrals", ObserveDeferrals, "{deferral}",
            "pte_free_defer calls (tag kind=deferred) and re-deferrals of the PTE_FREE_DEFERRED scheme (kind=redeferred), since the process started.");
        meter.CreateObservableCounter("fastpt.hugetlb.vmemmap_pages", ObserveVmemmapPages, "{page}",
            "Vmemmap pages HugeTLB vmemmap optimization freed (tag kind=freed) and allocated again on restore (kind=restored), since the process started.");
        meter.CreateObservableGauge("fastpt.hugetlb.folios_optimized", () => SumGauge(static m => Volatile.Read(ref m.HvoFoliosOptimized)), "{folio}",
            "HugeTLB folios whose vmemmap is optimized now.");
        return meter;
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
            s_retiredGracePeriods += Volatile.Read(ref machine.RcuGracePeriods);
            s_retiredCallbacksRun += Volatile.Read(ref machine.RcuCallbacksRun);
            s_retiredDeferred += Volatile.Read(ref machine.TablesDeferred);
            s_retiredRedeferred += Volatile.Read(ref machine.Redeferrals);
            s_retiredHvoFreed += Volatile.Read(ref machine.HvoPagesFreed);
            s_retiredHvoRestored += Volatile.Read(ref machine.HvoPagesRestored);
        }
    }

    private static void Prune() => s_machines.RemoveAll(static reference => !reference.TryGetTarget(out _));

    private static long SumGauge(System.Func<MachineCounters, long> select)
    {
        long total = 0;
        lock (s_lock)
        {
            foreach (System.WeakReference<MachineCounters> reference in s_machines)
                if (reference.TryGetTarget(out MachineCounters? machine)) total += select(machine);
        }
        return total;
    }

    /// <summary>A counter since the process started: the live machines' figures plus what disposed ones left in
    /// <paramref name="retired"/> (read under the same lock <see cref="Unregister"/> adds to it under).</summary>
    private static long SumCounter(System.Func<MachineCounters, long> select, ref long retired)
    {
        // Lock is re-entrant: SumGauge takes it again.
        lock (s_lock) return retired + SumGauge(select);
    }

    private static IEnumerable<Measurement<long>> ObserveFragments()
    {
        long inUse = SumGauge(static m => Volatile.Read(ref m.PteFragmentsInUse));
        long free = SumGauge(static m => Volatile.Read(ref m.PteFragmentsFree));
        return
        [
            new Measurement<long>(inUse, new KeyValuePair<string, object?>("state", "in_use")),
            new Measurement<long>(free, new KeyValuePair<string, object?>("state", "free")),
        ];
    }

    private static IEnumerable<Measurement<long>> ObserveDeferrals()
    {
        long deferred, redeferred;
        lock (s_lock)
        {
            deferred = s_retiredDeferred + SumGauge(static m => Volatile.Read(ref m.TablesDeferred));
            redeferred = s_retiredRedeferred + SumGauge(static m => Volatile.Read(ref m.Redeferrals));
        }
        return
        [
            new Measurement<long>(deferred, new KeyValuePair<string, object?>("kind", "deferred")),
            new Measurement<long>(redeferred, new KeyValuePair<string, object?>("kind", "redeferred")),
        ];
    }

    private static IEnumerable<Measurement<long>> ObserveVmemmapPages()
    {
        long freed, restored;
        lock (s_lock)
        {
            freed = s_retiredHvoFreed + SumGauge(static m => Volatile.Read(ref m.HvoPagesFreed));
            restored = s_retiredHvoRestored + SumGauge(static m => Volatile.Read(ref m.HvoPagesRestored));
        }
        return
        [
            new Measurement<long>(freed, new KeyValuePair<string, object?>("kind", "freed")),
            new Measurement<long>(restored, new KeyValuePair<string, object?>("kind", "restored")),
        ];
    }

    private static IEnumerable<Measurement<long>> ObserveMemmap()
    {
        long boot = SumGauge(static m => Volatile.Read(ref m.MemmapBootPages));
        long runtime = SumGauge(static m => Volatile.Read(ref m.MemmapPages));
        return
        [
            new Measurement<long>(boot, new KeyValuePair<string, object?>("kind", "boot")),
            new Measurement<long>(runtime, new KeyValuePair<string, object?>("kind", "runtime")),
        ];
    }

    private static double ObserveHitRate()
    {
        CpuTotals cpus = Totals().Cpus;
        return cpus.Hits + cpus.Misses == 0 ? 0 : (double)cpus.Hits / (cpus.Hits + cpus.Misses);
    }

    private static (CpuTotals Cpus, long Flushes, long Contentions) Totals()
    {
        lock (s_lock)
        {
            CpuTotals cpus = s_retiredCpus;
            long flushes = s_retiredFlushes;
            long contentions = s_retiredContentions;
            foreach (System.WeakReference<MachineCounters> reference in s_machines)
            {
                if (!reference.TryGetTarget(out MachineCounters? machine)) continue;
                cpus.Add(machine.ReadCpus());
                flushes += Volatile.Read(ref machine.TlbFlushesPublished);
                contentions += Volatile.Read(ref machine.PageTableLockContentions);
            }
            return (cpus, flushes, contentions);
        }
    }
}
