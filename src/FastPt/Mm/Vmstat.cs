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

    /// <summary><c>pgfault</c>: demand faults handled in anonymous regions (attempts, spurious ones included).</summary>
    public long PageFaults;

    /// <summary><c>thp_fault_alloc</c>: faults that mapped a transparent huge page.</summary>
    public long ThpFaultAlloc;

    /// <summary><c>thp_fault_fallback</c>: faults that wanted a huge page, found no 2 MiB frame and used 4 KiB.</summary>
    public long ThpFaultFallback;

    /// <summary>Read faults that mapped the shared zero page.</summary>
    public long ZeroPageFaults;

    /// <summary>Write faults that replaced the zero page by a frame of their own.</summary>
    public long ZeroPageCopies;

    /// <summary>Checked mode: accesses to freed memory detected.</summary>
    public long UseAfterFreeDetected;

    public static void Add(ref long counter, long delta) => Interlocked.Add(ref counter, delta);

    public static long Read(ref long counter) => Volatile.Read(ref counter);
}
