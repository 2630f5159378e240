using System;
using System.Diagnostics;
using FastPt.Cli.PageSets;

namespace FastPt.Cli.KernelCheck;

/// <summary>The same page set measured on the host kernel and on FastPt.</summary>
/// <param name="Pages">The page set (indices from the start of the measured region).</param>
/// <param name="Kernel">The host kernel's measurement.</param>
/// <param name="FastPt">FastPt's tables for the same addresses in an empty address space.</param>
/// <param name="FastPtP4d">FastPt's P4D tables (5-level only; the kernel does not count P4D tables in VmPTE).</param>
/// <param name="PagingMode">FastPt's paging mode.</param>
/// <param name="KernelTime">Time spent on the kernel side, every attempt of every round included.</param>
/// <param name="FastPtTime">Time FastPt took to map the set.</param>
/// <param name="Rounds">Whole measurements made (kernel and FastPt) until one matched, at most
/// <see cref="KernelComparison.MaxRounds"/>.</param>
internal sealed record KernelCheckResult(PageSet Pages, HostMeasurement Kernel, TableLevels FastPt, long FastPtP4d, PagingMode PagingMode,
    TimeSpan KernelTime, TimeSpan FastPtTime, int Rounds = 1)
{
    /// <summary>The kernel's tables per level.</summary>
    public TableLevels KernelTables => Kernel.Result.Tables;

    /// <summary>Where the pages were mapped, on both sides.</summary>
    public ulong RegionStart => Kernel.Result.RegionStart;

    /// <summary>True when the kernel's readings agreed and FastPt equals them at every level and in the sum.</summary>
    public bool Passed => Kernel.Agreed && KernelTables == FastPt && Kernel.Result.VmPteDeltaKiB == FastPt.KiB;

    /// <summary>One line: PASS or FAIL and why.</summary>
    public string Verdict => (Passed ? "PASS: " : "FAIL: ") + Detail;

    /// <summary>Why the verdict is what it is, without the PASS or FAIL.</summary>
    public string Detail
    {
        get
        {
            string rounds = Rounds > 1 ? FormattableString.Invariant($" (in every one of {Rounds} measurements)") : "";
            if (!Kernel.Agreed)
            {
                return FormattableString.Invariant(
                    $"the kernel's readings never agreed in {Kernel.Attempts.Count} attempts{rounds} (other threads of this process mapped or unmapped memory meanwhile), so nothing was compared");
            }
            if (Passed) return FormattableString.Invariant($"FastPt equals the kernel at every level (VmPTE +{FastPt.KiB:N0} kB on both)");
            return FormattableString.Invariant(
                $"FastPt differs from the kernel{rounds}: PTE {FastPt.Pte - KernelTables.Pte:+#;-#;0}, PMD {FastPt.Pmd - KernelTables.Pmd:+#;-#;0}, PUD {FastPt.Pud - KernelTables.Pud:+#;-#;0} tables; VmPTE {FastPt.KiB - Kernel.Result.VmPteDeltaKiB:+#;-#;0} kB");
        }
    }
}

/// <summary>Runs a page set on the host kernel and on FastPt and compares them.</summary>
internal static class KernelComparison
{
    /// <summary>Attempts on the kernel side before giving up on two agreeing readings.</summary>
    public const int MaxAttempts = 8;

    /// <summary>Whole measurements before a mismatch is reported. Another thread of the process can map and unmap
    /// within one 2 MiB block's touches so that the block's growth nets out to a plausible count, and two attempts
    /// can agree on it; a genuine difference shows in every measurement, a disturbance does not repeat.</summary>
    public const int MaxRounds = 3;

    /// <summary>Measures <paramref name="pages"/> on the host kernel, then maps the same addresses into a new, empty
    /// address space of <paramref name="machine"/>. Throws <see cref="KernelCheckException"/> when the host cannot be
    /// measured, and the engine's exception when <paramref name="machine"/> cannot hold the tables.</summary>
    public static KernelCheckResult Run(Machine machine, PageSet pages)
    {
        ArgumentNullException.ThrowIfNull(machine);
        ArgumentNullException.ThrowIfNull(pages);
        KernelCheckResult result = RunOnce(machine, pages);
        for (int round = 2; round <= MaxRounds && !result.Passed; round++)
        {
            KernelCheckResult next = RunOnce(machine, pages);
            result = next with { Rounds = round, KernelTime = result.KernelTime + next.KernelTime };
        }
        return result;
    }

    private static KernelCheckResult RunOnce(Machine machine, PageSet pages)
    {
        long start = Stopwatch.GetTimestamp();
        HostMeasurement kernel = HostPageTables.Measure(pages, MaxAttempts);
        TimeSpan kernelTime = Stopwatch.GetElapsedTime(start);

        using AddressSpace space = machine.CreateAddressSpace();
        ulong region = kernel.Result.RegionStart;
        if (pages.Count > 0 && pages.Last >= PageSetReplayer.PageLimit(space, region))
            throw new KernelCheckException($"the kernel placed the region at 0x{region:x}, beyond FastPt's user range ({space.UserTop}); try --levels 5");
        PageTableCounts before = space.PageTables;
        // A refusal (too few frames for the tables) propagates as the engine's exception: the main job reports the
        // scenario as not run on too small a machine, the command as bad input.
        ReplayResult replay = PageSetReplayer.Replay(space, pages, region);
        PageTableCounts after = replay.Tables;
        var fastPt = new TableLevels(after.Pte - before.Pte, after.Pmd - before.Pmd, after.Pud - before.Pud);
        return new KernelCheckResult(pages, kernel, fastPt, after.P4d - before.P4d, machine.PagingMode, kernelTime, replay.Elapsed);
    }
}
