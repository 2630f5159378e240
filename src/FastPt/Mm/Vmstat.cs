using System.Threading;

namespace FastPt.Mm;

/// <summary>Counters named after the kernel's <c>/proc/vmstat</c> and <c>/proc/meminfo</c> entries where one
/// exists, so a scenario can be compared with a real kernel. All updates are atomic.</summary>
internal sealed class Vmstat
{
    /// <summary><c>nr_memmap_pages</c>: memmap pages allocated after boot (hot-add), in 4 KiB pages.</summary>
    public long MemmapPages;

    /// <summary><c>nr_memmap_boot_pages</c>: memmap pages allocated by memblock at boot.</summary>
    public long MemmapBootPages;

    /// <summary>Frames actually backing the memmap now (PMD blocks count 512), whatever the kernel's accounting
    /// says: proves frames are really freed.</summary>
    public long MemmapFrames;

    /// <summary><c>PageTables</c> in /proc/meminfo (<c>NR_PAGETABLE</c>): constructed page-table pages.</summary>
    public long PageTablePages;

    /// <summary>Page-table pages by level (index 1..5) of user address spaces.</summary>
    public readonly long[] UserTables = new long[6];

    /// <summary>Page-table pages by level (index 1..5) of the kernel page tables (root included).</summary>
    public readonly long[] KernelTables = new long[6];

    /// <summary><c>DirectMap4k</c>, <c>DirectMap2M</c>, <c>DirectMap1G</c>: leaves of the direct map by size.</summary>
    public long DirectMap4K, DirectMap2M, DirectMap1G;

    /// <summary>Split page-table locks allocated and freed (must balance after teardown).</summary>
    public long PtlocksAllocated, PtlocksFreed;

    /// <summary>Times a thread found an address space's page-table lock held by another.</summary>
    public long PageTableLockContentions;

    /// <summary>Page-table blocks alive (PTE fragments share one), and blocks allocated and freed in all.</summary>
    public long PteBlocks, PteBlocksAllocated, PteBlocksFreed;

    /// <summary>PTE fragments handed out and not freed, and fragments not handed out yet (in cursors).</summary>
    public long PteFragmentsInUse, PteFragmentsFree;

    /// <summary><c>pte_free_defer</c> calls; RCU heads of blocks queued (once per grace period however many
    /// fragments deferred); re-deferrals (the <c>PTE_FREE_DEFERRED</c> callback queueing the head again); blocks
    /// freed by an RCU callback.</summary>
    public long TablesDeferred, DeferredHeadsQueued, Redeferrals, DeferredBlocksFreed;

    /// <summary>Bytes of page-table memory referenced by queued RCU callbacks: whole blocks whose head is queued,
    /// and the tables of queued gather batches.</summary>
    public long RcuPendingTableBytes;

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
