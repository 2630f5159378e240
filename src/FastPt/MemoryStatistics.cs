using System.Collections.Generic;

namespace FastPt;

/// <summary>A snapshot of the machine's memory counters, named after <c>/proc/meminfo</c> and <c>/proc/vmstat</c>
/// where the kernel has an equivalent. Page counts are 4 KiB pages.</summary>
public sealed record MemoryStatistics
{
    /// <summary>Frames of present RAM (boot and hot-added).</summary>
    public long PresentPages { get; init; }

    /// <summary>Frames the buddy allocator manages (<c>managed_pages</c>).</summary>
    public long ManagedPages { get; init; }

    /// <summary>Free pages: the frames an allocation can get, on the buddy lists and the per-CPU lists
    /// (<see cref="PerCpuPages"/>; Linux's <c>nr_free_pages</c> counts the buddy lists only).</summary>
    public long FreePages { get; init; }

    /// <summary>Free pages of ZONE_MOVABLE (hot-added memory onlined movable).</summary>
    public long MovableFreePages { get; init; }

    /// <summary>Managed pages of ZONE_MOVABLE.</summary>
    public long MovableManagedPages { get; init; }

    /// <summary>Free blocks per order 0..18 on the buddy lists (a row of <c>/proc/buddyinfo</c>): with
    /// <see cref="PerCpuPages"/> they add up to <see cref="FreePages"/>.</summary>
    public IReadOnlyList<long> FreeBlocksPerOrder { get; init; } = [];

    /// <summary>Free single frames cached on the per-CPU page lists that demand faults allocate from and free to
    /// (<c>/proc/zoneinfo</c>'s pcp <c>count</c>); they are free pages, counted in <see cref="FreePages"/> (and in
    /// <see cref="MovableFreePages"/> when movable), but in no block of <see cref="FreeBlocksPerOrder"/>.</summary>
    public long PerCpuPages { get; init; }

    /// <summary><c>PageTables</c>: constructed page-table pages of every address space and the kernel.</summary>
    public long PageTablePages { get; init; }

    /// <summary>Kernel (init_mm) page-table pages by level, index 1 (PTE) to 5; the root is included.</summary>
    public IReadOnlyList<long> KernelPageTablesByLevel { get; init; } = [];

    /// <summary>User page-table pages by level over all address spaces, roots included.</summary>
    public IReadOnlyList<long> UserPageTablesByLevel { get; init; } = [];

    /// <summary><c>nr_memmap_pages</c>: memmap pages allocated at runtime (hot-add), by the kernel's accounting.</summary>
    public long MemmapPages { get; init; }

    /// <summary><c>nr_memmap_boot_pages</c>: memmap pages allocated at boot.</summary>
    public long MemmapBootPages { get; init; }

    /// <summary>Frames actually holding memmap now (a PMD block counts 512 until it is really freed).</summary>
    public long MemmapFrames { get; init; }

    /// <summary><c>DirectMap4k</c> in KiB.</summary>
    public long DirectMap4KiB { get; init; }

    /// <summary><c>DirectMap2M</c> in KiB.</summary>
    public long DirectMap2MiB { get; init; }

    /// <summary><c>DirectMap1G</c> in KiB.</summary>
    public long DirectMap1GiB { get; init; }

    /// <summary>128 MiB sections with present memory.</summary>
    public long PresentSections { get; init; }

    /// <summary>Sections online.</summary>
    public long OnlineSections { get; init; }

    /// <summary>Live user address spaces.</summary>
    public int AddressSpaces { get; init; }

    /// <summary>Host bytes backing simulated memory now.</summary>
    public long HostBytes { get; init; }

    /// <summary>RCU grace periods completed.</summary>
    public long RcuGracePeriods { get; init; }

    /// <summary>RCU callbacks waiting for a grace period.</summary>
    public int RcuPendingCallbacks { get; init; }

    /// <summary>RCU callbacks run.</summary>
    public long RcuCallbacksRun { get; init; }

    /// <summary>RCU readers given up inside a read-side section (a thread exited, or a context was disposed, inside
    /// one): reported instead of holding up every later grace period. 0 unless something misbehaved.</summary>
    public long RcuAbandonedReaders { get; init; }

    /// <summary>Bytes of page-table memory referenced by queued RCU callbacks: whole page-table blocks whose RCU head
    /// is queued, and the tables of the gathers' queued batches.</summary>
    public long RcuPendingTableBytes { get; init; }

    /// <summary>Page-table blocks alive (each holds <see cref="MachineOptions.PteFragmentsPerBlock"/> PTE tables).</summary>
    public long PteBlocks { get; init; }

    /// <summary>Page-table blocks allocated since boot.</summary>
    public long PteBlocksAllocated { get; init; }

    /// <summary>Page-table blocks freed since boot.</summary>
    public long PteBlocksFreed { get; init; }

    /// <summary>PTE fragments handed out as tables and not freed.</summary>
    public long PteFragmentsInUse { get; init; }

    /// <summary>PTE fragments not handed out yet (in the address spaces' cursors). Fragments of live blocks that
    /// are neither in use nor free were freed and wait for the rest of their block.</summary>
    public long PteFragmentsFree { get; init; }

    /// <summary>PTE tables freed with <c>pte_free_defer</c> (collapse).</summary>
    public long TablesDeferred { get; init; }

    /// <summary>RCU heads of page-table blocks queued by deferrals (once per block per grace period, however many
    /// of its fragments were deferred).</summary>
    public long DeferredHeadsQueued { get; init; }

    /// <summary>Re-deferrals: the <see cref="PteFreeDeferScheme.DeferredRefcount"/> callback found deferrals that
    /// arrived during its grace period and queued the head once more (the merged scheme has none by design).</summary>
    public long Redeferrals { get; init; }

    /// <summary>Page-table blocks freed by an RCU callback.</summary>
    public long DeferredBlocksFreed { get; init; }

    /// <summary>Gather table batches queued for an RCU grace period (<c>tlb_remove_table</c>).</summary>
    public long TableBatchesQueued { get; init; }

    /// <summary>Tables freed through <c>tlb_remove_table_sync_one</c> because no batch page could be allocated.</summary>
    public long TableSyncFrees { get; init; }

    /// <summary>PTE tables collapsed into 2 MiB leaves in place.</summary>
    public long CollapsesInPlace { get; init; }

    /// <summary>PTE tables collapsed into 2 MiB leaves after copying their data.</summary>
    public long CollapsesWithCopy { get; init; }

    /// <summary>Page walks the kernel did to reach page descriptors (its TLB misses).</summary>
    public long KernelDescriptorWalks { get; init; }

    /// <summary>Split page-table locks set up by table constructors (<c>ptlock_init</c>; a real allocation in
    /// <see cref="PageTableLockMode.Allocated"/> mode, a lock word in the descriptor in inline mode, none in
    /// single-lock mode or for the kernel's tables).</summary>
    public long PtlocksAllocated { get; init; }

    /// <summary>Split page-table locks freed by table destructors (<c>ptlock_free</c>).</summary>
    public long PtlocksFreed { get; init; }

    /// <summary>Split locks of tables that exist now: <see cref="PtlocksAllocated"/> − <see cref="PtlocksFreed"/>.
    /// Zero once every user address space is gone; anything else is a destructor that did not run.</summary>
    public long PtlocksOutstanding => PtlocksAllocated - PtlocksFreed;

    /// <summary>Frames holding allocated page-table locks (their slab cache), in allocated mode.</summary>
    public long PtlockSlabPages { get; init; }

    /// <summary>Times a thread found a page-table lock (split or <c>page_table_lock</c>) held by another thread.</summary>
    public long PageTableLockContentions { get; init; }

    /// <summary>Acquisitions of allocated page-table locks (allocated mode keeps lock statistics; the other modes
    /// keep none and report 0).</summary>
    public long AllocatedLockAcquisitions { get; init; }

    /// <summary>Total time allocated page-table locks were held (allocated mode).</summary>
    public System.TimeSpan AllocatedLockHoldTime { get; init; }

    /// <summary>Longest hold of an allocated page-table lock (allocated mode).</summary>
    public System.TimeSpan AllocatedLockMaxHold { get; init; }

    /// <summary><c>pgfault</c>: demand faults handled in anonymous regions (every attempt, including those another
    /// thread had already resolved).</summary>
    public long PageFaults { get; init; }

    /// <summary><c>thp_fault_alloc</c>: faults that mapped a 2 MiB transparent huge page.</summary>
    public long ThpFaultAlloc { get; init; }

    /// <summary><c>thp_fault_fallback</c>: faults that wanted a transparent huge page, found no free 2 MiB frame
    /// and mapped 4 KiB pages.</summary>
    public long ThpFaultFallback { get; init; }

    /// <summary>Read faults of zero-page regions that mapped the shared zero page.</summary>
    public long ZeroPageFaults { get; init; }

    /// <summary>First writes to a zero-page mapping, which got a frame of their own.</summary>
    public long ZeroPageCopies { get; init; }

    /// <summary>Checked mode: accesses to freed memory reported.</summary>
    public long UseAfterFreeDetected { get; init; }
}
