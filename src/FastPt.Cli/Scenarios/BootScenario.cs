using System;
using System.Collections.Generic;

namespace FastPt.Cli.Scenarios;

/// <summary>Reports what booting built — page counts, the boot memmap, the kernel page tables, the direct map by
/// page size — and checks the memmap and direct-map claims against figures derived from the memory map alone.</summary>
public sealed class BootScenario : IScenario
{
    private const long MemmapPagesPerSection = 512;

    /// <inheritdoc/>
    public string Name => "boot";

    /// <inheritdoc/>
    public string Description => "Boot the machine: page counts, boot memmap, kernel page tables, direct map by page size.";

    /// <inheritdoc/>
    public ScenarioReport Run(ScenarioContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        Machine machine = context.Machine;
        MachineOptions options = context.Options;
        var report = new ScenarioReport(this);
        MemoryStatistics stats = machine.GetStatistics();
        ulong ramBytes = MachineMemory.TotalBytes(options);
        long expectedSections = MachineMemory.Sections(options);

        report.AddFact("RAM", Parsing.SizeParser.Format(ramBytes));
        report.AddFact("paging", machine.PagingMode == PagingMode.FiveLevel ? "5-level" : "4-level");
        report.AddFact("present pages", stats.PresentPages, "pages");
        report.AddFact("managed pages", stats.ManagedPages, "pages");
        report.AddFact("reserved pages", stats.PresentPages - stats.ManagedPages, "pages");
        report.AddFact("free pages", stats.FreePages, "pages");
        report.AddFact("present sections", stats.PresentSections, "sections");
        report.AddFact("nr_memmap_boot_pages", stats.MemmapBootPages, "pages");
        report.AddFact("nr_memmap_pages", stats.MemmapPages, "pages");
        report.AddFact("PageTables", stats.PageTablePages * 4, "KiB");
        report.AddFact("DirectMap4k", stats.DirectMap4KiB, "KiB");
        report.AddFact("DirectMap2M", stats.DirectMap2MiB, "KiB");
        report.AddFact("DirectMap1G", stats.DirectMap1GiB, "KiB");
        report.AddFact("host memory", machine.HostBytes / (double)(1 << 20), "MiB");
        // Booting happens before any scenario runs, so the scenario's own time does not include it.
        if (context.BootTime is { } bootTime) report.AddFact("boot time (before the scenario)", bootTime);

        var levels = new List<IReadOnlyList<ReportValue>>();
        long kernelTables = 0;
        for (int level = (int)machine.PagingMode; level >= 1; level--)
        {
            long tables = level < stats.KernelPageTablesByLevel.Count ? stats.KernelPageTablesByLevel[level] : 0;
            kernelTables += tables;
            levels.Add([ReportValue.FromText(MachineMemory.LevelName(level, machine.PagingMode)), ReportValue.FromWholeNumber(tables), ReportValue.FromWholeNumber(tables * 4)]);
        }
        levels.Add([ReportValue.FromText("total"), ReportValue.FromWholeNumber(kernelTables), ReportValue.FromWholeNumber(kernelTables * 4)]);
        report.AddTable(new ReportTable("Kernel page tables", ["level", "pages", "KiB"], levels));

        report.CheckEqual("present pages = RAM / 4 KiB", (long)(ramBytes / 4096), stats.PresentPages);
        report.CheckEqual("present sections = 128 MiB sections holding RAM", expectedSections, stats.PresentSections);
        report.CheckEqual("nr_memmap_boot_pages = 512 per present 128 MiB section", expectedSections * MemmapPagesPerSection, stats.MemmapBootPages);
        report.Check("free pages <= managed pages <= present pages",
            stats.FreePages > 0 && stats.FreePages <= stats.ManagedPages && stats.ManagedPages <= stats.PresentPages,
            FormattableString.Invariant($"free {stats.FreePages:N0}, managed {stats.ManagedPages:N0}, present {stats.PresentPages:N0}"));
        report.CheckEqual("DirectMap4k + DirectMap2M + DirectMap1G = RAM (KiB)", (long)(ramBytes / 1024),
            stats.DirectMap4KiB + stats.DirectMap2MiB + stats.DirectMap1GiB);
        CheckDirectMap(report, machine, options);
        CheckVmemmap(report, machine, options, stats);
        return report;
    }

    /// <summary>Walks the kernel tables over the direct map: every byte of RAM, and nothing else, must be mapped
    /// linearly (virtual = base + physical).</summary>
    private static void CheckDirectMap(ScenarioReport report, Machine machine, MachineOptions options)
    {
        ulong baseAddress = machine.DirectMapBase.Value;
        ulong end = MachineMemory.End(options);
        // No limit on the runs: a check that read a truncated dump would report the truth about part of RAM only.
        IReadOnlyList<MappingRun> runs = machine.DumpKernel(machine.DirectMapBase, end, int.MaxValue);
        ulong mapped = 0;
        long nonLinear = 0;
        long outsideRam = 0;
        var sizes = new SortedDictionary<PageSize, long>();
        foreach (MappingRun run in runs)
        {
            mapped += run.Length;
            if (run.Physical.Value != run.Start.Value - baseAddress) nonLinear++;
            if (!MachineMemory.IsRam(options, run.Physical.Value) || !MachineMemory.IsRam(options, run.Physical.Value + run.Length - 1)) outsideRam++;
            sizes[run.PageSize] = sizes.GetValueOrDefault(run.PageSize) + run.Pages;
        }
        ulong ram = MachineMemory.TotalBytes(options);
        report.Check("the direct map covers all RAM linearly, and only RAM",
            mapped == ram && nonLinear == 0 && outsideRam == 0,
            FormattableString.Invariant($"{Rendering.TextFormat.Count(runs.Count, "run")} {(runs.Count == 1 ? "maps" : "map")} {mapped:N0} of {ram:N0} bytes; {nonLinear:N0} non-linear, {outsideRam:N0} outside RAM"));
        var rows = new List<IReadOnlyList<ReportValue>>();
        foreach ((PageSize size, long pages) in sizes)
            rows.Add([ReportValue.FromText(size.ShortName()), ReportValue.FromWholeNumber(pages), ReportValue.FromWholeNumber((long)(size.Bytes() / 1024) * pages)]);
        report.AddTable(new ReportTable("Direct map leaves", ["page size", "leaves", "KiB"], rows));
    }

    /// <summary>Counts what the kernel tables map over the vmemmap of RAM, with no limit: its mapped bytes must equal
    /// the boot memmap.</summary>
    private static void CheckVmemmap(ScenarioReport report, Machine machine, MachineOptions options, MemoryStatistics stats)
    {
        ulong sections = (MachineMemory.End(options) + MachineMemory.SectionBytes - 1) / MachineMemory.SectionBytes;
        ulong length = sections * (MemmapPagesPerSection * 4096);
        MappingCount vmemmap = machine.CountKernelMappings(machine.VmemmapBase, length).Total;
        report.CheckEqual("vmemmap mapped bytes = nr_memmap_boot_pages x 4 KiB", stats.MemmapBootPages * 4096, (long)vmemmap.Bytes);
        report.AddFact("vmemmap runs", vmemmap.Runs, "runs");
        report.AddFact("vmemmap leaves", vmemmap.Leaves, "leaves");
    }
}
