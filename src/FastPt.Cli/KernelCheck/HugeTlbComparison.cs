using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Threading;

namespace FastPt.Cli.KernelCheck;

/// <summary>FastPt's figures for one page size: the same grow and shrink on a booted machine.</summary>
/// <param name="Size">2 MiB or 1 GiB.</param>
/// <param name="Folios">Folios allocated: as many as the kernel got.</param>
/// <param name="FreedOnGrow">Drop of nr_memmap_pages + nr_memmap_boot_pages on the grow.</param>
/// <param name="ReallocatedOnShrink">Rise of the same on the shrink.</param>
/// <param name="HvoPagesFreed">The pool's own count of vmemmap pages the optimization freed.</param>
/// <param name="HvoPagesRestored">The pool's count of vmemmap pages restored.</param>
/// <param name="SharedTailPages">Shared tail pages the machine holds after the shrink (shared-tail design only).</param>
internal sealed record FastPtHugeTlbSize(PageSize Size, long Folios, long FreedOnGrow, long ReallocatedOnShrink, long HvoPagesFreed,
    long HvoPagesRestored, int SharedTailPages);

/// <summary>One page size on both sides.</summary>
/// <param name="Kernel">The host kernel's figures.</param>
/// <param name="FastPt">FastPt's, for the folios the kernel got; null when the kernel got none.</param>
internal sealed record HugeTlbSizeComparison(HostHugeTlbSize Kernel, FastPtHugeTlbSize? FastPt)
{
    /// <summary>True when there is something to compare: the kernel got at least one folio.</summary>
    public bool Compared => FastPt is not null && Kernel.Got > 0;

    /// <summary>True when compared and both figures are equal.</summary>
    public bool Equal => Compared && FastPt!.FreedOnGrow == Kernel.Result.FreedOnGrow && FastPt.ReallocatedOnShrink == Kernel.Result.ReallocatedOnShrink;
}

/// <summary>The outcome of <c>kernel-check --hugetlb</c>.</summary>
/// <param name="Kernel">The host side, settings restored.</param>
/// <param name="Sizes">Each size asked for.</param>
/// <param name="Design">FastPt's HVO design.</param>
/// <param name="MachineMemory">RAM of FastPt's machine.</param>
/// <param name="FastPtTime">Time FastPt took.</param>
internal sealed record HugeTlbCheckResult(HostHugeTlbMeasurement Kernel, IReadOnlyList<HugeTlbSizeComparison> Sizes, HvoDesign Design,
    ulong MachineMemory, TimeSpan FastPtTime)
{
    /// <summary>True when the kernel got no folio of any size asked for: nothing could be compared.</summary>
    public bool NothingCompared => Sizes.All(s => !s.Compared);

    /// <summary>True when every size's readings agreed, something was compared, and every compared size is equal.</summary>
    public bool Passed => !NothingCompared && Sizes.All(s => s.Kernel.Agreed) && Sizes.Where(s => s.Compared).All(s => s.Equal);

    /// <summary>One line: PASS or FAIL and why.</summary>
    public string Verdict => (Passed ? "PASS: " : "FAIL: ") + Detail;

    /// <summary>Why the verdict is what it is, without the PASS or FAIL.</summary>
    public string Detail
    {
        get
        {
            if (NothingCompared) return "the kernel allocated no folio of the sizes asked for, so nothing was compared";
            HugeTlbSizeComparison[] unsettled = Sizes.Where(s => !s.Kernel.Agreed).ToArray();
            if (unsettled.Length > 0)
            {
                return FormattableString.Invariant(
                    $"the kernel's readings for {string.Join(" and ", unsettled.Select(s => HugeTlbHostFiles.SizeName(s.Kernel.Size)))} never agreed in {HugeTlbHost.MaxRounds} rounds (something else changed memmap meanwhile), so they were not compared");
            }
            if (Passed) return "FastPt frees and re-allocates exactly the kernel's vmemmap pages";
            return "FastPt differs from the kernel: " + string.Join("; ", Sizes.Where(s => s.Compared && !s.Equal).Select(s => FormattableString.Invariant(
                $"{HugeTlbHostFiles.SizeName(s.Kernel.Size)} freed {s.FastPt!.FreedOnGrow - s.Kernel.Result.FreedOnGrow:+#;-#;0}, re-allocated {s.FastPt.ReallocatedOnShrink - s.Kernel.Result.ReallocatedOnShrink:+#;-#;0} pages")));
        }
    }
}

/// <summary>Runs the host kernel's HVO and FastPt's on the same folios and compares them.</summary>
internal static class HugeTlbComparison
{
    /// <summary>Measures the host (settings restored before it returns or throws), then grows and shrinks the pools
    /// of <paramref name="machine"/> by the folios the kernel really got, with the vmemmap optimization on. Throws
    /// <see cref="KernelCheckException"/> when the host refuses, <see cref="OperationCanceledException"/> when
    /// cancelled, and <see cref="HugeTlbException"/> when <paramref name="machine"/> cannot hold the folios.</summary>
    public static HugeTlbCheckResult Run(IHostFiles files, Machine machine, HugeTlbRequest request, CancellationToken cancellation)
    {
        ArgumentNullException.ThrowIfNull(machine);
        HostHugeTlbMeasurement kernel = HugeTlbHost.Measure(files, request, cancellation);
        long start = Stopwatch.GetTimestamp();
        var sizes = new List<HugeTlbSizeComparison>();
        foreach (HostHugeTlbSize size in kernel.Sizes)
        {
            cancellation.ThrowIfCancellationRequested();
            sizes.Add(new HugeTlbSizeComparison(size, size.Got > 0 ? MeasureFastPt(machine, size.Size, size.Got) : null));
        }
        return new HugeTlbCheckResult(kernel, sizes, machine.HugeTlb.Design, machine.Options.MemorySize, Stopwatch.GetElapsedTime(start));
    }

    /// <summary>Grows the pool of <paramref name="size"/> from empty to <paramref name="folios"/> with the switch on
    /// and shrinks it back, reading the memmap counters as the kernel's are read. The switch is left as found.</summary>
    public static FastPtHugeTlbSize MeasureFastPt(Machine machine, PageSize size, long folios)
    {
        ArgumentNullException.ThrowIfNull(machine);
        HugeTlbPool pool = machine.HugeTlb;
        if (pool.GetCounts(size).Total != 0) throw new InvalidOperationException($"the {size.ShortName()} pool of the machine is not empty");
        bool optimizeBefore = pool.OptimizeVmemmap;
        pool.OptimizeVmemmap = true;
        try
        {
            long start = MemmapTotal(machine);
            HugeTlbResizeResult grown = pool.TrySetPoolSize(size, folios);
            if (!grown.IsSuccess || grown.Counts.Total != folios)
            {
                HugeTlbResizeResult back = pool.TrySetPoolSize(size, 0);
                back.ThrowIfFailed();
                throw new HugeTlbException(grown.IsSuccess ? HugeTlbError.OutOfMemory : grown.Error,
                    $"FastPt's machine holds {grown.Counts.Total} of the {folios} folios of {HugeTlbHostFiles.SizeName(size)} the kernel got{(grown.Detail is null ? "" : ": " + grown.Detail)}");
            }
            long afterGrow = MemmapTotal(machine);
            HugeTlbResizeResult shrunk = pool.SetPoolSize(size, 0);
            long afterShrink = MemmapTotal(machine);
            return new FastPtHugeTlbSize(size, folios, start - afterGrow, afterShrink - afterGrow, grown.VmemmapPagesFreed,
                shrunk.VmemmapPagesRestored, pool.GetStatistics().SharedTailPages);
        }
        finally
        {
            pool.OptimizeVmemmap = optimizeBefore;
        }
    }

    /// <summary>nr_memmap_pages + nr_memmap_boot_pages once every deferred free has run, as the kernel's read after a
    /// pool write returns (the kernel frees the old vmemmap pages before the write returns).</summary>
    private static long MemmapTotal(Machine machine)
    {
        machine.RcuBarrier();
        MemoryStatistics statistics = machine.GetStatistics();
        return statistics.MemmapPages + statistics.MemmapBootPages;
    }
}
