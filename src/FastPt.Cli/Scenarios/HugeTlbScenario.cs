using System;
using System.Collections.Generic;
using System.Globalization;

namespace FastPt.Cli.Scenarios;

/// <summary>The HugeTLB pool with vmemmap optimization: grows the 2 MiB and 1 GiB pools (nr_hugepages) batched and
/// one folio at a time, reports the memmap pages saved per folio and per TiB and the time per folio, runs the
/// kernel's kpageflags selftest logic on the optimized folios, shrinks the pools again and checks every counter is
/// back where it started.</summary>
public sealed class HugeTlbScenario : IScenario
{
    private const long TiB = 1L << 40;

    /// <summary>The main job's sizes (the Linux 6.18 measurement: 512 × 2 MiB and 2 × 1 GiB), scaled down to what
    /// the machine's free memory holds.</summary>
    public HugeTlbScenario()
        : this(pages2M: 512, pages1G: 2, optimize: true, fitToMemory: true)
    {
    }

    /// <summary>Memmap bytes saved over a TiB of <paramref name="size"/> folios when each frees
    /// <paramref name="savedPerFolio"/> 4 KiB vmemmap pages.</summary>
    internal static long MemmapBytesSavedPerTiB(PageSize size, long savedPerFolio) =>
        savedPerFolio * (long)PageSize.Size4K.Bytes() * (TiB / (long)size.Bytes());

    /// <summary>A run of <paramref name="pages2M"/> 2 MiB and <paramref name="pages1G"/> 1 GiB folios, with the
    /// optimization switch as given; with <paramref name="fitToMemory"/>, fewer of both when memory is short.
    /// Without it, a count the pool cannot reach makes the scenario not run (with how far the pool got), not fail.</summary>
    public HugeTlbScenario(long pages2M, long pages1G, bool optimize, bool fitToMemory = false)
        : this(pages2M, pages1G, optimize, fit2MToMemory: fitToMemory, fit1GToMemory: fitToMemory)
    {
    }

    /// <summary>As the other constructor, with the fit chosen per page size (<c>fastpt hugetlb</c> fits the counts the
    /// user did not give and holds to the ones given).</summary>
    public HugeTlbScenario(long pages2M, long pages1G, bool optimize, bool fit2MToMemory, bool fit1GToMemory)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(pages2M);
        ArgumentOutOfRangeException.ThrowIfNegative(pages1G);
        Pages2M = pages2M;
        Pages1G = pages1G;
        Optimize = optimize;
        Fit2MToMemory = fit2MToMemory;
        Fit1GToMemory = fit1GToMemory;
    }

    /// <summary>2 MiB folios asked for.</summary>
    public long Pages2M { get; }

    /// <summary>1 GiB folios asked for.</summary>
    public long Pages1G { get; }

    /// <summary>Whether <c>hugetlb_optimize_vmemmap</c> is on for the run.</summary>
    public bool Optimize { get; }

    /// <summary>Whether both counts shrink to what free memory holds (the main job) instead of the scenario not
    /// running.</summary>
    public bool FitToMemory => Fit2MToMemory && Fit1GToMemory;

    /// <summary>Whether the 2 MiB count shrinks to what free memory holds.</summary>
    public bool Fit2MToMemory { get; }

    /// <summary>Whether the 1 GiB count shrinks to what free memory holds.</summary>
    public bool Fit1GToMemory { get; }

    /// <inheritdoc/>
    public string Name => "hugetlb";

    /// <inheritdoc/>
    public string Description => "Grow and shrink the 2 MiB and 1 GiB HugeTLB pools with vmemmap optimization, batched and per folio; memmap pages saved, time per folio, counters back.";

    /// <inheritdoc/>
    public ScenarioReport Run(ScenarioContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        Machine machine = context.Machine;
        HugeTlbPool pool = machine.HugeTlb;
        var report = new ScenarioReport(this);
        bool optimizeBefore = pool.OptimizeVmemmap;
        MemoryStatistics before = machine.GetStatistics();
        long free = before.FreePages;
        // Leave a quarter of free memory (at least 64 MiB) for the vmemmap work, the page tables and the rest.
        long budget = Math.Max(0, free - Math.Max(16384, free / 4));
        long pages1G = Pages1G, pages2M = Pages2M;
        if (Fit1GToMemory) pages1G = Math.Min(pages1G, budget / 2 / 262144);
        if (Fit2MToMemory) pages2M = Math.Min(pages2M, Math.Max(0, budget - pages1G * 262144) / 512);
        string? notRun = null;
        report.AddFact("design", pool.Design == HvoDesign.SharedTail ? "shared tail (2026 series)" : "Linux 6.x (fake heads)");
        report.AddFact("hugetlb_optimize_vmemmap", Optimize ? "on" : "off");
        pool.OptimizeVmemmap = Optimize;
        var rows = new List<IReadOnlyList<ReportValue>>();
        try
        {
            int step = 0;
            foreach ((PageSize size, long asked) in new[] { (PageSize.Size2M, pages2M), (PageSize.Size1G, pages1G) })
            {
                long count = asked;
                string key = size == PageSize.Size2M ? "2M" : "1G";
                if (count == 0)
                {
                    report.AddFact($"{key}.folios", 0);
                    continue;
                }
                long perFolio = size == PageSize.Size2M ? 8 : 4096;
                HugeTlbResizeResult probe = WarmUp(report, pool, size, count);
                if (probe.Counts.Total < count)
                {
                    // The pool stops where memory runs out, as nr_hugepages does: fit to that, or say so and stop.
                    if (!(size == PageSize.Size2M ? Fit2MToMemory : Fit1GToMemory))
                    {
                        notRun = string.Create(CultureInfo.InvariantCulture,
                            $"{count:N0} × {key} folios asked for, the pool reached {probe.Counts.Total:N0} ({probe.Detail}); a larger --memory holds more");
                        break;
                    }
                    count = probe.Counts.Total;
                    if (count == 0)
                    {
                        report.AddFact($"{key}.folios", 0);
                        continue;
                    }
                }
                HugeTlbResizeResult grown = Resize(report, pool, size, count, HvoBatching.Batched, $"{key}: grow, batched");
                context.Checkpoint($"after growing the {key} pool by {count} folios, HVO {(Optimize ? "on" : "off")}");
                context.ReportProgress($"{key} optimized", ++step, 8);
                SelfTest(report, machine, size, key);
                HugeTlbResizeResult shrunk = Resize(report, pool, size, 0, HvoBatching.Batched, $"{key}: shrink, batched");
                HugeTlbResizeResult grownOne = Resize(report, pool, size, count, HvoBatching.PerFolio, $"{key}: grow, per folio");
                HugeTlbResizeResult shrunkOne = Resize(report, pool, size, 0, HvoBatching.PerFolio, $"{key}: shrink, per folio");
                context.ReportProgress($"{key} done", ++step, 8);
                long savedPerFolio = grown.FoliosOptimized == 0 ? 0 : grown.VmemmapPagesFreed / grown.FoliosOptimized;
                report.AddFact($"{key}.folios", count);
                report.AddFact($"{key}.memmapPagesFreed", grown.VmemmapPagesFreed, "pages");
                report.AddFact($"{key}.memmapPagesRestored", shrunk.VmemmapPagesRestored, "pages");
                report.AddFact($"{key}.foliosOptimized", grown.FoliosOptimized);
                report.AddFact($"{key}.flushes", grown.Flushes + shrunk.Flushes);
                report.AddFact($"{key}.flushesUnbatched", grownOne.Flushes + shrunkOne.Flushes);
                report.AddFact($"{key}.memmapPagesSavedPerFolio", savedPerFolio, "pages");
                // A TiB holds TiB / folio-size folios (524,288 of 2 MiB, 1024 of 1 GiB), each saving savedPerFolio 4 KiB pages.
                report.AddFact($"{key}.memmapBytesSavedPerTiB", MemmapBytesSavedPerTiB(size, savedPerFolio), "bytes");
                report.AddFact($"{key}.growBatchedPerFolio", grown.Elapsed / count);
                report.AddFact($"{key}.growUnbatchedPerFolio", grownOne.Elapsed / count);
                report.AddFact($"{key}.shrinkBatchedPerFolio", shrunk.Elapsed / count);
                report.AddFact($"{key}.shrinkUnbatchedPerFolio", shrunkOne.Elapsed / count);
                if (Optimize)
                {
                    report.CheckEqual($"{key}: vmemmap pages freed per folio (the kernel's {perFolio - 1})", perFolio - 1, savedPerFolio);
                    report.CheckEqual($"{key}: freeing re-allocates what optimizing freed", grown.VmemmapPagesFreed, shrunk.VmemmapPagesRestored);
                }
                else
                {
                    report.CheckEqual($"{key}: switch off, no vmemmap page freed", 0, grown.VmemmapPagesFreed + grownOne.VmemmapPagesFreed);
                }
                foreach ((string what, HugeTlbResizeResult r) in new[] { ("grow, batched", grown), ("shrink, batched", shrunk), ("grow, per folio", grownOne), ("shrink, per folio", shrunkOne) })
                {
                    rows.Add(
                    [
                        ReportValue.FromText($"{key} {what}"), ReportValue.FromWholeNumber(r.FoliosAllocated + r.FoliosFreed),
                        ReportValue.FromWholeNumber(r.VmemmapPagesFreed), ReportValue.FromWholeNumber(r.VmemmapPagesRestored),
                        ReportValue.FromWholeNumber(r.Flushes), ReportValue.FromDuration(r.Elapsed),
                        ReportValue.FromDuration(r.Elapsed / Math.Max(1, r.FoliosAllocated + r.FoliosFreed)),
                    ]);
                }
            }
        }
        finally
        {
            pool.SetPoolSize(PageSize.Size2M, 0);
            pool.SetPoolSize(PageSize.Size1G, 0);
            pool.OptimizeVmemmap = optimizeBefore;
        }
        if (notRun is not null) return ScenarioReport.NotRun(this, notRun);
        machine.RcuBarrier();
        MemoryStatistics after = machine.GetStatistics();
        int sharedTails = pool.GetStatistics().SharedTailPages;
        // The PTE tables that split PMD-mapped vmemmap stay (the kernel never merges a split vmemmap block back).
        long splitTables = after.PageTablePages - before.PageTablePages;
        report.AddFact("vmemmap PTE tables left by splits", splitTables, "pages");
        report.CheckEqual("free pages are back (less the shared tail pages and the split tables kept)",
            before.FreePages - sharedTails - splitTables, after.FreePages);
        report.CheckEqual("nr_memmap_pages + nr_memmap_boot_pages are back (plus the shared tail pages)",
            before.MemmapPages + before.MemmapBootPages + sharedTails, after.MemmapPages + after.MemmapBootPages);
        report.CheckEqual("memmap frames are back (plus the shared tail pages)", before.MemmapFrames + sharedTails, after.MemmapFrames);
        HugeTlbStatistics stats = pool.GetStatistics();
        report.CheckEqual("every optimized folio was restored",
            stats.Size2M.FoliosOptimized + stats.Size1G.FoliosOptimized, stats.Size2M.FoliosRestored + stats.Size1G.FoliosRestored);
        report.AddTable(new ReportTable("Pool operations", ["operation", "folios", "vmemmap pages freed", "vmemmap pages restored", "flushes", "time", "per folio"], rows));
        return report;
    }

    /// <summary>Grows the pool to <paramref name="count"/> folios and back batched, then by one folio and back per
    /// folio, untimed, and returns the batched grow (how far the pool got). Without it the first timed pass pays the
    /// host's first touch of the folios' memmap and the JIT compiling each path, and the comparison is cold against
    /// warm (a 2-folio run read 260 µs per batched folio against 26 µs per unbatched one, the opposite of what
    /// batching does). Only a failed shrink shows in the report.</summary>
    private static HugeTlbResizeResult WarmUp(ScenarioReport report, HugeTlbPool pool, PageSize size, long count)
    {
        HugeTlbResizeResult? first = null;
        foreach ((HvoBatching batching, long folios) in new[] { (HvoBatching.Batched, count), (HvoBatching.PerFolio, 1L) })
        {
            // A grow that stops short keeps the folios it got (nr_hugepages does the same): give them back either way.
            HugeTlbResizeResult grown = pool.TrySetPoolSize(size, folios, batching);
            first ??= grown;
            HugeTlbResizeResult back = pool.TrySetPoolSize(size, 0, batching);
            if (!back.IsSuccess)
            {
                report.Check($"{size}: warm-up, shrink back to 0", false, $"{back.Error}: {back.Detail}");
                break;
            }
            if (!grown.IsSuccess) break;
        }
        return first!;
    }

    private static HugeTlbResizeResult Resize(ScenarioReport report, HugeTlbPool pool, PageSize size, long count, HvoBatching batching, string what)
    {
        HugeTlbResizeResult result = pool.TrySetPoolSize(size, count, batching);
        report.Check($"{what} to {count}", result.IsSuccess && result.Counts.Total == count,
            result.IsSuccess ? $"{result.Counts.Total} folios" : $"{result.Error}: {result.Detail}");
        return result;
    }

    /// <summary>tools/testing/selftests/mm/hugetlb-vmemmap.c: the head reads HEAD|HUGE, every tail TAIL|HUGE and
    /// never HEAD (checked on the first folio of the pool).</summary>
    private static void SelfTest(ScenarioReport report, Machine machine, PageSize size, string key)
    {
        ulong pages = size == PageSize.Size2M ? 512UL : 262144UL;
        ulong[] flags = new ulong[pages];
        // A folio of the pool, taken and given back (it stays in the pool, optimized).
        if (!machine.HugeTlb.TryAllocateFolio(size, out HugeTlbFolio folio, out HugeTlbError error))
        {
            report.Check($"{key}: kpageflags selftest", false, $"no folio in the pool: {error}");
            return;
        }
        machine.ReadPageFlags(folio.Address.Pfn, flags);
        machine.HugeTlb.FreeFolio(folio);
        const ulong headBit = 1UL << 15, tailBit = 1UL << 16, hugeBit = 1UL << 17;
        bool headOk = (flags[0] & (headBit | tailBit | hugeBit)) == (headBit | hugeBit);
        ulong badTails = 0;
        for (ulong i = 1; i < pages; i++)
            if ((flags[i] & (headBit | tailBit | hugeBit)) != (tailBit | hugeBit)) badTails++;
        report.Check($"{key}: kpageflags selftest (head HEAD|HUGE, {pages - 1} tails TAIL|HUGE)", headOk && badTails == 0,
            $"head 0x{flags[0]:x}, {badTails} tails wrong");
    }
}
