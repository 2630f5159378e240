using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;

namespace FastPt.Cli.Scenarios;

/// <summary>Maps 1 GiB three times — with 4 KiB, 2 MiB and 1 GiB pages, each onto a gigabyte of its own — in a fresh address space, translates
/// random addresses against the expected physical addresses, forces huge-page splits with protect, then unmaps
/// everything and checks that every page table and every frame came back.</summary>
public sealed class PagingScenario : IScenario
{
    private const ulong GiB = 1UL << 30;
    private const ulong RegionBase = 0x0000_0080_0000_0000;
    private const int Translations = 100_000;
    // Translations are timed in batches and the fastest batch is reported: on a shared machine a batch the scheduler
    // preempted measures the other processes, not the translation.
    private const int Batches = 20;
    private const int BatchSize = Translations / Batches;

    /// <inheritdoc/>
    public string Name => "paging";

    /// <inheritdoc/>
    public string Description => "Map 1 GiB with 4K, 2M and 1G pages; translate, split with protect, unmap; count tables and time.";

    private readonly record struct Region(string Name, ulong Virtual, ulong Physical, PageSize Size);

    /// <inheritdoc/>
    public ScenarioReport Run(ScenarioContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        // The whole sequence runs twice: the first pass brings the code paths to their optimised JIT tier, the
        // second is the one measured. Both verify everything.
        var warmUp = new ScenarioReport(this);
        RunPass(context, warmUp, checkpoints: true);
        var report = new ScenarioReport(this);
        ReportCheck? firstFailure = warmUp.Checks.FirstOrDefault(check => !check.Passed);
        report.Check(FormattableString.Invariant($"warm-up pass (same sequence, not timed): {warmUp.Checks.Count} checks passed"),
            warmUp.Passed, firstFailure is null ? "all passed" : $"failed: {firstFailure.Name} ({firstFailure.Detail})");
        RunPass(context, report, checkpoints: false);
        report.AddFact("timings", "second pass (the first warms up the JIT)");
        return report;
    }

    /// <summary>Runs the sequence once on frames it owns: each region maps a gigabyte allocated for it, or where the
    /// machine has no free gigabyte, a gigabyte above RAM (absent memory, which translation must report). Mapping
    /// RAM it does not own would let a region alias the frames of page tables the allocator hands out and frees, which
    /// checked mode rightly calls a use after free.</summary>
    private static void RunPass(ScenarioContext context, ScenarioReport report, bool checkpoints)
    {
        Machine machine = context.Machine;
        var owned = new List<PhysAddr>();
        try
        {
            ulong absent = (MachineMemory.End(context.Options) + GiB - 1) & ~(GiB - 1);
            ulong Back()
            {
                if (machine.TryAllocatePhysical(GiB, out PhysAddr block))
                {
                    owned.Add(block);
                    return block.Value;
                }
                ulong above = absent;
                absent += GiB;
                if (absent > machine.MaxPhysicalAddress.Value)
                    throw new OutOfFramesException("no free gigabyte for a region, and no physical address space left above RAM");
                return above;
            }
            // 1 GiB-aligned and adjacent, all under one PUD table; physical ranges are distinct.
            Region[] regions =
            [
                new("4K region", RegionBase, Back(), PageSize.Size4K),
                new("2M region", RegionBase + GiB, Back(), PageSize.Size2M),
                new("1G region", RegionBase + 2 * GiB, Back(), PageSize.Size1G),
            ];
            RunPass(context, report, regions, checkpoints);
        }
        finally
        {
            foreach (PhysAddr block in owned) machine.FreePhysical(block, GiB);
        }
    }

    /// <summary>One pass over <paramref name="regions"/>; with <paramref name="checkpoints"/> (the warm-up pass,
    /// so that a picture taken at a checkpoint does not fall inside the measured pass) it reports its states.</summary>
    private static void RunPass(ScenarioContext context, ScenarioReport report, Region[] regions, bool checkpoints)
    {
        Machine machine = context.Machine;
        bool fiveLevel = machine.PagingMode == PagingMode.FiveLevel;
        using AddressSpace space = machine.CreateAddressSpace();
        long freeBefore = machine.GetStatistics().FreePages;
        var timings = new List<IReadOnlyList<ReportValue>>();

        // ---- map
        foreach (Region region in regions)
        {
            context.ReportProgress("map " + region.Name, 0, 1);
            long start = Stopwatch.GetTimestamp();
            space.Map(new VirtAddr(region.Virtual), new PhysAddr(region.Physical), GiB, Protection.ReadWrite, region.Size);
            AddTiming(timings, "map", region.Size, (long)(GiB / region.Size.Bytes()), Stopwatch.GetElapsedTime(start));
        }
        PageTableCounts mapped = space.PageTables;
        long freeAfterMap = machine.GetStatistics().FreePages;
        // Independent count: 512 PTE tables for the 4K GiB, one PMD table each for the 4K and 2M GiBs, one PUD
        // table for the 512 GiB slot they share, and with 5 levels one P4D table.
        var expectedMapped = new PageTableCounts(512, 2, 1, fiveLevel ? 1 : 0);
        report.Check("tables after mapping: 512 PTE, 2 PMD, 1 PUD" + (fiveLevel ? ", 1 P4D" : ""), mapped == expectedMapped,
            $"expected {Describe(expectedMapped)}, got {Describe(mapped)}");
        report.CheckEqual("VmPTE = (512 + 2 + 1) x 4 KiB", 515 * 4, mapped.VmPteKiB);
        report.CheckEqual("4K leaves = 262,144", 262_144, space.LeafCount(PageSize.Size4K));
        report.CheckEqual("2M leaves = 512", 512, space.LeafCount(PageSize.Size2M));
        report.CheckEqual("1G leaves = 1", 1, space.LeafCount(PageSize.Size1G));
        report.CheckEqual("free pages dropped by exactly the tables allocated", mapped.Total, freeBefore - freeAfterMap);
        if (checkpoints) context.Checkpoint("after mapping 1 GiB each with 4K, 2M and 1G pages", space);

        // ---- translate
        TranslateRandom(context, report, space, regions, timings);

        // ---- protect one 4 KiB page in the middle of the 2M and 1G regions: both huge leaves split
        var tables = new List<IReadOnlyList<ReportValue>> { TableRow("after mapping", mapped) };
        PageTableCounts before = mapped;
        foreach (Region region in regions[1..])
        {
            context.ReportProgress("protect " + region.Name, 0, 1);
            ulong middle = region.Virtual + GiB / 2;
            long start = Stopwatch.GetTimestamp();
            space.Protect(new VirtAddr(middle), 4096, Protection.Read);
            AddTiming(timings, "protect 4K (split)", region.Size, 1, Stopwatch.GetElapsedTime(start));
            PageTableCounts after = space.PageTables;
            tables.Add(TableRow("after protect in " + region.Name, after));
            // A 2M leaf splits into one PTE table; a 1G leaf into a PMD table, then one of its 2M leaves into a PTE table.
            var expected = region.Size == PageSize.Size1G
                ? before with { Pte = before.Pte + 1, Pmd = before.Pmd + 1 }
                : before with { Pte = before.Pte + 1 };
            report.Check($"protect in the {region.Name} splits {(region.Size == PageSize.Size1G ? "1G -> 2M -> 4K (+1 PMD, +1 PTE)" : "2M -> 4K (+1 PTE)")}",
                after == expected, $"expected {Describe(expected)}, got {Describe(after)}");
            CheckSplitPage(report, space, region, middle);
            before = after;
        }
        report.CheckEqual("4K leaves after the splits = 262,144 + 2 x 512", 262_144 + 1024, space.LeafCount(PageSize.Size4K));
        report.CheckEqual("2M leaves after the splits = 511 + 511", 1022, space.LeafCount(PageSize.Size2M));
        if (checkpoints) context.Checkpoint("after splitting one 2M and one 1G leaf with protect (4K tables inside the 2M and 1G gigabytes)", space);

        // ---- unmap everything
        foreach (Region region in regions)
        {
            context.ReportProgress("unmap " + region.Name, 0, 1);
            long start = Stopwatch.GetTimestamp();
            space.Unmap(new VirtAddr(region.Virtual), GiB);
            AddTiming(timings, "unmap", region.Size, (long)(GiB / region.Size.Bytes()), Stopwatch.GetElapsedTime(start));
        }
        PageTableCounts unmapped = space.PageTables;
        tables.Add(TableRow("after unmapping", unmapped));
        report.CheckEqual("no page table left after unmapping", 0, unmapped.Total);
        report.CheckEqual("free pages back to their value before mapping", freeBefore, machine.GetStatistics().FreePages);
        report.CheckEqual("nothing mapped after unmapping (bytes)", 0, (long)space.MappedBytes);

        report.AddFact("address range", $"0x{RegionBase:x}-0x{RegionBase + 3 * GiB:x}");
        report.AddFact("VmPTE after mapping", mapped.VmPteKiB, "KiB");
        report.AddFact("VmPTE after the splits", before.VmPteKiB, "KiB");
        report.AddTable(new ReportTable("Page-table pages per level", ["state", "PTE", "PMD", "PUD", "P4D", "VmPTE KiB"], tables));
        report.AddTable(new ReportTable("Operations", ["operation", "page size", "entries", "time", "entries/s"], timings));
    }

    /// <summary>Times <see cref="MmuContext.TryTranslate"/> on a context this thread holds (its software TLB, then
    /// the paging-structure caches or a walk) in loops that do nothing else, then checks every result. Two figures,
    /// each with the hit rate the context's counters measured: one address over and over, and random addresses over
    /// the three regions (with 262,144 pages the 4K region cannot stay in the TLB).</summary>
    private static void TranslateRandom(ScenarioContext context, ScenarioReport report, AddressSpace space, Region[] regions, List<IReadOnlyList<ReportValue>> timings)
    {
        MachineOptions options = context.Options;
        var random = new Random(context.Seed);
        var addresses = new ulong[Translations];
        for (int i = 0; i < addresses.Length; i++)
            addresses[i] = regions[random.Next(regions.Length)].Virtual + (ulong)random.NextInt64((long)GiB);
        // The timed loops store what TryTranslate (the path the TLB benchmarks time) returns; the checks run after.
        var translated = new bool[Translations];
        var physical = new ulong[Translations];
        using MmuContext cpu = space.CreateContext();

        context.ReportProgress("translate one address", 0, 2);
        // An address of the 4K region, which translates only when the region is backed by RAM.
        ulong hit = regions[0].Virtual + 0x123;
        ulong hitPhysical = regions[0].Physical + 0x123;
        if (MachineMemory.IsRam(options, hitPhysical))
        {
            var hitAddress = new VirtAddr(hit);
            cpu.Translate(hitAddress);
            TlbStatistics before = cpu.Statistics;
            var hitTimer = new BatchTimer();
            for (int batch = 0; batch < Batches; batch++)
            {
                long batchStart = Stopwatch.GetTimestamp();
                for (int i = batch * BatchSize, end = i + BatchSize; i < end; i++)
                {
                    translated[i] = cpu.TryTranslate(hitAddress, AccessKind.Read, out PhysAddr pa);
                    physical[i] = pa.Value;
                }
                hitTimer.Add(Stopwatch.GetTimestamp() - batchStart);
            }
            long hits = cpu.Statistics.Hits - before.Hits;
            long hitWrong = 0;
            for (int i = 0; i < physical.Length; i++)
                if (!translated[i] || physical[i] != hitPhysical) hitWrong++;
            AddTiming(timings, "translate one address", PageSize.Size4K, Translations, hitTimer.Total);
            report.AddFact("translate one address repeated", hitTimer.FastestNanosecondsPer(BatchSize), "ns/translation");
            report.AddFact("TLB hits, one address repeated", 100.0 * hits / Translations, "%");
            report.CheckEqual(FormattableString.Invariant($"{Translations:N0} translations of one address give its physical address (wrong ones)"), 0, hitWrong);
            report.CheckEqual(FormattableString.Invariant($"{Translations:N0} translations of one address after the first are TLB hits"), Translations, hits);
        }

        context.ReportProgress("translate random addresses", 1, 2);
        TlbStatistics randomBefore = cpu.Statistics;
        var timer = new BatchTimer();
        for (int batch = 0; batch < Batches; batch++)
        {
            long batchStart = Stopwatch.GetTimestamp();
            for (int i = batch * BatchSize, end = i + BatchSize; i < end; i++)
            {
                translated[i] = cpu.TryTranslate(new VirtAddr(addresses[i]), AccessKind.Read, out PhysAddr pa);
                physical[i] = pa.Value;
            }
            timer.Add(Stopwatch.GetTimestamp() - batchStart);
        }
        long randomHits = cpu.Statistics.Hits - randomBefore.Hits;
        context.ReportProgress("translate random addresses", 2, 2);

        long wrong = 0;
        string firstWrong = "";
        for (int i = 0; i < addresses.Length; i++)
        {
            ulong address = addresses[i];
            Region region = regions[(address - RegionBase) / GiB];
            ulong expected = region.Physical + (address - region.Virtual);
            // Untimed, after the counters were read: the full translation says the page size and the fault.
            Translation translation = cpu.Translate(new VirtAddr(address));
            // Regions above the machine's RAM are still mapped, but the MMU reports the missing memory.
            bool correct = MachineMemory.IsRam(options, expected)
                ? translated[i] && physical[i] == expected && translation.Succeeded && translation.PhysAddr.Value == expected && translation.PageSize == region.Size
                : !translated[i] && !translation.Succeeded && translation.Fault.Reason == FaultReason.PhysicalMemoryAbsent;
            if (!correct && wrong++ == 0) firstWrong = $"0x{address:x}: expected 0x{expected:x} ({region.Size.ShortName()}), got {translation}";
        }
        AddTiming(timings, "translate random addresses", null, Translations, timer.Total);
        report.AddFact("translate random addresses", timer.FastestNanosecondsPer(BatchSize), "ns/translation");
        report.AddFact("translation timing", FormattableString.Invariant(
            $"TryTranslate, fastest of {Batches} batches of {BatchSize:N0} (the table: all {Batches})"));
        report.AddFact("TLB hits, random addresses", 100.0 * randomHits / Translations, "%");
        report.Check(FormattableString.Invariant($"{Translations:N0} random translations give the expected physical address and page size"),
            wrong == 0, wrong == 0 ? "all correct" : FormattableString.Invariant($"{wrong:N0} wrong; first: {firstWrong}"));
    }

    /// <summary>The total and the fastest of timed batches, in <see cref="Stopwatch"/> ticks.</summary>
    private struct BatchTimer
    {
        private long _total;
        private long _fastest;
        private int _batches;

        public readonly TimeSpan Total => Stopwatch.GetElapsedTime(0, _total);

        public void Add(long ticks)
        {
            _total += ticks;
            _fastest = _batches++ == 0 ? ticks : Math.Min(_fastest, ticks);
        }

        public readonly double FastestNanosecondsPer(int count) => _fastest * 1e9 / Stopwatch.Frequency / count;
    }

    private static void CheckSplitPage(ScenarioReport report, AddressSpace space, Region region, ulong middle)
    {
        Mapping? page = space.Lookup(new VirtAddr(middle));
        Mapping? neighbour = space.Lookup(new VirtAddr(middle + 4096));
        Mapping? farNeighbour = space.Lookup(new VirtAddr(middle + (2UL << 20)));
        ulong expectedFrame = region.Physical + GiB / 2;
        bool pageOk = page is { } p && p.Size == PageSize.Size4K && p.Protection == Protection.Read && p.Frame.Value == expectedFrame;
        bool neighbourOk = neighbour is { } n && n.Size == PageSize.Size4K && n.Protection == Protection.ReadWrite && n.Frame.Value == expectedFrame + 4096;
        bool farOk = farNeighbour is { } f && f.Size == PageSize.Size2M && f.Protection == Protection.ReadWrite && f.Frame.Value == expectedFrame + (2UL << 20);
        Translation write = space.Translate(new VirtAddr(middle), AccessKind.Write);
        bool writeFaults = !write.Succeeded && write.Fault.Reason == FaultReason.ProtectionViolation;
        report.Check($"after the split in the {region.Name}: the page is 4K read-only, its neighbour 4K read-write, the next 2 MiB a 2M leaf; writing faults",
            pageOk && neighbourOk && farOk && writeFaults,
            $"page {Show(page)}; neighbour {Show(neighbour)}; +2 MiB {Show(farNeighbour)}; write: {write}");
    }

    private static string Show(Mapping? mapping) => mapping?.ToString() ?? "unmapped";

    private static string Describe(PageTableCounts counts) =>
        FormattableString.Invariant($"PTE {counts.Pte}, PMD {counts.Pmd}, PUD {counts.Pud}, P4D {counts.P4d}");

    private static IReadOnlyList<ReportValue> TableRow(string state, PageTableCounts counts) =>
    [
        ReportValue.FromText(state),
        ReportValue.FromWholeNumber(counts.Pte),
        ReportValue.FromWholeNumber(counts.Pmd),
        ReportValue.FromWholeNumber(counts.Pud),
        ReportValue.FromWholeNumber(counts.P4d),
        ReportValue.FromWholeNumber(counts.VmPteKiB),
    ];

    private static void AddTiming(List<IReadOnlyList<ReportValue>> timings, string operation, PageSize? size, long entries, TimeSpan elapsed) =>
        timings.Add(
        [
            ReportValue.FromText(operation),
            ReportValue.FromText(size?.ShortName() ?? "mixed"),
            ReportValue.FromWholeNumber(entries),
            ReportValue.FromDuration(elapsed),
            ReportValue.FromRealNumber(entries / Math.Max(elapsed.TotalSeconds, 1e-9)),
        ]);
}
