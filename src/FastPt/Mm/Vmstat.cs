using System.Threading;
using FastPt.Diagnostics;
using FastPt.Sync;

namespace FastPt.Mm;

/// <summary>Counters named after the kernel's <c>/proc/vmstat</c> and <c>/proc/meminfo</c> entries where one
/// exists, so a scenario can be compared with a real kernel. All updates are atomic; the ones every demand fault
/// makes (free pages, faults) are per CPU, so that faulting CPUs share no cache line. The counters the Meter reports
/// (page tables, memmap pages, free pages, lock contentions, flushes published) are the fields of the base class,
/// which the Meter reads without calling the engine.</summary>
internal sealed class Vmstat : MachineCounters
{
    /// <summary>Frames actually backing the memmap now (PMD blocks count 512), whatever the kernel's accounting
    /// says: proves frames are really freed.</summary>
    public long MemmapFrames;

    /// <summary>Page-table pages by level (index 1..5) of user address spaces.</summary>
    public readonly long[] UserTables = new long[6];

    /// <summary>Page-table pages by level (index 1..5) of the kernel page tables (root included).</summary>
    public readonly long[] KernelTables = new long[6];

    /// <summary><c>DirectMap4k</c>, <c>DirectMap2M</c>, <c>DirectMap1G</c>: leaves of the direct map by size.</summary>
    public long DirectMap4K, DirectMap2M, DirectMap1G;

    /// <summary>Split page-table locks allocated and freed (must balance after teardown).</summary>
    public long PtlocksAllocated, PtlocksFreed;

    /// <summary><c>pgfault</c>: demand faults handled in anonymous regions (attempts, spurious ones included); per
    /// CPU, as Linux counts vm events, so that faulting CPUs do not share its cache line.</summary>
    public readonly PerCpuCounter PageFaults = new();

    /// <summary><c>thp_fault_alloc</c>: faults that mapped a transparent huge page.</summary>
    public long ThpFaultAlloc;

    /// <summary><c>thp_fault_fallback</c>: faults that wanted a huge page, found no 2 MiB frame and used 4 KiB.</summary>
    public long ThpFaultFallback;

    /// <summary>Read faults that mapped the shared zero page.</summary>
    public long ZeroPageFaults;

    /// <summary>Write faults that replaced the zero page by a frame of their own.</summary>
    public long ZeroPageCopies;

    /// <summary>Page-table blocks allocated and freed in all (the live ones, the fragments and the deferrals the
    /// Meter reports are fields of the base class).</summary>
    public long PteBlocksAllocated, PteBlocksFreed;

    /// <summary>RCU heads of blocks queued (once per grace period however many fragments deferred); blocks freed
    /// by an RCU callback.</summary>
    public long DeferredHeadsQueued, DeferredBlocksFreed;

    /// <summary>Gather table batches queued for RCU (<c>tlb_remove_table</c>), and tables freed through the
    /// fallback when no batch page could be allocated (<c>tlb_remove_table_sync_one</c>).</summary>
    public long TableBatchesQueued, TableSyncFrees;

    /// <summary>PTE tables collapsed into 2 MiB leaves: in place, and after copying the data.</summary>
    public long CollapsesInPlace, CollapsesWithCopy;

    /// <summary>Checked mode: accesses to freed memory detected.</summary>
    public long UseAfterFreeDetected;

    public static void Add(ref long counter, long delta) => Interlocked.Add(ref counter, delta);

    public static long Read(ref long counter) => Volatile.Read(ref counter);
}
