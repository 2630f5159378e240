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
/// engine keeps anyway, so the meter costs nothing on the hot paths. TLB, fault and flush figures are monotonic
/// counters since the process started: an address space, context or machine disposed leaves its counts behind
/// (as the faults of a trace stay counted when the address space is gone). The hit rate is over the live ones.</remarks>
public static class FastPtMeter
{
    /// <summary>The meter's name, also the one to give to <c>Metrics=</c> of the
    /// <c>System.Diagnostics.Metrics</c> EventPipe provider.</summary>
    public const string MeterName = "FastPt";

    private static readonly Lock s_machinesLock = new();
    private static readonly List<WeakReference<Machine>> s_machines = new();
    // Counters of the machines already disposed (under s_machinesLock).
    private static TlbStatistics s_disposedTlb;
    private static long s_disposedFlushes;

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
        meter.CreateObservableCounter("fastpt.tlb.hits", () => SumTlb(static t => t.Hits), "{translation}",
            "Translations answered by a TLB, over every address space since the process started.");
        meter.CreateObservableCounter("fastpt.tlb.misses", () => SumTlb(static t => t.Misses), "{translation}",
            "Translations that missed the TLB, over every address space since the process started.");
        meter.CreateObservableCounter("fastpt.faults", () => SumTlb(static t => t.Faults), "{fault}",
            "Translations that faulted, over every address space since the process started.");
        meter.CreateObservableCounter("fastpt.tlb.flushes_published", ObserveFlushes, "{flush}",
            "TLB flushes published to CPU contexts, over every address space since the process started.");
        meter.CreateObservableGauge("fastpt.rcu.pending_callbacks", () => Sum(static s => s.RcuPendingCallbacks), "{callback}",
            "RCU callbacks waiting for a grace period.");
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
            if (s_machines.RemoveAll(reference => !reference.TryGetTarget(out Machine? target) || ReferenceEquals(target, machine)) == 0) return;
            // Under the lock the observations hold: they see the machine live or in these totals, never neither.
            (TlbStatistics tlb, long flushes) = machine.TranslationTotals();
            s_disposedTlb += tlb;
            s_disposedFlushes += flushes;
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

    private static double ObserveHitRate()
    {
        TlbStatistics total = default;
        ForEachSpace(space => total += space.TlbStatistics);
        return total.HitRate;
    }

    private static long SumTlb(Func<TlbStatistics, long> select)
    {
        TlbStatistics total = default;
        lock (s_machinesLock)
        {
            total = s_disposedTlb;
            ForEachMachine(machine => total += machine.TranslationTotals().Tlb);
        }
        return select(total);
    }

    private static long ObserveFlushes()
    {
        long total = 0;
        lock (s_machinesLock)
        {
            total = s_disposedFlushes;
            ForEachMachine(machine => total += machine.TranslationTotals().FlushesPublished);
        }
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
