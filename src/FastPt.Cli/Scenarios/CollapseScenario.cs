using System;
using System.Collections.Generic;
using System.Globalization;

namespace FastPt.Cli.Scenarios;

/// <summary>khugepaged against lockless walkers: for each PTE-fragment size (1, 2 and 16 tables per block) and each
/// <c>pte_free_defer</c> scheme, a checked-mode machine of its own runs the engine's <see cref="CollapseStress"/>
/// workload (which the fragments stress test runs too): walker threads translate continuously (lockless, GUP-fast
/// ranges, through their CPU's TLB, one GUP-fast walk that lingers over a whole table, and table readers that hold a
/// read-side section across several passes over a PTE table) while a writer collapses 2 MiB regions (in place and
/// with a copy), re-splits them, unmaps them (reclaiming their tables) and maps them again, for a fixed time. Every
/// translation whose region did not change while it ran is compared with what the region maps; freed tables are
/// poisoned, so a walk that reaches one is counted, and so is a table reader that sees anything but its region's
/// entries. It reports operations, grace periods, deferrals and re-deferrals per configuration, and fails if any
/// violation is found or any counter does not balance at the end. The context's machine is not touched.</summary>
public sealed class CollapseScenario : IScenario
{
    private const ulong MiB = 1UL << 20;
    private const int MinimumCollapses = 4;
    private static readonly TimeSpan StretchBound = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan JoinBound = TimeSpan.FromSeconds(60);
    private static readonly int[] FragmentsPerBlock = [1, 2, 16];
    private static readonly PteFreeDeferScheme[] Schemes = [PteFreeDeferScheme.MarkAndDeferAtLastReference, PteFreeDeferScheme.DeferredRefcount];

    /// <summary>A scenario that runs each configuration for 250 ms.</summary>
    public CollapseScenario() : this(TimeSpan.FromMilliseconds(250))
    {
    }

    /// <summary>A scenario that runs each of its six configurations for <paramref name="runTime"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="runTime"/> is not positive.</exception>
    public CollapseScenario(TimeSpan runTime)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(runTime, TimeSpan.Zero);
        RunTime = runTime;
    }

    /// <summary>How long the writer runs in each configuration (longer, by at most 30 s, until it collapsed at
    /// least 4 regions in place and 4 with a copy: on a starved machine the fixed time may not be enough).</summary>
    public TimeSpan RunTime { get; }

    /// <inheritdoc/>
    public string Name => "collapse";

    /// <inheritdoc/>
    public string Description => "Lockless and TLB walkers against collapse, re-split, unmap and reclaim, per fragment size and pte_free_defer scheme, in checked mode; every counter must balance.";

    /// <inheritdoc/>
    public ScenarioReport Run(ScenarioContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var report = new ScenarioReport(this);
        var rows = new List<IReadOnlyList<ReportValue>>();
        var balance = new List<IReadOnlyList<ReportValue>>();
        int total = FragmentsPerBlock.Length * Schemes.Length, done = 0;
        long violations = 0;
        foreach (PteFreeDeferScheme scheme in Schemes)
        {
            foreach (int perBlock in FragmentsPerBlock)
            {
                string name = string.Create(CultureInfo.InvariantCulture, $"{SchemeName(scheme)}, {perBlock}/block");
                context.ReportProgress(name, done, total);
                CollapseStress.Outcome o = RunOne(context, perBlock, scheme, context.Seed + done);
                done++;
                long found = o.Violations + o.End.UseAfterFreeDetected;
                violations += found;
                MemoryStatistics e = o.End;
                rows.Add(
                [
                    ReportValue.FromText(SchemeName(scheme)), ReportValue.FromWholeNumber(perBlock),
                    ReportValue.FromWholeNumber(o.Operations), ReportValue.FromWholeNumber(e.CollapsesInPlace + e.CollapsesWithCopy),
                    ReportValue.FromWholeNumber(o.Verified), ReportValue.FromWholeNumber(e.RcuGracePeriods),
                    ReportValue.FromWholeNumber(e.TablesDeferred), ReportValue.FromWholeNumber(e.DeferredHeadsQueued),
                    ReportValue.FromWholeNumber(e.Redeferrals), ReportValue.FromWholeNumber(e.DeferredBlocksFreed),
                    ReportValue.FromWholeNumber(e.TableBatchesQueued), ReportValue.FromWholeNumber(e.PteBlocksAllocated),
                    ReportValue.FromWholeNumber(found),
                ]);
                if (o.Failure is not null)
                    report.Check($"{name}: every thread ran to the end", false, $"{o.Failure.GetType().Name}: {o.Failure.Message}");
                report.Check($"{name}: walkers and writer all worked", o.Verified > 0 && o.TablesRead > 0 && o.Operations > 0 && e.CollapsesInPlace + e.CollapsesWithCopy > 0,
                    string.Create(CultureInfo.InvariantCulture, $"{o.Verified:N0} translations verified, {o.Operations:N0} operations, {e.CollapsesInPlace + e.CollapsesWithCopy:N0} collapses"));
                report.Check($"{name}: no violation (wrong translation, read of a freed or reused table)", found == 0,
                    string.Create(CultureInfo.InvariantCulture, $"{o.Violations} found by the walkers{(o.FirstViolation is null ? "" : " (first: " + o.FirstViolation + ")")}, {e.UseAfterFreeDetected} reads of freed memory found by the engine; {o.TablesRead:N0} tables read whole"));
                string unbalanced = string.Join("; ", o.Unbalanced(scheme));
                report.Check($"{name}: every counter balances after teardown", unbalanced.Length == 0, unbalanced.Length == 0 ? "all balance" : unbalanced);
                balance.Add(
                [
                    ReportValue.FromText(name), ReportValue.FromWholeNumber(e.PteBlocksAllocated - e.PteBlocksFreed),
                    ReportValue.FromWholeNumber(e.PteFragmentsInUse), ReportValue.FromWholeNumber(e.PteFragmentsFree),
                    ReportValue.FromWholeNumber(e.RcuPendingCallbacks), ReportValue.FromWholeNumber(e.RcuPendingTableBytes),
                    ReportValue.FromWholeNumber(o.FreePagesBefore - e.FreePages),
                ]);
            }
        }
        context.ReportProgress("done", total, total);
        report.AddFact("run time per configuration", RunTime);
        report.AddFact("walker threads", CollapseStress.WalkerKinds.Length + 0L);
        report.AddFact("regions (2 MiB each)", CollapseStress.Regions + 0L);
        report.AddFact("violations", violations);
        report.AddTable(new ReportTable("Per configuration",
            ["scheme", "fragments/block", "operations", "collapses", "translations verified", "grace periods", "tables deferred",
             "heads queued", "re-deferrals", "blocks freed after RCU", "table batches", "blocks allocated", "violations"], rows));
        report.AddTable(new ReportTable("Left after teardown (all 0)",
            ["configuration", "blocks", "fragments in use", "fragments free", "RCU callbacks", "RCU bytes", "frames"], balance));
        return report;
    }

    private static string SchemeName(PteFreeDeferScheme scheme) => scheme switch
    {
        PteFreeDeferScheme.MarkAndDeferAtLastReference => "merged (mark, defer at last ref)",
        _ => "PTE_FREE_DEFERRED refcount",
    };

    private CollapseStress.Outcome RunOne(ScenarioContext context, int perBlock, PteFreeDeferScheme scheme, int seed)
    {
        using var machine = new Machine(new MachineOptions
        {
            MemorySize = 512 * MiB, PagingMode = context.Options.PagingMode, CheckedMode = true,
            PteFragmentsPerBlock = perBlock, PteFreeDeferScheme = scheme,
        });
        var settings = new CollapseStress.Settings(RunTime, seed, MinimumCollapses, StretchBound, StopAtFirstViolation: false);
        return CollapseStress.Run(machine, settings, JoinBound);
    }
}
