namespace FastPt;

/// <summary>Counters of one CPU context's translation caches.</summary>
/// <param name="Hits">Translations answered by the TLB (either way of the 2-way set-associative TLB, or the large-page TLB).</param>
/// <param name="Misses">Translations that missed the TLB.</param>
/// <param name="PmdCacheHits">Misses finished from a cached PTE table (one load).</param>
/// <param name="PudCacheHits">Misses finished from a cached PMD table (two loads).</param>
/// <param name="Walks">Full walks from the root.</param>
/// <param name="Faults">Translations that faulted.</param>
/// <param name="PageFlushesReceived">Single-page invalidations applied.</param>
/// <param name="RangeFlushesReceived">Range invalidations applied.</param>
/// <param name="FullFlushesReceived">Full (non-global) flushes applied, including those forced by falling too far behind.</param>
/// <param name="KernelFlushesReceived">Kernel (global) invalidations applied.</param>
public readonly record struct TlbStatistics(
    long Hits, long Misses, long PmdCacheHits, long PudCacheHits, long Walks, long Faults,
    long PageFlushesReceived, long RangeFlushesReceived, long FullFlushesReceived, long KernelFlushesReceived)
{
    /// <summary>Hits over all translations.</summary>
    public double HitRate => Hits + Misses == 0 ? 0 : (double)Hits / (Hits + Misses);

    /// <summary>Invalidations received of every kind.</summary>
    public long InvalidationsReceived => PageFlushesReceived + RangeFlushesReceived + FullFlushesReceived + KernelFlushesReceived;

    /// <summary>Sum of two sets of counters.</summary>
    public static TlbStatistics operator +(TlbStatistics a, TlbStatistics b) => new(
        a.Hits + b.Hits, a.Misses + b.Misses, a.PmdCacheHits + b.PmdCacheHits,
        a.PudCacheHits + b.PudCacheHits, a.Walks + b.Walks, a.Faults + b.Faults,
        a.PageFlushesReceived + b.PageFlushesReceived, a.RangeFlushesReceived + b.RangeFlushesReceived,
        a.FullFlushesReceived + b.FullFlushesReceived, a.KernelFlushesReceived + b.KernelFlushesReceived);
}
