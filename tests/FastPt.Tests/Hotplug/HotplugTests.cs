using System;
using System.Linq;
using FastPt.Mm;
using Xunit;
using static FastPt.Tests.TestMachines;

namespace FastPt.Tests.Hotplug;

public unsafe class HotplugTests
{
    private const ulong Section = 128 * MiB;
    private const ulong Subsection = 2 * MiB;

    /// <summary>What must come back after a matched add/remove.</summary>
    private sealed record Snapshot(long Free, long Managed, long MemmapFrames, long MemmapPages, long MemmapBoot,
        long Tables1, long Tables2, long Tables3, long Present, long Sections, long DirectMapKiB)
    {
        public static Snapshot Of(Machine m)
        {
            MemoryStatistics s = m.GetStatistics();
            return new Snapshot(s.FreePages, s.ManagedPages, s.MemmapFrames, s.MemmapPages, s.MemmapBootPages,
                s.KernelPageTablesByLevel[1], s.KernelPageTablesByLevel[2], s.KernelPageTablesByLevel[3],
                s.PresentPages, s.PresentSections, s.DirectMap4KiB + s.DirectMap2MiB + s.DirectMap1GiB);
        }
    }

    [Fact]
    public void Whole_sections_add_with_pmd_blocks_and_remove_back_to_the_same_state()
    {
        using Machine machine = Create(4 * GiB);
        Snapshot before = Snapshot.Of(machine);
        HotplugReport added = machine.AddMemory(P(8 * GiB), 2 * Section);
        Assert.Equal(1024, added.MemmapPagesDelta);
        Assert.Equal(1024, added.MemmapFramesDelta); // two 2 MiB blocks
        Assert.Equal(2 * (long)(Section >> 12), added.ManagedPagesDelta);
        Mapping? block = machine.LookupKernel(machine.VmemmapBase + ((8 * GiB) >> 12) * 64);
        Assert.Equal(PageSize.Size2M, block!.Value.Size);
        Assert.Equal(PageSize.Size2M, machine.LookupKernel(machine.DirectMapBase + 8 * GiB)!.Value.Size);
        MemoryStatistics s = machine.GetStatistics();
        Assert.Equal(before.Free + 2 * (long)(Section >> 12) - 1024 - added.PageTablesDelta, s.FreePages);

        // The new memory works: the buddy allocator hands it out and its descriptors are real.
        PhysAddr frame = machine.AllocatePhysical(256 * MiB); // only the new memory has a free 256 MiB block
        Assert.True(frame.Value >= 8 * GiB);
        machine.WritePhysical(frame + 4096, new byte[] { 1, 2, 3 });
        machine.FreePhysical(frame, 256 * MiB);

        HotplugReport removed = machine.RemoveMemory(P(8 * GiB), 2 * Section);
        Assert.Equal(-1024, removed.MemmapPagesDelta);
        Assert.Equal(-1024, removed.MemmapFramesDelta);
        Assert.True(removed.Flushes >= 1);
        Assert.Equal(before, Snapshot.Of(machine));
        Assert.Null(machine.LookupKernel(machine.DirectMapBase + 8 * GiB));
        Assert.Null(machine.LookupKernel(machine.VmemmapBase + ((8 * GiB) >> 12) * 64));
    }

    [Fact]
    public void A_sections_vmemmap_block_is_freed_exactly_when_its_last_subsection_goes()
    {
        using Machine machine = Create(4 * GiB);
        ulong start = 6 * GiB;
        machine.AddMemory(P(start), Section);
        long frames = machine.GetStatistics().MemmapFrames;
        VirtAddr blockVa = machine.VmemmapBase + (start >> 12) * 64;
        var order = Enumerable.Range(0, 64).ToArray();
        new Random(5).Shuffle(order);
        for (int i = 0; i < 64; i++)
        {
            HotplugReport r = machine.RemoveMemory(P(start + (ulong)order[i] * Subsection), Subsection);
            Assert.Equal(-8, r.MemmapPagesDelta);
            Assert.True(r.BytesMarkedUnused >= 32 * 1024);
            if (i < 63)
            {
                Assert.Equal(0, r.MemmapFramesDelta);
                Assert.Equal(frames, machine.GetStatistics().MemmapFrames);
                Assert.NotNull(machine.LookupKernel(blockVa));
            }
            else
            {
                Assert.Equal(-512, r.MemmapFramesDelta);
                Assert.Equal(1, r.PartialBlocksFreed);
                Assert.Null(machine.LookupKernel(blockVa));
            }
        }
    }

    [Fact]
    public void Descriptors_of_present_memory_stay_intact_when_neighbours_are_removed()
    {
        using Machine machine = Create(4 * GiB);
        ulong start = 6 * GiB;
        machine.AddMemory(P(start), Section);
        // Keep subsection 10 busy: allocate every free frame of it.
        ulong keep = start + 10 * Subsection;
        BuddyAllocator buddy = machine.Memory.Buddy;
        buddy.Isolate(keep >> 12, (keep + Subsection) >> 12);
        for (ulong p = keep >> 12; p < (keep + Subsection) >> 12; p++)
        {
            PageDescriptor* d = machine.Memory.Memmap.GetMutable(p);
            d->Flags = PageFlags.Allocated;
            d->RefCount = 1;
            d->Mapping = p * 3;
        }
        for (int i = 0; i < 64; i++)
            if (i != 10) machine.RemoveMemory(P(start + (ulong)i * Subsection), Subsection);
        var error = Assert.Throws<HotplugException>(() => machine.RemoveMemory(P(keep), Subsection));
        Assert.Equal(HotplugError.Busy, error.Error);
        for (ulong p = keep >> 12; p < (keep + Subsection) >> 12; p++)
        {
            PageDescriptor* d = machine.Memory.Memmap.Get(p);
            Assert.Equal(PageFlags.Allocated, d->Flags);
            Assert.Equal(1, d->RefCount);
            Assert.Equal(p * 3, d->Mapping);
        }
        buddy.FreeRange(keep >> 12, (keep + Subsection) >> 12);
        machine.RemoveMemory(P(keep), Subsection);
        Assert.Equal(0, machine.GetStatistics().MemmapPages);
    }

    [Theory]
    [InlineData(VmemmapPopulation.Linux, 1)]
    [InlineData(VmemmapPopulation.Linux, 2)]
    [InlineData(VmemmapPopulation.PmdBlocksAlways, 3)]
    public void Subsections_added_and_removed_in_every_order_leave_nothing_behind(VmemmapPopulation population, int seed)
    {
        using Machine machine = Create(4 * GiB);
        Snapshot before = Snapshot.Of(machine);
        ulong start = 10 * GiB;
        var random = new Random(seed);
        var add = Enumerable.Range(0, 64).ToArray();
        random.Shuffle(add);
        var options = new HotAddOptions { Population = population };
        foreach (int i in add) machine.AddMemory(P(start + (ulong)i * Subsection), Subsection, options);
        MemoryStatistics full = machine.GetStatistics();
        Assert.Equal(512, full.MemmapPages);
        Assert.Equal(before.Present + (long)(Section >> 12), full.PresentPages);
        var remove = Enumerable.Range(0, 64).ToArray();
        random.Shuffle(remove);
        foreach (int i in remove) machine.RemoveMemory(P(start + (ulong)i * Subsection), Subsection);
        Assert.Equal(before with { Tables3 = Snapshot.Of(machine).Tables3 }, Snapshot.Of(machine));
    }

    [Fact]
    public void Linux_population_uses_base_pages_below_a_section()
    {
        using Machine machine = Create(4 * GiB);
        HotplugReport r = machine.AddMemory(P(6 * GiB + 4 * Subsection), Subsection);
        Assert.Equal(8, r.MemmapFramesDelta);
        Assert.Equal(PageSize.Size4K, machine.LookupKernel(machine.VmemmapBase + ((6 * GiB + 4 * Subsection) >> 12) * 64)!.Value.Size);
        Assert.Equal(0, r.BytesMarkedUnused);
    }

    [Fact]
    public void A_partly_used_new_block_is_marked_from_its_aligned_down_start_and_continued_by_the_next_add()
    {
        using Machine machine = Create(4 * GiB);
        var options = new HotAddOptions { Population = VmemmapPopulation.PmdBlocksAlways };
        ulong start = 6 * GiB;
        HotplugReport first = machine.AddMemory(P(start + 4 * Subsection), Subsection, options);
        Assert.Equal(512, first.MemmapFramesDelta);
        Assert.Equal(4 * 32 * 1024, first.BytesMarkedUnused); // the head [block start, range start), nothing else yet
        ulong blockVa = machine.VmemmapBase.Value + (start >> 12) * 64;
        Assert.All(KernelBytes(machine, blockVa, 4 * 32 * 1024), b => Assert.Equal(0xFD, b));
        // The tail after the range is not marked yet: the next add may continue right there.
        Assert.All(KernelBytes(machine, blockVa + 5 * 32 * 1024, 59 * 32 * 1024), b => Assert.Equal(0, b));

        // The next subsection continues the block: no marking, no scan.
        HotplugReport second = machine.AddMemory(P(start + 5 * Subsection), Subsection, options);
        Assert.Equal(0, second.MemmapFramesDelta);
        Assert.Equal(0, second.BytesMarkedUnused);

        // A gap: the pending tail is marked first (up to the block end), then the reused range is cleared.
        HotplugReport third = machine.AddMemory(P(start + 9 * Subsection), Subsection, options);
        Assert.Equal((64 - 6) * 32 * 1024, third.BytesMarkedUnused);
        Assert.All(KernelBytes(machine, blockVa + 6 * 32 * 1024, 3 * 32 * 1024), b => Assert.Equal(0xFD, b));
        Assert.All(KernelBytes(machine, blockVa + 10 * 32 * 1024, 54 * 32 * 1024), b => Assert.Equal(0xFD, b));
        Assert.DoesNotContain((byte)0xFD, KernelBytes(machine, blockVa + 9 * 32 * 1024, 32 * 1024));

        machine.RemoveMemory(P(start + 4 * Subsection), 2 * Subsection);
        Assert.NotNull(machine.LookupKernel(new VirtAddr(blockVa)));
        HotplugReport last = machine.RemoveMemory(P(start + 9 * Subsection), Subsection);
        Assert.Equal(-512, last.MemmapFramesDelta);
        Assert.Null(machine.LookupKernel(new VirtAddr(blockVa)));
    }

    [Fact]
    public void Boot_memory_can_be_removed_and_readded_as_runtime_memory()
    {
        using Machine machine = Create(4 * GiB);
        Snapshot before = Snapshot.Of(machine);
        HotplugReport removed = machine.RemoveMemory(P(1 * GiB), Section);
        Assert.Equal(-512, removed.MemmapBootPagesDelta);
        Assert.Equal(0, removed.MemmapPagesDelta);
        Assert.Equal(-512, removed.MemmapFramesDelta);
        MemoryStatistics s = machine.GetStatistics();
        // The section's frames left; its boot memmap block came back as free memory; the direct-map split took a
        // table (PageTablesDelta counts it, and any table freed).
        Assert.Equal(before.Free - (long)(Section >> 12) + 512 - removed.PageTablesDelta, s.FreePages);
        Assert.Equal(1, removed.PageTablesDelta);
        Assert.Equal(before.DirectMapKiB - 128 * 1024, s.DirectMap4KiB + s.DirectMap2MiB + s.DirectMap1GiB);
        // The 1 GiB leaf of the direct map was split so that the rest stays mapped.
        Assert.Equal(PageSize.Size2M, machine.LookupKernel(machine.DirectMapBase + (1 * GiB + Section))!.Value.Size);
        Assert.Null(machine.LookupKernel(machine.DirectMapBase + 1 * GiB));

        HotplugReport added = machine.AddMemory(P(1 * GiB), Section);
        Assert.Equal(512, added.MemmapPagesDelta);
        Assert.Equal(before.MemmapBoot - 512, machine.GetStatistics().MemmapBootPages);
    }

    [Fact]
    public void Part_of_a_boot_section_is_removed_without_freeing_its_memmap_until_the_section_is_empty()
    {
        using Machine machine = Create(4 * GiB);
        long frames = machine.GetStatistics().MemmapFrames;
        for (int i = 0; i < 63; i++)
        {
            HotplugReport r = machine.RemoveMemory(P(2 * GiB + (ulong)i * Subsection), Subsection);
            Assert.Equal(0, r.MemmapFramesDelta);
            Assert.Equal(0, r.MemmapBootPagesDelta);
        }
        Assert.Equal(frames, machine.GetStatistics().MemmapFrames);
        HotplugReport last = machine.RemoveMemory(P(2 * GiB + 63 * Subsection), Subsection);
        Assert.Equal(-512, last.MemmapFramesDelta);
        Assert.Equal(-512, last.MemmapBootPagesDelta);
    }

    [Fact]
    public void An_altmap_hosts_the_memmap_in_the_range_itself()
    {
        using Machine machine = Create(4 * GiB);
        Snapshot before = Snapshot.Of(machine);
        HotplugReport added = machine.AddMemory(P(16 * GiB), 2 * Section, new HotAddOptions { UseAltmap = true });
        Assert.Equal(1024, added.MemmapFramesDelta);
        Assert.Equal(2 * (long)(Section >> 12) - 1024, added.ManagedPagesDelta);
        Mapping block = machine.LookupKernel(machine.VmemmapBase + ((16 * GiB) >> 12) * 64)!.Value;
        Assert.Equal(16 * GiB, block.Frame.Value); // the first frames of the range hold its own memmap
        Assert.Equal(before.Free + added.ManagedPagesDelta - added.PageTablesDelta, machine.GetStatistics().FreePages);

        var partial = Assert.Throws<HotplugException>(() => machine.RemoveMemory(P(16 * GiB), Section));
        Assert.Equal(HotplugError.InvalidArgument, partial.Error);
        machine.RemoveMemory(P(16 * GiB), 2 * Section);
        Assert.Equal(before with { Tables3 = Snapshot.Of(machine).Tables3 }, Snapshot.Of(machine));
        Assert.Throws<HotplugException>(() => machine.AddMemory(P(16 * GiB + Subsection), Section, new HotAddOptions { UseAltmap = true }));
    }

    [Fact]
    public void A_gigabyte_range_uses_a_gigabyte_leaf_and_a_partial_removal_splits_it()
    {
        using Machine machine = Create(4 * GiB);
        Snapshot before = Snapshot.Of(machine);
        machine.AddMemory(P(32 * GiB), 1 * GiB);
        Assert.Equal(PageSize.Size1G, machine.LookupKernel(machine.DirectMapBase + 32 * GiB)!.Value.Size);
        machine.RemoveMemory(P(32 * GiB + 3 * Section), Section);
        Assert.Equal(PageSize.Size2M, machine.LookupKernel(machine.DirectMapBase + 32 * GiB)!.Value.Size);
        Assert.Null(machine.LookupKernel(machine.DirectMapBase + (32 * GiB + 3 * Section)));
        machine.RemoveMemory(P(32 * GiB), 3 * Section);
        machine.RemoveMemory(P(32 * GiB + 4 * Section), 4 * Section);
        Assert.Equal(before with { Tables3 = Snapshot.Of(machine).Tables3 }, Snapshot.Of(machine));
    }

    [Fact]
    public void Tables_under_the_pgd_stay_after_removal_as_in_the_kernel()
    {
        using Machine machine = Create(4 * GiB);
        Snapshot before = Snapshot.Of(machine);
        // 600 GiB lies in another 512 GiB slot than boot memory: the direct map needs a new PUD table there.
        machine.AddMemory(P(600 * GiB), Section);
        machine.RemoveMemory(P(600 * GiB), Section);
        Snapshot after = Snapshot.Of(machine);
        Assert.Equal(before.Tables1, after.Tables1);
        Assert.Equal(before.Tables2, after.Tables2);
        Assert.Equal(before.Tables3 + 1, after.Tables3);
        Assert.Equal(before.Free - 1, after.Free);
    }

    [Fact]
    public void Refused_operations_change_nothing()
    {
        using Machine machine = Create(4 * GiB);
        machine.AddMemory(P(8 * GiB), Section);
        PhysAddr busy = machine.AllocatePhysical(128 * MiB);
        Assert.True(busy.Value >= 8 * GiB);
        Snapshot before = Snapshot.Of(machine);
        (HotplugError, Action)[] cases =
        [
            (HotplugError.Busy, () => machine.RemoveMemory(P(8 * GiB), Section)),
            (HotplugError.NotPresent, () => machine.RemoveMemory(P(20 * GiB), Section)),
            (HotplugError.NotPresent, () => machine.RemoveMemory(P(8 * GiB), 2 * Section)),
            (HotplugError.Misaligned, () => machine.RemoveMemory(P(8 * GiB + 4096), Subsection)),
            (HotplugError.Misaligned, () => machine.AddMemory(P(20 * GiB), 3 * MiB)),
            (HotplugError.AlreadyPresent, () => machine.AddMemory(P(8 * GiB - Subsection), 2 * Subsection)),
            (HotplugError.AlreadyPresent, () => machine.AddMemory(P(0), Subsection)),
            (HotplugError.OutOfRange, () => machine.AddMemory(P(20 * GiB), 0)),
            (HotplugError.OutOfRange, () => machine.AddMemory(P((1UL << 46) - Subsection), 2 * Subsection)),
            (HotplugError.Busy, () => machine.RemoveMemory(P(3 * GiB + 896 * MiB), Section)), // hosts the boot memmap
        ];
        foreach ((HotplugError expected, Action act) in cases)
        {
            var error = Assert.Throws<HotplugException>(act);
            Assert.Equal(expected, error.Error);
            Assert.Equal(before, Snapshot.Of(machine));
        }
        machine.FreePhysical(busy, 128 * MiB);
        machine.RemoveMemory(P(8 * GiB), Section);
    }

    [Fact]
    public void Running_out_of_memory_for_metadata_rolls_the_add_back()
    {
        using Machine machine = Create(256 * MiB);
        // Eat every free frame, then try to add memory whose memmap needs a 2 MiB block and tables.
        var taken = new System.Collections.Generic.List<PhysAddr>();
        while (machine.TryAllocatePhysical(4096, out PhysAddr pa)) taken.Add(pa);
        Snapshot before = Snapshot.Of(machine);
        var error = Assert.Throws<HotplugException>(() => machine.AddMemory(P(4 * GiB), Section));
        Assert.Equal(HotplugError.OutOfMemory, error.Error);
        Assert.Equal(before, Snapshot.Of(machine));
        Assert.Null(machine.LookupKernel(machine.DirectMapBase + 4 * GiB));
        // Give back a little: enough for base pages and tables but not for a 2 MiB block in one piece.
        for (int i = 0; i < 64; i += 2) machine.FreePhysical(taken[i], 4096);
        machine.AddMemory(P(4 * GiB), Subsection);
        Assert.Equal(PageSize.Size4K, machine.LookupKernel(machine.VmemmapBase + ((4 * GiB) >> 12) * 64)!.Value.Size);
        machine.RemoveMemory(P(4 * GiB), Subsection);
    }

    [Fact]
    public void Contexts_never_see_removed_memory()
    {
        using Machine machine = Create(4 * GiB, checkedMode: true);
        machine.AddMemory(P(8 * GiB), Section);
        using AddressSpace space = machine.CreateAddressSpace();
        using MmuContext cpu = space.CreateContext();
        VirtAddr linear = machine.DirectMapBase + (8 * GiB + 12345);
        Assert.True(cpu.TranslateKernel(linear).Succeeded);
        Assert.True(cpu.TranslateKernel(machine.VmemmapBase + ((8 * GiB) >> 12) * 64).Succeeded);
        machine.RemoveMemory(P(8 * GiB), Section);
        Assert.Equal(FaultReason.NotMapped, cpu.TranslateKernel(linear).Fault.Reason);
        Assert.False(cpu.TranslateKernel(machine.VmemmapBase + ((8 * GiB) >> 12) * 64).Succeeded);
        Assert.Equal(0, machine.GetStatistics().UseAfterFreeDetected);
        var kernelFault = Assert.Throws<KernelFaultException>(() => machine.Memory.Memmap.Get((8 * GiB) >> 12)->Flags.ToString());
        Assert.False(kernelFault.ReachedFreedMemory);
    }

    [Fact]
    public void A_hot_added_block_is_removed_whole_with_no_free_kernel_frame()
    {
        // The repro: 256 MiB, 128 MiB added at 8 GiB, every frame allocated, only the added ones freed.
        using Machine machine = Create(256 * MiB);
        machine.AddMemory(P(8 * GiB), Section);
        FrameHog hog = FrameHog.TakeAll(machine, singles: 0);
        hog.ReleaseRange(P(8 * GiB), Section);
        Assert.Equal(0, machine.GetStatistics().FreePages - machine.GetStatistics().MovableFreePages);
        Assert.Equal(98304, machine.GetStatistics().PresentPages);

        machine.RemoveMemory(P(8 * GiB), Section);
        MemoryStatistics s = machine.GetStatistics();
        Assert.Equal(65536, s.PresentPages);
        Assert.Equal(2, s.PresentSections);
        Assert.Equal(0, s.MemmapPages);
        Assert.Equal(0, s.MovableManagedPages);
        Assert.Null(machine.LookupKernel(machine.DirectMapBase + 8 * GiB));
        Assert.Null(machine.LookupKernel(machine.VmemmapBase + ((8 * GiB) >> 12) * 64));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(514)]
    public void A_two_section_add_short_of_memmap_is_refused_with_nothing_changed(int framesLeft)
    {
        // With these counts the add used to build the direct map and the first section, then fail its undo.
        using Machine machine = Create(256 * MiB);
        FrameHog hog = FrameHog.TakeAll(machine, singles: framesLeft);
        for (int i = 0; i < framesLeft; i++) hog.ReleaseSingle();
        Snapshot before = Snapshot.Of(machine);
        var error = Assert.Throws<HotplugException>(() => machine.AddMemory(P(8 * GiB), 2 * Section));
        Assert.Equal(HotplugError.OutOfMemory, error.Error);
        Assert.Equal(before, Snapshot.Of(machine));
        Assert.Null(machine.LookupKernel(machine.DirectMapBase + 8 * GiB));
        Assert.Null(machine.LookupKernel(machine.VmemmapBase + ((8 * GiB) >> 12) * 64));
    }

    [Fact]
    public void Try_forms_return_refusals_as_results_and_reports_on_success()
    {
        using Machine machine = Create(1 * GiB);
        HotplugResult added = machine.TryAddMemory(P(8 * GiB), Section);
        Assert.True(added.IsSuccess);
        Assert.Equal(HotplugError.None, added.Error);
        Assert.Equal((long)(Section >> 12), added.Report!.ManagedPagesDelta);
        PhysAddr busy = machine.AllocatePhysical(4096);
        Assert.True(busy.Value >= 8 * GiB);
        Snapshot before = Snapshot.Of(machine);
        HotplugResult refused = machine.TryRemoveMemory(P(8 * GiB), Section);
        Assert.Equal(HotplugError.Busy, refused.Error);
        Assert.False(refused.IsSuccess);
        Assert.Null(refused.Report);
        Assert.Contains("in use", refused.Detail);
        Assert.Equal(P(8 * GiB), refused.Start);
        Assert.Equal(Section, refused.Size);
        Assert.Equal(before, Snapshot.Of(machine));
        var thrown = Assert.Throws<HotplugException>(() => refused.ThrowIfFailed());
        Assert.Equal(HotplugError.Busy, thrown.Error);
        Assert.Equal(HotplugError.AlreadyPresent, machine.TryAddMemory(P(8 * GiB), Subsection).Error);
        Assert.Equal(HotplugError.Misaligned, machine.TryAddMemory(P(9 * GiB + 4096), Subsection).Error);
        Assert.Equal(HotplugError.OutOfRange, machine.TryAddMemory(P(ulong.MaxValue - Subsection + 1), Subsection).Error);
        Assert.Equal(HotplugError.NotPresent, machine.TryRemoveMemory(P(9 * GiB), Section).Error);
        machine.FreePhysical(busy, 4096);
        Assert.True(machine.TryRemoveMemory(P(8 * GiB), Section).IsSuccess);
    }

    [Fact]
    public void Plain_memory_removed_together_with_an_altmap_range_leaves_the_allocator_entirely()
    {
        using Machine machine = Create(4 * GiB);
        Snapshot before = Snapshot.Of(machine);
        machine.AddMemory(P(16 * GiB - Section), Section);
        machine.AddMemory(P(16 * GiB), Section, new HotAddOptions { UseAltmap = true });
        machine.RemoveMemory(P(16 * GiB - Section), 2 * Section);
        Assert.Equal(before with { Tables3 = Snapshot.Of(machine).Tables3 }, Snapshot.Of(machine));
        Assert.Equal(0, machine.GetStatistics().MovableFreePages);
        // Nothing of the removed range can be handed out any more.
        while (machine.TryAllocatePhysical(128 * MiB, out PhysAddr pa)) Assert.True(pa.Value < 4 * GiB, $"handed out removed memory at {pa}");
    }

    private static byte[] KernelBytes(Machine machine, ulong va, int length)
    {
        var bytes = new byte[length];
        new ReadOnlySpan<byte>(machine.Memory.Memmap.KernelPointer(va, write: false), length).CopyTo(bytes);
        return bytes;
    }
}
