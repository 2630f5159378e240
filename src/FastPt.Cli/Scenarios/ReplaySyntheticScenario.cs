using System;
using System.Collections.Generic;
using FastPt.Cli.PageSets;

namespace FastPt.Cli.Scenarios;

/// <summary>Replays a synthetic process layout (<see cref="SyntheticProcessLayout"/>) the way <c>fastpt replay</c>
/// replays a page file, and checks the page tables against the Linux accounting rule computed from the pages
/// alone: VmPTE = (distinct 2 MiB regions + distinct 1 GiB regions + distinct 512 GiB regions) × 4 KiB.</summary>
public sealed class ReplaySyntheticScenario : IScenario
{
    private const int SampledLookups = 2000;

    /// <inheritdoc/>
    public string Name => "replay-synthetic";

    /// <inheritdoc/>
    public string Description => "Replay a seeded process-like page set (text, heap, libraries, mmaps, stack) and check VmPTE.";

    /// <inheritdoc/>
    public ScenarioReport Run(ScenarioContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        Machine machine = context.Machine;
        var report = new ScenarioReport(this);
        bool fiveLevel = machine.PagingMode == PagingMode.FiveLevel;

        context.ReportProgress("generate", 0, 1);
        SyntheticProcessLayout layout = SyntheticProcessLayout.Generate(context.Seed);
        PageSet pages = PageSet.FromIndices(layout.Pages);
        long freeBefore = machine.GetStatistics().FreePages;

        ReplayResult result;
        using (AddressSpace space = machine.CreateAddressSpace())
        {
            // Page numbers are absolute: the base is 0.
            result = PageSetReplayer.Replay(space, pages, 0, (done, total) => context.ReportProgress("map", done, total));
            PageTableCounts tables = result.Tables;

            // Independent count from the page numbers: one PTE table per 2 MiB region touched, one PMD table per
            // 1 GiB, one PUD table per 512 GiB and, with 5 levels, one P4D table per 256 TiB.
            long regions2M = pages.DistinctBlocks(9);
            long regions1G = pages.DistinctBlocks(18);
            long regions512G = pages.DistinctBlocks(27);
            long regions256T = pages.DistinctBlocks(36);
            var expected = new PageTableCounts(regions2M, regions1G, regions512G, fiveLevel ? regions256T : 0);
            report.CheckEqual("VmPTE = (2 MiB regions + 1 GiB regions + 512 GiB regions) x 4 KiB", (regions2M + regions1G + regions512G) * 4, tables.VmPteKiB);
            report.Check("tables per level = regions touched per level", tables == expected,
                FormattableString.Invariant($"expected PTE {expected.Pte}, PMD {expected.Pmd}, PUD {expected.Pud}, P4D {expected.P4d}; got PTE {tables.Pte}, PMD {tables.Pmd}, PUD {tables.Pud}, P4D {tables.P4d}"));
            report.CheckEqual("4K leaves = distinct pages", pages.Count, space.LeafCount(PageSize.Size4K));
            report.CheckEqual("mapped bytes = distinct pages x 4 KiB", pages.Count * 4096L, (long)space.MappedBytes);
            CheckLookups(context, report, space, pages);
            context.Checkpoint("after replaying a synthetic process layout (text, heap, libraries, mmaps, stack)", space);

            report.AddFact("distinct pages", pages.Count, "pages");
            report.AddFact("Map calls (runs)", result.MapCalls, "calls");
            report.AddFact("2 MiB regions touched", regions2M, "regions");
            report.AddFact("1 GiB regions touched", regions1G, "regions");
            report.AddFact("512 GiB regions touched", regions512G, "regions");
            report.AddFact("VmPTE", tables.VmPteKiB, "KiB");
            report.AddFact("map time", result.Elapsed);
            report.AddFact("map rate", result.Pages / Math.Max(result.Elapsed.TotalSeconds, 1e-9), "pages/s");
            report.AddTable(new ReportTable("Page-table pages per level",
                ["level", "tables", "expected"],
                [
                    Row("PTE", tables.Pte, expected.Pte),
                    Row("PMD", tables.Pmd, expected.Pmd),
                    Row("PUD", tables.Pud, expected.Pud),
                    Row("P4D", tables.P4d, expected.P4d),
                ]));
        }
        report.CheckEqual("free pages back after the address space is destroyed", freeBefore, machine.GetStatistics().FreePages);

        var areas = new List<IReadOnlyList<ReportValue>>();
        foreach (SyntheticArea area in layout.Areas)
        {
            areas.Add(
            [
                ReportValue.FromText(area.Name),
                ReportValue.FromText($"0x{area.Start:x12}"),
                ReportValue.FromWholeNumber((long)(area.Length / 1024)),
                ReportValue.FromWholeNumber(area.TouchedPages),
            ]);
        }
        report.AddTable(new ReportTable("Synthetic layout", ["area", "start", "KiB reserved", "pages touched"], areas));
        return report;
    }

    /// <summary>Samples pages in the set (must map to their replay frame) and addresses near them that are not in
    /// the set (must be unmapped).</summary>
    private static void CheckLookups(ScenarioContext context, ScenarioReport report, AddressSpace space, PageSet pages)
    {
        var random = new Random(context.Seed ^ 0x5eed);
        ReadOnlySpan<ulong> all = pages.Pages;
        int wrong = 0;
        int absentChecked = 0;
        string firstWrong = "";
        for (int i = 0; i < SampledLookups; i++)
        {
            ulong page = all[random.Next(all.Length)];
            Mapping? mapping = space.Lookup(new VirtAddr(page * 4096));
            ulong expected = PageSetReplayer.PhysicalFor(context.Machine, page);
            if (mapping is not { Size: PageSize.Size4K } m || m.Frame.Value != expected)
            {
                if (wrong++ == 0) firstWrong = $"page 0x{page:x}: expected frame 0x{expected:x}, got {mapping?.ToString() ?? "unmapped"}";
            }
            ulong near = page + (ulong)random.Next(1, 4096);
            if (!pages.Contains(near) && near * 4096 < space.UserTop.Value)
            {
                absentChecked++;
                if (space.Lookup(new VirtAddr(near * 4096)) is { } extra && wrong++ == 0)
                    firstWrong = $"page 0x{near:x} is not in the set but maps {extra}";
            }
        }
        report.Check(FormattableString.Invariant($"{SampledLookups:N0} sampled pages map to their frames; {absentChecked:N0} pages outside the set are unmapped"),
            wrong == 0, wrong == 0 ? "all correct" : FormattableString.Invariant($"{wrong} wrong; first: {firstWrong}"));
    }

    private static IReadOnlyList<ReportValue> Row(string level, long actual, long expected) =>
        [ReportValue.FromText(level), ReportValue.FromWholeNumber(actual), ReportValue.FromWholeNumber(expected)];
}
