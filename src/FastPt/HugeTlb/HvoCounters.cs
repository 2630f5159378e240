using System.Threading;

namespace FastPt.HugeTlb;

/// <summary>A HugeTLB folio: its head frame and order (9 for 2 MiB, 18 for 1 GiB).</summary>
internal readonly record struct Folio(ulong HeadPfn, int Order)
{
    /// <summary>Frames of the folio.</summary>
    public ulong Pages => 1UL << Order;
}

/// <summary>The HugeTLB vmemmap optimization's counters for one page size. Updated with interlocked adds, read
/// whenever statistics are taken.</summary>
internal sealed class HvoCounters
{
    /// <summary>Memmap pages given back by optimizations: the pages unmapped and freed, minus the head pages
    /// allocated to copy the head's page into (the kernel's <c>nr_memmap_pages</c> + <c>nr_memmap_boot_pages</c>
    /// drop by exactly this).</summary>
    public long PagesFreed;

    /// <summary>Memmap pages allocated again by restores.</summary>
    public long PagesRestored;

    /// <summary>Folio optimizations and restores completed.</summary>
    public long FoliosOptimized, FoliosRestored;

    /// <summary>Optimize or restore calls that handled their folios as one batch.</summary>
    public long Batches;

    /// <summary>Kernel TLB flushes issued by optimizations and restores (splits, remaps, undo).</summary>
    public long Flushes;

    /// <summary>PMD-mapped vmemmap blocks split into PTE tables (and splits merged back because no folio ended up
    /// using them).</summary>
    public long Splits, SplitsMergedBack;

    /// <summary>Optimizations that ran out of memory (and restored what they had remapped), and restores that could
    /// not allocate their pages (the folio stayed in the pool).</summary>
    public long OptimizeFailures, RestoreFailures;

    /// <summary>Vmemmap pages an optimization had remapped before it ran out of memory, and put back.</summary>
    public long RemapsUndone;

    /// <summary>Folios not optimized because their vmemmap is self-hosted (an altmap of hot-added memory).</summary>
    public long SelfHostedSkipped;

    /// <summary>Optimizations that copied the head's vmemmap page into a newly allocated page (so the old block's
    /// pages all go back), rather than keeping the old one.</summary>
    public long HeadPagesCopied;

    public static void Add(ref long counter, long delta) => Interlocked.Add(ref counter, delta);

    public static long Read(ref long counter) => Volatile.Read(ref counter);
}
