using System;

namespace FastPt;

/// <summary>How HugeTLB vmemmap optimization (HVO) shares the descriptor pages of a huge folio. Both free the same
/// pages (7 of 8 for 2 MiB, 4095 of 4096 for 1 GiB); they differ in how a tail descriptor names its head, which is
/// what <c>compound_head()</c> costs.</summary>
public enum HvoDesign
{
    /// <summary>Linux 6.x: a tail holds its head's address; the tail vmemmap pages of a folio are remapped read-only
    /// onto its head's page, so the first descriptor of each reads as a head ("fake head") and
    /// <c>compound_head()</c> has to recognise those.</summary>
    Linux6x = 0,

    /// <summary>The 2026 series "Eliminate fake head pages from vmemmap optimization": a tail holds a mask that
    /// turns its own address into its head's, so every tail of every folio of one order is identical and the tail
    /// vmemmap pages of all those folios map one shared read-only page per zone and order; <c>compound_head()</c>
    /// is a load and an AND.</summary>
    SharedTail = 1,
}

/// <summary>How many folios one vmemmap optimization or restore handles between TLB flushes.</summary>
public enum HvoBatching
{
    /// <summary>All folios of the operation together: a split pass and a remap pass with one flush each (plus one
    /// each time the batch of pages waiting to be freed fills), as the kernel has done since 6.8.</summary>
    Batched = 0,

    /// <summary>One folio at a time, flushing after every PMD split and every folio (the kernel before batching).</summary>
    PerFolio = 1,
}

/// <summary>A HugeTLB folio handed out by <see cref="HugeTlbPool.AllocateFolio"/>: naturally aligned, physically
/// contiguous memory of <see cref="Size"/>.</summary>
/// <param name="Address">Physical address of the first byte.</param>
/// <param name="Size">2 MiB or 1 GiB.</param>
public readonly record struct HugeTlbFolio(PhysAddr Address, PageSize Size)
{
    /// <summary>Frame number of the head page.</summary>
    public ulong Pfn => Address.Pfn;

    /// <summary>Bytes of the folio.</summary>
    public ulong Bytes => Size.Bytes();
}

/// <summary>The pool counts of one page size, as <c>/sys/kernel/mm/hugepages/hugepages-*kB/</c> shows them.</summary>
/// <param name="Size">The page size.</param>
/// <param name="Total"><c>nr_huge_pages</c> (HugePages_Total): every folio of the pool, surplus included.</param>
/// <param name="Free"><c>free_hugepages</c>: folios on the free list.</param>
/// <param name="Surplus"><c>surplus_hugepages</c>: folios beyond the persistent size, given back to the buddy
/// allocator when they become free.</param>
/// <param name="Overcommit"><c>nr_overcommit_hugepages</c>: how many surplus folios an allocation may create when
/// none is free.</param>
public readonly record struct HugeTlbPoolCounts(PageSize Size, long Total, long Free, long Surplus, long Overcommit)
{
    /// <summary><c>nr_hugepages</c>: the persistent pool size (total minus surplus).</summary>
    public long Persistent => Total - Surplus;

    /// <summary>Folios handed out and not freed.</summary>
    public long InUse => Total - Free;
}

/// <summary>Why a HugeTLB operation did not do all it was asked.</summary>
public enum HugeTlbError
{
    /// <summary>No error.</summary>
    None = 0,

    /// <summary>The buddy allocator has no free block of the folio's size (the pool grew less than asked, or no
    /// surplus folio could be made).</summary>
    OutOfMemory,

    /// <summary>No frames for the vmemmap pages a folio needs back before it can leave the pool: the folio stays in
    /// the pool (as a free surplus folio) with nothing lost, and a later resize tries again.</summary>
    VmemmapRestoreFailed,

    /// <summary>No free folio and no overcommit allowance.</summary>
    NoFreeFolio,

    /// <summary>The folio is not one this pool handed out and has not taken back.</summary>
    InvalidFolio,
}

/// <summary>A HugeTLB operation was refused or could not complete; see <see cref="Error"/>.</summary>
public sealed class HugeTlbException : FastPtException
{
    /// <summary>Creates the exception.</summary>
    public HugeTlbException(HugeTlbError error, string message) : base($"{error}: {message}") => Error = error;

    /// <summary>The reason.</summary>
    public HugeTlbError Error { get; }
}

/// <summary>The outcome of freeing a folio.</summary>
/// <param name="Error"><see cref="HugeTlbError.None"/>, or why the folio did not go where it should have.</param>
/// <param name="Detail">A sentence for a person, or null on success.</param>
public readonly record struct HugeTlbResult(HugeTlbError Error, string? Detail)
{
    /// <summary>True when nothing went wrong.</summary>
    public bool IsSuccess => Error == HugeTlbError.None;

    /// <summary>Throws <see cref="HugeTlbException"/> unless the operation succeeded.</summary>
    public void ThrowIfFailed()
    {
        if (!IsSuccess) throw new HugeTlbException(Error, Detail ?? Error.ToString());
    }
}

/// <summary>What a pool resize (<c>echo N &gt; nr_hugepages</c>) did.</summary>
public sealed record HugeTlbResizeResult
{
    /// <summary>The page size resized.</summary>
    public PageSize Size { get; init; }

    /// <summary>The persistent size asked for.</summary>
    public long Requested { get; init; }

    /// <summary>The pool counts afterwards.</summary>
    public HugeTlbPoolCounts Counts { get; init; }

    /// <summary><see cref="HugeTlbError.None"/> when the persistent size is <see cref="Requested"/> and no folio
    /// was left behind; otherwise the first reason it is not.</summary>
    public HugeTlbError Error { get; init; }

    /// <summary>A sentence for a person, or null on success.</summary>
    public string? Detail { get; init; }

    /// <summary>True when the pool is exactly as asked.</summary>
    public bool IsSuccess => Error == HugeTlbError.None;

    /// <summary>Folios taken from the buddy allocator.</summary>
    public long FoliosAllocated { get; init; }

    /// <summary>Folios given back to the buddy allocator.</summary>
    public long FoliosFreed { get; init; }

    /// <summary>Folios whose vmemmap was optimized.</summary>
    public long FoliosOptimized { get; init; }

    /// <summary>Memmap pages freed by optimization (net of the head pages copied).</summary>
    public long VmemmapPagesFreed { get; init; }

    /// <summary>Memmap pages allocated again by restores.</summary>
    public long VmemmapPagesRestored { get; init; }

    /// <summary>Kernel TLB flushes the vmemmap changes took.</summary>
    public long Flushes { get; init; }

    /// <summary>Wall time.</summary>
    public TimeSpan Elapsed { get; init; }

    /// <summary>Throws <see cref="HugeTlbException"/> unless the resize succeeded.</summary>
    public void ThrowIfFailed()
    {
        if (!IsSuccess) throw new HugeTlbException(Error, Detail ?? Error.ToString());
    }
}

/// <summary>Counters of one HugeTLB page size.</summary>
public sealed record HugeTlbSizeStatistics
{
    /// <summary>The pool counts.</summary>
    public HugeTlbPoolCounts Counts { get; init; }

    /// <summary>Folios taken from the buddy allocator, in all.</summary>
    public long FoliosAllocated { get; init; }

    /// <summary>Folios given back to the buddy allocator, in all.</summary>
    public long FoliosFreed { get; init; }

    /// <summary>Folios whose vmemmap is optimized now.</summary>
    public long FoliosOptimizedNow { get; init; }

    /// <summary>Vmemmap optimizations completed, in all.</summary>
    public long FoliosOptimized { get; init; }

    /// <summary>Vmemmap restores completed, in all.</summary>
    public long FoliosRestored { get; init; }

    /// <summary>Memmap pages freed by optimizations, net of the head pages copied (7 per 2 MiB folio, 4095 per
    /// 1 GiB folio): what <c>nr_memmap_pages</c> + <c>nr_memmap_boot_pages</c> dropped by.</summary>
    public long VmemmapPagesFreed { get; init; }

    /// <summary>Memmap pages allocated again by restores.</summary>
    public long VmemmapPagesRestored { get; init; }

    /// <summary>Optimize and restore calls that handled their folios as one batch.</summary>
    public long Batches { get; init; }

    /// <summary>Kernel TLB flushes issued by optimizations and restores.</summary>
    public long Flushes { get; init; }

    /// <summary>PMD-mapped vmemmap blocks split into PTE tables.</summary>
    public long VmemmapSplits { get; init; }

    /// <summary>Splits undone because the optimization that made them failed and no folio used them.</summary>
    public long VmemmapSplitsMergedBack { get; init; }

    /// <summary>Optimizations that ran out of memory (the folio stayed as it was).</summary>
    public long OptimizeFailures { get; init; }

    /// <summary>Restores that could not allocate their pages (the folio stayed in the pool).</summary>
    public long RestoreFailures { get; init; }

    /// <summary>Vmemmap pages an optimization had remapped before it ran out of memory, and put back.</summary>
    public long VmemmapRemapsUndone { get; init; }

    /// <summary>Folios not optimized because their vmemmap is self-hosted on hot-added memory (altmap).</summary>
    public long SelfHostedSkipped { get; init; }

    /// <summary>Optimizations that moved the head's vmemmap page into a new page so the whole old block went back.</summary>
    public long HeadPagesCopied { get; init; }
}

/// <summary>A snapshot of the HugeTLB pool and its vmemmap optimization.</summary>
public sealed record HugeTlbStatistics
{
    /// <summary>The machine's HVO design.</summary>
    public HvoDesign Design { get; init; }

    /// <summary><c>vm.hugetlb_optimize_vmemmap</c> now.</summary>
    public bool OptimizeVmemmap { get; init; }

    /// <summary>Shared tail pages allocated (shared-tail design: one per zone and order in use; 0 in 6.x).</summary>
    public int SharedTailPages { get; init; }

    /// <summary>2 MiB folios.</summary>
    public HugeTlbSizeStatistics Size2M { get; init; } = new();

    /// <summary>1 GiB folios.</summary>
    public HugeTlbSizeStatistics Size1G { get; init; } = new();

    /// <summary>The statistics of <paramref name="size"/> (2 MiB or 1 GiB).</summary>
    public HugeTlbSizeStatistics For(PageSize size) => size switch
    {
        PageSize.Size2M => Size2M,
        PageSize.Size1G => Size1G,
        _ => throw new ArgumentOutOfRangeException(nameof(size), "HugeTLB pages are 2 MiB or 1 GiB"),
    };
}
