using Xunit;
using static FastPt.Tests.TestMachines;

namespace FastPt.Tests.Hotplug;

/// <summary>A refused hot-add or hot-remove changes nothing, at every amount of free memory: each sweep holds every
/// frame, then gives kernel frames back one at a time, trying the operation at each count and comparing the whole
/// machine (counters, buddyinfo, kernel page tables, every descriptor) with the state before the try, until the
/// operation succeeds. The sweeps pass every boundary on the way — the direct map's tables, the vmemmap's tables,
/// each 2 MiB memmap block and its base-page fallback — and the first count that succeeds must be exactly what the
/// operation then takes, so nothing is counted twice or held spare.</summary>
public class HotplugSweepTests
{
    private const ulong Section = 128 * MiB;
    private const ulong Subsection = 2 * MiB;

    public static TheoryData<string, PagingMode, ulong, ulong, VmemmapPopulation, bool> AddCases() => new()
    {
        // Two sections: a PMD table for the direct map and two memmap blocks (the old undo ran at 1, 2 and 514).
        { "two sections", PagingMode.FourLevel, 8 * GiB, 2 * Section, VmemmapPopulation.Linux, false },
        // A new 512 GiB slot: the direct map needs a PUD and a PMD table, the vmemmap a PMD table, then a block.
        { "new PGD slot", PagingMode.FourLevel, 600 * GiB, Section, VmemmapPopulation.Linux, false },
        // Below a section: a PTE table and 8 base pages.
        { "subsection", PagingMode.FourLevel, 8 * GiB + 3 * Subsection, Subsection, VmemmapPopulation.Linux, false },
        // Blocks always, but a block would cost more than the base pages it replaces: the fallback is taken.
        { "subsection, blocks always", PagingMode.FourLevel, 8 * GiB + 3 * Subsection, Subsection, VmemmapPopulation.PmdBlocksAlways, false },
        // The memmap in the range itself: only tables come from the buddy allocator.
        { "altmap", PagingMode.FourLevel, 8 * GiB, 2 * Section, VmemmapPopulation.Linux, true },
        { "subsection, 5-level", PagingMode.FiveLevel, 8 * GiB + 3 * Subsection, Subsection, VmemmapPopulation.Linux, false },
    };

    [Theory]
    [MemberData(nameof(AddCases))]
    public void A_refused_add_changes_nothing_at_any_free_frame_count(string name, PagingMode mode, ulong start, ulong size, VmemmapPopulation population, bool altmap)
    {
        using Machine machine = Create(256 * MiB, mode);
        var options = new HotAddOptions { Population = population, UseAltmap = altmap };
        FrameHog hog = FrameHog.TakeAll(machine, singles: 1100);
        MachineSnapshot? before = null;
        for (int free = 0; ; free++)
        {
            before = MachineSnapshot.Take(machine, before);
            HotplugResult result = machine.TryAddMemory(P(start), size, options);
            if (result.IsSuccess)
            {
                HotplugReport report = result.Report!;
                long taken = report.PageTablesDelta + (altmap ? 0 : report.MemmapFramesDelta);
                Assert.True(free == taken, $"{name}: the add succeeded first with {free} free frames but took {taken}");
                Assert.Equal(machine.GetStatistics().FreePages, report.ManagedPagesDelta);
                break;
            }
            Assert.True(result.Error == HotplugError.OutOfMemory, $"{name}, {free} free: {result}");
            Assert.Null(result.Report);
            before.AssertUnchanged(machine, $"{name}: add refused with {free} free frames");
            var thrown = Assert.Throws<HotplugException>(() => machine.AddMemory(P(start), size, options));
            Assert.Equal(HotplugError.OutOfMemory, thrown.Error);
            before.AssertUnchanged(machine, $"{name}: AddMemory refused with {free} free frames");
            hog.ReleaseSingle();
        }
        // What was added works and goes away again.
        Assert.NotNull(machine.LookupKernel(machine.DirectMapBase + start));
        Assert.True(machine.TryRemoveMemory(P(start), size).IsSuccess);
        Assert.Null(machine.LookupKernel(machine.DirectMapBase + start));
    }

    public static TheoryData<string, ulong, ulong, ulong, ulong, int> RemoveCases() => new()
    {
        // The repro: removing a hot-added section needs no kernel frame at all.
        { "hot-added section", 8 * GiB, Section, 8 * GiB, Section, 0 },
        // A section inside a 1 GiB direct-map leaf: one PMD table to split it.
        { "inside a 1 GiB leaf", 8 * GiB, 1 * GiB, 8 * GiB + Section, Section, 1 },
        // Across two 1 GiB leaves: both are split.
        { "across two 1 GiB leaves", 8 * GiB, 2 * GiB, 9 * GiB - Section, 2 * Section, 2 },
        // Boot memory (ZONE_NORMAL) inside a 1 GiB leaf: the range's own free frames cannot hold the split table.
        { "boot memory inside a 1 GiB leaf", 0, 0, 1 * GiB + Section, Section, 1 },
    };

    [Theory]
    [MemberData(nameof(RemoveCases))]
    public void A_refused_removal_changes_nothing_at_any_free_frame_count(string name, ulong addStart, ulong addSize, ulong start, ulong size, int splits)
    {
        using Machine machine = Create(addSize == 0 ? 2 * GiB : 256 * MiB);
        if (addSize != 0) machine.AddMemory(P(addStart), addSize);
        FrameHog hog = FrameHog.TakeAll(machine, singles: 8);
        hog.ReleaseRange(P(start), size);
        MachineSnapshot? before = null;
        for (int free = 0; ; free++)
        {
            before = MachineSnapshot.Take(machine, before);
            HotplugResult result = machine.TryRemoveMemory(P(start), size);
            if (result.IsSuccess)
            {
                Assert.True(free == splits, $"{name}: the removal succeeded first with {free} free kernel frames, it needs {splits}");
                // The split tables took the free frames; the range's frames left; freed tables and memmap came back.
                HotplugReport report = result.Report!;
                Assert.Equal(free - report.PageTablesDelta - report.MemmapFramesDelta, machine.GetStatistics().FreePages);
                break;
            }
            Assert.True(result.Error == HotplugError.OutOfMemory, $"{name}, {free} free: {result}");
            before.AssertUnchanged(machine, $"{name}: removal refused with {free} free kernel frames");
            var thrown = Assert.Throws<HotplugException>(() => machine.RemoveMemory(P(start), size));
            Assert.Equal(HotplugError.OutOfMemory, thrown.Error);
            before.AssertUnchanged(machine, $"{name}: RemoveMemory refused with {free} free kernel frames");
            hog.ReleaseSingle();
        }
        // The whole range left: nothing of it is mapped, present or handed out.
        Assert.Null(machine.LookupKernel(machine.DirectMapBase + start));
        Assert.Null(machine.LookupKernel(machine.DirectMapBase + (start + size - Subsection)));
        Assert.Null(machine.LookupKernel(machine.VmemmapBase + (start >> 12) * 64));
        if (splits > 0) Assert.Equal(PageSize.Size2M, machine.LookupKernel(machine.DirectMapBase + (start - Subsection))!.Value.Size);
        hog.ReleaseAll();
        while (machine.TryAllocatePhysical(Subsection, out PhysAddr pa))
            Assert.False(pa.Value >= start && pa.Value < start + size, $"{name}: handed out removed memory at {pa}");
    }
}
