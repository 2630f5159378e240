using System.Collections.Generic;
using FastPt.Cli.KernelCheck;
using FastPt.Cli.PageSets;

namespace FastPt.Cli.Scenarios;

/// <summary>The main job's kernel-check: the four patterns of <c>fastpt kernel-check</c>, at sizes small enough for
/// well under a second (stride1g still crosses a 512 GiB boundary), on the running Linux kernel and on FastPt, each
/// level compared. Skipped, with the reason, where the host is not
/// Linux on x86-64.</summary>
public sealed class KernelCheckScenario : IScenario
{
    /// <inheritdoc/>
    public string Name => "kernel-check";

    /// <inheritdoc/>
    public string Description =>
        "Maps four page patterns in the running Linux kernel and in FastPt and compares their page tables per level (VmPTE).";

    /// <inheritdoc/>
    public ScenarioReport Run(ScenarioContext context)
    {
        System.ArgumentNullException.ThrowIfNull(context);
        var report = new ScenarioReport(this);
        if (HostSupport.Unsupported() is { } reason)
        {
            report.Skip(reason);
            return report;
        }
        report.AddFact("kernel", "Linux " + Commands.KernelCheckCommand.KernelRelease());
        var rows = new List<IReadOnlyList<ReportValue>>();
        PagePatternKind[] kinds = [PagePatternKind.Dense, PagePatternKind.Stride2M, PagePatternKind.Stride1G, PagePatternKind.Random];
        for (int i = 0; i < kinds.Length; i++)
        {
            PagePatternKind kind = kinds[i];
            string name = PagePattern.Name(kind);
            context.ReportProgress(name, i, kinds.Length);
            long count = MainJobCount(kind);
            PageSet pages = PagePattern.Build(kind, count, PagePattern.DefaultRandomSpanBytes, context.Seed);
            KernelCheckResult result = KernelComparison.Run(context.Machine, pages);
            TableLevels k = result.KernelTables;
            TableLevels f = result.FastPt;
            rows.Add(Row(name, "kernel", pages.Count, k, result.Kernel.Result.VmPteDeltaKiB));
            rows.Add(Row(name, "FastPt", pages.Count, f, f.KiB));
            report.Check($"{name}: FastPt's page tables equal the kernel's", result.Passed, result.Detail);
        }
        report.AddTable(new ReportTable("Page-table pages, kernel and FastPt",
            ["pattern", "measured by", "pages", "PTE", "PMD", "PUD", "VmPTE kB"], rows));
        return report;
    }

    /// <summary>Pages per pattern in the main job: every VmPTE reading costs a read of /proc/self/status, two per
    /// 2 MiB block, so the sparse patterns are smaller than the command's defaults.</summary>
    internal static long MainJobCount(PagePatternKind kind) => kind switch
    {
        PagePatternKind.Stride2M => 256,
        PagePatternKind.Random => 1024,
        _ => PagePattern.DefaultCount(kind),
    };

    private static ReportValue[] Row(string pattern, string side, long pages, TableLevels tables, long kib) =>
    [
        ReportValue.FromText(pattern), ReportValue.FromText(side), ReportValue.FromWholeNumber(pages),
        ReportValue.FromWholeNumber(tables.Pte), ReportValue.FromWholeNumber(tables.Pmd), ReportValue.FromWholeNumber(tables.Pud),
        ReportValue.FromWholeNumber(kib),
    ];
}
