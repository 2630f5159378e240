using System.Linq;
using Xunit;
using static FastPt.Tests.HugeTlb.HvoMachines;
using static FastPt.Tests.TestMachines;

namespace FastPt.Tests.HugeTlb;

/// <summary>The page counts of the Linux 6.18 measurement: 512 × 2 MiB folios free exactly 3584 memmap pages,
/// 2 × 1 GiB folios 8190, and freeing them allocates the same again — with the vmemmap mapped by 2 MiB blocks (boot
/// memory) and by 4 KiB pages (hot-added sub-sections), in both designs, counted the way the kernel counts.</summary>
public sealed class HvoAccountingTests
{
    public static TheoryData<HvoDesign> AllDesigns => new(Designs);

    [Theory]
    [MemberData(nameof(AllDesigns))]
    public void Boot_memory_2M_folios_free_7_of_8_and_restore_them(HvoDesign design)
    {
        using Machine machine = Boot(design, 4 * GiB);
        MemmapCounts before = MemmapCounts.Of(machine);
        long freeBefore = machine.GetStatistics().FreePages;

        HugeTlbResizeResult grown = machine.HugeTlb.SetPoolSize(PageSize.Size2M, 512);
        Assert.Equal(3584, grown.VmemmapPagesFreed);
        Assert.Equal(512, grown.FoliosOptimized);
        int shared = machine.HugeTlb.GetStatistics().SharedTailPages;
        Assert.Equal(design == HvoDesign.SharedTail ? 1 : 0, shared);
        MemmapCounts optimized = MemmapCounts.Of(machine);
        // The boot blocks' 8 pages per folio leave nr_memmap_boot_pages; each new head copy is runtime memmap.
        Assert.Equal(-512 * 8, optimized.Boot - before.Boot);
        Assert.Equal(512 + shared, optimized.Runtime - before.Runtime);
        Assert.Equal(-3584 + shared, optimized.Total - before.Total);
        Assert.Equal(-3584 + shared, optimized.Frames - before.Frames);
        // One PMD-mapped vmemmap block per 128 MiB section the folios lie in is split; one batch: a split pass and a
        // remap pass, one flush each.
        HugeTlbSizeStatistics stats = machine.HugeTlb.GetStatistics().Size2M;
        Assert.Equal(SectionsOf(machine, PageSize.Size2M, 512), stats.VmemmapSplits);
        Assert.Equal(1, stats.Batches);
        Assert.Equal(2, grown.Flushes);

        HugeTlbResizeResult shrunk = machine.HugeTlb.SetPoolSize(PageSize.Size2M, 0);
        Assert.Equal(3584, shrunk.VmemmapPagesRestored);
        Assert.Equal(512, shrunk.FoliosFreed);
        Assert.Equal(1, shrunk.Flushes);
        MemmapCounts restored = MemmapCounts.Of(machine);
        Assert.Equal(before.Total + shared, restored.Total);
        Assert.Equal(before.Frames + shared, restored.Frames);
        // As in the kernel, the restored pages are runtime memmap now; the split PTE tables stay.
        Assert.Equal(before.Boot - 4096, restored.Boot);
        Assert.Equal(freeBefore - stats.VmemmapSplits - shared, machine.GetStatistics().FreePages);
    }

    [Theory]
    [MemberData(nameof(AllDesigns))]
    public void Boot_memory_1G_folios_free_4095_of_4096(HvoDesign design)
    {
        using Machine machine = Boot(design, 4 * GiB);
        MemmapCounts before = MemmapCounts.Of(machine);
        HugeTlbResizeResult grown = machine.HugeTlb.SetPoolSize(PageSize.Size1G, 2);
        Assert.Equal(8190, grown.VmemmapPagesFreed);
        int shared = machine.HugeTlb.GetStatistics().SharedTailPages;
        MemmapCounts optimized = MemmapCounts.Of(machine);
        Assert.Equal(-2 * 4096, optimized.Boot - before.Boot);
        Assert.Equal(-8190 + shared, optimized.Total - before.Total);
        Assert.Equal(16, machine.HugeTlb.GetStatistics().Size1G.VmemmapSplits); // 16 MiB of vmemmap each: 8 blocks

        HugeTlbResizeResult shrunk = machine.HugeTlb.SetPoolSize(PageSize.Size1G, 0);
        Assert.Equal(8190, shrunk.VmemmapPagesRestored);
        Assert.Equal(before.Total + shared, MemmapCounts.Of(machine).Total);
        Assert.Equal(before.Frames + shared, MemmapCounts.Of(machine).Frames);
    }

    [Theory]
    [MemberData(nameof(AllDesigns))]
    public void Hot_added_sub_sections_with_4K_vmemmap_free_runtime_memmap(HvoDesign design)
    {
        using Machine machine = Boot(design, 2 * GiB);
        // 64 sub-sections added one by one: their memmap is 4 KiB pages (8 per 2 MiB), runtime memmap, movable.
        for (ulong at = 0; at < 128 * MiB; at += 2 * MiB) machine.AddMemory(P(8 * GiB + at), 2 * MiB);
        Assert.Equal(PageSize.Size4K, machine.LookupKernel(machine.VmemmapBase + ((8 * GiB) >> 12) * 64)!.Value.Size);
        MemmapCounts before = MemmapCounts.Of(machine);

        HugeTlbResizeResult grown = machine.HugeTlb.SetPoolSize(PageSize.Size2M, 64);
        Assert.Equal(64 * 7, grown.VmemmapPagesFreed);
        MemmapCounts optimized = MemmapCounts.Of(machine);
        int shared = machine.HugeTlb.GetStatistics().SharedTailPages;
        Assert.Equal(0, optimized.Boot - before.Boot);
        Assert.Equal(-64 * 7 + shared, optimized.Runtime - before.Runtime);
        Assert.Equal(0, machine.HugeTlb.GetStatistics().Size2M.VmemmapSplits);
        Assert.Equal(1, grown.Flushes); // no split pass needed: only the remap pass flushes

        machine.HugeTlb.SetPoolSize(PageSize.Size2M, 0);
        Assert.Equal(before.Total + shared, MemmapCounts.Of(machine).Total);
        // Every folio came from the hot-added (movable) memory, which is free again and can go.
        machine.RemoveMemory(P(8 * GiB), 128 * MiB);
    }

    [Theory]
    [MemberData(nameof(AllDesigns))]
    public void Folios_on_vmemmap_split_before_need_no_split_and_free_runtime_pages(HvoDesign design)
    {
        // After a restore the vmemmap stays PTE-mapped (the kernel never merges it back) and its pages are runtime
        // memmap: optimizing the same folios again needs no split and gives back nr_memmap_pages.
        foreach (PageSize size in new[] { PageSize.Size1G, PageSize.Size2M })
        {
            using Machine machine = Boot(design, 4 * GiB, optimize: false);
            int count = size == PageSize.Size1G ? 2 : 512;
            long perFolio = size == PageSize.Size1G ? 4095 : 7;
            machine.HugeTlb.SetPoolSize(size, count);
            FastPt.HugeTlb.Hstate h = machine.HugeTlb.Core.For(size);
            FastPt.HugeTlb.Folio[] folios = [.. h.FreeList.Select(pfn => new FastPt.HugeTlb.Folio(pfn, h.Order))];
            FastPt.HugeTlb.HugetlbVmemmap hvo = machine.HugeTlb.Core.Vmemmap;
            Assert.Equal(count, hvo.Optimize(folios, batched: true, h.Counters));
            Assert.Equal(count, hvo.Restore(folios, batched: true, h.Counters));
            long splits = h.Counters.Splits, flushes = h.Counters.Flushes, freed = h.Counters.PagesFreed;
            MemmapCounts before = MemmapCounts.Of(machine);

            Assert.Equal(count, hvo.Optimize(folios, batched: true, h.Counters));
            Assert.Equal(count * perFolio, h.Counters.PagesFreed - freed);
            Assert.Equal(splits, h.Counters.Splits);
            // The remap pass only: one flush, plus one each time the gather's 4096 pending frees fill.
            Assert.Equal((count * (perFolio + 1) + 4095) / 4096, h.Counters.Flushes - flushes);
            MemmapCounts optimized = MemmapCounts.Of(machine);
            Assert.Equal(0, optimized.Boot - before.Boot);
            Assert.Equal(-count * perFolio, optimized.Runtime - before.Runtime);
            Assert.Equal(count, hvo.Restore(folios, batched: true, h.Counters));
            Assert.Equal(before, MemmapCounts.Of(machine));
            machine.HugeTlb.SetPoolSize(size, 0);
        }
    }

    [Theory]
    [MemberData(nameof(AllDesigns))]
    public void Switch_off_changes_nothing_and_affects_only_folios_allocated_after(HvoDesign design)
    {
        using Machine machine = Boot(design, 4 * GiB, optimize: false);
        MemmapCounts before = MemmapCounts.Of(machine);
        long tables = machine.GetStatistics().PageTablePages;
        HugeTlbResizeResult grown = machine.HugeTlb.SetPoolSize(PageSize.Size2M, 64);
        Assert.Equal(0, grown.VmemmapPagesFreed);
        Assert.Equal(0, grown.Flushes);
        Assert.Equal(before, MemmapCounts.Of(machine));
        Assert.Equal(tables, machine.GetStatistics().PageTablePages);

        // Turning it on affects the folios allocated from now on only.
        machine.HugeTlb.OptimizeVmemmap = true;
        HugeTlbResizeResult more = machine.HugeTlb.SetPoolSize(PageSize.Size2M, 96);
        Assert.Equal(32 * 7, more.VmemmapPagesFreed);
        Assert.Equal(32, machine.HugeTlb.GetStatistics().Size2M.FoliosOptimizedNow);
        // Turning it off leaves them optimized until they leave the pool.
        machine.HugeTlb.OptimizeVmemmap = false;
        Assert.Equal(32, machine.HugeTlb.GetStatistics().Size2M.FoliosOptimizedNow);
        HugeTlbResizeResult none = machine.HugeTlb.SetPoolSize(PageSize.Size2M, 0);
        Assert.Equal(32 * 7, none.VmemmapPagesRestored);
        Assert.Equal(before.Total + machine.HugeTlb.GetStatistics().SharedTailPages, MemmapCounts.Of(machine).Total);
    }

    [Theory]
    [MemberData(nameof(AllDesigns))]
    public void Folios_whose_vmemmap_is_self_hosted_are_skipped_once_each_and_the_memory_still_goes(HvoDesign design)
    {
        using Machine machine = Boot(design, 2 * GiB);
        // Two sections hosting their own memmap (an altmap): movable, so the pool takes its folios from them.
        machine.AddMemory(P(8 * GiB), 256 * MiB, new HotAddOptions { UseAltmap = true });
        MemmapCounts before = MemmapCounts.Of(machine);
        foreach (HvoBatching batching in new[] { HvoBatching.Batched, HvoBatching.PerFolio })
        {
            long skipped = machine.HugeTlb.GetStatistics().Size2M.SelfHostedSkipped;
            HugeTlbResizeResult grown = machine.HugeTlb.SetPoolSize(PageSize.Size2M, 64, batching);
            Assert.Equal(0, grown.VmemmapPagesFreed);
            Assert.Equal(0, grown.FoliosOptimized);
            // vmemmap_should_optimize_folio said no once per folio (the batched path asks in its split pass only).
            Assert.Equal(64, machine.HugeTlb.GetStatistics().Size2M.SelfHostedSkipped - skipped);
            Assert.Equal(before, MemmapCounts.Of(machine));
            machine.HugeTlb.SetPoolSize(PageSize.Size2M, 0);
        }
        machine.RemoveMemory(P(8 * GiB), 256 * MiB);
    }

    /// <summary>The 128 MiB sections the pool's folios lie in (taking them all out and back).</summary>
    private static long SectionsOf(Machine machine, PageSize size, int count)
    {
        var folios = new HugeTlbFolio[count];
        var sections = new System.Collections.Generic.HashSet<ulong>();
        for (int i = 0; i < count; i++)
        {
            folios[i] = machine.HugeTlb.AllocateFolio(size);
            sections.Add(folios[i].Address.Value >> 27);
        }
        foreach (HugeTlbFolio folio in folios) machine.HugeTlb.FreeFolio(folio);
        return sections.Count;
    }
}
