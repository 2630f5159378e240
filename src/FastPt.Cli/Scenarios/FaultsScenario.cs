using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Threading;

namespace FastPt.Cli.Scenarios;

/// <summary>Concurrent demand faults in anonymous regions, in each page-table lock mode (split inline, split
/// allocated, one lock per address space) with 4 KiB pages and with transparent huge pages: one thread, then T threads
/// in disjoint regions (each its own PTE tables) and in shared ones (every 2 MiB block faulted by all threads). It
/// reports faults per second, lock contention, hold times (allocated mode) and the lock-allocation balance, and checks
/// that every page was mapped once with the data its writer put there, and that every frame, table and lock came
/// back.</summary>
public sealed class FaultsScenario : IScenario
{
    private const ulong MiB = 1UL << 20;
    private const ulong Base = 0x7f00_0000_0000;
    private const ulong PerThread = 8 * MiB;
    private const ulong Page = 4096;

    /// <inheritdoc/>
    public string Name => "faults";

    /// <inheritdoc/>
    public string Description => "Fault anonymous memory in on 1 and T threads, disjoint and shared, in every lock mode, 4K and THP; prove it balances.";

    private static readonly PageTableLockMode[] Modes = [PageTableLockMode.Inline, PageTableLockMode.Allocated, PageTableLockMode.SingleLock];

    /// <inheritdoc/>
    public ScenarioReport Run(ScenarioContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var report = new ScenarioReport(this);
        int threads = Math.Clamp(Environment.ProcessorCount, 2, 4);
        var rows = new List<IReadOnlyList<ReportValue>>();
        var balance = new List<IReadOnlyList<ReportValue>>();
        int step = 0;
        foreach (PageTableLockMode mode in Modes)
        {
            // The lock mode is a machine option: each mode gets a small machine of its own, booted like the caller's.
            var options = new MachineOptions
            {
                MemorySize = 1UL << 30,
                PagingMode = context.Options.PagingMode,
                CheckedMode = context.Options.CheckedMode,
                PageTableLocks = mode,
            };
            using var machine = new Machine(options);
            long freeAtBoot = machine.GetStatistics().FreePages;
            var tally = new Tally();
            foreach (bool huge in new[] { false, true })
            {
                context.ReportProgress($"{Describe(mode)}, {(huge ? "THP" : "4 KiB")}", step++, Modes.Length * 2);
                Run(machine, tally, 1, shared: false, huge, null, mode); // warm-up: brings the fault path to its optimised JIT tier
                double single = Run(machine, tally, 1, shared: false, huge, rows, mode);
                Run(machine, tally, threads, shared: false, huge, rows, mode, single);
                Run(machine, tally, threads, shared: true, huge, rows, mode, single);
            }
            MemoryStatistics s = machine.GetStatistics();
            string name = Describe(mode);
            tally.Report(report, name);
            report.CheckEqual($"{name}: free pages back to their value at boot", freeAtBoot, s.FreePages);
            report.Check($"{name}: page-table locks allocated = freed", s.PtlocksAllocated == s.PtlocksFreed,
                $"allocated {s.PtlocksAllocated}, freed {s.PtlocksFreed}");
            report.CheckEqual($"{name}: no slab page of locks left", 0, s.PtlockSlabPages);
            report.CheckEqual($"{name}: no user page table left", 0, s.UserPageTablesByLevel.Sum());
            if (options.CheckedMode) report.CheckEqual($"{name}: no use after free detected", 0, s.UseAfterFreeDetected);
            balance.Add(
            [
                ReportValue.FromText(name), ReportValue.FromWholeNumber(s.PtlocksAllocated), ReportValue.FromWholeNumber(s.PtlocksFreed),
                ReportValue.FromWholeNumber(s.PtlocksOutstanding), ReportValue.FromWholeNumber(s.PageTableLockContentions),
                ReportValue.FromDuration(s.AllocatedLockMaxHold),
            ]);
        }
        report.AddFact("threads (T)", threads);
        report.AddFact("region per thread", "8 MiB: 2,048 pages of 4 KiB, or 4 huge pages");
        report.AddFact("layouts", "own: 1 thread; disjoint: each thread its own PTE tables; shared: every 2 MiB block faulted by all threads");
        report.AddFact("machines", "one 1 GiB machine per lock mode (the mode is a machine option)");
        report.AddFact("timings", "after a warm-up run; faults/s counts faults that installed a page (pgfault also counts those another thread had resolved); speedup = T threads' faults/s over 1 thread's");
        report.AddTable(new ReportTable("Fault throughput",
            ["locks", "pages", "layout", "T", "pgfault", "time", "faults/s", "speedup", "contended", "acquired", "mean hold"], rows));
        report.AddTable(new ReportTable("Lock balance (per machine, after every run)",
            ["locks", "allocated", "freed", "outstanding", "contentions", "longest hold"], balance));
        context.ReportProgress("done", step, step);
        return report;
    }

    /// <summary>One case: reserve the regions, let <paramref name="threads"/> threads write one word to every page of
    /// their part, check the result and unmap. Returns faults per second; adds a row when <paramref name="rows"/>
    /// is given (a warm-up adds none but still checks).</summary>
    private static double Run(Machine machine, Tally tally, int threads, bool shared, bool huge,
        List<IReadOnlyList<ReportValue>>? rows = null, PageTableLockMode mode = default, double single = 0)
    {
        ulong length = PerThread * (ulong)threads;
        long pages = (long)(length / Page);
        string layout = threads == 1 ? "own" : shared ? "shared" : "disjoint";
        string what = $"{(rows is null ? "warm-up: " : "")}{Describe(mode)}, {(huge ? "THP" : "4 KiB")}, {threads} thread(s), {layout}";
        using AddressSpace space = machine.CreateAddressSpace();
        long freeBefore = machine.GetStatistics().FreePages;
        space.MapAnonymous(new VirtAddr(Base), length, Protection.ReadWrite, huge ? AnonymousOptions.TransparentHugePages : AnonymousOptions.None);
        MemoryStatistics before = machine.GetStatistics();
        using var start = new Barrier(threads);
        Exception? failure = null;
        var workers = new Thread[threads];
        long[] begun = new long[threads], ended = new long[threads];
        for (int t = 0; t < threads; t++)
        {
            int index = t;
            workers[t] = new Thread(() =>
            {
                using MmuContext cpu = space.CreateContext();
                start.SignalAndWait();
                begun[index] = Stopwatch.GetTimestamp();
                try
                {
                    // Disjoint: thread t writes the pages of its own 8 MiB. Shared: the pages p with p % T == t, so
                    // every PTE table (and every huge page) is faulted by all threads at once.
                    for (long i = 0; i < pages / threads; i++)
                    {
                        long page = shared ? i * threads + index : index * (pages / threads) + i;
                        cpu.Write(new VirtAddr(Base + (ulong)page * Page), page + 1);
                    }
                }
                catch (Exception e)
                {
                    failure ??= e;
                }
                ended[index] = Stopwatch.GetTimestamp();
            })
            {
                IsBackground = true,
                Name = $"faults worker {t}",
            };
            workers[t].Start();
        }
        foreach (Thread worker in workers) worker.Join();
        // From the first worker's start to the last one's end, timed by the workers themselves (Join orders their
        // stores before these loads).
        TimeSpan elapsed = Stopwatch.GetElapsedTime(begun.Min(), ended.Max());
        MemoryStatistics after = machine.GetStatistics();

        tally.Note("no fault failed", failure is null, $"{what}: {failure?.Message}");
        // Every page mapped once, with its writer's data: read back through another CPU, and the leaves counted
        // from a walk of the tables, not from a counter.
        long wrong = 0;
        for (long page = 0; page < pages; page++)
            if (space.Read<long>(new VirtAddr(Base + (ulong)page * Page)) != page + 1) wrong++;
        long leaves = 0, leafBytes = 0;
        foreach (MappingRun run in space.Dump(new VirtAddr(Base), length))
        {
            leaves += run.Pages;
            leafBytes += (long)run.Length;
        }
        long expectedLeaves = huge ? (long)(length / (2 * MiB)) : pages;
        tally.Note("every page reads back its writer's value", wrong == 0, $"{what}: {wrong} of {pages} pages wrong");
        tally.Note("each page mapped once: the walk finds one leaf per page (or huge page) and no more", leaves == expectedLeaves && leafBytes == (long)length,
            $"{what}: {leaves} leaves, {leafBytes} bytes; expected {expectedLeaves}, {length}");
        long taken = before.FreePages - after.FreePages, accounted = pages + space.PageTables.Total + after.PtlockSlabPages - before.PtlockSlabPages;
        tally.Note("frames taken = data + tables + lock slabs (a double install would leak one)", taken == accounted,
            $"{what}: {taken} frames taken, {accounted} accounted for");
        space.Unmap(new VirtAddr(Base), length);
        long freeAfter = machine.GetStatistics().FreePages;
        tally.Note("unmap gives every frame and table back", freeAfter == freeBefore, $"{what}: {freeBefore - freeAfter} frames missing");

        long faults = huge ? expectedLeaves : pages;
        double perSecond = faults / Math.Max(elapsed.TotalSeconds, 1e-9);
        if (rows is not null)
        {
            long acquisitions = after.AllocatedLockAcquisitions - before.AllocatedLockAcquisitions;
            TimeSpan held = after.AllocatedLockHoldTime - before.AllocatedLockHoldTime;
            rows.Add(
            [
                ReportValue.FromText(mode switch { PageTableLockMode.Inline => "inline", PageTableLockMode.Allocated => "allocated", _ => "single" }),
                ReportValue.FromText(huge ? "THP" : "4 KiB"), ReportValue.FromText(layout),
                ReportValue.FromWholeNumber(threads), ReportValue.FromWholeNumber(after.PageFaults - before.PageFaults),
                ReportValue.FromDuration(elapsed), ReportValue.FromWholeNumber((long)perSecond),
                ReportValue.FromText(FormattableString.Invariant($"{(single > 0 ? perSecond / single : 1):F2}x")),
                ReportValue.FromWholeNumber(after.PageTableLockContentions - before.PageTableLockContentions),
                ReportValue.FromText(mode == PageTableLockMode.Allocated ? acquisitions.ToString("N0", System.Globalization.CultureInfo.InvariantCulture) : "-"),
                ReportValue.FromText(mode == PageTableLockMode.Allocated && acquisitions > 0
                    ? FormattableString.Invariant($"{held.TotalNanoseconds / acquisitions:F0} ns") : "-"),
            ]);
        }
        return perSecond;
    }

    private static string Describe(PageTableLockMode mode) => mode switch
    {
        PageTableLockMode.Inline => "split, inline",
        PageTableLockMode.Allocated => "split, allocated",
        _ => "single lock",
    };

    /// <summary>One check per property and lock mode over all its runs (warm-ups included), naming the first run
    /// that broke it.</summary>
    private sealed class Tally
    {
        private readonly Dictionary<string, (int Runs, int Failed, string? First)> _checks = new();

        public void Note(string property, bool passed, string detail)
        {
            (int runs, int failed, string? first) = _checks.GetValueOrDefault(property);
            _checks[property] = (runs + 1, failed + (passed ? 0 : 1), first ?? (passed ? null : detail));
        }

        public void Report(ScenarioReport report, string mode)
        {
            foreach ((string property, (int runs, int failed, string? first)) in _checks)
                report.Check($"{mode}: {property}", failed == 0, failed == 0 ? $"{runs} runs" : $"{failed} of {runs} runs failed, first {first}");
        }
    }
}
