using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;

namespace FastPt.Cli.Scenarios;

/// <summary>Memory hot-add and hot-remove in every shape the kernel knows: a 1 GiB-aligned gigabyte (1 GiB direct
/// map leaf), a whole section, consecutive sub-sections sharing one partly used vmemmap block, and an altmap range
/// hosting its own memmap; then removal in an order that cuts vmemmap blocks and direct-map leaves in part. It reports
/// the kernel's counters before, in between and after, the time of each operation, and checks that every frame came
/// back.</summary>
public sealed class HotplugScenario : IScenario
{
    private const ulong MiB = 1UL << 20;
    private const ulong GiB = 1UL << 30;
    private const ulong Section = 128 * MiB;
    private const ulong Subsection = 2 * MiB;

    /// <inheritdoc/>
    public string Name => "hotplug";

    /// <inheritdoc/>
    public string Description => "Hot-add a gigabyte, a section, sub-sections and an altmap range; remove them in pieces; prove every frame is back.";

    /// <inheritdoc/>
    public ScenarioReport Run(ScenarioContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        Machine machine = context.Machine;
        var report = new ScenarioReport(this);
        var random = new Random(context.Seed);
        ulong ramEnd = MachineMemory.TotalBytes(context.Options);
        ulong end = ramEnd;
        foreach (MemoryRange range in context.Options.MemoryMap ?? []) end = Math.Max(end, range.End.Value);
        // Above all boot memory, 1 GiB-aligned, with a gap.
        ulong baseAddress = (end + 2 * GiB - 1) & ~(GiB - 1);
        ulong gigabyte = baseAddress, section = baseAddress + 2 * GiB, subsections = baseAddress + 3 * GiB, altmap = baseAddress + 4 * GiB;
        ulong top = altmap + 2 * Section;
        if (top > machine.MaxPhysicalAddress.Value)
        {
            // RAM reaches the top of the physical address space (64 TiB with 4-level paging): there is nowhere to
            // hot-add, which is no failed check either.
            return ScenarioReport.NotRun(this, string.Create(CultureInfo.InvariantCulture,
                $"no physical address space is left for hot-add: RAM ends at {Parsing.SizeParser.Format(end)} and the machine addresses {Parsing.SizeParser.Format(machine.MaxPhysicalAddress.Value)}; the scenario needs {Parsing.SizeParser.Format(top - end)} above RAM (give the machine less RAM)"));
        }

        var states = new List<IReadOnlyList<ReportValue>>();
        var operations = new List<IReadOnlyList<ReportValue>>();
        MemoryStatistics before = machine.GetStatistics();
        states.Add(Row("before", before));

        void Operation(string what, Func<HotplugReport> action)
        {
            long start = Stopwatch.GetTimestamp();
            HotplugReport r = action();
            TimeSpan elapsed = Stopwatch.GetElapsedTime(start);
            operations.Add(
            [
                ReportValue.FromText(what), ReportValue.FromWholeNumber(r.MemmapPagesDelta + r.MemmapBootPagesDelta),
                ReportValue.FromWholeNumber(r.MemmapFramesDelta), ReportValue.FromWholeNumber(r.PageTablesDelta),
                ReportValue.FromWholeNumber(r.BytesMarkedUnused), ReportValue.FromWholeNumber(r.PartialBlocksFreed),
                ReportValue.FromDuration(elapsed),
            ]);
        }

        // ---- add
        context.ReportProgress("hot-add", 0, 4);
        Operation("add 1 GiB (1 GiB-aligned)", () => machine.AddMemory(new PhysAddr(gigabyte), GiB));
        Mapping? linear = machine.LookupKernel(machine.DirectMapBase + gigabyte);
        report.Check("the aligned gigabyte is mapped by one 1 GiB direct-map leaf", linear?.Size == PageSize.Size1G,
            $"leaf size {linear?.Size.ShortName() ?? "none"}");
        Operation("add one 128 MiB section", () => machine.AddMemory(new PhysAddr(section), Section));
        var pmdAlways = new HotAddOptions { Population = VmemmapPopulation.PmdBlocksAlways };
        long marksBeforeSubsections = 0;
        long marksAfterSubsections = 0;
        for (int i = 0; i < 16; i++)
        {
            ulong at = subsections + (ulong)i * Subsection;
            long start = Stopwatch.GetTimestamp();
            HotplugReport r = machine.AddMemory(new PhysAddr(at), Subsection, pmdAlways);
            if (i == 0) marksBeforeSubsections = r.BytesMarkedUnused;
            else marksAfterSubsections += r.BytesMarkedUnused;
            if (i == 0) operations.Add([ReportValue.FromText("add first 2 MiB sub-section (new 2 MiB vmemmap block)"),
                ReportValue.FromWholeNumber(r.MemmapPagesDelta), ReportValue.FromWholeNumber(r.MemmapFramesDelta),
                ReportValue.FromWholeNumber(r.PageTablesDelta), ReportValue.FromWholeNumber(r.BytesMarkedUnused),
                ReportValue.FromWholeNumber(r.PartialBlocksFreed), ReportValue.FromDuration(Stopwatch.GetElapsedTime(start))]);
        }
        report.Check("consecutive sub-section adds continue the block instead of marking it again", marksBeforeSubsections == 0 && marksAfterSubsections == 0,
            $"bytes marked 0xFD by the first add {marksBeforeSubsections}, by the next 15 {marksAfterSubsections}");
        Operation("add 256 MiB with an altmap (memmap on memory)", () => machine.AddMemory(new PhysAddr(altmap), 2 * Section, new HotAddOptions { UseAltmap = true }));
        Mapping? hosted = machine.LookupKernel(machine.VmemmapBase + (altmap >> 12) * 64);
        report.Check("the altmap range hosts its own memmap", hosted?.Frame.Value == altmap,
            $"memmap block at {hosted?.Frame.ToString() ?? "none"}, range at 0x{altmap:x}");
        MemoryStatistics added = machine.GetStatistics();
        states.Add(Row("after adds", added));
        context.Checkpoint("after the hot-adds (a 1 GiB-aligned gigabyte, a section, 16 sub-sections, an altmap range)");
        long addedPages = (long)((GiB + Section + 16 * Subsection + 2 * Section) >> 12);
        report.CheckEqual("present pages grew by the added memory", before.PresentPages + addedPages, added.PresentPages);

        // The new memory is movable: data lands there, and a busy frame blocks removal.
        PhysAddr data = machine.AllocatePhysical(Section);
        bool inNewMemory = data.Value >= baseAddress;
        report.Check("data allocations come from the hot-added (movable) memory", inNewMemory, $"block at {data}");
        bool refused = false;
        (ulong Start, ulong Size)[] ranges = [(gigabyte, GiB), (section, Section), (subsections, 16 * Subsection), (altmap, 2 * Section)];
        (ulong holderStart, ulong holderSize) = ranges.FirstOrDefault(r => data.Value >= r.Start && data.Value < r.Start + r.Size);
        if (inNewMemory && holderSize != 0)
        {
            try
            {
                machine.RemoveMemory(new PhysAddr(holderStart), holderSize);
            }
            catch (HotplugException e) when (e.Error == HotplugError.Busy)
            {
                refused = true;
            }
        }
        report.Check("removing memory with an allocated frame is refused (Busy) and changes nothing",
            refused && machine.GetStatistics().PresentPages == added.PresentPages, refused ? "refused" : "not refused");
        machine.FreePhysical(data, Section);

        // ---- remove, in pieces
        context.ReportProgress("hot-remove", 1, 4);
        long framesBeforeSection = machine.GetStatistics().MemmapFrames;
        int[] order = Enumerable.Range(0, 64).ToArray();
        random.Shuffle(order);
        var subsectionTimes = new List<double>();
        bool blockHeldUntilLast = true;
        int freedAt = -1;
        for (int i = 0; i < order.Length; i++)
        {
            long start = Stopwatch.GetTimestamp();
            HotplugReport r = machine.RemoveMemory(new PhysAddr(section + (ulong)order[i] * Subsection), Subsection);
            subsectionTimes.Add(Stopwatch.GetElapsedTime(start).TotalMicroseconds);
            if (i == order.Length / 2 - 1)
                context.Checkpoint("halfway through removing a section sub-section by sub-section (its memmap block half marked 0xFD)");
            if (r.MemmapFramesDelta != 0)
            {
                freedAt = i;
                blockHeldUntilLast &= i == order.Length - 1 && r.MemmapFramesDelta == -512;
            }
        }
        report.Check("the section's vmemmap block is freed exactly when its last sub-section goes", blockHeldUntilLast && freedAt == 63,
            $"freed at removal {freedAt + 1} of 64");
        report.CheckEqual("memmap frames after the section went", framesBeforeSection - 512, machine.GetStatistics().MemmapFrames);
        operations.Add([ReportValue.FromText("remove the section as 64 sub-sections (shuffled), median"),
            ReportValue.FromWholeNumber(-512), ReportValue.FromWholeNumber(-512), ReportValue.FromWholeNumber(0),
            ReportValue.FromWholeNumber(64 * 32 * 1024), ReportValue.FromWholeNumber(1),
            ReportValue.FromDuration(TimeSpan.FromMicroseconds(Median(subsectionTimes)))]);

        for (int i = 15; i >= 0; i--) machine.RemoveMemory(new PhysAddr(subsections + (ulong)i * Subsection), Subsection);
        Operation("remove 128 MiB from the middle of the gigabyte (splits its 1 GiB leaf)", () => machine.RemoveMemory(new PhysAddr(gigabyte + 3 * Section), Section));
        Mapping? split = machine.LookupKernel(machine.DirectMapBase + gigabyte);
        report.Check("the rest of the gigabyte stays mapped, now by 2 MiB leaves", split?.Size == PageSize.Size2M, $"leaf size {split?.Size.ShortName() ?? "none"}");
        Operation("remove the first 384 MiB of the gigabyte", () => machine.RemoveMemory(new PhysAddr(gigabyte), 3 * Section));
        Operation("remove the last 512 MiB of the gigabyte", () => machine.RemoveMemory(new PhysAddr(gigabyte + 4 * Section), 4 * Section));
        Operation("remove the altmap range", () => machine.RemoveMemory(new PhysAddr(altmap), 2 * Section));

        // ---- every frame back
        context.ReportProgress("checks", 3, 4);
        MemoryStatistics after = machine.GetStatistics();
        states.Add(Row("after removes", after));
        CheckKeptTables(report, machine, context.Options, ranges, before, after);
        report.CheckEqual("managed pages are back", before.ManagedPages, after.ManagedPages);
        report.CheckEqual("present pages are back", before.PresentPages, after.PresentPages);
        report.CheckEqual("nr_memmap_pages is back", before.MemmapPages, after.MemmapPages);
        report.CheckEqual("memmap frames are back", before.MemmapFrames, after.MemmapFrames);
        report.CheckEqual("direct map is back",
            before.DirectMap4KiB + before.DirectMap2MiB + before.DirectMap1GiB, after.DirectMap4KiB + after.DirectMap2MiB + after.DirectMap1GiB);
        report.Check("no removed address is still mapped", machine.LookupKernel(machine.DirectMapBase + gigabyte) is null
            && machine.LookupKernel(machine.VmemmapBase + (altmap >> 12) * 64) is null, "direct map and vmemmap of the removed ranges");

        report.AddFact("hot-added", "1 GiB + 128 MiB + 16 x 2 MiB + 256 MiB (altmap)");
        report.AddFact("sub-section removal, median", TimeSpan.FromMicroseconds(Median(subsectionTimes)));
        report.AddTable(new ReportTable("Counters (4 KiB pages)", ["state", "free", "managed", "present", "nr_memmap_pages", "nr_memmap_boot_pages", "memmap frames", "kernel tables"], states));
        report.AddTable(new ReportTable("Operations", ["operation", "memmap pages", "memmap frames", "tables", "bytes marked 0xFD", "blocks freed by memchr_inv", "time"], operations));
        context.ReportProgress("done", 4, 4);
        return report;
    }

    /// <summary>Hot-remove frees every kernel table it emptied except those hanging directly off the PGD (PUD
    /// tables with 4 levels, P4D tables with 5), which Linux keeps because every process's PGD may point at them. So
    /// free pages come back less those kept tables, and the kept tables are bounded by the top-level slots the
    /// hot-added ranges' direct map and vmemmap touched that boot memory does not (exactly that many the first time
    /// the scenario runs on a machine).</summary>
    private static void CheckKeptTables(ScenarioReport report, Machine machine, MachineOptions options, (ulong Start, ulong Size)[] ranges,
        MemoryStatistics before, MemoryStatistics after)
    {
        int root = (int)machine.PagingMode;
        int keptLevel = root - 1;
        for (int level = 1; level < keptLevel; level++)
        {
            report.CheckEqual($"{MachineMemory.LevelName(level, machine.PagingMode)}-level kernel tables are back",
                before.KernelPageTablesByLevel[level], after.KernelPageTablesByLevel[level]);
        }
        long kept = after.KernelPageTablesByLevel[keptLevel] - before.KernelPageTablesByLevel[keptLevel];
        var bootSlots = new HashSet<ulong>();
        foreach (MemoryRange range in MachineMemory.Ranges(options)) AddSlots(bootSlots, machine, range.Start.Value, range.Size);
        var hotSlots = new HashSet<ulong>();
        foreach ((ulong start, ulong size) in ranges) AddSlots(hotSlots, machine, start, size);
        hotSlots.ExceptWith(bootSlots);
        string levelName = MachineMemory.LevelName(keptLevel, machine.PagingMode);
        report.Check($"{levelName} tables kept by hot-remove (hanging off the PGD) are at most one per new top-level slot",
            kept >= 0 && kept <= hotSlots.Count,
            FormattableString.Invariant($"{Rendering.TextFormat.Count(kept, levelName + " table")} kept; the hot-adds touched {Rendering.TextFormat.Count(hotSlots.Count, "top-level slot")} boot memory does not"));
        report.Check("free pages are back, less the tables the kernel keeps", before.FreePages - after.FreePages == kept,
            FormattableString.Invariant($"expected {before.FreePages:N0} - {kept:N0} = {before.FreePages - kept:N0}, got {after.FreePages:N0}"));
    }

    /// <summary>Adds the top-level (PGD) slots that the direct map and the vmemmap blocks of [start, +size) use.</summary>
    private static void AddSlots(HashSet<ulong> slots, Machine machine, ulong start, ulong size)
    {
        int shift = machine.PagingMode == PagingMode.FiveLevel ? 48 : 39;
        const ulong Block = 2 * MiB;
        ulong direct = machine.DirectMapBase.Value + start;
        for (ulong slot = direct >> shift; slot <= (direct + size - 1) >> shift; slot++) slots.Add(slot);
        // 64-byte page descriptors, populated in 2 MiB blocks.
        ulong memmapStart = (machine.VmemmapBase.Value + (start >> 12) * 64) & ~(Block - 1);
        ulong memmapEnd = (machine.VmemmapBase.Value + ((start + size) >> 12) * 64 + Block - 1) & ~(Block - 1);
        for (ulong slot = memmapStart >> shift; slot <= (memmapEnd - 1) >> shift; slot++) slots.Add(slot);
    }

    private static IReadOnlyList<ReportValue> Row(string state, MemoryStatistics s) =>
    [
        ReportValue.FromText(state), ReportValue.FromWholeNumber(s.FreePages), ReportValue.FromWholeNumber(s.ManagedPages),
        ReportValue.FromWholeNumber(s.PresentPages), ReportValue.FromWholeNumber(s.MemmapPages),
        ReportValue.FromWholeNumber(s.MemmapBootPages), ReportValue.FromWholeNumber(s.MemmapFrames),
        ReportValue.FromWholeNumber(s.KernelPageTablesByLevel.Sum()),
    ];

    private static double Median(List<double> values)
    {
        var sorted = values.OrderBy(v => v).ToList();
        return sorted.Count == 0 ? 0 : sorted[sorted.Count / 2];
    }
}
