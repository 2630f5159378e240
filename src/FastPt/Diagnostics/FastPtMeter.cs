using System;
using System.Collections.Generic;
using System.Diagnostics.Metrics;
using System.Threading;

namespace FastPt.Diagnostics;

/// <summary>The "FastPt" <see cref="Meter"/>: observable instruments a person watches live (with
/// <c>dotnet-counters monitor --counters FastPt</c>, <c>dotnet-trace</c>'s <c>System.Diagnostics.Metrics</c>
/// provider, or a <see cref="MeterListener"/>). Each instrument reports the sum over every live
/// <see cref="Machine"/> of the process; machines register when they boot and unregister when disposed.</summary>
/// <remarks>The values are read only when a listener asks (once per refresh interval), from the counters the
/// engine keeps anyway, so the meter costs nothing on the hot paths. TLB, fault and flush figures are totals over
/// the address spaces alive at the moment of observation: they drop when an address space is disposed, which is
/// why they are up-down counters rather than monotonic counters.</remarks>
public static class FastPtMeter
{
    /// <summary>The meter's name, also the one to give to <c>Metrics=</c> of the
    /// <c>System.Diagnostics.Metrics</c> EventPipe provider.</summary>
    public const string MeterName = "FastPt";

    private static readonly Lock s_machinesLock = new();
    private static readonly List<WeakReference<Machine>> s_machines = new();

    /// <summary>The meter.</summary>
    public static Meter Meter { get; } = CreateMeter();

    private static Meter CreateMeter()
    {
        var meter = new Meter(MeterName, typeof(FastPtMeter).Assembly.GetName().Version?.ToString());
        meter.CreateObservableGauge("fastpt.page_tables", () => Sum(static s => s.PageTablePages), "{page}",
            "Page-table pages of every address space and of the kernel (PageTables in /proc/meminfo).");
        meter.CreateObservableGauge("fastpt.memmap.pages", ObserveMemmap, "{page}",
            "Memmap pages by when they were allocated: tag kind=boot (nr_memmap_boot_pages) or kind=runtime (nr_memmap_pages).");
        meter.CreateObservableGauge("fastpt.memory.free_frames", () => Sum(static s => s.FreePages), "{frame}",
            "Frames free in the buddy allocators (nr_free_pages).");
        meter.CreateObservableGauge("fastpt.tlb.hit_rate", ObserveHitRate, null,
            "TLB hits over all translations of the live address spaces (0 to 1; 0 before any translation).");
        meter.CreateObservableUpDownCounter("fastpt.tlb.hits", () => SumTlb(static t => t.Hits), "{translation}",
            "Translations answered by a TLB, over the live address spaces.");
        meter.CreateObservableUpDownCounter("fastpt.tlb.misses", () => SumTlb(static t => t.Misses), "{translation}",
            "Translations that missed the TLB, over the live address spaces.");
        meter.CreateObservableUpDownCounter("fastpt.faults", () => SumTlb(static t => t.Faults), "{fault}",
            "Translations that faulted, over the live address spaces.");
        meter.CreateObservableUpDownCounter("fastpt.tlb.flushes_published", ObserveFlushes, "{flush}",
            "TLB flushes published to the CPU contexts of the live address spaces.");
        meter.CreateObservableGauge("fastpt.rcu.pending_callbacks", () => Sum(static s => s.RcuPendingCallbacks), "{callback}",
            "RCU callbacks waiting for a grace period.");
        meter.CreateObservableCounter("fastpt.rcu.grace_periods", () => Sum(static s => s.RcuGracePeriods), "{grace_period}",
            "RCU grace periods completed.");
        meter.CreateObservableCounter("fastpt.rcu.callbacks_run", () => Sum(static s => s.RcuCallbacksRun), "{callback}",
            "RCU callbacks run.");
        meter.CreateObservableGauge("fastpt.rcu.pending_table_bytes", () => Sum(static s => s.RcuPendingTableBytes), "By",
            "Page-table memory referenced by queued RCU callbacks (blocks whose head is queued, tables of queued gather batches).");
        meter.CreateObservableGauge("fastpt.pte.blocks", () => Sum(static s => s.PteBlocks), "{block}",
            "Page-table blocks alive (PTE fragments share one).");
        meter.CreateObservableGauge("fastpt.pte.fragments", ObserveFragments, "{fragment}",
            "PTE fragments by state: tag state=in_use (handed out as tables) or state=free (in the cursors).");
        meter.CreateObservableCounter("fastpt.pte.deferrals", ObserveDeferrals, "{deferral}",
            "pte_free_defer calls (tag kind=deferred) and re-deferrals of the PTE_FREE_DEFERRED scheme (kind=redeferred).");
        meter.CreateObservableCounter("fastpt.locks.contended", () => Sum(static s => s.PageTableLockContentions), "{acquisition}",
            "Page-table lock acquisitions that found the lock held by another thread (each address space's "
            + "page_table_lock; split page-table locks are not built yet).");
        return meter;
    }

    /// <summary>Machines alive right now (for tests and tools).</summary>
    public static int LiveMachines
    {
        get
        {
            lock (s_machinesLock)
            {
                Prune();
                return s_machines.Count;
            }
        }
    }

    internal static void Register(Machine machine)
    {
        lock (s_machinesLock)
        {
            Prune();
            s_machines.Add(new WeakReference<Machine>(machine));
        }
    }

    /// <summary>Forgets <paramref name="machine"/>. Observations run under the same lock, so once this returns no
    /// instrument callback is reading the machine and it can free its memory.</summary>
    internal static void Unregister(Machine machine)
    {
        lock (s_machinesLock)
        {
            s_machines.RemoveAll(reference => !reference.TryGetTarget(out Machine? target) || ReferenceEquals(target, machine));
        }
    }

    private static void Prune() => s_machines.RemoveAll(static reference => !reference.TryGetTarget(out _));

    private static long Sum(Func<MemoryStatistics, long> select)
    {
        long total = 0;
        ForEachMachine(machine => total += select(machine.GetStatistics()));
        return total;
    }

    private static IEnumerable<Measurement<long>> ObserveMemmap()
    {
        long boot = 0, runtime = 0;
        ForEachMachine(machine =>
        {
            MemoryStatistics statistics = machine.GetStatistics();
            boot += statistics.MemmapBootPages;
            runtime += statistics.MemmapPages;
        });
        return
        [
            new Measurement<long>(boot, new KeyValuePair<string, object?>("kind", "boot")),
            new Measurement<long>(runtime, new KeyValuePair<string, object?>("kind", "runtime")),
        ];
    }

    private static IEnumerable<Measurement<long>> ObserveFragments()
    {
        long inUse = 0, free = 0;
        ForEachMachine(machine =>
        {
            MemoryStatistics statistics = machine.GetStatistics();
            inUse += statistics.PteFragmentsInUse;
            free += statistics.PteFragmentsFree;
        });
        return
        [
            new Measurement<long>(inUse, new KeyValuePair<string, object?>("state", "in_use")),
            new Measurement<long>(free, new KeyValuePair<string, object?>("state", "free")),
        ];
    }

    private static IEnumerable<Measurement<long>> ObserveDeferrals()
    {
        long deferred = 0, redeferred = 0;
        ForEachMachine(machine =>
        {
            MemoryStatistics statistics = machine.GetStatistics();
            deferred += statistics.TablesDeferred;
            redeferred += statistics.Redeferrals;
        });
        return
        [
            new Measurement<long>(deferred, new KeyValuePair<string, object?>("kind", "deferred")),
            new Measurement<long>(redeferred, new KeyValuePair<string, object?>("kind", "redeferred")),
        ];
    }

    private static double ObserveHitRate()
    {
        TlbStatistics total = default;
        ForEachSpace(space => total += space.TlbStatistics);
        return total.HitRate;
    }

    private static long SumTlb(Func<TlbStatistics, long> select)
    {
        long total = 0;
        ForEachSpace(space => total += select(space.TlbStatistics));
        return total;
    }

    private static long ObserveFlushes()
    {
        long total = 0;
        ForEachSpace(space => total += space.FlushesPublished);
        return total;
    }

    private static void ForEachMachine(Action<Machine> action)
    {
        lock (s_machinesLock)
        {
            foreach (WeakReference<Machine> reference in s_machines)
            {
                if (!reference.TryGetTarget(out Machine? machine)) continue;
                try
                {
                    action(machine);
                }
                catch (ObjectDisposedException)
                {
                    // Disposing, waiting for this lock to unregister: it no longer counts.
                }
            }
        }
    }

    private static void ForEachSpace(Action<AddressSpace> action) =>
        ForEachMachine(machine =>
        {
            foreach (AddressSpace space in machine.LiveAddressSpaces())
            {
                try
                {
                    action(space);
                }
                catch (ObjectDisposedException)
                {
                    // The address space went away while it was being read.
                }
            }
        });
}
